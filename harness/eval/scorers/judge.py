"""The ``judge`` scorer: a model grades each output against the criterion's level anchors.

Two methods:

- ``logprobs`` (local models): the judge reads the grading prompt and the score is the
  probability-weighted level from its next-token distribution over the level labels
  (renormalised over the labels; the mass they held is reported, and below ``min_label_mass``
  the item is unscored rather than guessed). A binary criterion passes when P("1") > P("0").
- ``format`` (API models): the judge must reply with a level label and nothing else; a reply in
  another form is retried with a reminder, up to ``retries`` times, then the item is unscored.

``auto`` picks ``logprobs`` when the judge generator can give level probabilities. Verdicts are
cached under the judge's fingerprint, so a resumed run does not grade twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import ConfigError
from harness.eval.cache import cache_key
from harness.eval.scorers import BaseScorer, RawScore, ScorerContext, item_field, scorer
from harness.models.base import GenerationRequest, GenerationSettings, Prompt, SupportsLevelProbabilities
from harness.models.factory import make_generator

if TYPE_CHECKING:
    from harness.eval.items import Item
    from harness.eval.rubric import Criterion
    from harness.models.base import Generator

LOGPROB_CHUNK = 64
"""Judge prompts scored per call of ``level_probabilities``: their verdicts are committed together."""

DEFAULT_PROMPT = """You are grading a reply to a request against one criterion.

Criterion: {criterion}

Levels:
{levels}

Request:
{prompt}
{reference_block}
Reply to grade:
{output}

