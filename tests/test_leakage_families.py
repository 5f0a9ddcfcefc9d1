"""Leaks of items that belong to a family of near-identical holdout items are found (issue 15, part 4).

A holdout may hold families: the documentation of ``Logger.info``, ``.warning`` and ``.error``
differs in one word. Their shared sentences are not an instruction template, and a training text
that copies one member (with its distinguishing word) is a leak of that member. The planted set
of ``tests/fixtures/planted.py`` (300 items, clean rows with look-alikes) gets 20 families of three
members each (one word of a real documentation paragraph varied), and 20 planted leaks per kind,
each of a family member, with its distinguishing word kept. Run with ``-s`` to see the table.
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from harness.leakage import make_options
from harness.records import dump_jsonl
from harness.validate import validate_file
from tests.fixtures.planted import HOLDOUT_TEMPLATE, KINDS, TRAIN_TEMPLATES, build, prose_units, recase

FAMILIES = 20
WORD = re.compile(r"[A-Za-z]{4,}")


def _vary(words: list[str], keep: int, k: int, vocab: list[str], rng: random.Random) -> str:
    """Replace ``k`` words other than position ``keep`` (the family's distinguishing word)."""
    out = list(words)
    slots = [i for i, w in enumerate(words) if i != keep and WORD.fullmatch(w.rstrip(",.;:"))]
    for i in rng.sample(slots, min(k, len(slots))):
        tail = words[i][len(words[i].rstrip(",.;:")) :]
        out[i] = rng.choice([v for v in vocab if v != words[i].lower()]) + tail
    return " ".join(out)


def _strings(value: Any) -> list[str]:
    """Every string inside a row (fields, message contents)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _family_set() -> dict[str, Any]:
    rng = random.Random(11)
    planted = build()
    used_text = "\n".join(
        [h["prompt"] + "\n" + h["reference"] for h in planted.holdout]
        + [text for rows in planted.train.values() for r in rows for text in _strings(r)]
    )
    free = [u.text for u in prose_units() if u.text not in used_text and len(u.text.split()) >= 30]
    rng.shuffle(free)
    vocab = sorted({w.lower() for t in free[:200] for w in WORD.findall(t)})
    holdout = list(planted.holdout)
    members: list[tuple[str, list[str], int]] = []  # (id, passage words, distinguishing position)
    for f in range(FAMILIES):
        words = free.pop().split(" ")
        slots = [i for i in range(len(words) // 3, 2 * len(words) // 3) if WORD.fullmatch(words[i])]
        p = slots[len(slots) // 2]
        for k, new in enumerate(rng.sample([v for v in vocab if v != words[p].lower()], 3)):
            sibling = [*words[:p], new, *words[p + 1 :]]
            item_id = f"fam-{f:02d}-{k}"
            holdout.append({"id": item_id, "prompt": HOLDOUT_TEMPLATE + " ".join(sibling), "reference": free.pop()})
            members.append((item_id, sibling, p))
    rows, labels = [], {}
    for n, kind in enumerate(k for k in KINDS for _ in range(FAMILIES)):
        item_id, words, p = members[(n * 7) % len(members)]
        passage = " ".join(words)
        if kind == "exact":
            leaked = HOLDOUT_TEMPLATE + passage
        elif kind == "recased":
            leaked = recase(HOLDOUT_TEMPLATE + passage, rng)
        elif kind == "span20":
            s = max(0, min(p - rng.randrange(20), len(words) - 20))
            host = free.pop()
            cut = host.find(". ") + 2 if ". " in host else len(host) // 2
            leaked = host[:cut] + " ".join(words[s : s + 20]) + " " + host[cut:]
        elif kind == "two_words":
            leaked = HOLDOUT_TEMPLATE + _vary(words, p, 2, vocab, rng)
        else:
            leaked = HOLDOUT_TEMPLATE + _vary(words, p, max(1, round(len(words) / 8)), vocab, rng)
        rid = f"leak-{n:03d}"
        rows.append({"id": rid, "prompt": rng.choice(TRAIN_TEMPLATES) + free.pop(), "completion": leaked})
        labels[rid] = {"kind": kind, "holdout_id": item_id}
    for row in planted.train["sft"]:
        if planted.labels["sft"][row["id"]]["kind"] == "clean":
            rows.append(row)
            labels[row["id"]] = {"kind": "clean"}
    return {"holdout": holdout, "rows": rows, "labels": labels}


def _score(report: Any, labels: dict[str, dict[str, Any]]) -> tuple[dict[str, float], list[str], int]:
    leaked: dict[str, set[str]] = {}
    for f in report.findings:
        if f.check.startswith("leakage.") and f.check != "leakage.summary" and f.holdout_ids:
            leaked.setdefault(f.ids[0], set()).update(f.holdout_ids)
    found = {k: 0 for k in KINDS}
    clean = [rid for rid, lab in labels.items() if lab["kind"] == "clean"]
    for rid, lab in labels.items():
        if lab["kind"] != "clean" and lab["holdout_id"] in leaked.get(rid, set()):
            found[lab["kind"]] += 1
    return {k: v / FAMILIES for k, v in found.items()}, [r for r in clean if r in leaked], len(clean)


@pytest.fixture(scope="module")
def family_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data = _family_set()
    tmp = tmp_path_factory.mktemp("families")
    (tmp / "holdout.jsonl").write_text(dump_jsonl(data["holdout"]))
    (tmp / "train.jsonl").write_text(dump_jsonl(data["rows"]))
    return {"dir": tmp, "labels": data["labels"]}


def test_family_leaks_found_and_clean_rows_clean(family_files: dict[str, Any]) -> None:
    d = family_files["dir"]
    report = validate_file(d / "train.jsonl", holdouts=[d / "holdout.jsonl"])
    recall, flagged, n_clean = _score(report, family_files["labels"])
    print(f"\nfamilies: recall {recall}; clean rows flagged {len(flagged)} of {n_clean}")
    for kind in KINDS:
        assert recall[kind] >= 0.95, (kind, recall)
    assert len(flagged) <= 0.01 * n_clean, flagged


def test_the_old_rule_hides_family_leaks(family_files: dict[str, Any]) -> None:
    """Negative control: with a fixed 3-item template threshold (the old rule) family leaks are missed."""
    d = family_files["dir"]
    old = make_options(None, template_min_share=0.0, paraphrase=False)
    report = validate_file(d / "train.jsonl", holdouts=[d / "holdout.jsonl"], paraphrase=False, leakage_options=old)
    recall, _, _ = _score(report, family_files["labels"])
    print(f"\nold rule: recall {recall}")
    assert min(recall.values()) < 0.95
