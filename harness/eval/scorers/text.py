"""Text scorers: exact, contains, regex, numeric, choice, switch, length, chrf."""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.errors import HarnessError
from harness.eval.scorers import (
    BaseScorer,
    RawScore,
    ScorerContext,
    get_scorer_class,
    item_field,
    parse_options,
    scorer,
)
from harness.models.tokenizers import token_counter

if TYPE_CHECKING:
    from harness.eval.items import Item
    from harness.eval.rubric import Criterion

_WS = re.compile(r"\s+")
_PUNCT = string.punctuation + "“”‘’«»。、…"


class _Opts(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _norm(text: str, *, case_sensitive: bool = False, strip_punctuation: bool = False) -> str:
    text = unicodedata.normalize("NFKC", text).replace("’", "'")
    text = _WS.sub(" ", text).strip()
    if not case_sensitive:
        text = text.casefold()
    if strip_punctuation:
        text = text.strip(_PUNCT + " ")
    return text


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _expected(options: Any, item: Item | None) -> list[Any]:
    """The expected values: the ``value`` option, else the item's reference field."""
    if getattr(options, "value", None) is not None:
        return _as_list(options.value)
    return _as_list(item_field(item, options.field))


def _short(text: str, n: int = 60) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "…"


# --------------------------------------------------------------------------------------- exact
class ExactOptions(_Opts):
    field: str = "reference"
    value: str | list[str] | None = None
    case_sensitive: bool = False
    strip_punctuation: bool = True


@scorer("exact")
class Exact(BaseScorer[ExactOptions]):
    """1 when the output equals an expected answer (case, spacing and outer punctuation ignored)."""

    Options = ExactOptions

    def score(self, output: str, item: Item | None) -> RawScore:
        """Compare the whole output with each expected answer."""
        o = self.options
        expected = _expected(o, item)
        if not expected:
            return RawScore(None, f"no expected answer (item field {o.field!r})")
        got = _norm(output, case_sensitive=o.case_sensitive, strip_punctuation=o.strip_punctuation)
        for e in expected:
            if got == _norm(str(e), case_sensitive=o.case_sensitive, strip_punctuation=o.strip_punctuation):
                return RawScore(1.0, f"equals {str(e)!r}")
        return RawScore(0.0, f"{_short(output)!r} equals none of {[str(e) for e in expected]}")


# ------------------------------------------------------------------------------------ contains
class ContainsOptions(_Opts):
    field: str = "reference"
    value: str | list[str] | None = None
    mode: Literal["any", "all"] = "any"
    case_sensitive: bool = False
    whole_word: bool = False
    absent: bool = Field(default=False, description="pass when none of the values occurs")


@scorer("contains")
class Contains(BaseScorer[ContainsOptions]):
    """1 when the output contains any (or all) of the expected strings (or, with absent, none)."""

    Options = ContainsOptions

    def score(self, output: str, item: Item | None) -> RawScore:
        """Search the output for each expected string."""
        o = self.options
        expected = [str(e) for e in _expected(o, item)]
        if not expected:
            return RawScore(None, f"no expected text (item field {o.field!r})")
        text = _norm(output, case_sensitive=o.case_sensitive)
        found = []
        for e in expected:
            needle = _norm(e, case_sensitive=o.case_sensitive)
            if o.whole_word:
                hit = re.search(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", text) is not None
            else:
                hit = needle in text
            if hit:
                found.append(e)
        if o.absent:
            ok = not found
            return RawScore(float(ok), "none present" if ok else f"found {found}")
        ok = bool(found) if o.mode == "any" else len(found) == len(expected)
        missing = [e for e in expected if e not in found]
        return RawScore(float(ok), f"found {found}" + (f"; missing {missing}" if missing else ""))


# --------------------------------------------------------------------------------------- regex
class RegexOptions(_Opts):
    pattern: str = Field(min_length=1)
    ignore_case: bool = False
    dotall: bool = False
    mode: Literal["search", "fullmatch"] = "search"
    expect_match: bool = True

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from exc
        return v


@scorer("regex")
class Regex(BaseScorer[RegexOptions]):
    """1 when the pattern matches the output (or, with expect_match false, when it does not)."""

    Options = RegexOptions

    def __init__(self, options: RegexOptions, ctx: ScorerContext) -> None:
        super().__init__(options, ctx)
        o = self.options
        flags = (re.IGNORECASE if o.ignore_case else 0) | (re.DOTALL if o.dotall else 0)
        self._re = re.compile(o.pattern, flags)

    def score(self, output: str, item: Item | None) -> RawScore:
        """Match the pattern."""
        m = self._re.search(output) if self.options.mode == "search" else self._re.fullmatch(output.strip())
        ok = (m is not None) == self.options.expect_match
        return RawScore(float(ok), f"matched {_short(m.group(0))!r}" if m else "no match")


# ------------------------------------------------------------------------------------- numeric
_NUM = re.compile(r"(?<![\w.])[-−+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])|(?<![\w.])[-−]?\.\d+")
_WORDS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90})
_WORDS.update({"hundred": 100, "thousand": 1000, "dozen": 12})
_WORD_RE = re.compile(r"\b(" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")\b", re.IGNORECASE)


