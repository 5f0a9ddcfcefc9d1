"""The release gate: evaluate base and candidate on suites (through the cache), check leakage, compare.

``harness gate SUITE... --base SPEC --candidate SPEC`` runs this. Models are loaded one at a
time (every suite with the base, then every suite with the candidate), generations go through the
SQLite cache so a killed gate resumes, and the comparison reads only the runs it produced.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from harness.compare.models import LeakageInfo
from harness.documents.train import TRAIN_KIND, TrainManifest
from harness.errors import InputError, InputFileError
from harness.files import write_json
from harness.gate.judge import compare_runs
from harness.gate.policy import Policy
from harness.gate.rules import policy_of
from harness.gate.verdict import Comparison, GateResult, gate_result

if TYPE_CHECKING:
    from harness.eval.cache import GenerationCache
    from harness.eval.run import Run
    from harness.eval.suite import Suite
    from harness.models.base import Generator
    from harness.models.spec import ModelSpec

__all__ = ["GateHooks", "GateOptions", "run_gate", "run_leakage", "train_data_of"]

Progress = Callable[[str, str, str, int, int], None]


def train_data_of(spec: ModelSpec | str) -> list[Path]:
    """The training files a ``harness train`` run folder records (empty for any other spec).

    Paths are taken as recorded, else relative to the run folder. A parsed spec is looked at only
    when it is a run folder.

    Raises:
        InputFileError: when the run folder names a training file that does not exist.
        InputError: when its manifest is a ``harness.train/v1`` one that does not load.
    """
    if not isinstance(spec, str):
        if spec.kind != "run" or spec.path is None:
            return []
        spec = str(spec.path)
    folder = Path(spec)
    manifest = folder / "manifest.json"
    if not folder.is_dir() or not manifest.is_file():
        return []
    try:
        raw = json.loads(manifest.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return []
    if not isinstance(raw, dict) or raw.get("kind") != TRAIN_KIND:
        return []  # not a harness train run folder
    try:
        doc = TrainManifest.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(err["msg"], file=manifest, field=".".join(map(str, err["loc"]))) from exc
    out = []
    for p in doc.train_data:
        path = Path(str(p))
        if not path.is_file() and (folder / path).is_file():
            path = folder / path
        if not path.is_file():
            raise InputFileError(
                f"the candidate's run folder names training data {str(p)!r}, which does not exist; "
                "pass --train-data FILE",
                file=manifest,
                field="train_data",
            )
        out.append(path)
    return out


def _training_files(given: Sequence[str | Path], candidate: ModelSpec | str) -> list[Path]:
    """The candidate's training files: those given, else those its train run folder records; all must exist."""
    train = [Path(t) for t in given] or train_data_of(candidate)
    for t in train:
        if not t.is_file():
            raise InputFileError("no such training data file", file=t, field="--train-data")
    return train


def run_leakage(
    run: Run,
    train_data: Sequence[str | Path] = (),
    *,
    suite: str | Path | None = None,
    allow: bool = False,
    options: dict[str, Any] | None = None,
) -> LeakageInfo:
    """The leakage check of a comparison of existing runs (``harness compare``).

    The suite is the one the run records (its ``path``, read relative to the working folder), or
    ``suite`` when given; it must still hold the items the run evaluated (same items hash). The
    training files are ``train_data``, else those of the candidate's ``harness train`` run folder.
    With no training data known the check is not run (``LeakageInfo(checked=False)``).

    Raises:
        InputFileError: a training file or the suite is missing.
        InputError: the suite's items changed since the run.
    """
    from harness.eval.suite import load_suite

    train = _training_files(train_data, run.model.spec or "")
    if not train:
        return LeakageInfo()
    where = Path(suite) if suite is not None else Path(run.suite.path or "")
    if not where.exists():
        raise InputFileError(
            "the suite the run records is not here, so its items cannot be checked for leakage; pass --suite DIR",
            file=where,
            field="suite.path",
        )
    loaded = load_suite(where)
    recorded = run.suite.all_items_hash
    if recorded is not None and loaded.items_hash() != recorded:
        raise InputError(
            f"the suite at {where} is not the one the run evaluated: its items changed (hash "
            f"{loaded.items_hash()} vs {recorded} in the run); pass --suite with the suite as it was"
        )
    return _leakage([loaded], train, allow, options or {})[0]


