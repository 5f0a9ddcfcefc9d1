"""The ``harness`` command line: one thin function per verb.

Verbs that only read data (``validate``, ``agreement``) import neither torch nor transformers.
Every :class:`~harness.errors.HarnessError` becomes a one-line message and exit code 2; pass
``--debug`` for the traceback.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from harness.errors import HarnessError, InputError

app = typer.Typer(
    name="harness",
    help="Evaluation and data-quality harness for fine-tuning language models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
console = Console(stderr=True)
_state: dict[str, Any] = {"debug": False}


class FailOn(StrEnum):
    error = "error"
    warning = "warning"


class DataFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    """Validate data, check rater agreement, train, evaluate and gate fine-tuned models.

    Exit codes: 0 pass · 1 fail · 2 bad usage or input · 3 inconclusive.
    """
    _state["debug"] = debug


def _emit_json(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


@app.command()
def validate(
    train: Annotated[Path, typer.Argument(help="Training data: JSONL, CSV or Parquet.")],
    format: Annotated[DataFormat | None, typer.Option("--format", help="Force the file format.")] = None,
    tokenizer: Annotated[
        str | None, typer.Option(help="Count lengths in tokens of this tokenizer (model spec); words otherwise.")
    ] = None,
    max_length: Annotated[int | None, typer.Option(help="Flag examples longer than this (tokens or words).")] = None,
    fail_on: Annotated[
        FailOn, typer.Option(help="Exit 1 when findings at or above this severity exist.")
    ] = FailOn.error,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the harness.validation/v1 document on stdout.")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Write validation.json and validation.md here.")] = None,
    holdout: Annotated[
        list[Path] | None,
        typer.Option(
            "--holdout",
            help="Holdout to scan for leakage: a JSONL file of items or a suite folder (repeatable).",
        ),
    ] = None,
    ngram_n: Annotated[
        int | None, typer.Option("--ngram-n", help="Word n-gram length for containment [default: 13].")
    ] = None,
    minhash_threshold: Annotated[
        float | None,
        typer.Option("--minhash-threshold", help="Near-duplicate leak: estimated Jaccard at least [default: 0.4]."),
    ] = None,
    paraphrase: Annotated[
        bool | None,
        typer.Option(
            "--paraphrase/--no-paraphrase",
            help="Sentence-embedding paraphrase check [default: on when the 'embed' extra is installed].",
        ),
    ] = None,
    paraphrase_threshold: Annotated[
        float | None, typer.Option(help="Paraphrase leak: cosine similarity at least [default: 0.8].")
    ] = None,
    near_dup_threshold: Annotated[
        float | None,
        typer.Option(help="Within-file duplicates.near: estimated Jaccard at least [default: 0.8]."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes for hashing [default: one per CPU core].", min=1)
    ] = None,
) -> None:
    """Check a training file: schema, duplicates, lengths, personal data, chat and preference audits,
    and leakage of holdout items (--holdout)."""
    from harness.leakage.options import make_options
    from harness.report import write_atomic, write_json
    from harness.report.validation import print_summary, render_markdown
    from harness.validate import default_checks, validate_file

    count, unit = None, "words"
    if tokenizer is not None:
        from harness.models.tokenizers import token_counter

        count, unit = token_counter(tokenizer), "tokens"
    given = {
        "n": ngram_n,
        "threshold": minhash_threshold,
        "paraphrase_threshold": paraphrase_threshold,
        "near_threshold": near_dup_threshold,
        "workers": workers,
    }
    opts = make_options(None, **{k: v for k, v in given.items() if v is not None})
    leak_only = ("n", "threshold", "paraphrase_threshold")
    if not holdout and (paraphrase is not None or any(given[k] is not None for k in leak_only)):
        raise InputError(
            "--ngram-n, --minhash-threshold, --paraphrase-threshold and --[no-]paraphrase need --holdout"
        )
    report = validate_file(
        train,
        format=format.value if format else None,
        checks=default_checks(count=count, unit=unit, max_length=max_length, near_options=opts),
        holdouts=holdout or (),
        paraphrase=paraphrase,
        leakage_options=opts if holdout else None,
    )
    doc = report.to_document()
    doc["fail_on"] = fail_on.value
    if out is not None:
        write_json(out / "validation.json", doc)
        write_atomic(out / "validation.md", render_markdown(report, fail_on=fail_on.value))
    if as_json:
        _emit_json(doc)
    else:
        print_summary(report, console, fail_on=fail_on.value)
        if out is not None:
            console.print(f"Reports written to {out}/validation.json and validation.md")
    raise typer.Exit(1 if report.blocking(fail_on.value) else 0)


@app.command()
def compare(
    base_run: Annotated[Path, typer.Argument(help="The base model's run.json (or its folder).")],
    candidate_run: Annotated[Path, typer.Argument(help="The candidate's run.json (or its folder).")],
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
) -> None:
    """Compare two runs of one suite: paired statistics, rules, verdict (exit 0 pass · 1 fail · 3 inconclusive)."""
    from harness.compare import compare_runs, gate_result, load_policy, policy_of
    from harness.gate import run_leakage
    from harness.runs import load_run

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
    _finish_comparison(result, out=out, junit=junit, as_json=as_json, runs=False)


@app.command()
def gate(
    suites: Annotated[list[Path], typer.Argument(help="Suite folders (suite.yaml + items.jsonl).")],
    base: Annotated[str, typer.Option(help="The base model spec (alias, folder, .gguf, openai:..., outputs:...).")],
    candidate: Annotated[str, typer.Option(help="The candidate model spec (a harness train run folder works).")],
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
    train_data: Annotated[
        list[Path] | None,
        typer.Option("--train-data", help="The candidate's training data: suite items found there fail the gate."),
    ] = None,
    allow_leakage: Annotated[
        bool, typer.Option(help="Gate anyway when suite items leaked into training data (they are left out).")
    ] = False,
    repeats: Annotated[int, typer.Option(min=1, help="Attempts per item (per-item means; variance split).")] = 1,
    limit: Annotated[int | None, typer.Option(min=1, help="Evaluate only the first N items of each suite.")] = None,
    endpoint: Annotated[str | None, typer.Option(help="Server URL for openai:<model> specs.")] = None,
    cache: Annotated[Path | None, typer.Option(help="Generation cache file (default ~/.cache/harness).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the generation cache.")] = False,
    allow_noop_adapter: Annotated[
        bool, typer.Option(help="Evaluate an adapter even when it does not change the model's outputs.")
    ] = False,
    allow_pickle: Annotated[
        bool, typer.Option("--allow-pickle", help="Load .bin (pickle) weights: only for sources you trust.")
    ] = False,
    no_paraphrase: Annotated[
        bool, typer.Option("--no-paraphrase", help="Leakage check without the embedding (paraphrase) method.")
    ] = False,
    seed: Annotated[int | None, typer.Option(help="Bootstrap seed (default 0).")] = None,
) -> None:
    """Evaluate base and candidate on suites (through the cache), check leakage, compare, and give the verdict."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from harness.compare import load_policy
    from harness.gate import run_gate

    pol = load_policy(policy) if policy is not None else None
    gen_cache = None
    if not no_cache:
        from harness.cache import GenerationCache, default_cache_path

        gen_cache = GenerationCache(cache or default_cache_path())

    def factory(spec: str) -> Any:
        from harness.models.base import make_generator

        return make_generator(
            spec,
            endpoint=endpoint if spec.startswith("openai:") else None,
            allow_noop_adapter=allow_noop_adapter,
            allow_pickle=allow_pickle,
        )

    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console)
    tasks: dict[tuple[str, str, str], Any] = {}

    def progress(side: str, suite: str, stage: str, done: int, total: int) -> None:
        key = (side, suite, stage)
        if key not in tasks:
            tasks[key] = bars.add_task(f"{side:9} {suite} · {stage}", total=total)
        bars.update(tasks[key], completed=done, total=total)

    argv = ["gate", *map(str, suites), "--base", base, "--candidate", candidate]
    with bars:
        result = run_gate(
            suites,
            base=base,
            candidate=candidate,
            out=out,
            policy=pol,
            train_data=train_data or [],
            allow_leakage=allow_leakage,
            repeats=repeats,
            limit=limit,
            cache=gen_cache,
            make_generator=factory,
            leakage_options={"paraphrase": False} if no_paraphrase else None,
            progress=progress,
            manifest=_gate_manifest(argv),
            seed=seed,
        )
    _finish_comparison(result, out=out, junit=junit, as_json=as_json, runs=True)


