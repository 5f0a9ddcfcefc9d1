"""``harness train``: the fine-tuning runner behind its data preflight."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from harness.cli.app import app, console, emit_json


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
            emit_json({"status": "blocked", "run_dir": str(run_dir), "validation": result.preflight.to_document()})
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
            emit_json(result.manifest)
    raise typer.Exit(0)