def _leakage(suites: Sequence[Suite], train: Sequence[Path], allow: bool, options: dict[str, Any]) -> list[LeakageInfo]:
    from harness.leakage import scan_leakage

    holdouts = [str(s.path) for s in suites]
    leaked: dict[str, set[str]] = {h: set() for h in holdouts}
    findings: dict[str, list[dict[str, Any]]] = {h: [] for h in holdouts}
    methods: dict[str, str] = {}
    ran: set[str] = set()
    for file in train:
        result = scan_leakage(file, holdouts, **options)
        methods.update(result.methods)
        ran.update(result.ran)
        for h in holdouts:
            leaked[h] |= set(result.leaked_holdout_ids.get(h, set()))
        for f in result.findings:
            if f.holdout in findings:
                findings[f.holdout].append({**f.model_dump(mode="json"), "train_file": str(file)})
            else:  # a finding keyed by another spelling of the path: match by item ids
                for h in holdouts:
                    if set(f.holdout_ids or []) & leaked[h]:
                        findings[h].append({**f.model_dump(mode="json"), "train_file": str(file)})
    off = ", ".join(f"{m}: {why}" for m, why in sorted(methods.items()) if m not in ran)
    return [
        LeakageInfo(
            checked=True,
            train_data=[str(t) for t in train],
            leaked_ids=sorted(leaked[h]),
            findings=findings[h],
            allowed=allow,
            note=f"methods off: {off}" if off else None,
        )
        for h in holdouts
    ]


def _progress_of(progress: Progress, side: str, suite: str) -> Callable[[str, int, int], None]:
    def report(stage: str, done: int, total: int) -> None:
        progress(side, suite, stage, done, total)

    return report


def _slug(name: str, used: set[str]) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "suite"
    base, k = slug, 2
    while slug in used:
        slug, k = f"{base}-{k}", k + 1
    used.add(slug)
    return slug


@dataclass(frozen=True)
class GateOptions:
    """What the gate evaluates and decides (recorded in the gate's manifest).

    Attributes:
        out: where to write each run (``runs/<suite>/base/run.json`` ...); None: not written.
        policy: rules for every suite (default: each suite's ``gate`` block).
        train_data: the candidate's training files (checked for suite items; default: the ones
            the candidate's run folder records, if any).
        allow_leakage: gate anyway when suite items leaked (they are left out of the verdict).
        repeats: attempts per item.
        limit: evaluate only the first ``limit`` items of each suite.
        leakage_options: options for :func:`harness.leakage.scan_leakage` (``paraphrase=False``...).
        manifest: extra facts for the gate's manifest (the command line...).
        seed: the bootstrap seed (default: the policy's, 0).
    """

    out: str | Path | None = None
    policy: Policy | None = None
    train_data: Sequence[str | Path] = ()
    allow_leakage: bool = False
    repeats: int = 1
    limit: int | None = None
    leakage_options: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None
    seed: int | None = None


@dataclass(frozen=True)
class GateHooks:
    """What the gate calls out to: the cache, the generator builders, progress and run callbacks.

    Attributes:
        cache: the generation cache (None: no cache).
        make_generator: builds a generator from a spec (default :func:`harness.models.factory.make_generator`;
            tests pass fakes).
        judge_factory: builds judge generators from ``(spec, endpoint)`` (default: the scorers' own).
        progress: called as ``progress(side, suite, stage, done, total)``.
        on_run: called as ``on_run(side, suite name, run)`` with each run as it is made.
        write_run: writes a run into a folder under ``out`` and returns the ``run.json`` path (the
            CLI passes :func:`harness.report.run.write_run`, which adds ``run.md``; the gate sits
            below the reports); default: ``run.json`` alone.
    """

    cache: GenerationCache | None = None
    make_generator: Callable[[ModelSpec | str], Generator] | None = None
    judge_factory: Callable[[str, str | None], Generator] | None = None
    progress: Progress | None = None
    on_run: Callable[[str, str, Run], None] | None = None
    write_run: Callable[[Run, Path], Path] | None = None


def _load_suites(suites: Sequence[str | Path]) -> list[Suite]:
    """The suites, loaded; at least one, with distinct names."""
    from harness.eval.suite import load_suite

    if not suites:
        raise InputError("harness gate needs at least one suite")
    loaded = [load_suite(s) for s in suites]
    names = [s.name for s in loaded]
    if len(set(names)) != len(names):
        raise InputError(f"suites must have distinct names; got {names}")
    return loaded


