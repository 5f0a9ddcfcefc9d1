"""The leaderboard paths of ``harness compare`` (3+ runs) and ``harness gate`` (several candidates),
and the gate against a stored baseline. ``harness.cli.gating`` hands over to these."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from harness.cli.app import console, emit_json
from harness.errors import InputError

if TYPE_CHECKING:
    from harness.compare.leaderboard import Leaderboard
    from harness.eval.cache import GenerationCache
    from harness.gate import GateResult, Policy
    from harness.store.recording import Recorder

__all__ = ["compare_many", "gate_many", "gate_with_baseline", "gate_without_base", "record_gate"]


def _no_leakage_check(train_data: Sequence[Path] | None) -> None:
    if train_data:
        raise InputError("a leaderboard does not check training data for leakage yet; compare or gate each "
                         "candidate with its --train-data instead", field="train-data")  # fmt: skip


def _board_options(pol: Policy, seed: int | None) -> dict[str, Any]:
    return {"confidence": pol.confidence, "method": pol.method, "resamples": pol.resamples,
            "seed": pol.seed if seed is None else seed}  # fmt: skip


def _finish(boards: list[Leaderboard], *, out: Path | None, as_json: bool, recorder: Recorder, exit_code: int) -> None:
    from harness.report.leaderboard import print_leaderboard, write_leaderboard

    if out is not None:
        for b in boards:
            write_leaderboard(b, out if len(boards) == 1 else out / b.suite)
    if as_json:
        docs = [b.to_document() for b in boards]
        emit_json(docs[0] if len(docs) == 1 else {"schema": "harness.leaderboards/v1", "leaderboards": docs})
    else:
        for b in boards:
            print_leaderboard(b, console)
        if out is not None:
            console.print(f"Leaderboard written to {out} (leaderboard.json, .md, .html)")
    if (note := recorder.note()) is not None:
        console.print(note, highlight=False, soft_wrap=True)
    recorder.close()
    raise typer.Exit(exit_code)


def compare_many(
    paths: Sequence[Path], *, policy: Path | None, out: Path | None, as_json: bool, seed: int | None,
    recorder: Recorder, manifest: dict[str, Any], train_data: Sequence[Path] | None = None,
) -> None:  # fmt: skip
    """Rank three or more runs of one suite (exit 0; 2 for runs of different suites)."""
    _no_leakage_check(train_data)
    from harness.compare.leaderboard import leaderboard
    from harness.eval.run import load_run
    from harness.gate import load_policy, policy_of

    runs = [load_run(p) for p in paths]
    pol = load_policy(policy) if policy is not None else policy_of(runs[-1])
    board = leaderboard(runs, paths=[str(p) for p in paths], manifest=manifest, **_board_options(pol, seed))
    recorder.record(board.to_document(), runs={board.suite: {m.label: r.to_document()
                                                              for m, r in zip(board.models, runs, strict=True)}})
    _finish([board], out=out, as_json=as_json, recorder=recorder, exit_code=0)


def gate_many(
    suites: Sequence[Path], *, base: str | None, candidates: Sequence[str], policy: Policy | None, seed: int | None,
    out: Path | None, as_json: bool, recorder: Recorder, make_generator: Callable[[str], Any],
    cache: GenerationCache | None, repeats: int, limit: int | None, manifest: dict[str, Any],
    progress: Callable[[str, str, str, int, int], None] | None = None,
) -> None:  # fmt: skip
    """Evaluate the base (if any) and every candidate, rank them per suite; with a base, gate each candidate.

    Exit 0 when some candidate passes every suite's gate against the base (or there is no base),
    1 when every candidate fails, 3 otherwise.
    """
    from harness.compare.leaderboard import leaderboard
    from harness.gate import compare_runs, policy_of
    from harness.gate.several import evaluate_models, load_suites
    from harness.gate.verdict import combine_verdicts

    if len(set(candidates)) != len(candidates):
        raise InputError(f"--candidate given twice: {list(candidates)}", field="candidate")
    if base is not None and base in candidates:
        raise InputError(f"the base {base!r} is also given as a --candidate", field="candidate")
    loaded = load_suites(suites)
    specs = ([base] if base else []) + list(candidates)
    runs = evaluate_models(loaded, specs, make_generator=make_generator, cache=cache, repeats=repeats, limit=limit,
                           progress=progress)  # fmt: skip
    boards: list[Leaderboard] = []
    verdicts: dict[str, list[str]] = {c: [] for c in candidates}
    for k, suite in enumerate(loaded):
        pol = policy if policy is not None else policy_of(runs[specs[-1]][k])
        board = leaderboard([runs[s][k] for s in specs], labels=specs, manifest=manifest, **_board_options(pol, seed))
        if base:
            for entry in board.models[1:]:
                gate_pol = pol if seed is None else pol.model_copy(update={"seed": seed})
                entry.verdict = compare_runs(runs[base][k], runs[entry.label][k], gate_pol).verdict
                verdicts[entry.label].append(entry.verdict)
        boards.append(board)
        recorder.record(board.to_document(), runs={suite.name: {s: runs[s][k].to_document() for s in specs}})
    overall = [combine_verdicts(v) for v in verdicts.values()] if base else []
    code = 0 if not overall or "pass" in overall else (1 if all(v == "fail" for v in overall) else 3)
    _finish(boards, out=out, as_json=as_json, recorder=recorder, exit_code=code)


def gate_with_baseline(
    result: GateResult | None, candidate_runs: dict[str, Any], *, recorder: Recorder, baseline: str,
    policy: Policy | None, seed: int | None, train_data: Sequence[Path], allow_leakage: bool,
    leakage_options: dict[str, Any] | None,
) -> GateResult:  # fmt: skip
    """The gate's result with each suite's candidate also (or only) compared with the stored baseline."""
    from harness.gate.several import add_comparisons
    from harness.store.baseline import gate_on_baseline

    assert recorder.store is not None
    comps = gate_on_baseline(recorder.store, baseline, candidate_runs, policy=policy, seed=seed,
                             train_data=train_data, allow_leakage=allow_leakage,
                             leakage_options=leakage_options)  # fmt: skip
    facts = {"baseline": baseline, "baseline_replaces_base": result is None}
    return add_comparisons(result, comps, facts)


def record_gate(recorder: Recorder, result: GateResult, runs: dict[str, dict[str, Any]]) -> None:
    """Record a gate or compare decision with its runs, and say where."""
    recorder.record(result.to_document(), runs=runs)
    if (note := recorder.note()) is not None:
        console.print(note, highlight=False, soft_wrap=True)
    recorder.close()


def gate_without_base(
    suites: Sequence[Path], *, base: str | None, candidates: Sequence[str], policy: Policy | None, seed: int | None,
    out: Path | None, as_json: bool, recorder: Recorder, make_generator: Callable[[str], Any],
    cache: GenerationCache | None, repeats: int, limit: int | None, on_run: Callable[[str, str, Any], None],
    manifest: dict[str, Any], progress: Callable[[str, str, str, int, int], None] | None = None,
    train_data: Sequence[Path] | None = None,
) -> None:  # fmt: skip
    """Several candidates: the leaderboard (exits). One candidate, no base: evaluate it alone (runs to on_run)."""
    from harness.gate.several import evaluate_models, load_suites
    from harness.report.run import write_run

    if len(candidates) > 1:
        _no_leakage_check(train_data)
        gate_many(suites, base=base, candidates=candidates, policy=policy, seed=seed, out=out, as_json=as_json,
                  recorder=recorder, make_generator=make_generator, cache=cache, repeats=repeats, limit=limit,
                  manifest=manifest, progress=progress)  # fmt: skip
    loaded = load_suites(suites)
    made = evaluate_models(loaded, candidates, make_generator=make_generator, cache=cache, repeats=repeats,
                           limit=limit, progress=progress)[candidates[0]]  # fmt: skip
    for suite, run in zip(loaded, made, strict=True):
        if out is not None:
            write_run(run, out / "runs" / suite.name / "candidate")
        on_run("candidate", suite.name, run)
