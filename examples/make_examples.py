"""Regenerate the bundled example data (deterministic; run from the project root).

    python examples/make_examples.py

Writes:
- ``examples/tickets_train.jsonl``: SFT examples for the demo task (support ticket -> JSON fields),
  with planted problems the validator must show: a re-cased duplicate, an empty completion,
  a customer e-mail address, phone and card number, and one item of the `suites/tickets` holdout
  copied in (re-cased and re-spaced);
- ``examples/tickets_eval.jsonl``: a held-out eval split for training loss (same generator,
  other seed, disjoint tickets);
- ``examples/preferences.jsonl``: preference pairs for the same task, with planted problems:
  identical sides, a contradictory duplicate, a preference cycle, and a length bias.

The bundled suites (``suites/``) use tickets written separately, with other wording; the leakage
check against them must stay clean apart from the one leak planted on purpose by the demo.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).parent
INSTRUCTION = (
    "Extract the support ticket's fields as JSON with the keys "
    '"category" (billing, technical, account, shipping or other), '
    '"priority" (low, medium, high or urgent), "product" and "order_id" (null when absent). '
    "Reply with the JSON object only.\n\nTicket: "
)
PRODUCTS = [
    "Aurora Desk Lamp",
    "Basalt Coffee Grinder",
    "Cobalt Wireless Earbuds",
    "Drift Standing Desk",
    "Ember Space Heater",
    "Fjord Water Filter",
    "Glacier Mini Fridge",
    "Harbor Backpack",
    "Ion Phone Charger",
    "Juniper Yoga Mat",
    "Kestrel Road Bike Light",
    "Lumen Smart Bulb",
    "Meridian Fitness Watch",
    "Nimbus Wi-Fi Router",
    "Onyx Mechanical Keyboard",
    "Pico Label Printer",
    "Quartz Kitchen Scale",
    "Riverstone Cookware Set",
    "Summit Hiking Boots",
    "Tidal Bluetooth Speaker",
]
# (category, priority, template) -- {p} product, {o} order sentence, {d} a detail
TEMPLATES = [
    ("billing", "medium", "Hi, I was charged twice for the {p}.{o} Please refund the extra charge."),
    (
        "billing",
        "high",
        "My card shows three payments for one {p}.{o} This is a lot of money for me, fix it today please.",
    ),
    ("billing", "low", "Could you send me an invoice with my company name for the {p}?{o} No rush."),
    ("billing", "medium", "The discount code did not apply when I bought the {p}.{o} Can you credit the difference?"),
    ("technical", "high", "The {p} stopped working after two days. {d}{o} I need it for work."),
    ("technical", "medium", "Setup of the {p} fails at the last step. {d}{o}"),
    ("technical", "urgent", "The {p} is sparking and smells like burning plastic! {d}{o} Is it safe?"),
    ("technical", "low", "Small thing: the {p} manual is missing the page about cleaning.{o}"),
    ("account", "high", "I cannot log in to my account since this morning and my {p} warranty is registered there.{o}"),
    ("account", "low", "How do I change the e-mail address on my profile? I registered a {p} with it.{o}"),
    ("account", "medium", "Please delete my saved address; I moved. I still use the {p}.{o}"),
    ("shipping", "medium", "Where is my {p}?{o} Tracking has not moved for five days."),
    ("shipping", "high", "The box with my {p} arrived crushed and the item is broken.{o} {d}"),
    ("shipping", "low", "Can you deliver the {p} to my office instead of my home?{o}"),
    ("shipping", "urgent", "The {p} was delivered to the wrong address and it was a gift for tomorrow.{o}"),
    ("other", "low", "Just wanted to say the {p} is great, thanks to your team.{o}"),
    ("other", "low", "Do you plan to sell a bigger version of the {p}?{o}"),
    ("other", "medium", "Is the {p} made with recycled materials? I need to know for a school project.{o}"),
]
DETAILS = [
    "I already restarted it twice.",
    "The light blinks red.",
    "I tried a different outlet.",
    "The app says the device is offline.",
    "It makes a loud clicking noise.",
    "Firmware is up to date.",
    "Nothing happens when I press the button.",
    "It worked fine last week.",
]
ORDER_SENTENCES = [" Order {o}.", " My order number is {o}.", " (order {o})", " Ref: {o}."]


def _ticket(rng: random.Random) -> tuple[str, dict[str, str | None]]:
    category, priority, template = rng.choice(TEMPLATES)
    product = rng.choice(PRODUCTS)
    order = f"ORD-{rng.randint(10000, 99999)}" if rng.random() < 0.7 else None
    osent = rng.choice(ORDER_SENTENCES).format(o=order) if order else ""
    text = template.format(p=product, o=osent, d=rng.choice(DETAILS)).replace("  ", " ").strip()
    fields = {"category": category, "priority": priority, "product": product, "order_id": order}
    return text, fields


def _sft(rng: random.Random, n: int, prefix: str, seen: set[str]) -> list[dict[str, str]]:
    rows = []
    while len(rows) < n:
        text, fields = _ticket(rng)
        if text in seen:
            continue
        seen.add(text)
        rows.append(
            {"id": f"{prefix}-{len(rows) + 1:04d}", "prompt": INSTRUCTION + text, "completion": json.dumps(fields)}
        )
    return rows


def main() -> None:
    rng = random.Random(20261121)
    seen: set[str] = set()
    train = _sft(rng, 320, "t", seen)
    evals = _sft(rng, 40, "e", seen)
    # planted problems, each of which the validator must report
    dup = dict(train[7])
    dup.update(id="t-dup-1", prompt=dup["prompt"].upper().replace("TICKET:", "Ticket:"))
    train.insert(40, dup)
    train.insert(90, {"id": "t-empty-1", "prompt": INSTRUCTION + "Refund please.", "completion": "   "})
    train.insert(
        150,
        {
            "id": "t-pii-1",
            "prompt": INSTRUCTION + "Charge on card 4539 1488 0343 6467 is wrong, call me at +1 415 555 0199 "
            "or write to maria.keller@example.org. Nimbus Wi-Fi Router, order ORD-55120.",
            "completion": json.dumps(
                {"category": "billing", "priority": "high", "product": "Nimbus Wi-Fi Router", "order_id": "ORD-55120"}
            ),
        },
    )
    # a held-out suite item copied into training data, lightly disguised (re-cased, re-spaced):
    # the leak `harness validate --holdout suites/tickets` exists to catch
    suite_items = [json.loads(line) for line in (HERE.parent / "suites" / "tickets" / "items.jsonl").open()]
    leaked = suite_items[5]
    disguised = "  ".join(leaked["prompt"].lower().split(" "))
    train.insert(
        200, {"id": "t-leak-1", "prompt": INSTRUCTION + disguised, "completion": json.dumps(leaked["reference"])}
    )
    (HERE / "tickets_train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train))
    (HERE / "tickets_eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in evals))

    prefs = []
    for i in range(60):
        text, fields = _ticket(rng)
        good = json.dumps(fields)
        bad_fields = dict(fields)
        bad_fields["priority"] = rng.choice([p for p in ("low", "medium", "high", "urgent") if p != fields["priority"]])
        bad = (
            json.dumps(bad_fields)
            if i % 2
            else f"Sure! Here is the JSON you asked for:\n{good}\nLet me know if you need anything else."
        )
        prefs.append({"id": f"p-{i + 1:03d}", "prompt": INSTRUCTION + text, "chosen": good, "rejected": bad})
    base = prefs[3]
    prefs.append(
        {
            "id": "p-identical",
            "prompt": prefs[5]["prompt"],
            "chosen": prefs[5]["chosen"],
            "rejected": prefs[5]["chosen"],
        }
    )
    prefs.append({"id": "p-conflict", "prompt": base["prompt"], "chosen": base["rejected"], "rejected": base["chosen"]})
    cyc = prefs[10]["prompt"]
    a, b, c = '{"category": "other"}', '{"category": "billing"}', '{"category": "account"}'
    prefs += [
        {"id": "p-cycle-1", "prompt": cyc, "chosen": a, "rejected": b},
        {"id": "p-cycle-2", "prompt": cyc, "chosen": b, "rejected": c},
        {"id": "p-cycle-3", "prompt": cyc, "chosen": c, "rejected": a},
    ]
    (HERE / "preferences.jsonl").write_text("".join(json.dumps(r) + "\n" for r in prefs))


if __name__ == "__main__":
    main()