def extract_numbers(text: str, *, words: bool = True) -> list[float]:
    """Numbers in a text in order of appearance (``1,234.5``, ``-3``, ``2e3``, ``eight``).

    >>> extract_numbers("A spider has eight legs, not 10 or 1,000.")
    [8.0, 10.0, 1000.0]
    """
    found: list[tuple[int, float]] = []
    for m in _NUM.finditer(text):
        s = m.group(0).replace(",", "").replace("−", "-")
        try:
            found.append((m.start(), float(s)))
        except ValueError:
            continue
    if words:
        found += [(m.start(), float(_WORDS[m.group(1).lower()])) for m in _WORD_RE.finditer(text)]
    return [v for _, v in sorted(found)]


class NumericOptions(_Opts):
    field: str = "reference"
    value: float | None = None
    abs_tol: float = Field(default=1e-6, ge=0)
    rel_tol: float = Field(default=0.0, ge=0)
    pick: Literal["first", "last", "any"] = "first"
    words: bool = Field(default=True, description="also read number words (zero..twenty, tens, hundred)")


@scorer("numeric")
class Numeric(BaseScorer[NumericOptions]):
    """1 when the number in the output (first, last or any) is within tolerance of the reference."""

    Options = NumericOptions

    def score(self, output: str, item: Item | None) -> RawScore:
        """Extract numbers and compare them with the expected number."""
        o = self.options
        raw = o.value if o.value is not None else item_field(item, o.field)
        try:
            target = float(str(raw).replace(",", "")) if raw is not None else None
        except ValueError:
            return RawScore(None, f"reference {raw!r} is not a number")
        if target is None:
            return RawScore(None, f"no expected number (item field {o.field!r})")
        nums = extract_numbers(output, words=o.words)
        if not nums:
            return RawScore(0.0, "no number in the output")
        cands = {"first": nums[:1], "last": nums[-1:], "any": nums}[o.pick]
        for v in cands:
            if math.isclose(v, target, rel_tol=o.rel_tol, abs_tol=o.abs_tol):
                return RawScore(1.0, f"{v:g} matches {target:g}")
        return RawScore(
            0.0, f"{o.pick} number {cands[0]:g} != {target:g}" if o.pick != "any" else f"{nums} != {target:g}"
        )


# -------------------------------------------------------------------------------------- choice
class ChoiceOptions(_Opts):
    field: str = "reference"
    choices_field: str = "choices"
    labels: str = Field(default="ABCDEFGHIJ", description="the letters of the choices, in order")


