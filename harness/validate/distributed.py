"""Engines of ``harness validate`` over shards: this process (``local``) or a Dask cluster (``dask``).

Both run :func:`~harness.validate.shards.scan_shard` once per shard and join the results on the
caller with :func:`~harness.validate.shards.join_shards`, so their findings are the same. With
Dask the holdout index is built once, here, and broadcast to every worker
(``Client.scatter(..., broadcast=True)``); each task reads one shard, so a worker holds one
shard's records plus the index. Shard paths must be readable from the workers (a shared file
system). See ``docs/scale.md``.

Example:
    >>> import tempfile, pathlib, json
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> row = {"prompt": "Hi", "completion": "Hello!"}
    >>> for name in ("a.jsonl", "b.jsonl"):
    ...     _ = (d / name).write_text(json.dumps(row) + "\\n")
    >>> report = validate_shards(d)
    >>> [(f.check, f.files) for f in report.findings if f.check == "duplicates.exact"][0][1] == [
    ...     str(d / "a.jsonl"), str(d / "b.jsonl")]
    True
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from harness.errors import InputError, ServiceError
from harness.leakage.api import prepare
from harness.leakage.options import LeakageOptions, make_options
from harness.validate.balance import GroupBalance
from harness.validate.checks import Check, CheckSettings, Lengths
from harness.validate.findings import ValidationReport
from harness.validate.leakage import NearDuplicates
from harness.validate.shards import ShardPlan, ShardResult, expand_shards, join_shards, scan_shard

__all__ = ["ENGINES", "run_engine", "validate_shards", "validator"]

ENGINES = ("local", "dask")
CONNECT_TIMEOUT_S = 20


def missing_dask_message() -> str:
    """What to do when Dask is not installed."""
    return "--engine dask needs Dask: pip install 'finetune-harness[scale]' (dask[distributed])"


def _settings_of(checks: Iterable[Check] | None) -> tuple[CheckSettings, LeakageOptions]:
    """The settings of the default checks (length counting, near-duplicate options) as built by the CLI."""
    settings, near = CheckSettings(), LeakageOptions()
    for c in checks or ():
        if isinstance(c, Lengths):
            settings = CheckSettings(count=c.count, unit=c.unit, max_length=c.max_length)
        elif isinstance(c, NearDuplicates):
            near = c.options
    return settings, near


def validate_shards(
    source: str | Path,
    *,
    engine: str = "local",
    scheduler: str | None = None,
    format: str | None = None,
    kind: str | None = None,
    checks: Iterable[Check] | None = None,
    holdouts: Sequence[str | Path] = (),
    paraphrase: bool | None = None,
    leakage_options: LeakageOptions | None = None,
    by: Sequence[str] = (),
    n_workers: int | None = None,
) -> ValidationReport:
    """Validate a folder or glob of shards (or one file) as one data set, on the chosen engine.

    Args:
        source: a folder (its JSONL, Parquet and CSV files, sorted by name), a glob or one file.
        engine: ``local`` (this process, shard after shard) or ``dask``.
        scheduler: address of a Dask scheduler (``tcp://host:8786``); None starts a local cluster.
        format, kind: force the shards' format and record kind.
        checks: the default checks as ``default_checks`` builds them (their settings are used).
        holdouts, paraphrase, leakage_options: the leakage scan, as in ``validate_file``.
        by: fields to report the group balance of.
        n_workers: workers of the local Dask cluster [default: ``workers`` of the scan options (the
            ``--workers`` option), else one per CPU core].

    Returns:
        The report of one pass over the shards in order; each finding's ``files`` names the file
        of each of its ``lines`` (absent when ``source`` is one file).

    Raises:
        InputError: a bad option, holdout or shard; ``engine='dask'`` without Dask installed.
        ServiceError: the scheduler cannot be reached (exit 4).
    """
    if engine not in ENGINES:
        raise InputError(f"--engine must be one of {', '.join(ENGINES)}; got {engine!r}", field="engine")
    if scheduler is not None and engine != "dask":
        raise InputError("--scheduler needs --engine dask", field="scheduler")
    shards = expand_shards(source)
    settings, near = _settings_of(checks)
    prep = None
    if holdouts:
        opts = make_options(leakage_options, **({} if paraphrase is None else {"paraphrase": paraphrase}))
        prep = prepare(holdouts, opts)
    elif leakage_options is not None or paraphrase is not None:
        raise InputError("leakage options were given without a holdout: pass holdouts=[...]", field="holdouts")
    balance = GroupBalance(by, holdouts) if (by or holdouts) else None
    if balance is not None and not balance.fields:
        balance = None
    plan = ShardPlan(
        settings=settings,
        near_options=near,
        prep=prep,
        balance_fields=list(balance.fields) if balance is not None else [],
        format=format,
        kind=kind,
    )
    if n_workers is None:
        n_workers = prep.options.workers if prep is not None else near.workers
    results = run_engine(engine, shards, plan, scheduler=scheduler, n_workers=n_workers)
    one_file = len(shards) == 1 and Path(source).is_file()
    return join_shards(str(source), plan, results, balance=balance, one_file=one_file)


def run_engine(
    engine: str, shards: Sequence[Path], plan: ShardPlan, *, scheduler: str | None = None, n_workers: int | None = None
) -> list[ShardResult]:
    """Each shard's :class:`ShardResult`, in the order of ``shards``, computed by ``engine``."""
    if engine == "local":
        from harness.progress import step

        out = []
        with step("validating shards", total=len(shards)) as shown:
            for shard in shards:
                out.append(scan_shard(shard, plan))
                shown.advance()
        return out
    return _run_dask(shards, plan, scheduler=scheduler, n_workers=n_workers)


def _connect(scheduler: str | None, n_workers: int | None) -> tuple[Any, Any]:
    """A Dask client (and the local cluster it started, if any)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise InputError(missing_dask_message(), field="engine") from exc
    if scheduler is None:
        import dask

        # The workers' sampling profiler costs CPU time in every task; nobody reads it here.
        with dask.config.set({"distributed.worker.profile.enabled": False}):
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT_S), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise ServiceError(
            f"cannot reach the Dask scheduler at {scheduler!r} within {CONNECT_TIMEOUT_S} s: {exc}",
            field="scheduler",
        ) from exc


def _run_dask(
    shards: Sequence[Path], plan: ShardPlan, *, scheduler: str | None, n_workers: int | None
) -> list[ShardResult]:
    client, cluster = _connect(scheduler, n_workers)
    try:
        # One copy of the plan (holdout index inside) per worker, sent once; tasks refer to it.
        shared = client.scatter(plan.for_workers(), broadcast=True)
        run = uuid.uuid4().hex[:12]  # keys are global on a shared scheduler: one set per run
        futures = [
            client.submit(scan_shard, str(shard), shared, key=f"harness-shard-{run}-{i}-{shard.name}", pure=False)
            for i, shard in enumerate(shards)
        ]
        from harness.progress import step

        results: list[ShardResult] = []
        with step("validating shards on Dask", total=len(futures)) as shown:
            for fut in futures:  # in shard order: the join needs them so
                results.append(fut.result())
                shown.advance()
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def validator(
    source: str | Path, engine: str = "local", scheduler: str | None = None
) -> Callable[..., ValidationReport]:
    """The validation function ``harness validate`` calls: ``validate_file`` for one file on the local
    engine (unchanged), else :func:`validate_shards` on ``engine``."""
    if engine == "local" and scheduler is None and Path(source).is_file():
        from harness.validate import validate_file

        return validate_file

    def run(path: str | Path, **kwargs: Any) -> ValidationReport:
        return validate_shards(path, engine=engine, scheduler=scheduler, **kwargs)

    return run
