"""Gates beyond one base and one candidate: several candidates (a leaderboard), or a stored baseline.

``evaluate_models`` evaluates each model spec on each suite (one model in memory at a time,
through the generation cache); the CLI builds a leaderboard per suite from those runs, or
compares the candidate with a run read from the results store
(:func:`harness.store.baseline.gate_on_baseline`).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import InputError

if TYPE_CHECKING:
    from harness.eval.cache import GenerationCache
    from harness.eval.run import Run
    from harness.eval.suite import Suite
    from harness.gate import Comparison, GateResult
    from harness.models.base import Generator

__all__ = ["add_comparisons", "evaluate_models", "load_suites"]


def load_suites(suites: Sequence[str | Path]) -> list[Suite]:
    """Load and check every suite before any model loads; names must be distinct."""
    from harness.eval.suite import load_suite

    if not suites:
        raise InputError("harness gate needs at least one suite")
    loaded = [load_suite(s) for s in suites]
    names = [s.name for s in loaded]
    if len(set(names)) != len(names):
        raise InputError(f"suites must have distinct names; got {names}")
    return loaded


def evaluate_models(
    suites: Sequence[Suite],
    specs: Sequence[str],
    *,
    make_generator: Callable[[str], Generator],
    cache: GenerationCache | None = None,
    repeats: int = 1,
    limit: int | None = None,
    progress: Callable[[str, str, str, int, int], None] | None = None,
) -> dict[str, list[Run]]:
    """Per spec, its run on each suite (in the suites' order)."""
    from harness.eval.evaluate import evaluate_suite

    out: dict[str, list[Run]] = {}
    for spec in specs:
        gen = make_generator(spec)
        runs = []
        for suite in suites:
            cb = None
            if progress is not None:
                def cb(stage: str, done: int, total: int, _s: str = suite.name, _m: str = spec) -> None:
                    progress(_m, _s, stage, done, total)
            runs.append(evaluate_suite(suite, gen, cache=cache, repeats=repeats, limit=limit, progress=cb))
        out[spec] = runs
        del gen
        gc.collect()  # one model in memory at a time
    return out


def add_comparisons(
    result: GateResult | None, comparisons: Sequence[Comparison], manifest: dict[str, Any]
) -> GateResult:
    """A gate result holding the base comparisons (if any) and the baseline ones."""
    from harness.gate import gate_result

    kept = list(result.comparisons) if result is not None else []
    facts = {**(result.manifest.model_dump(mode="json", exclude_none=True) if result is not None else {}), **manifest}
    return gate_result([*kept, *comparisons], manifest=facts)
