"""Scorers: registered by name, each turns an output into a value in [0, 1] with an explanation.

A scorer is a small class registered with :func:`scorer`; its options are a pydantic model
checked when the rubric loads, and :meth:`BaseScorer.spec` records the name and every option, so
a run says exactly what scored it. ``BaseScorer`` is generic over the options model, so
``self.options`` has that type::

    class ShoutyOptions(BaseModel):
        min_ratio: float = 0.5

    @scorer("shouty")
    class Shouty(BaseScorer[ShoutyOptions]):
        Options = ShoutyOptions

        def score(self, output, item):
            ratio = sum(c.isupper() for c in output) / max(len(output), 1)
            return RawScore(float(ratio >= self.options.min_ratio), f"upper-case ratio {ratio:.2f}")

Built-in scorers: exact, contains, regex, numeric, choice, switch, length, chrf (text.py);
refusal (refusal.py); json_valid, json_schema, json_field (structured.py); similarity (embedding.py, needs the
``embed`` extra); judge (judge.py); human (human.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.configfile import raise_validation
from harness.errors import ConfigError, RegistryError
from harness.eval.cache import GenerationCache
from harness.eval.items import Item
from harness.eval.ratings import HumanRatings
from harness.eval.rubric import Criterion
from harness.models.base import Generator, Prompt
from harness.registry import Registry

__all__ = [
    "SCORERS",
    "BaseScorer",
    "NoOptions",
    "RawScore",
    "ScorerContext",
    "build_scorer",
    "scorer",
    "validate_scorer_spec",
]


class RawScore(NamedTuple):
    """A scorer's verdict on one output: a value in [0, 1] (None: could not score) and why."""

    value: float | None
    explanation: str
    level: str | None = None


class NoOptions(BaseModel):
    """A scorer without options."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class ScorerContext:
    """What a scorer may need beyond its options.

    Attributes:
        criterion: the criterion being scored (its scale and description).
        base_dir: folder that relative paths in options resolve against (the rubric's).
        human_ratings: the suite's imported ratings (for ``human``).
        judge: a generator that overrides every judge's ``model`` option (``--judge``).
        judge_factory: builds a judge generator from ``(spec, endpoint)``; defaults to
            :func:`harness.models.factory.make_generator`.
        cache: a generation cache that judge verdicts are stored in.
        render_prompt: the prompt the model was sent for an item (the suite's template applied).
    """

    criterion: Criterion
    base_dir: Path | None = None
    human_ratings: HumanRatings | None = None
    judge: Generator | None = None
    judge_factory: Callable[[str, str | None], Generator] | None = None
    cache: GenerationCache | None = None
    render_prompt: Callable[[Item], Prompt] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


OptionsT = TypeVar("OptionsT", bound=BaseModel)


class BaseScorer(Generic[OptionsT]):
    """Base class of scorers: options in, :class:`RawScore` out.

    A subclass names its options model twice: as the type parameter (``BaseScorer[MyOptions]``, so
    ``self.options`` is typed) and as ``Options`` (the class that validates a rubric's options).
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type[BaseModel]] = NoOptions

    def __init__(self, options: OptionsT, ctx: ScorerContext) -> None:
        self.options: OptionsT = options
        self.ctx = ctx

    @classmethod
    def check(cls, options: OptionsT, criterion: Criterion, base_dir: Path | None) -> None:
        """Load-time checks beyond the options model (raise ``ValueError`` with the reason)."""

    def spec(self) -> dict[str, Any]:
        """The scorer's name and all its options (defaults included): what a run records."""
        return {"type": self.name, **self.options.model_dump(mode="json")}

    def describe(self) -> dict[str, Any]:
        """Extra facts for the run manifest (e.g. the judge model's fingerprint)."""
        return {}

    def score(self, output: str, item: Item | None) -> RawScore:
        """Score one output of one item."""
        raise NotImplementedError

    def score_many(self, outputs: Sequence[str], items: Sequence[Item | None]) -> list[RawScore]:
        """Score several outputs (scorers that batch model calls override this)."""
        return [self.score(o, it) for o, it in zip(outputs, items, strict=True)]


SCORERS: Registry[type[BaseScorer[Any]]] = Registry(
    "scorers",
    builtins=tuple(
        f"harness.eval.scorers.{m}" for m in ("text", "refusal", "structured", "embedding", "judge", "human")
    ),
    noun="scorer",
)
S = TypeVar("S", bound=type[BaseScorer[Any]])


def scorer(name: str, **recorded: Any) -> Callable[[S], S]:
    """Register a scorer class under ``name`` (the ``type`` in a rubric).

    The registry records the names of the scorer's options (``harness list scorers``) and any
    ``recorded`` keyword arguments.
    """

    def register(cls: S) -> S:
        cls.name = name
        options = tuple(f.alias or n for n, f in cls.Options.model_fields.items())  # as a rubric spells them
        return SCORERS.register(name, options=options, **recorded)(cls)

    return register


def get_scorer_class(name: str) -> type[BaseScorer[Any]]:
    """The scorer class registered under ``name``; a miss raises with "did you mean ...?"."""
    return SCORERS.get(name)


def parse_options(
    cls: type[BaseScorer[Any]], options: dict[str, Any], *, file: str | Path | None = None, key: str = "scorer"
) -> BaseModel:
    """Validate a scorer's options; errors name the file and key."""
    try:
        return cls.Options.model_validate(options)
    except ValidationError as exc:
        raise_validation(exc, file=file or "<scorer>", prefix=key)


def validate_scorer_spec(criterion: Criterion, *, file: str | Path, key: str, base_dir: Path | None) -> None:
    """Check at load time that a criterion's scorer exists and its options are valid."""
    try:
        cls = get_scorer_class(criterion.scorer.type)
    except RegistryError as exc:
        raise ConfigError(exc.message, file=file, field=f"{key}.type") from None
    options = parse_options(cls, criterion.scorer.options, file=file, key=key)
    try:
        cls.check(options, criterion, base_dir)
    except (ValueError, OSError) as exc:
        raise ConfigError(str(exc), file=file, field=key) from exc


def build_scorer(criterion: Criterion, ctx: ScorerContext) -> BaseScorer[Any]:
    """Instantiate the scorer of a criterion.

    Example:
        >>> from harness.eval.rubric import Criterion
        >>> spec = {"id": "ok", "scale": "binary", "scorer": {"type": "contains", "value": "Paris"}}
        >>> c = Criterion.model_validate(spec)
        >>> build_scorer(c, ScorerContext(c)).score("It is Paris.", None).value
        1.0
    """
    cls = get_scorer_class(criterion.scorer.type)
    file = ctx.extra.get("rubric_file")
    options = parse_options(cls, criterion.scorer.options, file=file, key=f"criteria.{criterion.id}.scorer")
    try:
        cls.check(options, criterion, ctx.base_dir)
    except (ValueError, OSError) as exc:
        raise ConfigError(str(exc), file=file, field=f"criteria.{criterion.id}.scorer") from exc
    return cls(options, ctx)


def item_field(item: Item | None, name: str) -> Any:
    """A field of an item (``reference`` or any extra field), or None."""
    if item is None:
        return None
    if name in type(item).model_fields:
        return getattr(item, name)
    return (item.model_extra or {}).get(name)
