"""Gates beyond one base and one candidate: several candidates (a leaderboard), or a stored baseline.

``evaluate_models`` evaluates each model spec on each suite (one model in memory at a time,
through the generation cache); the CLI builds a leaderboard per suite from those runs, or
compares the candidate with a run read from the results store.
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
    from harness.gate import Comparison, GateResult, Policy
    from harness.models.base import Generator
    from harness.store.store import Store

__all__ = ["evaluate_models", "gate_on_baseline", "load_suites"]


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


def gate_on_baseline(
    store: Store,
    baseline: str,
    candidate_runs: dict[str, Run],
    *,
    policy: Policy | None = None,
    seed: int | None = None,
    train_data: Sequence[str | Path] = (),
    allow_leakage: bool = False,
    leakage_options: dict[str, Any] | None = None,
    paths: dict[str, str] | None = None,
) -> list[Comparison]:
    """Each suite's candidate run compared with the stored baseline, leakage checked as in a gate."""
    from harness.gate import policy_of
    from harness.gate.run import run_leakage
    from harness.store.baseline import baseline_comparison

    out = []
    for suite, run in candidate_runs.items():
        pol = policy if policy is not None else policy_of(run)
        if seed is not None:
            pol = pol.model_copy(update={"seed": seed})
        leakage = run_leakage(run, train_data, allow=allow_leakage, options=leakage_options)
        out.append(baseline_comparison(store, baseline, run, pol, leakage=leakage,
                                       candidate_path=(paths or {}).get(suite)))  # fmt: skip
    return out


def add_comparisons(
    result: GateResult | None, comparisons: Sequence[Comparison], manifest: dict[str, Any]
) -> GateResult:
    """A gate result holding the base comparisons (if any) and the baseline ones."""
    from harness.gate import gate_result

    kept = list(result.comparisons) if result is not None else []
    facts = {**(result.manifest.model_dump(mode="json", exclude_none=True) if result is not None else {}), **manifest}
    return gate_result([*kept, *comparisons], manifest=facts)
