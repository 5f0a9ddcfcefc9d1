"""Evaluate: a suite × a generator → a :class:`~harness.eval.run.Run` (``harness.run/v1``).

Generation goes through the cache item by item, then every criterion's scorer scores every
output; ``overall`` is the rubric-weighted mean per output. With ``repeats`` each item is
generated (and scored) several times; the item's score is the mean over attempts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from harness.errors import InputError
from harness.eval.cache import GenerationCache, cache_key
from harness.eval.rubric import OVERALL, Criterion
from harness.eval.run import (
    Attempt,
    CriterionSummary,
    ItemResult,
    ModelIdentity,
    Run,
    RunHashes,
    RunManifest,
    Score,
    SuiteRecord,
)
from harness.eval.scorers import BaseScorer, RawScore, ScorerContext, build_scorer
from harness.eval.suite import Item, Suite
from harness.eval.summary import overall_score, summarize
from harness.models.base import Completion, GenerationRequest, Generator, request_payload
from harness.models.serving import RequestLog, summarise_requests
from harness.provenance import collect_provenance, content_hash
from harness.stats.intervals import mean_seed

Progress = Callable[[str, int, int], None]


def to_score(raw: RawScore, criterion: Criterion, spec: dict[str, Any]) -> Score:
    """Map a scorer's raw value onto the criterion's scale (binary: pass at the threshold)."""
    if raw.value is None:
        return Score(value=None, explanation=raw.explanation, scorer=spec)
    v = float(raw.value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"scorer {spec.get('type')!r} returned {v}, outside [0, 1], for criterion {criterion.id!r}")
    scale = criterion.scale
    if scale.binary:
        passed = v >= scale.threshold
        note = "" if v in (0.0, 1.0) else f" ({v:.3f} vs threshold {scale.threshold:g})"
        return Score(value=float(passed), explanation=raw.explanation + note, scorer=spec, passed=passed)
    level = raw.level
    if scale.type == "levels" and level is None:
        level = scale.nearest_level(v).name
    return Score(value=v, explanation=raw.explanation, scorer=spec, level=level)




def _mean_score(scores: list[Score], binary: bool) -> Score:
    """An item's score over its attempts: the mean of the scored ones."""
    if len(scores) == 1:
        return scores[0]
    vals = [s.value for s in scores if s.value is not None]
    spec = scores[0].scorer
    if not vals:
        return Score(value=None, explanation=f"unscored in all {len(scores)} attempts", scorer=spec)
    mean = sum(vals) / len(vals)
    passed = (mean == 1.0) if binary and mean in (0.0, 1.0) else None
    return Score(
        value=mean,
        explanation=f"mean over {len(vals)} of {len(scores)} attempts",
        scorer=spec,
        passed=passed,
        level=scores[0].level if len({s.level for s in scores}) == 1 else None,
    )


def slice_fields(item: Item) -> dict[str, Any]:
    """The item's extra fields a comparison can slice by: scalars and lists of scalars (tags).

    >>> slice_fields(Item(id="a", prompt="q", category="billing", tags=["en", "vip"], schema={"type": "object"}))
    {'category': 'billing', 'tags': ['en', 'vip']}
    """
    scalar = (str, int, float, bool)
    out: dict[str, Any] = {}
    for key, value in (item.model_extra or {}).items():
        if value is None or isinstance(value, scalar):
            out[key] = value
        elif isinstance(value, list) and all(isinstance(v, scalar) for v in value):
            out[key] = list(value)
    return out




