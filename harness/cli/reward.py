"""``harness rm-eval``: a trained reward model on held-out pairs (accuracy, categories, calibration, agreement)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from harness.cli.app import DataFormat, app, console, emit_json
from harness.cli.rankings import PairScheme


@app.command("rm-eval")
def rm_eval(
    model: Annotated[Path, typer.Argument(help="A `harness train` run folder trained with method: reward.")],
    data: Annotated[Path, typer.Argument(help="Held-out preference pairs or rankings (with rater_id, category).")],
    min_accuracy: Annotated[
        float | None,
        typer.Option(help="Gate: accuracy at least this (pass when the interval's lower bound clears it)."),
    ] = None,
    pairs: Annotated[
        PairScheme, typer.Option("--pairs", help="Pairs from rankings: all or adjacent.")
    ] = PairScheme.all,
    batch_size: Annotated[int, typer.Option(help="Conversations scored per forward pass.", min=1)] = 8,
    format: Annotated[DataFormat | None, typer.Option("--format", help="Force the file format.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the harness.reward_eval/v1 document.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write reward_eval.json, .md and reliability.png here.")] = None,
) -> None:
    """Reward-model accuracy (Wilson CI, by category), calibration (reliability, ECE) and agreement with
    each rater and their consensus; with --min-accuracy exit 0 pass, 1 fail, 3 inconclusive."""
    from harness.errors import InputError
    from harness.eval.reward_eval import judge_pairs, plot_reliability, render_markdown, reward_eval_document
    from harness.eval.reward_model import load_reward_model
    from harness.files import write_atomic, write_json

    if min_accuracy is not None and not 0 <= min_accuracy <= 1:
        raise InputError(f"--min-accuracy must be in [0, 1]; got {min_accuracy}", field="min_accuracy")
    loaded: list[Any] = []

    def score(prompts: list[Any], responses: list[Any]) -> Any:  # the model loads once the data has been read
        if not loaded:
            loaded.append(load_reward_model(model))
        return loaded[0].score(prompts, responses, batch_size=batch_size)

    judged, described = judge_pairs(data, score, scheme=pairs.value, format=format.value if format else None)
    doc = reward_eval_document(judged, model=loaded[0].fingerprint(), data=described, min_accuracy=min_accuracy)
    if out is not None:
        write_json(out / "reward_eval.json", doc)
        write_atomic(out / "reward_eval.md", render_markdown(doc))
        plot_reliability(doc["calibration"], out / "reliability.png", title="reward model reliability")
    if as_json:
        emit_json(doc)
    else:
        console.print(render_markdown(doc), markup=False, highlight=False)
    raise typer.Exit({None: 0, "pass": 0, "fail": 1, "inconclusive": 3}[doc["verdict"]])
