"""``harness compare`` and ``harness gate``: paired comparison, rules and the verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from harness.cli.app import app, emit_json, stdout
from harness.cli.history import NoStoreOpt, StoreOpt
from harness.cli.serving import BackoffOpt, ConcurrencyOpt, RequestParamOpt, RetriesOpt, TimeoutOpt, serving_options
from harness.progress import note, stage_callback


@app.command()
def compare(
    base_run: Annotated[Path, typer.Argument(help="The base model's run.json (or its folder).")],
    candidate_runs: Annotated[
        list[Path],
        typer.Argument(help="The candidate's run.json (or its folder); several: a leaderboard of all the runs."),
    ],
    policy: Annotated[
        Path | None, typer.Option(help="Policy YAML (rules); default: the suite's gate block recorded in the runs.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the harness.comparison/v1 document on stdout.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Write comparison.json, report.md and report.html here.")
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here (one test case per rule).")] = None,
    seed: Annotated[int | None, typer.Option(help="Bootstrap seed (default: the policy's, 0).")] = None,
    train_data: Annotated[
        list[Path] | None,
        typer.Option(
            "--train-data",
            help="The candidate's training data: suite items found there fail the comparison "
            "(default: the training data of the candidate's harness train run folder, if it was one).",
        ),
    ] = None,
    suite: Annotated[
        Path | None, typer.Option(help="The suite folder for the leakage check (default: the path the run records).")
    ] = None,
    allow_leakage: Annotated[
        bool, typer.Option(help="Compare anyway when suite items leaked into training data (they are left out).")
    ] = False,
    no_paraphrase: Annotated[
        bool, typer.Option("--no-paraphrase", help="Leakage check without the embedding (paraphrase) method.")
    ] = False,
    store: StoreOpt = None,
    no_store: NoStoreOpt = False,
) -> None:
    """Compare two runs of one suite: paired statistics, rules, verdict (exit 0 pass · 1 fail · 3 inconclusive).

    Three or more runs of one suite make a leaderboard: ranks per criterion and overall, every pair
    compared, Holm across the pairs (exit 0).
    """
    from harness.cli.leaderboard import compare_many, record_gate
    from harness.eval.run import load_run
    from harness.gate import compare_runs, gate_result, load_policy, policy_of
    from harness.gate.run import run_leakage
    from harness.store.recording import open_recorder

    recorder = open_recorder(store, no_store=no_store)  # before any work: an unreachable store stops here
    if len(candidate_runs) > 1:
        argv = ["compare", str(base_run), *map(str, candidate_runs)]
        compare_many([base_run, *candidate_runs], policy=policy, out=out, as_json=as_json, seed=seed,
                     recorder=recorder, manifest=_gate_manifest(argv), train_data=train_data)  # fmt: skip
    candidate_run = candidate_runs[0]
    base = load_run(base_run)
    cand = load_run(candidate_run)
    pol = load_policy(policy) if policy is not None else policy_of(cand)
    if seed is not None:
        pol = pol.model_copy(update={"seed": seed})
    leakage = run_leakage(
        cand,
        train_data or (),
        suite=suite,
        allow=allow_leakage,
        options={"paraphrase": False} if no_paraphrase else None,
    )
    comparison = compare_runs(
        base, cand, pol, leakage=leakage, base_path=str(base_run), candidate_path=str(candidate_run)
    )
    argv = ["compare", str(base_run), str(candidate_run)]
    argv += [a for t in train_data or () for a in ("--train-data", str(t))]
    result = gate_result([comparison], manifest={**_gate_manifest(argv), "train_data": leakage.train_data})
    record_gate(recorder, result, {comparison.suite: {"base": base.to_document(), "candidate": cand.to_document()}})
    _finish_comparison(result, out=out, junit=junit, as_json=as_json, runs=False)


CandidateOpt = Annotated[
    list[str],
    typer.Option(help="The candidate model spec (a harness train run folder works); several: a leaderboard."),
]
BaselineOpt = Annotated[
    str | None,
    typer.Option(help="Also (or, without --base, only) compare with a stored run: store:last-pass or store:ID."),
]
TrainDataOpt = Annotated[
    list[Path] | None,
    typer.Option("--train-data", help="The candidate's training data: suite items found there fail the gate."),
]
AllowNoopOpt = Annotated[
    bool, typer.Option(help="Evaluate an adapter even when it does not change the model's outputs.")
]
AllowPickleOpt = Annotated[
    bool, typer.Option("--allow-pickle", help="Load .bin (pickle) weights: only for sources you trust.")
]
NoParaphraseOpt = Annotated[
    bool, typer.Option("--no-paraphrase", help="Leakage check without the embedding (paraphrase) method.")
]


@app.command()
def gate(
    suites: Annotated[list[Path], typer.Argument(help="Suite folders (suite.yaml + items.jsonl).")],
    candidate: CandidateOpt,
    base: Annotated[
        str | None, typer.Option(help="The base model spec (alias, folder, .gguf, openai:..., outputs:...).")
    ] = None,
    baseline: BaselineOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="Write comparison.json, report.md, report.html and the runs here.")
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here (one test case per rule).")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the harness.comparison/v1 document on stdout.")
    ] = False,
    policy: Annotated[
        Path | None, typer.Option(help="Policy YAML for every suite (default: each suite's gate).")
    ] = None,
    train_data: TrainDataOpt = None,
    allow_leakage: Annotated[
        bool, typer.Option(help="Gate anyway when suite items leaked into training data (they are left out).")
    ] = False,
    repeats: Annotated[int, typer.Option(min=1, help="Attempts per item (per-item means; variance split).")] = 1,
    limit: Annotated[int | None, typer.Option(min=1, help="Evaluate only the first N items of each suite.")] = None,
    endpoint: Annotated[str | None, typer.Option(help="Server URL for openai:<model> specs.")] = None,
    cache: Annotated[Path | None, typer.Option(help="Generation cache file (default ~/.cache/harness).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the generation cache.")] = False,
    allow_noop_adapter: AllowNoopOpt = False,
    allow_pickle: AllowPickleOpt = False,
    no_paraphrase: NoParaphraseOpt = False,
    seed: Annotated[int | None, typer.Option(help="Bootstrap seed (default 0).")] = None,
    timeout: TimeoutOpt = None,
    concurrency: ConcurrencyOpt = None,
    retries: RetriesOpt = None,
    backoff: BackoffOpt = None,
    request_param: RequestParamOpt = None,
    store: StoreOpt = None,
    no_store: NoStoreOpt = False,
) -> None:
    """Evaluate base and candidate on suites (through the cache), check leakage, compare, and give the verdict."""
    from harness.cli import leaderboard as several
    from harness.gate.run import GateHooks, GateOptions, run_gate
    from harness.report.run import write_run

    recorder, pol, gen_cache = _gate_setup(base=base, baseline=baseline, store=store, no_store=no_store,
                                           policy=policy, cache=cache, no_cache=no_cache)  # fmt: skip
    serving = serving_options(timeout, concurrency, retries, backoff, request_param)
    models = _Models(endpoint=endpoint, allow_noop_adapter=allow_noop_adapter, allow_pickle=allow_pickle, srv=serving)
    manifest = _gate_manifest(_gate_argv(suites, base=base, candidate=candidate, baseline=baseline))
    leakage_options = {"paraphrase": False} if no_paraphrase else None
    runs = _Runs()
    with _Progress() as progress:
        if len(candidate) > 1 or base is None:  # a leaderboard (exits there), or the candidate alone
            several.gate_without_base(
                suites, base=base, candidates=candidate, policy=pol, seed=seed, out=out, as_json=as_json,
                recorder=recorder, make_generator=models, cache=gen_cache, repeats=repeats, limit=limit,
                on_run=runs.add, train_data=train_data, manifest=manifest, progress=progress,
            )  # fmt: skip
            result = None
        else:
            result = run_gate(
                suites, base=models.parse(base), candidate=models.parse(candidate[0]),
                options=GateOptions(out=out, policy=pol, train_data=train_data or [], allow_leakage=allow_leakage,
                                    repeats=repeats, limit=limit, leakage_options=leakage_options, manifest=manifest,
                                    seed=seed),
                hooks=GateHooks(cache=gen_cache, make_generator=models, progress=progress, on_run=runs.add,
                                write_run=lambda run, folder: write_run(run, folder).json),
            )  # fmt: skip
    if baseline is not None:
        result = several.gate_with_baseline(result, runs.candidates, recorder=recorder, baseline=baseline, policy=pol,
                                            seed=seed, train_data=train_data or [], allow_leakage=allow_leakage,
                                            leakage_options=leakage_options)  # fmt: skip
    assert result is not None
    several.record_gate(recorder, result, runs.documents)
    _finish_comparison(result, out=out, junit=junit, as_json=as_json, runs=True)


def _gate_argv(suites: list[Path], *, base: str | None, candidate: list[str], baseline: str | None) -> list[str]:
    argv = ["gate", *map(str, suites), *(["--base", base] if base else [])]
    return argv + [a for c in candidate for a in ("--candidate", c)] + (["--baseline", baseline] if baseline else [])


def _gate_setup(
    *, base: str | None, baseline: str | None, store: str | None, no_store: bool, policy: Path | None,
    cache: Path | None, no_cache: bool,
) -> tuple[Any, Any, Any]:  # fmt: skip
    """Everything checked before a model loads: the sides given, the store, the policy, the cache."""
    from harness.errors import InputError
    from harness.gate import load_policy
    from harness.store.recording import open_recorder

    if base is None and baseline is None:
        raise InputError("give --base SPEC, --baseline store:last-pass, or both", field="base")
    recorder = open_recorder(store, no_store=no_store)
    if baseline is not None and not recorder.enabled:
        raise InputError("--baseline reads the results store, which --no-store (or HARNESS_STORE=none) turns off",
                         field="baseline")  # fmt: skip
    pol = load_policy(policy) if policy is not None else None
    gen_cache = None
    if not no_cache:
        from harness.eval.cache import GenerationCache, default_cache_path

        gen_cache = GenerationCache(cache or default_cache_path())
    return recorder, pol, gen_cache


class _Models:
    """Parses each spec once (the endpoint only for ``openai:``) and makes its generator with the gate's options."""

    def __init__(self, *, endpoint: str | None, allow_noop_adapter: bool, allow_pickle: bool, srv: Any) -> None:
        self.endpoint = endpoint
        self.options = {"allow_noop_adapter": allow_noop_adapter, "allow_pickle": allow_pickle, "serving": srv}

    def parse(self, raw: str) -> Any:
        from harness.models.spec import parse_spec

        return parse_spec(raw, endpoint=self.endpoint if raw.startswith("openai:") else None)

    def __call__(self, spec: Any) -> Any:
        from harness.models.factory import make_generator

        return make_generator(spec, **self.options)


