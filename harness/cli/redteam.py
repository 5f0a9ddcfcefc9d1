"""``harness redteam``: expand a safety suite with attack strategies and measure attack success."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.app import app, console, emit_json
from harness.cli.history import NoStoreOpt, StoreOpt, record_document
from harness.cli.serving import BackoffOpt, ConcurrencyOpt, RequestParamOpt, RetriesOpt, TimeoutOpt, serving_options


@app.command()
def redteam(
    suite: Annotated[
        Path, typer.Argument(help="A safety suite (seeds: should_refuse + category) or a red-team suite.")
    ],
    strategy: Annotated[
        list[str] | None,
        typer.Option(
            "--strategy",
            help="Strategy to apply (repeatable; see 'harness list strategies'). Default: every deterministic one.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the transforms (the same seed regenerates the same suite).")] = 0,
    model: Annotated[list[str] | None, typer.Option("--model", help="A model to measure (repeatable).")] = None,
    base: Annotated[str | None, typer.Option(help="The base model (compared per strategy with --candidate).")] = None,
    candidate: Annotated[str | None, typer.Option(help="The candidate model; the gate rules apply to it.")] = None,
    attacker: Annotated[
        str | None, typer.Option(help="Attacker model spec for adaptive strategies (pair, crescendo).")
    ] = None,
    endpoint: Annotated[str | None, typer.Option(help="Server URL for openai:<model> specs.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the suite (OUT/suite), redteam.json, .md and .html here.")
    ] = None,
    expand_only: Annotated[bool, typer.Option("--expand-only", help="Write the red-team suite and stop.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N items.")] = None,
    cache: Annotated[
        Path | None, typer.Option(help="Generation cache file (default $HARNESS_CACHE/generations.sqlite).")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the generation cache.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the harness.redteam/v1 document on stdout.")] = False,
    grader_labels: Annotated[
        Path | None,
        typer.Option(
            help="Human-labelled replies (JSONL: reply, label refused|answered): report the refusal "
            "rule's Cohen's kappa against them."
        ),
    ] = None,
    timeout: TimeoutOpt = None,
    concurrency: ConcurrencyOpt = None,
    retries: RetriesOpt = None,
    backoff: BackoffOpt = None,
    request_param: RequestParamOpt = None,
    store: StoreOpt = None,
    no_store: NoStoreOpt = False,
) -> None:
    """Attack-success rate per strategy and harm category, over-refusal, base vs candidate (exit 0 pass · 1 fail ·
    3 inconclusive)."""
    from rich.console import Console

    from harness.errors import InputError
    from harness.redteam.expand import DEFAULT_STRATEGIES, write_redteam_suite

    folder = suite
    if not (suite / "redteam.yaml").is_file():
        if out is None:
            raise InputError("pass --out: the expanded red-team suite is written to OUT/suite", field="out")
        folder = write_redteam_suite(suite, out / "suite", list(strategy or DEFAULT_STRATEGIES), seed=seed)
        console.print(f"red-team suite written to {folder}")
    elif strategy:
        raise InputError(f"{suite} is already a red-team suite; --strategy applies to a seed suite", field="strategy")
    if expand_only:
        raise typer.Exit(0)
    from harness.redteam.expand import load_redteam

    rt_config = load_redteam(folder)
    adaptive = rt_config.adaptive
    grader = None
    if grader_labels is not None:  # read before any model loads: a bad labels file costs no generation
        from harness.redteam.grading import refusal_agreement

        grader = refusal_agreement(grader_labels, confidence=rt_config.confidence)
    if adaptive and attacker is None:  # checked before any model loads
        raise InputError(f"the strategies {adaptive} need an attacker model: pass --attacker SPEC", field="attacker")
    specs = {
        **{m: m for m in model or []},
        **({base: base} if base else {}),
        **({candidate: candidate} if candidate else {}),
    }
    if not specs:
        raise InputError("name a model: --model SPEC, or --base and --candidate", field="model")
    from harness.eval.cache import GenerationCache, default_cache_path
    from harness.files import write_atomic, write_json
    from harness.models.factory import make_generator
    from harness.redteam.analysis import analyse
    from harness.redteam.runner import run_redteam
    from harness.report.redteam import print_redteam, render_html, render_markdown

    serving = serving_options(timeout, concurrency, retries, backoff, request_param)
    make = lambda s: make_generator(s, endpoint=endpoint if s.startswith("openai:") else None, serving=serving)  # noqa: E731
    gen_cache = None if no_cache else GenerationCache(cache or default_cache_path())  # before any model loads
    try:
        gens = {name: make(s) for name, s in specs.items()}
        attack_gen = make(attacker) if attacker else None
        loaded, config, outcomes = run_redteam(folder, gens, attacker=attack_gen, cache=gen_cache, limit=limit)
    finally:
        if gen_cache is not None:
            gen_cache.close()
    report = analyse(loaded.name, config, outcomes, base=base, candidate=candidate)
    if grader is not None:
        report.grader = grader
    doc = report.to_document()
    if out is not None:
        write_json(out / "redteam.json", doc)
        write_atomic(out / "redteam.md", render_markdown(report))
        write_atomic(out / "redteam.html", render_html(report))
    record_document(doc, store, no_store)  # after the reports are on disk: a store outage loses nothing
    if as_json:
        emit_json(doc)
    else:
        print_redteam(report, Console())
        if out is not None:
            console.print(f"Reports written to {out}/redteam.json, redteam.md and redteam.html")
    raise typer.Exit(report.exit_code)