@scorer("choice")
class Choice(BaseScorer[ChoiceOptions]):
    """1 when the output picks the reference choice, by its letter or, failing that, its text.

    Letters count only in answer form ("C", "(C)", "C)", "C.", "answer: C", "the answer is C"), so
    an article "A" does not; the text counts when exactly one choice's text occurs in the output.
    """

    Options = ChoiceOptions

    def score(self, output: str, item: Item | None) -> RawScore:
        """Find the chosen letter or choice text."""
        o = self.options
        choices = [str(c) for c in _as_list(item_field(item, o.choices_field))]
        ref = item_field(item, o.field)
        if not choices or ref is None:
            return RawScore(None, f"item needs {o.choices_field!r} and {o.field!r}")
        letters = o.labels[: len(choices)]
        ref_s = str(ref).strip()
        if ref_s in letters:
            ref_letter = ref_s
        else:
            matches = [letters[i] for i, c in enumerate(choices) if _norm(c) == _norm(ref_s)]
            if not matches:
                return RawScore(None, f"reference {ref_s!r} is neither a choice letter nor a choice text")
            ref_letter = matches[0]
        picked, how = self._pick(output, letters, choices)
        if picked is None:
            return RawScore(0.0, "no choice found in the output")
        return RawScore(float(picked == ref_letter), f"picked {picked} ({how}); reference {ref_letter}")

    @staticmethod
    def _pick(output: str, letters: str, choices: Sequence[str]) -> tuple[str | None, str]:
        cls = f"[{re.escape(letters)}]"
        text = output.strip()
        patterns = [
            rf"(?i:answer\s*(?:is|:)?)\s*[\(\[]?({cls})\b",
            rf"^[\(\[]?({cls})(?:[\)\].:]|\s*$)",
            rf"[\(\[]({cls})[\)\]]",
            rf"(?<![\w'])({cls})[\).:](?!\w)",
        ]
        for p in patterns:
            m = re.search(p, text, re.MULTILINE)
            if m:
                return m.group(1), "letter"
        norm = _norm(text)
        hits = [
            letters[i]
            for i, c in enumerate(choices)
            if re.search(r"(?<!\w)" + re.escape(_norm(c)) + r"(?!\w)", norm) is not None
        ]
        if len(hits) == 1:
            return hits[0], "text"
        return None, "ambiguous" if hits else "none"


# -------------------------------------------------------------------------------------- switch
class SwitchOptions(_Opts):
    field: str = Field(default="answer_type", description="the item field that picks the case")
    cases: dict[str, dict[str, Any]] = Field(min_length=1)
    default: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _typed(self) -> SwitchOptions:
        for name, spec in [*self.cases.items(), ("default", self.default or {"type": "-"})]:
            if not isinstance(spec.get("type"), str):
                raise ValueError(f"case {name!r} needs a scorer 'type'")
        return self


@scorer("switch")
class Switch(BaseScorer[SwitchOptions]):
    """Score each item with the scorer its ``field`` names, e.g. numeric, choice or contains answers."""

    Options = SwitchOptions

    @classmethod
    def check(cls, options: SwitchOptions, criterion: Criterion, base_dir: Path | None) -> None:
        """Validate each case's scorer and options."""
        o = options
        for name, spec in [*o.cases.items(), *([("default", o.default)] if o.default else [])]:
            try:
                sub = get_scorer_class(spec["type"])
                opts = parse_options(sub, _opts(spec), key=f"cases.{name}")
            except HarnessError as exc:
                where = f" ({exc.field})" if exc.field else ""
                raise ValueError(f"case {name!r}: {exc.message}{where}") from exc
            if sub is Switch:
                raise ValueError("a switch case cannot be another switch")
            sub.check(opts, criterion, base_dir)

    def __init__(self, options: SwitchOptions, ctx: ScorerContext) -> None:
        super().__init__(options, ctx)
        o = self.options
        self._cases = {name: self._build(spec) for name, spec in o.cases.items()}
        self._default = self._build(o.default) if o.default else None

    def _build(self, spec: dict[str, Any]) -> BaseScorer:
        sub = get_scorer_class(spec["type"])
        return sub(parse_options(sub, _opts(spec)), self.ctx)

    def score(self, output: str, item: Item | None) -> RawScore:
        """Dispatch to the case's scorer."""
        case = item_field(item, self.options.field)
        sub = self._cases.get(str(case)) if case is not None else None
        sub = sub or self._default
        if sub is None:
            return RawScore(None, f"item field {self.options.field!r} = {case!r} names no case")
        r = sub.score(output, item)
        return RawScore(r.value, f"[{sub.name}] {r.explanation}", r.level)


