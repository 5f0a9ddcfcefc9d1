"""Leakage detection on a planted-leak set built from real prose (issue 3, point 4).

1,000 training examples (SFT, chat and preference files) from the standard library's docs with 60
planted leaks of each kind and 700 clean rows, a third of them look-alikes that share the
holdout's instruction template and a topic with a holdout item. Run with ``-s`` to see the table.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from harness.leakage import embed_available
from harness.records import dump_jsonl
from harness.validate import validate_file
from tests.fixtures.planted import KINDS, build

METHODS = ("exact", "ngram", "near_duplicate", "paraphrase")


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    planted = build()
    tmp = tmp_path_factory.mktemp("planted")
    holdout = tmp / "holdout.jsonl"
    holdout.write_text(dump_jsonl(planted.holdout))
    reports = {}
    for kind, rows in planted.train.items():
        path = tmp / f"{kind}.jsonl"
        path.write_text(dump_jsonl(rows))
        # Default settings: paraphrase on exactly when the embed extra is installed.
        reports[kind] = validate_file(path, holdouts=[holdout])
    return {"planted": planted, "reports": reports, "holdout": str(holdout)}


def _score(run: dict) -> dict:
    planted, reports = run["planted"], run["reports"]
    found: dict[str, dict[str, int]] = {k: defaultdict(int) for k in KINDS}
    n_kind: dict[str, int] = defaultdict(int)
    tp: dict[str, int] = defaultdict(int)
    fp: dict[str, int] = defaultdict(int)
    clean_flagged, n_clean = [], 0
    for kind, report in reports.items():
        by_row = defaultdict(list)
        for f in report.findings:
            if f.check.startswith("leakage.") and f.check != "leakage.summary":
                by_row[f.ids[0]].append(f)
        for rid, label in planted.labels[kind].items():
            fs = by_row.get(rid, [])
            if label["kind"] == "clean":
                n_clean += 1
                if fs:
                    clean_flagged.append(rid)
                for f in fs:
                    for m in f.data["methods"]:
                        fp[m] += 1
                continue
            n_kind[label["kind"]] += 1
            right = [f for f in fs if f.holdout_ids == [label["holdout_id"]]]
            for f in fs:
                for m in f.data["methods"]:
                    if f in right:
                        tp[m] += 1
                    else:
                        fp[m] += 1
            if right:
                found[label["kind"]]["any"] += 1
                for m in right[0].data["methods"]:
                    found[label["kind"]][m] += 1
    recall = {k: {m: found[k][m] / n_kind[k] for m in ("any", *METHODS)} for k in KINDS}
    precision = {m: (tp[m] / (tp[m] + fp[m]) if tp[m] + fp[m] else None) for m in METHODS}
    return {
        "recall": recall,
        "precision": precision,
        "clean_flagged": clean_flagged,
        "n_clean": n_clean,
        "n_kind": dict(n_kind),
    }


def test_planted_set_is_large_and_real(planted_run):
    planted = planted_run["planted"]
    n_rows = sum(len(r) for r in planted.train.values())
    assert n_rows >= 1000
    kinds = defaultdict(int)
    for labels in planted.labels.values():
        for label in labels.values():
            kinds[label["kind"]] += 1
    assert all(kinds[k] >= 50 for k in KINDS) and kinds["clean"] >= 600
    # every text field kind carries planted leaks: prompt/completion, messages, chosen/rejected
    slots = {(kind, label["slot"]) for kind, ls in planted.labels.items() for label in ls.values() if "slot" in label}
    assert {("sft", 0), ("sft", 1), ("chat", 0), ("chat", 1), ("preference", 1), ("preference", 2)} <= slots


def test_recall_and_clean_rows_flagged(planted_run):
    s = _score(planted_run)
    paraphrase_on = embed_available()
    print(
        f"\nplanted-leak set: {sum(s['n_kind'].values())} leaks, {s['n_clean']} clean rows; "
        f"paraphrase {'on' if paraphrase_on else 'off (embed extra not installed)'}"
    )
    print(f"{'kind':14s}{'any':>7s}" + "".join(f"{m:>16s}" for m in METHODS))
    for k in KINDS:
        print(f"{k:14s}{s['recall'][k]['any']:7.3f}" + "".join(f"{s['recall'][k][m]:16.3f}" for m in METHODS))
    print(
        "precision     "
        + " " * 7
        + "".join(f"{p:16.3f}" if p is not None else f"{'-':>16s}" for p in s["precision"].values())
    )
    print(
        f"clean rows flagged: {len(s['clean_flagged'])} of {s['n_clean']} "
        f"({100 * len(s['clean_flagged']) / s['n_clean']:.2f}%)"
    )
    for k in KINDS:
        assert s["recall"][k]["any"] >= 0.95, (k, s["recall"][k])
    assert len(s["clean_flagged"]) <= 0.01 * s["n_clean"], s["clean_flagged"]
    # Each method does its own job, not only the union.
    assert s["recall"]["exact"]["exact"] >= 0.95 and s["recall"]["recased"]["exact"] >= 0.95
    assert s["recall"]["span20"]["ngram"] >= 0.95
    assert s["recall"]["two_words"]["near_duplicate"] >= 0.95
    assert s["recall"]["one_in_eight"]["near_duplicate"] >= 0.95
    for m in ("exact", "ngram", "near_duplicate"):
        assert s["precision"][m] is not None and s["precision"][m] >= 0.98, (m, s["precision"])
    if paraphrase_on:
        assert s["recall"]["exact"]["paraphrase"] >= 0.95 and s["precision"]["paraphrase"] >= 0.9


def test_summary_and_leaked_ids_in_every_report(planted_run):
    planted = planted_run["planted"]
    for kind, report in planted_run["reports"].items():
        summary = report.stats["leakage"]
        assert summary["holdouts"] == {planted_run["holdout"]: len(planted.holdout)}
        assert summary["methods"]["paraphrase"].startswith("on" if embed_available() else "off")
        notes = [f for f in report.findings if f.check == "leakage.summary"]
        assert len(notes) == 1 and "paraphrase" in notes[0].message
        leaked = {label["holdout_id"] for label in planted.labels[kind].values() if label["kind"] != "clean"}
        # every planted leak is found, at most a handful of extra items (look-alikes)
        assert leaked <= set().union(*(f.holdout_ids for f in report.findings if f.holdout_ids))
        assert summary["leaked_items"][planted_run["holdout"]] <= len(leaked) + 0.01 * len(planted.labels[kind])


def test_findings_carry_the_contract_fields(planted_run):
    report = planted_run["reports"]["sft"]
    leaks = [f for f in report.findings if f.check in {f"leakage.{m}" for m in METHODS}]
    assert leaks
    for f in leaks:
        assert f.severity == "error" and len(f.ids) == 1 and len(f.holdout_ids) == 1
        assert f.holdout == planted_run["holdout"]
        assert f.data["method"] == f.check.removeprefix("leakage.")
        assert 0.0 < f.data["score"] <= 1.0 and f.data["evidence"]["matched_span"]
        for side in ("train", "holdout"):
            ex = f.data["excerpts"][side]
            a, b = ex["mark"]
            assert 0 <= a < b <= len(ex["text"])
    ngram = next(f for f in leaks if f.check == "leakage.ngram")
    ev = ngram.data["evidence"]
    assert 0 < ev["containment"] <= 1 and ev["matched_ngrams"] <= ev["holdout_ngrams"]
    assert ev["span_words"] >= 13


def test_the_prose_pool_does_not_depend_on_what_the_process_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Libraries patch the standard library (transformers adds methods to ``logging.Logger``): the
    pool is read by a fresh interpreter, so the planted sets stay the same whichever tests ran first."""
    import logging

    from tests.fixtures import planted

    before = planted._raw_units_fresh()

    def warning_twice(self: logging.Logger, msg: str) -> None:
        """This method is like the warning method of a logger but it says everything two times over."""

    monkeypatch.setattr(logging.Logger, "warning_twice", warning_twice, raising=False)
    def patched(units: list) -> bool:
        return any("two times over" in u.text for u in units)

    assert patched(planted._raw_units())  # read in this process, the patch shows
    after = planted._raw_units_fresh()
    assert after == before and not patched(after)
