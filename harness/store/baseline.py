"""Gate against a baseline from the store: the last release instead of (or as well as) the base model.

A baseline reference is ``store:last-pass`` (the newest candidate run that passed a gate on the
suite, on the same items) or ``store:<record id>`` (a run recorded in the store). The comparison
with it is an ordinary paired comparison whose base side is the stored run; its notes and its
base side's ``path`` say which record it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from harness.errors import InputError
from harness.store.store import Store

if TYPE_CHECKING:
    from harness.compare.models import LeakageInfo
    from harness.eval.run import Run
    from harness.gate import Comparison, Policy

__all__ = ["Baseline", "baseline_comparison", "gate_on_baseline", "parse_baseline", "resolve_baseline"]

_REFS = ("store:last-pass", "store:<record id>")


class Baseline(NamedTuple):
    """A stored run to compare a candidate with, and where it came from."""

    ref: str
    record_id: int
    run: Run
    description: str


def parse_baseline(ref: str) -> str | int:
    """``"last-pass"`` or a record id from a ``--baseline`` value.

    >>> parse_baseline("store:last-pass"), parse_baseline("store:12")
    ('last-pass', 12)
    """
    body = ref.removeprefix("store:") if ref.startswith("store:") else None
    if body == "last-pass":
        return body
    if body is not None and body.lstrip("#").isdigit():
        return int(body.lstrip("#"))
    raise InputError(f"--baseline must be one of {', '.join(_REFS)}; got {ref!r}", field="baseline")


def resolve_baseline(store: Store, ref: str, suite: str, *, items_hash: str | None = None) -> Baseline:
    """The stored run ``ref`` names for ``suite``.

    Raises:
        InputError: no passing candidate of the suite in the store, a record that is not a run of
            the suite, or a malformed reference.
    """
    from harness.eval.run import Run

    which = parse_baseline(ref)
    if which == "last-pass":
        rec = store.last_passing_run(suite, suite_hash=items_hash) or store.last_passing_run(suite)
        if rec is None:
            raise InputError(
                f"the store {store.display_url} holds no candidate run that passed a gate on suite {suite!r}; "
                "gate once without --baseline (or import the runs of the last release with harness store import)",
                field="baseline",
            )
    else:
        rec = store.get(int(which))
        if rec.kind != "run":
            raise InputError(f"store record #{rec.id} is a {rec.kind}, not a run", field="baseline")
    run = Run.model_validate(rec.document)
    if str(run.suite.get("name")) != suite:
        raise InputError(f"store record #{rec.id} is a run of suite {run.suite.get('name')!r}, not {suite!r}",
                         field="baseline")  # fmt: skip
    spec = run.model.get("spec")
    when = rec.created_at.isoformat(timespec="seconds")
    desc = f"{ref}: store record #{rec.id}, {spec} evaluated {when}" + (
        f" (passed the gate, record #{rec.parent_id})" if rec.verdict == "pass" and rec.parent_id else ""
    )
    return Baseline(ref, rec.id, run, desc)


def baseline_comparison(
    store: Store,
    ref: str,
    candidate: Run,
    policy: Policy,
    *,
    leakage: LeakageInfo | None = None,
    candidate_path: str | None = None,
) -> Comparison:
    """Compare ``candidate`` with the stored baseline ``ref`` of its suite under ``policy``."""
    from harness.gate import compare_runs

    suite = str(candidate.suite.get("name") or "suite")
    base = resolve_baseline(store, ref, suite, items_hash=candidate.suite.get("items_hash"))
    comp = compare_runs(
        base.run, candidate, policy, leakage=leakage, base_path=f"{ref} (store record #{base.record_id})",
        candidate_path=candidate_path,
    )  # fmt: skip
    comp.notes.insert(0, f"baseline from the store, not the base model: {base.description}")
    return comp


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

    out = []
    for suite, run in candidate_runs.items():
        pol = policy if policy is not None else policy_of(run)
        if seed is not None:
            pol = pol.model_copy(update={"seed": seed})
        leakage = run_leakage(run, train_data, allow=allow_leakage, options=leakage_options)
        out.append(baseline_comparison(store, baseline, run, pol, leakage=leakage,
                                       candidate_path=(paths or {}).get(suite)))  # fmt: skip
    return out
