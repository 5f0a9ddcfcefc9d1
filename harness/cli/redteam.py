"""``harness redteam``: expand a safety suite with attack strategies and measure attack success."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from harness.cli.app import app, console, emit_json
from harness.cli.history import NoStoreOpt, StoreOpt, record_document
from harness.cli.serving import BackoffOpt, ConcurrencyOpt, RequestParamOpt, RetriesOpt, TimeoutOpt, serving_options

if TYPE_CHECKING:
    from harness.eval.cache import GenerationCache
    from harness.models.base import Generator
    from harness.redteam.analysis import RedteamReport
    from harness.redteam.grading import GraderCheck


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
    max_new_tokens: Annotated[
        int | None,
        typer.Option(min=1, help="Replace the seed suite's max_new_tokens in the expanded suite (a cheaper run)."),
    ] = None,
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
    judge: Annotated[
        str | None,
        typer.Option(
            help="A judge model spec grading each reply refused/complied; it counts only when calibrated against "
            "--grader-labels (alpha at least the judge floor), else the refusal rule grades."
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
    from harness.errors import InputError

    if judge is not None and grader_labels is None:
        raise InputError("--judge needs --grader-labels FILE: the human labels it is calibrated against", field="judge")
    folder = _red_team_folder(suite, out, strategy, seed, max_new_tokens)
    if expand_only:
        raise typer.Exit(0)
    specs, grader = _check_inputs(folder, model, base, candidate, attacker, grader_labels)
    make = _maker(endpoint, serving_options(timeout, concurrency, retries, backoff, request_param))
    from harness.eval.cache import GenerationCache, default_cache_path

    gen_cache = None if no_cache else GenerationCache(cache or default_cache_path())
    try:
        report = _measure(folder, {name: make(s) for name, s in specs.items()}, make(attacker) if attacker else None,
                          gen_cache, limit=limit, base=base, candidate=candidate, grader_labels=grader_labels,
                          grader=grader, judge=(judge, make(judge)) if judge else None)  # fmt: skip
    finally:
        if gen_cache is not None:
            gen_cache.close()
    _publish(report, out, store, no_store, as_json)
    raise typer.Exit(report.exit_code)


def _maker(endpoint: str | None, serving: dict[str, Any]) -> Callable[[str], Generator]:
    """Builds a generator from a spec (the endpoint goes to openai: specs)."""
    from harness.models.factory import make_generator

    return lambda s: make_generator(s, endpoint=endpoint if s.startswith("openai:") else None, serving=serving)


def _red_team_folder(
    suite: Path, out: Path | None, strategy: list[str] | None, seed: int, max_new_tokens: int | None
) -> Path:
    """The red-team suite: ``suite`` itself, or its expansion written to OUT/suite."""
    from harness.errors import InputError
    from harness.redteam.expand import DEFAULT_STRATEGIES, write_redteam_suite

    if (suite / "redteam.yaml").is_file():
        if strategy or max_new_tokens:
            flag = "strategy" if strategy else "max-new-tokens"
            raise InputError(f"{suite} is already a red-team suite; --{flag} applies to a seed suite",
                             field=flag)  # fmt: skip
        return suite
    if out is None:
        raise InputError("pass --out: the expanded red-team suite is written to OUT/suite", field="out")
    folder = write_redteam_suite(suite, out / "suite", list(strategy or DEFAULT_STRATEGIES), seed=seed,
                                 max_new_tokens=max_new_tokens)  # fmt: skip
    console.print(f"red-team suite written to {folder}")
    return folder


def _check_inputs(
    folder: Path, model: list[str] | None, base: str | None, candidate: str | None, attacker: str | None,
    grader_labels: Path | None,
) -> tuple[dict[str, str], GraderCheck | None]:  # fmt: skip
    """The models to measure (name → spec) and the refusal rule's check, before any model loads."""
    from harness.errors import InputError
    from harness.redteam.expand import load_redteam
    from harness.redteam.grading import refusal_agreement

    rt_config = load_redteam(folder)
    adaptive = rt_config.adaptive
    # read before any model loads: a bad labels file costs no generation
    grader = refusal_agreement(grader_labels, confidence=rt_config.confidence) if grader_labels else None
    if adaptive and attacker is None:
        raise InputError(f"the strategies {adaptive} need an attacker model: pass --attacker SPEC", field="attacker")
    specs = {
        **{m: m for m in model or []},
        **({base: base} if base else {}),
        **({candidate: candidate} if candidate else {}),
    }
    if not specs:
        raise InputError("name a model: --model SPEC, or --base and --candidate", field="model")
    return specs, grader


def _measure(
    folder: Path, gens: dict[str, Generator], attacker: Generator | None, cache: GenerationCache | None, *,
    limit: int | None, base: str | None, candidate: str | None, grader_labels: Path | None,
    grader: GraderCheck | None, judge: tuple[str, Generator] | None,
) -> RedteamReport:  # fmt: skip
    """Run the attacks, grade (the judge only once calibrated), analyse."""
    from harness.redteam.analysis import analyse
    from harness.redteam.runner import run_redteam

    loaded, config, outcomes = run_redteam(folder, gens, attacker=attacker, cache=cache, limit=limit)
    judge_check = None
    if judge is not None:
        from harness.redteam.judging import calibrate_judge, judge_scorer, regrade

        assert grader_labels is not None
        scorer = judge_scorer(judge[1], cache)
        judge_check = calibrate_judge(scorer, judge[0], grader_labels, confidence=config.confidence)
        if judge_check.used:
            regrade(outcomes, scorer, judge_check)
        console.print(judge_check.summary(), markup=False)
    report = analyse(loaded.name, config, outcomes, base=base, candidate=candidate)
    report.judge, report.grader = judge_check, grader
    return report


def _publish(report: RedteamReport, out: Path | None, store: str | None, no_store: bool, as_json: bool) -> None:
    """Write the reports, record the document, print."""
    from rich.console import Console

    from harness.files import write_atomic, write_json
    from harness.report.redteam import print_redteam, render_html, render_markdown

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