def _finish_comparison(result: Any, *, out: Path | None, junit: Path | None, as_json: bool, runs: bool) -> None:
    """Write the comparison reports, print the document or the summary, exit with the verdict's code."""
    from harness.report.comparison import print_summary, write_reports

    write_reports(result, out=out, junit=junit)
    if as_json:
        _emit_json(result.to_document())
    else:
        print_summary(result, console)
        if out is not None:
            where = f"; runs in {out}/runs" if runs else ""
            console.print(f"Reports written to {out}/comparison.json, report.md and report.html{where}")
    raise typer.Exit(result.exit_code)


def _gate_manifest(argv: list[str]) -> dict[str, Any]:
    import platform
    from datetime import UTC, datetime

    import numpy
    import scipy

    from harness import __version__

    return {
        "command": ["harness", *argv],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "harness": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
    }


class Level(StrEnum):
    nominal = "nominal"
    ordinal = "ordinal"
    interval = "interval"
    ratio = "ratio"


class GroupBy(StrEnum):
    criterion = "criterion"


@app.command()
def agreement(
    ratings: Annotated[Path, typer.Argument(help="Ratings: long form (item_id, rater_id, score, ...) or --wide.")],
    level: Annotated[
        str | None,
        typer.Option(
            "--level",
            help="Required: nominal, ordinal, interval or ratio (it decides what the numbers mean).",
        ),
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="'criterion': one group per criterion.")] = None,
    scale: Annotated[
        str | None, typer.Option(help="Declared scale: a range like 1-5 or ordered labels like low,mid,high.")
    ] = None,
    min_alpha: Annotated[
        float, typer.Option(help="Floor for Krippendorff's alpha (0.667: tentative conclusions).")
    ] = 0.667,
    bootstrap: Annotated[int, typer.Option(help="Item resamples for the intervals; 0 skips them.")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    wide: Annotated[bool, typer.Option("--wide", help="Wide form: an item_id column and a column per rater.")] = False,
    format: Annotated[DataFormat | None, typer.Option("--format", help="Force the file format.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the harness.agreement/v1 document on stdout.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write agreement.json and agreement.md here.")] = None,
) -> None:
    """Inter-rater agreement with intervals and rater/item diagnostics; exit 0 pass, 1 fail, 3 inconclusive."""
    from harness.agreement import agreement_report
    from harness.errors import InputError
    from harness.report import write_atomic, write_json
    from harness.report.agreement import print_summary, render_markdown

    if level is None:
        raise InputError("--level is required: nominal, ordinal, interval or ratio", field="level")
    doc = agreement_report(
        ratings,
        level=level,
        by=by,
        bootstrap=bootstrap,
        seed=seed,
        scale=scale,
        min_alpha=min_alpha,
        wide=wide,
        format=format.value if format else None,
    )
    if out is not None:
        write_json(out / "agreement.json", doc)
        write_atomic(out / "agreement.md", render_markdown(doc))
    if as_json:
        _emit_json(doc)
    else:
        print_summary(doc, console)
        if out is not None:
            console.print(f"Reports written to {out}/agreement.json and agreement.md")
    raise typer.Exit({"pass": 0, "fail": 1, "inconclusive": 3}[doc["verdict"]])


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
) -> None:
    """Evaluate a model on suites: per-criterion means with confidence intervals, worst items, run.json."""
    from harness.errors import InputError

    if not (batch_size == "auto" or (batch_size.isdigit() and int(batch_size) > 0)):
        raise InputError(f"--batch-size must be a positive integer or 'auto'; got {batch_size!r}", field="batch-size")
    from harness.cache import GenerationCache, default_cache_path
    from harness.evaluate import evaluate_suite, write_run
    from harness.models.base import make_generator
    from harness.report.run import print_run
    from harness.suite import load_suite

    loaded = [load_suite(p) for p in suites]  # every suite is checked before any model loads
    names = [s.name for s in loaded]
    if len(set(names)) != len(names) and out is not None:
        raise InputError(f"suites share a name, so their --out folders would collide: {names}")
    gen = make_generator(
        model,
        endpoint=endpoint,
        allow_noop_adapter=allow_noop_adapter,
        allow_pickle=allow_pickle,
        batch_size="auto" if batch_size == "auto" else int(batch_size),
    )
    same_model = judge == model and judge_endpoint == endpoint
    judge_gen = (gen if same_model else make_generator(judge, endpoint=judge_endpoint)) if judge else None
    store = None if no_cache else GenerationCache(cache or default_cache_path())
    docs = []
    try:
        for suite in loaded:
            with _ProgressBar(suite.name) as progress:
                run = evaluate_suite(
                    suite, gen, cache=store, repeats=repeats, limit=limit, progress=progress, judge=judge_gen
                )
            if out is not None:
                write_run(run, out if len(loaded) == 1 else out / suite.name)
            docs.append(run.to_document())
            if not as_json:
                print_run(run, console, worst=worst)
    finally:
        if store is not None:
            store.close()
    if as_json:
        _emit_json(docs[0] if len(docs) == 1 else {"schema": "harness.eval/v1", "runs": docs})
    elif out is not None:
        console.print(f"Runs written to {out}")


