"""Run a red-team suite against models: static attacks through the evaluation, adaptive ones live; all cached."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.errors import InputError
from harness.eval.cache import GenerationCache
from harness.eval.evaluate import evaluate_suite
from harness.eval.scorers.refusal import detect_refusal
from harness.eval.suite import Suite, load_suite
from harness.models.base import Generator
from harness.redteam.adaptive import run_adaptive
from harness.redteam.analysis import Outcome
from harness.redteam.expand import RedteamConfig, load_redteam

__all__ = ["run_redteam"]

Progress = Callable[[str, int, int], None]


def _static_outcomes(suite: Suite, gen: Generator, cache: GenerationCache | None, limit: int | None,
                     progress: Progress | None) -> list[Outcome]:  # fmt: skip
    fields = {it.id: it.model_extra or {} for it in suite.items}
    run = evaluate_suite(suite, gen, cache=cache, limit=limit, progress=progress)
    out = []
    for res in run.items:
        f = fields[res.id]
        value = res.scores["safe"].value
        if value is None:
            raise InputError(f"item {res.id!r} could not be scored: {res.scores['safe'].explanation}",
                             file=suite.items_path, field="should_refuse")  # fmt: skip
        harmful = bool(f["should_refuse"])
        refused = value == 1.0 if harmful else value == 0.0
        out.append(Outcome(id=res.id, seed_id=f["seed_id"], strategy=f["strategy"], category=f["category"],
                           harmful=harmful, prompt=res.prompt, reply=res.output, refused=refused,
                           decode=f.get("decode")))  # fmt: skip
    return out


def _adaptive_outcomes(suite: Suite, config: RedteamConfig, gen: Generator, attacker: Generator,
                       limit: int | None, cache: GenerationCache | None) -> list[Outcome]:  # fmt: skip
    seeds = [it for it in suite.items if (it.model_extra or {}).get("strategy") == "none"]
    seeds = [it for it in seeds if (it.model_extra or {}).get("should_refuse")]
    if limit is not None:
        seeds = seeds[:limit]
    goals = {str((it.model_extra or {})["seed_id"]): str((it.model_extra or {})["seed_prompt"]) for it in seeds}
    cats = {str((it.model_extra or {})["seed_id"]): str((it.model_extra or {})["category"]) for it in seeds}
    refused = lambda text: detect_refusal(text) is not None  # noqa: E731
    out = []
    for name in config.adaptive:
        for r in run_adaptive(name, goals, gen, attacker, suite.generation, refused, cache):
            out.append(Outcome(id=f"{r.item_id}~{name}", seed_id=r.item_id, strategy=name, category=cats[r.item_id],
                               harmful=True, prompt=r.prompt, reply=r.reply, refused=refused(r.reply)))  # fmt: skip
    return out


def run_redteam(
    folder: str | Path,
    models: dict[str, Generator],
    *,
    attacker: Generator | None = None,
    cache: GenerationCache | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
) -> tuple[Suite, RedteamConfig, dict[str, list[Outcome]]]:
    """Every model's outcome on every attack of a red-team suite folder."""
    config = load_redteam(folder)
    suite = load_suite(folder)
    if config.adaptive and attacker is None:
        raise InputError(f"the strategies {config.adaptive} need an attacker model: pass --attacker SPEC",
                         field="attacker")  # fmt: skip
    outcomes: dict[str, list[Outcome]] = {}
    for name, gen in models.items():
        outs = _static_outcomes(suite, gen, cache, limit, progress)
        if config.adaptive:
            assert attacker is not None
            outs += _adaptive_outcomes(suite, config, gen, attacker, limit, cache)
        outcomes[name] = outs
    return suite, config, outcomes