def _generate(
    generator: Generator,
    requests: list[GenerationRequest],
    suite: Suite,
    cache: GenerationCache | None,
    progress: Progress | None,
) -> tuple[list[Completion], list[bool], dict[str, Any]]:
    """Outputs for all requests: cached ones first, the rest generated and stored one by one."""
    settings = suite.generation
    use_cache = cache is not None and generator.cacheable
    fp = generator.fingerprint
    keys = [cache_key(fp, request_payload(r, settings), settings.key()) for r in requests]
    found = cache.get_many(keys) if use_cache and cache is not None else {}
    results: list[Completion | None] = [None] * len(requests)
    cached = [False] * len(requests)
    for i, k in enumerate(keys):
        if k in found:
            e = found[k]
            results[i] = Completion(e.text, e.seconds, e.tokens)
            cached[i] = True
    # one generation per distinct key (greedy repeats of an item share it)
    todo: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        if results[i] is None:
            todo.setdefault(k, []).append(i)
    firsts = [idx[0] for idx in todo.values()]
    total, done = len(set(keys)), len(set(keys)) - len(firsts)
    if progress:
        progress("generate", done, total)
    t0 = time.perf_counter()
    batch = [requests[i] for i in firsts]
    for j, comp in generator.generate(batch, settings):
        k = keys[firsts[j]]
        if use_cache and cache is not None:
            cache.put(k, comp.text, model=fp, seconds=comp.seconds, tokens=comp.tokens, meta={"item": batch[j].item_id})
        for i in todo[k]:
            results[i] = comp
        done += 1
        if progress:
            progress("generate", done, total)
    missing = [requests[i].item_id for i, r in enumerate(results) if r is None]
    if missing:
        raise InputError(f"the generator returned no output for items {missing[:5]}")
    stats = {
        "generated": len(firsts),
        "cached": sum(cached),
        "generation_seconds": round(time.perf_counter() - t0, 3),
        "cache": str(cache.path) if use_cache and cache is not None else None,
    }
    return [r for r in results if r is not None], cached, stats


def _distinct_logs(outputs: list[Completion]) -> list[RequestLog]:
    """The request logs of these outputs, each once (greedy repeats share one generation)."""
    seen: dict[int, RequestLog] = {}
    for c in outputs:
        if c.requests is not None:
            seen.setdefault(id(c.requests), c.requests)
    return list(seen.values())


def _item_requests(outputs: list[Completion]) -> dict[str, Any] | None:
    """An item's requests to a server (over its attempts): tries, retries, the errors; None when none were made."""
    logs = _distinct_logs(outputs)
    if not logs:
        return None
    if len(logs) == 1:
        return logs[0].record()
    return RequestLog(attempts=sum(g.attempts for g in logs), errors=[e for g in logs for e in g.errors]).record() | {
        "retries": sum(g.retries for g in logs)
    }


def _run_requests(outputs: list[Completion]) -> dict[str, Any] | None:
    """The run's request totals (see :func:`~harness.models.serving.summarise_requests`); None without a server."""
    logs = _distinct_logs(outputs)
    return summarise_requests(logs) if logs else None


def _scorers(
    suite: Suite, cache: GenerationCache | None, judge: Generator | None, judge_factory: Any
) -> dict[str, BaseScorer]:
    human = None
    if suite.human_ratings is not None:
        from harness.eval.ratings import HumanRatings

        human = HumanRatings(suite.human_ratings)
    base_dir = suite.rubric_path.parent if suite.rubric_path else suite.path.parent
    file = str(suite.rubric_path or suite.path)
    made_judges: dict[tuple[str, str | None], Generator] = {}

    def factory(spec: str, endpoint: str | None) -> Generator:
        if (spec, endpoint) not in made_judges:
            if judge_factory is not None:
                made_judges[(spec, endpoint)] = judge_factory(spec, endpoint)
            else:
                from harness.models.factory import make_generator

                made_judges[(spec, endpoint)] = make_generator(spec, endpoint=endpoint)
        return made_judges[(spec, endpoint)]

    out = {}
    for c in suite.rubric.criteria:
        ctx = ScorerContext(
            criterion=c,
            base_dir=base_dir,
            human_ratings=human,
            judge=judge,
            judge_factory=factory,
            render_prompt=suite.request_prompt,
            cache=cache,
            extra={"rubric_file": file},
        )
        out[c.id] = build_scorer(c, ctx)
    return out


