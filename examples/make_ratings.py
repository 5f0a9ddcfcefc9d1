"""Regenerate the example ratings for ``harness agreement`` (deterministic; run from the project root).

    python examples/make_ratings.py

Writes:
- ``examples/ratings.csv``: five raters grade the model's JSON extractions of the 40 held-out
  support tickets (``tickets_eval.jsonl`` ids) on two criteria, ``correctness`` and
  ``helpfulness``, on a 1-5 scale, over three weeks. Planted for the diagnostics to find:
  rater ``eli`` scores at random (the unreliable rater), rater ``chen`` rushes in the third week
  (drift), about 8% of ratings are missing, and 12 items carry a ``gold`` correctness score from
  an adjudicator.
- ``examples/ratings_pairwise.csv``: four raters compare two responses (A / B / tie) on the same
  40 tickets with the order shown recorded (``shown_order`` AB or BA); rater ``dara`` tends to
  pick whichever response was shown first (position bias).
"""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent
RATERS = ["ana", "ben", "chen", "dara", "eli"]
ITEMS = [f"e-{i:04d}" for i in range(1, 41)]
START = datetime(2026, 11, 2, 9, 0)


def _clip(v: int) -> int:
    return max(1, min(5, v))


def _noisy(rng: random.Random, truth: int, spread: float) -> int:
    step = rng.random()
    if step < spread / 2:
        return _clip(truth - 1)
    if step < spread:
        return _clip(truth + 1)
    return truth


def ratings_rows(seed: int = 7) -> list[dict[str, object]]:
    """Long-form rows: item_id, rater_id, criterion, score, gold, timestamp."""
    rng = random.Random(seed)
    truth = {item: {"correctness": rng.choice([1, 2, 3, 3, 4, 4, 5, 5]), "helpfulness": 0} for item in ITEMS}
    for t in truth.values():
        t["helpfulness"] = _clip(t["correctness"] + rng.choice([-1, 0, 0, 1]))
    gold_items = set(rng.sample(ITEMS, 12))
    rows = []
    for n, item in enumerate(ITEMS):
        week = n * 3 // len(ITEMS)  # items 1-13 in week 1, 14-26 in week 2, 27-40 in week 3
        day = START + timedelta(days=7 * week + (n % 5))
        for rater in RATERS:
            if rng.random() < 0.08:
                continue  # this rater skipped the item
            for criterion in ("correctness", "helpfulness"):
                true = truth[item][criterion]
                if rater == "eli":
                    score = rng.randint(1, 5)
                elif rater == "chen" and week == 2:
                    score = _noisy(rng, true, 0.8) if rng.random() < 0.7 else rng.randint(1, 5)
                else:
                    score = _noisy(rng, true, 0.25)
                stamp = day + timedelta(minutes=rng.randint(0, 480))
                gold = true if criterion == "correctness" and item in gold_items else ""
                rows.append(
                    {
                        "item_id": item,
                        "rater_id": rater,
                        "criterion": criterion,
                        "score": score,
                        "gold": gold,
                        "timestamp": stamp.isoformat(timespec="minutes"),
                    }
                )
    return rows


def pairwise_rows(seed: int = 11) -> list[dict[str, object]]:
    """Long-form A/B/tie rows with the order the two responses were shown."""
    rng = random.Random(seed)
    rows = []
    for item in ITEMS:
        better = rng.choice(["A", "A", "B", "B", "tie"])
        for rater in ("ana", "ben", "chen", "dara"):
            order = rng.choice(["AB", "BA"])
            if rater == "dara" and rng.random() < 0.6:
                choice = order[0]  # picks whatever was shown first
            elif rng.random() < 0.8:
                choice = better
            else:
                choice = rng.choice(["A", "B", "tie"])
            rows.append({"item_id": item, "rater_id": rater, "score": choice, "shown_order": order})
    return rows


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    """Write both example files."""
    _write(HERE / "ratings.csv", ratings_rows())
    _write(HERE / "ratings_pairwise.csv", pairwise_rows())


if __name__ == "__main__":
    main()
