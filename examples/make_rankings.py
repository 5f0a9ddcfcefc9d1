"""Regenerate the bundled ranking data for the ticket task (deterministic; run from the project root).

    python examples/make_rankings.py

Writes:
- ``examples/rankings.jsonl``: 30 tickets, four responses each (a correct JSON object; JSON with
  a wrong priority; the correct object wrapped in chatter; keys missing), ranked by four raters.
  ``ana``, ``ben`` and ``chloe`` rank by quality with a little noise (a swap of neighbours, an
  occasional tie); ``dev`` is the planted position-biased rater, who puts the response shown
  first at rank 1 four times in five. Each rater sees the responses in their own shuffled order.
  Planted problems the ranking audit must show: an incomplete ranking (a null rank), a rater
  (``ben``) contradicting their own earlier ranking of the same ticket, a near-duplicate
  response (re-cased).
- ``examples/rankings_eval.jsonl``: 20 other tickets ranked by ``ana``, ``ben`` and ``chloe``
  (held-out pairs for reward-model accuracy and the model's agreement with each rater), with
  each ticket's category for the by-category report.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from make_examples import INSTRUCTION, _ticket  # noqa: E402

PRIORITIES = ["low", "medium", "high", "urgent"]
RATERS = ("ana", "ben", "chloe", "dev")


def _responses(fields: dict[str, str | None], rng: random.Random) -> list[str]:
    """Four responses, best first (the true order)."""
    good = json.dumps(fields)
    wrong = dict(fields)
    wrong["priority"] = rng.choice([p for p in PRIORITIES if p != fields["priority"]])
    chatty = f"Sure! Here is the JSON you asked for:\n{good}\nLet me know if you need anything else."
    partial = json.dumps({"category": fields["category"], "product": fields["product"]})
    return [good, json.dumps(wrong), chatty, partial]


def _rank(true_order: list[int], shown: list[int], rater: str, rng: random.Random) -> list[int | None]:
    """Ranks by shown position: quality order with noise, or the position-biased rater's."""
    order = list(true_order)  # response indices, best first
    if rater == "dev" and rng.random() < 0.8:
        first = shown[0]
        order = [first] + [i for i in order if i != first]
    elif rng.random() < 0.25:
        j = rng.randrange(len(order) - 1)
        order[j], order[j + 1] = order[j + 1], order[j]
    rank_of = {resp: pos + 1 for pos, resp in enumerate(order)}
    ranks: list[int | None] = [rank_of[resp] for resp in shown]
    if rater != "dev" and rng.random() < 0.08:  # an occasional tie between the two worst
        worst = [i for i, r in enumerate(ranks) if r in (3, 4)]
        for i in worst:
            ranks[i] = 3
    return ranks


def _tickets(rng: random.Random, n: int, seen: set[str]) -> list[tuple[str, dict[str, str | None]]]:
    out = []
    while len(out) < n:
        text, fields = _ticket(rng)
        if text not in seen:
            seen.add(text)
            out.append((text, fields))
    return out


def _rankings(tickets: list, raters: tuple[str, ...], prefix: str, rng: random.Random) -> list[dict]:
    rows = []
    for t, (text, fields) in enumerate(tickets):
        responses = _responses(fields, rng)
        for rater in raters:
            shown = list(range(4))
            rng.shuffle(shown)
            rows.append(
                {
                    "id": f"{prefix}-{t + 1:03d}-{rater}",
                    "prompt": INSTRUCTION + text,
                    "responses": [responses[i] for i in shown],
                    "ranks": _rank([0, 1, 2, 3], shown, rater, rng),
                    "rater_id": rater,
                    "category": fields["category"],
                }
            )
    return rows


def main() -> None:
    rng = random.Random(16)
    seen: set[str] = set()
    train = _rankings(_tickets(rng, 30, seen), RATERS, "rk", rng)
    held = _rankings(_tickets(rng, 20, seen), ("ana", "ben", "chloe"), "rk-eval", rng)
    # Planted: an incomplete ranking, a contradiction by ben, a near-duplicate response.
    train[1]["ranks"][train[1]["ranks"].index(4)] = None
    again = dict(train[5])  # ticket 2, ben
    assert again["rater_id"] == "ben"
    best, worst = again["ranks"].index(1), again["ranks"].index(max(r for r in again["ranks"] if r))
    ranks = list(again["ranks"])
    ranks[best], ranks[worst] = ranks[worst], ranks[best]
    train.append({**again, "id": again["id"] + "-again", "ranks": ranks})
    dup = train[8]
    dup["responses"] = [dup["responses"][0], dup["responses"][0].upper(), *dup["responses"][2:]]
    for name, rows in (("rankings.jsonl", train), ("rankings_eval.jsonl", held)):
        (HERE / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        print(f"wrote {len(rows)} rankings to examples/{name}")


if __name__ == "__main__":
    main()