def _evaluate_sides(
    loaded: Sequence[Suite], sides: Sequence[tuple[str, ModelSpec | str]], options: GateOptions, hooks: GateHooks
) -> dict[str, list[Run]]:
    """Each side's run of every suite, one model in memory at a time."""
    from harness.eval.evaluate import evaluate_suite

    make_generator = hooks.make_generator
    if make_generator is None:
        from harness.models.factory import make_generator as default

        make_generator = default

    runs: dict[str, list[Run]] = {}
    for side, spec in sides:
        gen = make_generator(spec)
        side_runs = []
        for suite in loaded:
            cb = _progress_of(hooks.progress, side, suite.name) if hooks.progress is not None else None
            side_runs.append(
                evaluate_suite(
                    suite,
                    gen,
                    cache=hooks.cache,
                    repeats=options.repeats,
                    limit=options.limit,
                    progress=cb,
                    judge_factory=hooks.judge_factory,
                )
            )
            if hooks.on_run is not None:
                hooks.on_run(side, suite.name, side_runs[-1])
        runs[side] = side_runs
        del gen
        gc.collect()  # one model in memory at a time
    return runs


def _write_run(run: Run, folder: Path, hooks: GateHooks) -> str:
    """Write a run into ``folder`` (through ``hooks.write_run`` when given); the path of its ``run.json``."""
    if hooks.write_run is not None:
        return str(hooks.write_run(run, folder))
    return str(write_json(folder / "run.json", run.to_document()))


def _compare_suites(
    loaded: Sequence[Suite],
    runs: dict[str, list[Run]],
    leakage: Sequence[LeakageInfo],
    options: GateOptions,
    hooks: GateHooks,
) -> list[Comparison]:
    """Each suite's comparison under its policy (the runs written under ``options.out`` first)."""
    comparisons: list[Comparison] = []
    used: set[str] = set()
    for k, suite in enumerate(loaded):
        b, c = runs["base"][k], runs["candidate"][k]
        paths: dict[str, str | None] = {"base": None, "candidate": None}
        if options.out is not None:
            slug = _slug(suite.name, used)
            for side, run in (("base", b), ("candidate", c)):
                paths[side] = _write_run(run, Path(options.out) / "runs" / slug / side, hooks)
        pol = options.policy if options.policy is not None else policy_of(c)
        if options.seed is not None:
            pol = pol.model_copy(update={"seed": options.seed})
        comparisons.append(
            compare_runs(b, c, pol, leakage=leakage[k], base_path=paths["base"], candidate_path=paths["candidate"])
        )
    return comparisons


def run_gate(
    suites: Sequence[str | Path],
    *,
    base: ModelSpec | str,
    candidate: ModelSpec | str,
    options: GateOptions | None = None,
    hooks: GateHooks | None = None,
) -> GateResult:
    """Evaluate base and candidate on each suite, check leakage, and compare under each suite's gate.

    Args:
        suites: suite folders (or ``suite.yaml`` files).
        base: the base model spec (parsed once by the caller, or a string parsed by ``make_generator``).
        candidate: the candidate model spec; a ``harness train`` run folder also supplies its
            training data for the leakage check.
        options: what to evaluate and decide (:class:`GateOptions`; default: every default).
        hooks: the cache, generator builders and callbacks (:class:`GateHooks`; default: none).

    Returns:
        The :class:`~harness.gate.verdict.GateResult` (verdict, comparisons, manifest).

    Raises:
        InputError: for no suites, bad suites or options.
        InputFileError: for a missing training file.
    """
    options = options or GateOptions()
    hooks = hooks or GateHooks()
    loaded = _load_suites(suites)
    train = _training_files(options.train_data, candidate)
    leakage = (
        _leakage(loaded, train, options.allow_leakage, options.leakage_options or {})
        if train
        else [LeakageInfo() for _ in loaded]
    )
    runs = _evaluate_sides(loaded, (("base", base), ("candidate", candidate)), options, hooks)
    comparisons = _compare_suites(loaded, runs, leakage, options, hooks)
    facts = {
        **(options.manifest or {}),
        "base": base if isinstance(base, str) else base.raw,
        "candidate": candidate if isinstance(candidate, str) else candidate.raw,
        "suites": [str(s.path) for s in loaded],
        "train_data": [str(t) for t in train],
        "allow_leakage": options.allow_leakage,
        "repeats": options.repeats,
        "limit": options.limit,
        "cache": str(hooks.cache.path) if hooks.cache is not None else None,
    }
    return gate_result(comparisons, manifest=facts)