class _Progress:
    """One progress line per side and suite, closed together."""

    def __init__(self) -> None:
        self.callbacks: dict[tuple[str, str], Any] = {}

    def __call__(self, side: str, suite: str, stage: str, done: int, total: int) -> None:
        if (side, suite) not in self.callbacks:
            self.callbacks[(side, suite)] = stage_callback(f"{side:9} {suite}")
        self.callbacks[(side, suite)](stage, done, total)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        for cb in self.callbacks.values():
            cb.close()


class _Runs:
    """The runs a gate made: their documents per suite and side (for the store), the candidate's runs."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.candidates: dict[str, Any] = {}

    def add(self, side: str, suite: str, run: Any) -> None:
        self.documents.setdefault(suite, {})[side] = run.to_document()
        if side == "candidate":
            self.candidates[suite] = run


def _finish_comparison(result: Any, *, out: Path | None, junit: Path | None, as_json: bool, runs: bool) -> None:
    """Write the comparison reports, print the document or the summary, exit with the verdict's code."""
    from harness.report.comparison import print_summary, write_reports

    write_reports(result, out=out, junit=junit)
    if as_json:
        emit_json(result.to_document())
    else:
        print_summary(result, stdout)
        if out is not None:
            where = f"; runs in {out}/runs" if runs else ""
            note(f"Reports written to {out}/comparison.json, report.md and report.html{where}")
    raise typer.Exit(result.exit_code)


def _gate_manifest(argv: list[str]) -> dict[str, Any]:
    from datetime import UTC, datetime

    from harness.provenance import collect_provenance

    return {
        **collect_provenance().model_dump(),
        "command": ["harness", *argv],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