def evaluate_suite(
    suite: Suite,
    generator: Generator,
    *,
    cache: GenerationCache | None = None,
    repeats: int = 1,
    limit: int | None = None,
    progress: Progress | None = None,
    judge: Generator | None = None,
    judge_factory: Callable[[str, str | None], Generator] | None = None,
) -> Run:
    """Generate and score every item of a suite.

    Args:
        suite: the loaded suite.
        generator: the model (a fake one in tests).
        cache: where generations (and judge verdicts) are stored as they finish; None: not cached.
        repeats: attempts per item (seeds ``generation.seed + k``); with greedy decoding they share
            one generation.
        limit: evaluate only the first ``limit`` items.
        progress: called as ``progress(stage, done, total)`` for stages "generate" and "score".
        judge: a generator used by every judge criterion (overrides their ``model`` option).
        judge_factory: builds judge generators from ``(spec, endpoint)`` (tests pass fakes).

    Returns:
        The run, with per-item outputs and scores, the per-criterion summary and a manifest.

    Example:
        >>> from harness.models.fake import FakeGenerator
        >>> from harness.eval.suite import load_suite
        >>> suite = load_suite("suites/general")
        >>> run = evaluate_suite(suite, FakeGenerator(lambda r: "Paris"), limit=3)
        >>> run.summary["correct"].n, run.summary["correct"].mean
        (3, 0.0)
    """
    if repeats < 1:
        raise InputError(f"The 'repeats' parameter of evaluate_suite must be >= 1; got {repeats}.")
    if limit is not None and limit < 1:
        raise InputError(f"The 'limit' parameter of evaluate_suite must be >= 1; got {limit}.")
    if suite.method != "generate":
        from harness.eval.loglik import evaluate_loglik

        return evaluate_loglik(suite, generator, cache=cache, limit=limit, progress=progress)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    items: list[Item] = suite.items[:limit] if limit else list(suite.items)
    settings = suite.generation
    scorers = _scorers(suite, cache, judge, judge_factory)
    requests = [
        GenerationRequest(it.id, suite.request_prompt(it), seed=settings.seed + k, attempt=k)
        for it in items
        for k in range(repeats)
    ]
    outputs, cached, gen_stats = _generate(generator, requests, suite, cache, progress)

    t0 = time.perf_counter()
    texts = [c.text for c in outputs]
    raw = _score_outputs(suite, scorers, texts, [it for it in items for _ in range(repeats)], progress)
    specs = {c.id: scorers[c.id].spec() for c in suite.rubric.criteria}
    results = _item_results(suite, items, requests, outputs, cached, raw, specs, repeats)
    gen_stats["scoring_seconds"] = round(time.perf_counter() - t0, 3)

    suite_record = suite.to_record(items)
    model = generator.describe()
    model.setdefault("fingerprint", generator.fingerprint)
    judges = {cid: s.describe() for cid, s in scorers.items() if s.describe()}
    manifest = _manifest(suite, suite_record, model, judges, specs, gen_stats, _run_requests(outputs),
                         started=started, repeats=repeats, limit=limit)  # fmt: skip
    return Run(
        suite=SuiteRecord.model_validate(suite_record),
        model=ModelIdentity.model_validate(model),
        manifest=manifest,
        items=results,
        summary=_summaries(suite, results),
    )


def _score_outputs(
    suite: Suite, scorers: dict[str, BaseScorer], texts: list[str], att_items: list[Item], progress: Progress | None
) -> dict[str, list[RawScore]]:
    """Every criterion's raw scores for every output (one per attempt, in request order)."""
    criteria = suite.rubric.criteria
    raw: dict[str, list[RawScore]] = {}
    for n, c in enumerate(criteria):
        if progress:
            progress("score", n, len(criteria))
        raw[c.id] = scorers[c.id].score_many(texts, att_items)
        if len(raw[c.id]) != len(texts):
            raise RuntimeError(f"scorer {c.scorer.type!r} returned {len(raw[c.id])} scores for {len(texts)} outputs")
    if progress:
        progress("score", len(criteria), len(criteria))
    return raw


