"""``scan_leakage`` (for the release gate) and the set-up it shares with ``harness validate``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple

from harness.errors import InputError
from harness.findings import Finding
from harness.leakage.embed import Embedder, resolve_paraphrase
from harness.leakage.holdout import load_holdout
from harness.leakage.index import HoldoutIndex, build_index
from harness.leakage.methods import method_statuses
from harness.leakage.options import LeakageOptions, make_options
from harness.leakage.result import LeakageResult, leak_findings, leaked_ids
from harness.leakage.scan import Scanner
from harness.records import read_rows

TRAIN_FIELDS = ("prompt", "completion", "messages", "chosen", "rejected")


class Prepared(NamedTuple):
    """Holdouts loaded and indexed, options resolved, the paraphrase decision made."""

    holdout_index: HoldoutIndex
    options: LeakageOptions
    holdouts: list[str]
    methods: dict[str, str]
    ran: tuple[str, ...]
    embedder: Embedder | None


def prepare(holdouts: Sequence[str | Path], options: LeakageOptions) -> Prepared:
    """Load and index the holdouts; decide which methods run (and say why one does not).

    Raises:
        InputError: no holdouts, a bad holdout file, or ``paraphrase=True`` without the ``embed`` extra.
    """
    if not holdouts:
        raise InputError("no holdout given: pass at least one holdout file or suite folder")
    names = [str(h) for h in holdouts]
    loaded = [(name, load_holdout(h)) for name, h in zip(names, holdouts, strict=True)]
    embed = resolve_paraphrase(options.paraphrase) if "paraphrase" in options.methods else (False, "")
    statuses = method_statuses(options.methods, options.model_dump(), {"embed": embed})
    opts = options.model_copy(update={"methods": tuple(m for m in options.methods if statuses[m].ran)})
    index = build_index(loaded, opts)
    methods = {name: status.text for name, status in statuses.items()}
    ran = tuple(name for name, status in statuses.items() if status.ran)
    embedder = Embedder() if statuses["paraphrase"].ran else None
    return Prepared(index, opts, names, methods, ran, embedder)


def summary(prep: Prepared, findings: list[Finding], n_examples: int, n_texts: int) -> dict[str, Any]:
    """The leakage part of a validation summary (also ``LeakageResult`` fields)."""
    leaked = leaked_ids(findings, prep.holdouts)
    return {
        "holdouts": dict(prep.holdout_index.n_items),
        "methods": prep.methods,
        "n_examples": n_examples,
        "n_texts": n_texts,
        "leaked_items": {h: len(ids) for h, ids in leaked.items()},
        "holdout_texts_not_matched": prep.holdout_index.skipped,
        "options": prep.options.model_dump(mode="json"),
    }


def summary_finding(summ: dict[str, Any], ran: Sequence[str]) -> Finding:
    """An info finding that states what was scanned and which methods ran (paraphrase on or off, and why)."""
    leaked = sum(summ["leaked_items"].values())
    items = sum(summ["holdouts"].values())
    on = [m for m in summ["methods"] if m in ran]
    return Finding(
        check="leakage.summary",
        severity="info",
        message=f"leakage scan of {summ['n_examples']} examples against {len(summ['holdouts'])} holdout(s) "
        f"({items} items): {leaked} item(s) leaked; methods: {', '.join(on)}; "
        f"paraphrase: {summ['methods']['paraphrase']}",
        data=summ,
    )


def row_texts(data: dict[str, Any]) -> dict[str, str]:
    """Text fields of a raw training row, named as :func:`harness.records.record_texts` names them."""
    out: dict[str, str] = {}
    for name in TRAIN_FIELDS:
        value = data.get(name)
        if isinstance(value, str):
            out[name] = value
        elif isinstance(value, list):
            contents = [m.get("content") if isinstance(m, dict) else m for m in value]
            parts: list[str] = [p for p in contents if isinstance(p, str)]
            if name == "messages":
                out.update({f"messages[{i}]": p for i, p in enumerate(parts)})
            else:
                out[name] = "\n".join(parts)
    return out


def _rows(train: str | Path) -> Iterator[tuple[str, int, dict[str, str]]]:
    for row in read_rows(train):
        if row.data is None:
            continue
        rid = row.data.get("id")
        yield (f"L{row.line}" if rid is None or rid == "" else str(rid)), row.line, row_texts(row.data)


def scan_leakage(
    train: str | Path, holdouts: Sequence[str | Path], *, options: LeakageOptions | None = None, **overrides: Any
) -> LeakageResult:
    """Scan a training file for holdout items leaked into it, in one streaming pass.

    Rows are read leniently: any row with a text field (``prompt``, ``completion``, ``messages``,
    ``chosen``, ``rejected``) is scanned, even if it fails schema validation elsewhere.

    Args:
        train: JSONL, CSV or Parquet training file.
        holdouts: JSONL files of items or suite folders.
        options: a :class:`LeakageOptions`; keyword overrides (``n=8``, ``threshold=0.5``,
            ``paraphrase=False``, ``workers=1``...) are applied on top.

    Returns:
        A :class:`LeakageResult`; ``leaked_holdout_ids`` is keyed by each holdout as given (str).

    Example:
        >>> import tempfile, pathlib, json
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> q = "Which planet in the solar system has the longest day, counted in Earth hours?"
        >>> _ = (d / "h.jsonl").write_text(json.dumps({"id": "q7", "prompt": q}) + "\\n")
        >>> _ = (d / "t.jsonl").write_text(json.dumps({"prompt": q.upper(), "completion": "Venus"}) + "\\n")
        >>> r = scan_leakage(d / "t.jsonl", [d / "h.jsonl"], paraphrase=False)
        >>> r.leaked_holdout_ids[str(d / "h.jsonl")], r.findings[0].check
        ({'q7'}, 'leakage.exact')
    """
    opts = make_options(options, **overrides)
    prep = prepare(holdouts, opts)
    scanner = Scanner(prep.holdout_index, prep.options, embedder=prep.embedder)
    n_examples = 0
    from harness.gcpause import paused_gc
    from harness.progress import step

    try:
        # The collector's passes would walk the batch of rows held for hashing again and again; the
        # rows are acyclic, so reference counting frees them (4% of a 13-gram scan's time).
        with paused_gc(), step(f"leakage: scanning {Path(train).name}") as shown:
            rows = _rows(train)
            # Rows are taken 1,024 at a time (islice: no Python work per row here).
            for block in iter(lambda: list(islice(rows, 1024)), []):
                scanner.add_many(block)
                n_examples += len(block)
                shown.advance(len(block))
            scanner.close()
    finally:
        scanner.abort()
    findings = leak_findings(scanner.hits, prep.holdout_index, prep.options)
    summ = summary(prep, findings, n_examples, scanner.n_texts)
    return LeakageResult(
        findings=findings,
        leaked_holdout_ids=leaked_ids(findings, prep.holdouts),
        n_examples=n_examples,
        n_texts=scanner.n_texts,
        holdouts=summ["holdouts"],
        methods=prep.methods,
        ran=list(prep.ran),
        options=summ["options"],
    )