def _opts(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k != "type"}


# -------------------------------------------------------------------------------------- length
class LengthOptions(_Opts):
    min: float | None = Field(default=None, ge=0)
    max: float | None = Field(default=None, ge=0)
    unit: Literal["words", "tokens", "chars"] = "words"
    tokenizer: str | None = Field(default=None, description="model spec whose tokenizer counts tokens")

    @model_validator(mode="after")
    def _bounds(self) -> LengthOptions:
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("'min' is larger than 'max'")
        if self.unit == "tokens" and not self.tokenizer:
            raise ValueError("unit 'tokens' needs 'tokenizer' (a model spec, e.g. smollm2-135m)")
        return self


@scorer("length")
class Length(BaseScorer[LengthOptions]):
    """1 when the output's length (words, tokens or characters) is within the bounds."""

    Options = LengthOptions

    def __init__(self, options: LengthOptions, ctx: ScorerContext) -> None:
        super().__init__(options, ctx)
        o = self.options
        if o.unit == "tokens":
            if o.tokenizer is None:  # LengthOptions already rejects this; the check narrows the type
                raise ValueError("unit 'tokens' needs 'tokenizer'")
            self._count = token_counter(o.tokenizer)
        elif o.unit == "chars":
            self._count = len
        else:
            self._count = lambda t: len(t.split())

    def score(self, output: str, item: Item | None) -> RawScore:
        """Count and compare with the bounds."""
        o = self.options
        n = self._count(output)
        ok = (o.min is None or n >= o.min) and (o.max is None or n <= o.max)
        lo = "-inf" if o.min is None else f"{o.min:g}"
        hi = "inf" if o.max is None else f"{o.max:g}"
        return RawScore(float(ok), f"{n} {o.unit}, bounds [{lo}, {hi}]")


# ---------------------------------------------------------------------------------------- chrf
class ChrfOptions(_Opts):
    field: str = "reference"
    char_order: int = Field(default=6, ge=1)
    word_order: int = Field(default=0, ge=0, description="2 gives chrF++")
    beta: float = Field(default=2.0, gt=0)


@scorer("chrf")
class Chrf(BaseScorer[ChrfOptions]):
    """sacrebleu's sentence chrF (character n-gram F-score) against the reference(s), divided by 100."""

    Options = ChrfOptions

    def __init__(self, options: ChrfOptions, ctx: ScorerContext) -> None:
        super().__init__(options, ctx)
        from sacrebleu.metrics import CHRF

        o = self.options
        # sacrebleu annotates beta as int, but only squares it: a float beta (e.g. 0.5) works as documented.
        self._chrf = CHRF(char_order=o.char_order, word_order=o.word_order, beta=o.beta)  # type: ignore[arg-type]

    def score(self, output: str, item: Item | None) -> RawScore:
        """Sentence chrF of the output."""
        refs = [str(r) for r in _as_list(item_field(item, self.options.field))]
        if not refs:
            return RawScore(None, f"no reference (item field {self.options.field!r})")
        s = self._chrf.sentence_score(output, refs).score
        return RawScore(max(0.0, min(1.0, s / 100.0)), f"chrF {s:.1f}")
