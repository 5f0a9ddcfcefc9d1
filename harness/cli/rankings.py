"""``harness rankings``: turn k-wise rankings into preference pairs (named, recorded) and ratings."""

from __future__ import annotations

import csv
import io
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from harness.cli.app import DataFormat, app, console, emit_json


class PairScheme(StrEnum):
    all = "all"
    adjacent = "adjacent"


class TieRule(StrEnum):
    drop = "drop"
    margin0 = "margin0"


@app.command()
def rankings(
    path: Annotated[Path, typer.Argument(help="Rankings: prompt, responses (in shown order), ranks, rater_id.")],
    out: Annotated[Path, typer.Option(help="Folder for pairs.jsonl, ratings.csv and conversion.json.")],
    pairs: Annotated[PairScheme, typer.Option("--pairs", help="Pairs from each ranking: all, or adjacent levels.")] = (
        PairScheme.all
    ),
    ties: Annotated[TieRule, typer.Option(help="Tied responses: drop the pair, or keep it with margin 0.")] = (
        TieRule.drop
    ),
    format: Annotated[DataFormat | None, typer.Option("--format", help="Force the file format.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the conversion record on stdout.")] = False,
) -> None:
    """Convert rankings to preference pairs (for reward-model or DPO training) and long-form ratings
    (for `harness agreement`, e.g. Kendall's W); the conversion is recorded in conversion.json."""
    from harness.files import write_atomic, write_json
    from harness.provenance import file_hash
    from harness.rankings import load_rankings, ranking_pairs, ranking_ratings
    from harness.records import dump_jsonl

    records = load_rankings(path, format=format.value if format else None)
    conv = ranking_pairs(records, scheme=pairs.value, ties=ties.value, file=path)
    ratings = ranking_ratings(records)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["item_id", "rater_id", "score", "line"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(ratings)
    write_atomic(out / "pairs.jsonl", dump_jsonl(conv.pairs))
    write_atomic(out / "ratings.csv", buf.getvalue())
    doc = {
        "schema": "harness.pairs/v1",
        **conv.summary,
        "file_hash": file_hash(path),
        "outputs": {"pairs": "pairs.jsonl", "ratings": "ratings.csv"},
        "n_ratings": len(ratings),
    }
    write_json(out / "conversion.json", doc)
    if as_json:
        emit_json(doc)
    else:
        console.print(
            f"{doc['n_rankings']} rankings -> {doc['n_pairs']} pairs (scheme {pairs.value}, ties {ties.value}; "
            f"{doc['tied_pairs_dropped']} tied pairs dropped, {doc['tied_pairs_kept']} kept) and "
            f"{len(ratings)} ratings, written to {out}/"
        )