Answer with the level only: one of {labels}."""


class JudgeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(default=None, description="judge model spec; --judge overrides it")
    endpoint: str | None = Field(default=None, description="for an openai:<model> judge")
    method: Literal["auto", "logprobs", "format"] = "auto"
    prompt: str | None = Field(default=None, description="template with {criterion} {levels} {prompt} {output}...")
    include_reference: bool = True
    retries: int = Field(default=2, ge=0, le=10)
    max_new_tokens: int = Field(default=8, ge=1, le=256)
    min_label_mass: float = Field(default=0.01, ge=0.0, le=1.0)


def _levels(criterion: Criterion) -> list[tuple[str, float, str]]:
    """(label, fraction in [0, 1], anchor) for each level; a binary criterion has 0 and 1."""
    scale = criterion.scale
    if scale.type == "levels":
        return [(lv.name, scale.level_fraction(lv.value), lv.anchor) for lv in scale.levels]
    desc = criterion.description or criterion.id
    return [("0", 0.0, f"does not meet the criterion: {desc}"), ("1", 1.0, f"meets the criterion: {desc}")]


def _prompt_text(prompt: Prompt) -> str:
    if isinstance(prompt, str):
        return prompt
    return "\n".join(f"{m.get('role', '?')}: {m.get('content', '')}" for m in prompt)


@scorer("judge")
class Judge(BaseScorer[JudgeOptions]):
    """Model-graded score on the criterion's levels (see the module docstring)."""

    Options = JudgeOptions

    @classmethod
    def check(cls, options: JudgeOptions, criterion: Criterion, base_dir: Path | None) -> None:
        """A judge needs a binary or levels scale."""
        if criterion.scale.type == "continuous":
            raise ValueError("a judge criterion needs a 'binary' or 'levels' scale (the judge picks a level)")

    def __init__(self, options: JudgeOptions, ctx: ScorerContext) -> None:
        super().__init__(options, ctx)
        o = self.options
        if ctx.judge is not None:
            self.judge: Generator = ctx.judge
        elif o.model:
            if ctx.judge_factory is not None:
                self.judge = ctx.judge_factory(o.model, o.endpoint)
            else:
                self.judge = make_generator(o.model, endpoint=o.endpoint)
        else:
            raise ConfigError(
                f"judge criterion {ctx.criterion.id!r} needs a judge model: set scorer 'model' or pass --judge SPEC",
                field=f"criteria.{ctx.criterion.id}.scorer.model",
            )
        self.levels = _levels(ctx.criterion)
        self.labels = [lab for lab, _, _ in self.levels]
        if o.method == "logprobs" and not isinstance(self.judge, SupportsLevelProbabilities):
            raise ConfigError(
                "method 'logprobs' needs a local judge model; use method 'format' for API models",
                field=f"criteria.{ctx.criterion.id}.scorer.method",
            )
        use_lp = o.method == "logprobs" or (o.method == "auto" and isinstance(self.judge, SupportsLevelProbabilities))
        self.method = "logprobs" if use_lp else "format"
        self.settings = GenerationSettings(max_new_tokens=o.max_new_tokens, temperature=0.0)

    def describe(self) -> dict[str, Any]:
        """The judge model and method, for the manifest."""
        return {"judge": self.judge.describe(), "judge_fingerprint": self.judge.fingerprint, "method": self.method}

    def spec(self) -> dict[str, Any]:
        """Options plus the resolved method and judge fingerprint."""
        return {**super().spec(), "resolved_method": self.method, "judge_fingerprint": self.judge.fingerprint}

    def build_prompt(self, output: str, item: Item | None) -> str:
        """The grading prompt for one output."""
        o = self.options
        c = self.ctx.criterion
        ref = item_field(item, "reference") if o.include_reference else None
        ref_text = ref if isinstance(ref, str) else json.dumps(ref, ensure_ascii=False) if ref is not None else None
        fields = {
            "{criterion}": f"{c.id}: {c.description}" if c.description else c.id,
            "{levels}": "\n".join(f"{lab}: {anchor}" for lab, _, anchor in self.levels),
            "{prompt}": _prompt_text(self._rendered(item)) if item is not None else "",
            "{reference_block}": f"\nReference answer:\n{ref_text}\n" if ref_text is not None else "",
            "{reference}": ref_text or "",
            "{output}": output,
            "{labels}": ", ".join(self.labels),
        }
        text = o.prompt or DEFAULT_PROMPT
        return re.sub("|".join(re.escape(k) for k in fields), lambda m: fields[m.group(0)], text)

    def _rendered(self, item: Item) -> Prompt:
        return self.ctx.render_prompt(item) if self.ctx.render_prompt is not None else item.prompt_value()

    def score(self, output: str, item: Item | None) -> RawScore:
        """Grade one output."""
        return self.score_many([output], [item])[0]

    def score_many(self, outputs: Sequence[str], items: Sequence[Item | None]) -> list[RawScore]:
        """Grade outputs in one batch, reusing cached verdicts."""
        prompts = [self.build_prompt(o, it) for o, it in zip(outputs, items, strict=True)]
        cache = self.ctx.cache
        keys = [self._key(p) for p in prompts]
        found = cache.get_many(keys) if cache is not None else {}
        results: list[RawScore | None] = [None] * len(prompts)
        for i, k in enumerate(keys):
            if k in found:
                d = json.loads(found[k].text)
                results[i] = RawScore(d["value"], d["explanation"], d.get("level"))
        todo = [i for i, r in enumerate(results) if r is None]
        # each verdict is committed as soon as it is known: a killed run keeps the ones it has
        for j, r in self._grade([prompts[i] for i in todo]):
            i = todo[j]
            results[i] = r
            if cache is not None:
                cache.put(keys[i], json.dumps(r._asdict()), meta={"kind": "judge", "criterion": self.ctx.criterion.id})
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            raise RuntimeError(f"the judge gave no verdict for outputs {missing[:5]}")
        return [r for r in results if r is not None]

    def _key(self, prompt: str) -> str:
        payload = json.dumps({"judge": prompt, "labels": self.labels, "method": self.method}, sort_keys=True)
        return cache_key(
            self.judge.fingerprint, payload, {**self.settings.key(), "min_mass": self.options.min_label_mass}
        )

    def _grade(self, prompts: list[str]) -> Iterator[tuple[int, RawScore]]:
        """Each prompt's verdict as ``(index, score)``, as soon as it is known."""
        if self.method == "logprobs":
            return self._grade_logprobs(prompts)
        return self._grade_format(prompts)

    def _grade_logprobs(self, prompts: list[str]) -> Iterator[tuple[int, RawScore]]:
        assert isinstance(self.judge, SupportsLevelProbabilities)
        binary = self.ctx.criterion.scale.binary
        for start in range(0, len(prompts), LOGPROB_CHUNK):
            chunk = prompts[start : start + LOGPROB_CHUNK]
            dists = self.judge.level_probabilities(chunk, self.labels, self.settings)
            for j, d in enumerate(dists, start):
                shown = ", ".join(f"P({lab})={d.probs.get(lab, 0.0):.2f}" for lab in self.labels)
                if d.mass < self.options.min_label_mass:
                    yield j, RawScore(None, f"judge put {d.mass:.3f} < {self.options.min_label_mass} on the labels")
                    continue
                top = max(self.labels, key=lambda lab: d.probs.get(lab, 0.0))
                if binary:
                    value = 1.0 if d.probs.get("1", 0.0) > d.probs.get("0", 0.0) else 0.0
                else:
                    value = sum(d.probs.get(lab, 0.0) * frac for lab, frac, _ in self.levels)
                yield j, RawScore(min(1.0, max(0.0, value)), f"{shown}; label mass {d.mass:.2f}", top)

    def _grade_format(self, prompts: list[str]) -> Iterator[tuple[int, RawScore]]:
        pattern = re.compile(
            r"^\s*(?:level|score)?\s*[:=]?\s*(" + "|".join(re.escape(lab) for lab in self.labels) + r")\s*\.?\s*$",
            re.IGNORECASE,
        )
        convs: list[list[dict[str, Any]]] = [[{"role": "user", "content": p}] for p in prompts]
        replies: list[list[str]] = [[] for _ in prompts]
        pending = list(range(len(prompts)))
        for attempt in range(self.options.retries + 1):
            if not pending:
                break
            reqs = [GenerationRequest(f"judge-{i}", convs[i], seed=attempt, attempt=attempt) for i in pending]
            still = []
            for j, comp in self.judge.generate(reqs, self.settings):  # each reply as it arrives
                i, reply = pending[j], comp.text
                replies[i].append(reply)
                m = pattern.match(reply)
                if m:
                    lab = next(lab for lab in self.labels if lab.casefold() == m.group(1).casefold())
                    frac = next(f for la, f, _ in self.levels if la == lab)
                    tries = f" after {attempt + 1} tries" if attempt else ""
                    yield i, RawScore(frac, f"judge replied {reply.strip()!r}{tries}", lab)
                else:
                    convs[i] = [
                        *convs[i],
                        {"role": "assistant", "content": reply},
                        {
                            "role": "user",
                            "content": f"Answer with exactly one of {', '.join(self.labels)} and nothing else.",
                        },
                    ]
                    still.append(i)
            pending = sorted(still)
        for i in pending:
            shown = "; ".join(repr(r[:40]) for r in replies[i])
            yield i, RawScore(None, f"judge gave no valid level in {len(replies[i])} tries: {shown}")