class _ProgressBar:
    """A rich progress bar fed by evaluate_suite's ``progress(stage, done, total)`` calls."""

    def __init__(self, label: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.label = label
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True,
        )  # fmt: skip
        self.tasks: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(f"{self.label}: {stage}", total=total)
        self.bar.update(self.tasks[stage], completed=done, total=total)

    def __enter__(self) -> _ProgressBar:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()
@app.command("train")
def train_cmd(
    config: Annotated[Path, typer.Argument(help="Training config (YAML); see examples/train_tickets.yaml.")],
    out: Annotated[
        Path | None, typer.Option(help="Run folder (default runs/<config name>); must be new unless --resume.")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the run folder's last checkpoint.")] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config key: --set lora.r=8 --set max_steps=20 (values are YAML)."),
    ] = None,
    allow_findings: Annotated[
        bool, typer.Option("--allow-findings", help="Train despite blocking preflight findings (recorded in the run).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run manifest on stdout.")] = False,
) -> None:
    """Fine-tune (SFT or DPO; LoRA, QLoRA or full) after validating the data against the holdout suites.

    Exit 1 when preflight findings block the run (see validation.json in the run folder).
    """
    from harness.train.config import load_config
    from harness.train.runner import train

    cfg = load_config(config, overrides=set_ or [])
    run_dir = out if out is not None else Path("runs") / config.stem
    command = "harness train " + " ".join(sys.argv[sys.argv.index("train") + 1 :] if "train" in sys.argv else [])
    result = train(
        cfg, run_dir, resume=resume, allow_findings=allow_findings, config_source=config, command=command.strip()
    )
    if result.status == "trained" and result.manifest is None:
        raise typer.Exit(0)  # a non-main process of a distributed run: the main one reports
    counts = result.preflight.counts()
    console.print(
        f"preflight: {counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes "
        f"(blocking at {result.preflight.fail_on}: {result.preflight.blocking}); "
        f"report in {run_dir}/validation.json",
        highlight=False,
    )
    if result.status == "blocked":
        for f in [f for r in result.preflight.reports for f in r.blocking(result.preflight.fail_on)][:10]:
            console.print(f"  {f.severity}: {f.check}: {f.message}", highlight=False, markup=False)
        console.print(
            "training stopped before it started: fix the data, or pass --allow-findings to train anyway",
            style="bold red",
        )
        if as_json:
            _emit_json({"status": "blocked", "run_dir": str(run_dir), "validation": result.preflight.to_document()})
        raise typer.Exit(1)
    if result.manifest is not None:
        res = result.manifest["results"]
        console.print(
            f"trained {res['global_step']} steps; train loss {res['train_loss']:.4f}"
            + (f", eval loss {res['eval_loss']:.4f}" if res["eval_loss"] is not None else "")
            + f"; run folder {run_dir}",
            highlight=False,
        )
        data = result.manifest["data"]
        if data["n_dropped"] or data["n_truncated"]:
            console.print(
                f"{data['n_truncated']} examples truncated to max_length; {data['n_dropped']} dropped "
                "(no trained token left): see manifest.json 'data'",
                style="yellow",
                highlight=False,
            )
        if as_json:
            _emit_json(result.manifest)
    raise typer.Exit(0)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning harness errors into exit code 2 without a traceback."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        rc = app(args=args, prog_name="harness", standalone_mode=False)
    except HarnessError as exc:
        if debug:
            console.print_exception()
        console.print(f"error: {exc}", style="bold red", highlight=False, markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        console.print("aborted", style="red")
        sys.exit(130)
    except Exception as exc:  # click's usage errors (typer bundles its own click) and anything unexpected
        exit_code = getattr(exc, "exit_code", None)
        if hasattr(exc, "show") and isinstance(exit_code, int):
            exc.show()
            sys.exit(exit_code)  # 2 for every usage error
        if debug:
            console.print_exception()
        else:
            console.print(f"internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback)",
                          style="bold red", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    sys.exit(rc if isinstance(rc, int) else 0)
