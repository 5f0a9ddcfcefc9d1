"""``harness eval``: a model on suites."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from harness.cli.app import app, emit_json, stdout
from harness.cli.history import NoStoreOpt, StoreOpt
from harness.cli.serving import BackoffOpt, ConcurrencyOpt, RequestParamOpt, RetriesOpt, TimeoutOpt, serving_options
from harness.progress import note, stage_callback


@app.command("eval")
def eval_(
    suites: Annotated[list[Path], typer.Argument(help="Suite folders (suite.yaml + items.jsonl).")],
    model: Annotated[
        str,
        typer.Option(
            "--model", help="Alias (smollm2-135m), HF folder, .gguf, adapter or run folder, openai:<m>, outputs:<f>."
        ),
    ],
    endpoint: Annotated[str | None, typer.Option(help="Base URL of an OpenAI-compatible server.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write run.json and run.md here (a folder per suite if several).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N items of each suite.")] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Generate and score each item K times.")] = 1,
    batch_size: Annotated[str, typer.Option(help="Prompts per batch for local models, or 'auto'.")] = "auto",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the generation cache.")] = False,
    cache: Annotated[Path | None, typer.Option(help="Cache file (default $HARNESS_CACHE/generations.sqlite).")] = None,
    allow_noop_adapter: Annotated[
        bool, typer.Option("--allow-noop-adapter", help="Evaluate an adapter even if it does not change the logits.")
    ] = False,
    allow_pickle: Annotated[
        bool, typer.Option("--allow-pickle", help="Load .bin (pickle) weights: only for sources you trust.")
    ] = False,
    judge: Annotated[str | None, typer.Option(help="Judge model spec for every judge criterion.")] = None,
    judge_endpoint: Annotated[str | None, typer.Option(help="Endpoint for an openai:<m> judge.")] = None,
    worst: Annotated[int, typer.Option(min=0, help="Show this many worst items.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the harness.run/v1 document on stdout.")] = False,
    timeout: TimeoutOpt = None,
    concurrency: ConcurrencyOpt = None,
    retries: RetriesOpt = None,
    backoff: BackoffOpt = None,
    request_param: RequestParamOpt = None,
    store: StoreOpt = None,
    no_store: NoStoreOpt = False,
) -> None:
    """Evaluate a model on suites: per-criterion means with confidence intervals, worst items, run.json."""
    from harness.errors import InputError

    if not (batch_size == "auto" or (batch_size.isdigit() and int(batch_size) > 0)):
        raise InputError(f"--batch-size must be a positive integer or 'auto'; got {batch_size!r}", field="batch-size")
    from harness.eval.cache import GenerationCache, default_cache_path
    from harness.eval.run import EvalDocument
    from harness.models.factory import make_generator
    from harness.models.spec import parse_spec
    from harness.store.recording import open_recorder

    loaded = _load_suites(suites, out=out)  # every suite is checked before any model loads
    spec = parse_spec(model, endpoint=endpoint)  # parsed once, here
    srv = serving_options(timeout, concurrency, retries, backoff, request_param)
    recorder = open_recorder(store, no_store=no_store)  # an unreachable store stops us before the model loads
    gen_cache = None if no_cache else GenerationCache(cache or default_cache_path())  # so does an unwritable cache
    try:
        gen = make_generator(
            spec,
            allow_noop_adapter=allow_noop_adapter,
            allow_pickle=allow_pickle,
            batch_size="auto" if batch_size == "auto" else int(batch_size),
            serving=srv,
        )
        same_model = judge == model and judge_endpoint == endpoint
        judge_gen = None
        if judge:
            judge_gen = gen if same_model else make_generator(judge, endpoint=judge_endpoint, serving=srv)
        runs = _evaluate_suites(loaded, gen, cache=gen_cache, repeats=repeats, limit=limit, judge=judge_gen,
                                out=out, recorder=recorder, worst=None if as_json else worst)  # fmt: skip
    finally:
        if gen_cache is not None:
            gen_cache.close()
        recorder.close()
    if (stored := recorder.note()) is not None:
        note(stored)
    if as_json:
        emit_json(runs[0].to_document() if len(runs) == 1 else EvalDocument(runs=runs).to_document())
    elif out is not None:
        note(f"Runs written to {out}")


def _load_suites(suites: list[Path], *, out: Path | None) -> list[Any]:
    """Load and check every suite; several written under one --out need distinct names."""
    from harness.errors import InputError
    from harness.eval.suite import load_suite

    loaded = [load_suite(p) for p in suites]
    names = [s.name for s in loaded]
    if len(set(names)) != len(names) and out is not None:
        raise InputError(f"suites share a name, so their --out folders would collide: {names}")
    return loaded


def _evaluate_suites(
    loaded: list[Any], gen: Any, *, cache: Any, repeats: int, limit: int | None, judge: Any, out: Path | None,
    recorder: Any, worst: int | None,
) -> list[Any]:  # fmt: skip
    """Evaluate each suite in turn: write its run (--out), record it, print it (unless ``worst`` is None)."""
    from harness.eval.evaluate import evaluate_suite
    from harness.report.run import print_run, write_run

    runs = []
    for suite in loaded:
        progress = stage_callback(suite.name)
        try:
            run = evaluate_suite(suite, gen, cache=cache, repeats=repeats, limit=limit, progress=progress, judge=judge)
        finally:
            progress.close()  # type: ignore[attr-defined]
        if out is not None:
            write_run(run, out if len(loaded) == 1 else out / suite.name)
        runs.append(run)
        recorder.record(run.to_document())
        if worst is not None:
            print_run(run, stdout, worst=worst)
    return runs