def _item_results(
    suite: Suite,
    items: list[Item],
    requests: list[GenerationRequest],
    outputs: list[Completion],
    cached: list[bool],
    raw: dict[str, list[RawScore]],
    specs: dict[str, dict[str, Any]],
    repeats: int,
) -> list[ItemResult]:
    """Each item's result: its attempts' scores on the criteria's scales, and their mean."""
    criteria = suite.rubric.criteria
    ids = [*(c.id for c in criteria), OVERALL]
    binary = {c.id: c.scale.binary for c in criteria} | {OVERALL: False}
    results: list[ItemResult] = []
    for i, it in enumerate(items):
        attempts = []
        for k in range(repeats):
            j = i * repeats + k
            scores = {c.id: to_score(raw[c.id][j], c, specs[c.id]) for c in criteria}
            scores[OVERALL] = overall_score(scores, criteria)
            out = outputs[j]
            attempts.append(Attempt(output=out.text, scores=scores, seed=requests[j].seed, seconds=out.seconds))
        item_scores = {cid: _mean_score([a.scores[cid] for a in attempts], binary[cid]) for cid in ids}
        secs = [a.seconds for a in attempts if a.seconds is not None]
        results.append(
            ItemResult(
                id=it.id,
                prompt=requests[i * repeats].prompt,
                reference=it.reference,
                output=attempts[0].output,
                scores=item_scores,
                attempts=attempts if repeats > 1 else [],
                seconds=round(sum(secs), 4) if secs else None,
                cached=all(cached[i * repeats : (i + 1) * repeats]),
                fields=slice_fields(it),
                fewshot=[s.id for s in suite.shots(it)] or None,
                requests=_item_requests(outputs[i * repeats : (i + 1) * repeats]),
            )
        )
    return results


def _summaries(suite: Suite, results: list[ItemResult]) -> dict[str, CriterionSummary]:
    """Per criterion (and ``overall``): mean, interval and n over the items."""
    summary = {}
    for crit in [*suite.rubric.criteria, None]:
        cid = crit.id if crit is not None else OVERALL
        summary[cid] = summarize(
            [r.scores[cid].value for r in results],
            binary=crit.scale.binary if crit else False,
            confidence=suite.gate.confidence,
            seed=mean_seed(0, suite.name, cid),
        )
    return summary


def _manifest(
    suite: Suite,
    suite_record: dict[str, Any],
    model: dict[str, Any],
    judges: dict[str, dict[str, Any]],
    specs: dict[str, dict[str, Any]],
    timing: dict[str, Any],
    requests: dict[str, Any] | None,
    *,
    started: str,
    repeats: int,
    limit: int | None,
) -> RunManifest:
    """What the run depends on: provenance, settings, and the hashes of items, rubric, model and judges."""
    settings = suite.generation
    return RunManifest(
        **collect_provenance().model_dump(),
        created=started,
        command=sys.argv if sys.argv and sys.argv[0] else None,
        seed=settings.seed,
        repeats=repeats,
        limit=limit,
        generation=settings.model_dump(mode="json"),
        generation_hash=content_hash(settings.model_dump(mode="json")),
        hashes=RunHashes(
            items=suite_record["items_hash"],
            rubric=suite_record["rubric_hash"],
            model=model.get("fingerprint"),
            adapter=model.get("adapter_hash"),
            judges={cid: d.get("judge_fingerprint") for cid, d in judges.items() if "judge_fingerprint" in d}
            or None,
            human_ratings=(suite_record["human_ratings_file"] or {}).get("hash"),
        ),
        scorers=specs,
        scorer_details=judges,
        timing=timing,
        requests=requests,
    )
