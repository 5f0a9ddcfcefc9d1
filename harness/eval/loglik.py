"""Evaluate a log-likelihood suite (``method: multiple_choice`` or ``perplexity``) into a Run.

Multiple choice: each item's prompt (with its few-shot examples) is the context and each choice,
after ``target_delimiter``, a continuation; the model's log-likelihoods give ``acc`` (argmax)
and ``acc_norm`` (argmax of log-likelihood per character of the choice, lm-eval's definition).
Perplexity: each document's rolling log-likelihood gives its token, word and byte perplexity;
the per-item criteria are their inverses (see :mod:`harness.eval.methods`), and the run's
``metrics`` hold lm-eval's corpus-level ``word_perplexity``, ``byte_perplexity`` and
``bits_per_byte`` (sums over documents, then the ratio) plus ``token_perplexity``.
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from harness.errors import ModelError
from harness.eval.cache import GenerationCache, cache_key
from harness.eval.methods import NORMALISATION
from harness.eval.rubric import OVERALL
from harness.eval.run import ItemResult, ModelIdentity, Run, RunHashes, RunManifest, Score, SuiteRecord
from harness.eval.suite import Item, Suite
from harness.eval.summary import overall_score, summarize
from harness.models.base import GenerationSettings, Generator
from harness.models.loglik import Loglik, LoglikRequest, supports_loglikelihood
from harness.models.serving import summarise_requests
from harness.provenance import collect_provenance, content_hash
from harness.stats.intervals import mean_seed

__all__ = ["evaluate_loglik", "mc_predictions", "perplexity_record"]

Progress = Callable[[str, int, int], None]
CHUNK_ITEMS = 128  # items scored per model call, then cached


def _argmax(values: list[float]) -> int:
    """The first index of the largest value (numpy's argmax, which lm-eval uses)."""
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def mc_predictions(lls: list[float], choices: list[str]) -> tuple[int, int]:
    """The choice ``acc`` picks and the one ``acc_norm`` picks (log-likelihood per character).

    Example:
        >>> mc_predictions([-4.0, -6.0], ["no", "yes, it is"])
        (0, 1)
    """
    return _argmax(lls), _argmax([ll / float(len(c)) for ll, c in zip(lls, choices, strict=True)])


def perplexity_record(text: str, logprob: float, tokens: int) -> dict[str, Any]:
    """A document's log-likelihood and its perplexities (lm-eval's word and byte counts).

    Example:
        >>> r = perplexity_record("a b", -2 * math.log(2), 2)
        >>> r["words"], r["bytes"], r["word_perplexity"], r["bits_per_byte"]
        (2, 3, 2.0, 0.6666666666666666)
    """
    words = len(re.split(r"\s+", text))  # lm-eval's count_words
    nbytes = len(text.encode("utf-8"))  # lm-eval's count_bytes
    return {
        "loglikelihood": logprob,
        "tokens": tokens,
        "words": words,
        "bytes": nbytes,
        "token_perplexity": math.exp(-logprob / tokens) if tokens else None,
        "word_perplexity": math.exp(-logprob / words),
        "byte_perplexity": math.exp(-logprob / nbytes),
        "bits_per_byte": -logprob / nbytes / math.log(2),
    }


def _spec(metric: str, **extra: Any) -> dict[str, Any]:
    return {"type": "loglikelihood", "metric": metric, **extra}


class _Scored(NamedTuple):
    results: list[list[Loglik]]
    cached: list[bool]
    seconds: list[float | None]


def _score_cached(
    gen: Any,
    cache: GenerationCache | None,
    payloads: list[dict[str, Any]],
    ids: list[str],
    compute: Callable[[list[int]], list[list[Loglik]]],
    progress: Progress | None,
) -> _Scored:
    """Per-item log-likelihoods: cached ones read back, the rest computed in chunks and stored at once.

    A killed run resumes where it stopped, as generations do (the cache is keyed by the model's
    fingerprint and the item's exact requests).
    """
    use = cache is not None and bool(getattr(gen, "cacheable", False))
    fp = str(gen.fingerprint)
    keys = [
        cache_key(fp, json.dumps(p, sort_keys=True, ensure_ascii=False), {"score": "loglikelihood"}) for p in payloads
    ]
    found = cache.get_many(keys) if use and cache is not None else {}
    results: list[list[Loglik] | None] = [None] * len(keys)
    seconds: list[float | None] = [None] * len(keys)
    cached = [k in found for k in keys]
    for i, k in enumerate(keys):
        if k in found:
            results[i] = [Loglik(float(a), bool(b), int(c)) for a, b, c in json.loads(found[k].text)]
            seconds[i] = found[k].seconds
    todo = [i for i, r in enumerate(results) if r is None]
    done = len(keys) - len(todo)
    if progress:
        progress("score", done, len(keys))
    for start in range(0, len(todo), CHUNK_ITEMS):
        chunk = todo[start : start + CHUNK_ITEMS]
        t0 = time.perf_counter()
        scored = compute(chunk)
        per = round((time.perf_counter() - t0) / len(chunk), 4)
        for i, res in zip(chunk, scored, strict=True):
            results[i], seconds[i] = res, per
            if use and cache is not None:
                text = json.dumps([[r.logprob, r.is_greedy, r.tokens] for r in res])
                cache.put(
                    keys[i], text, model=fp, seconds=per, tokens=sum(r.tokens for r in res), meta={"item": ids[i]}
                )
        done += len(chunk)
        if progress:
            progress("score", done, len(keys))
    return _Scored([r or [] for r in results], cached, seconds)


def _mc_items(
    suite: Suite, gen: Any, items: list[Item], cache: GenerationCache | None, progress: Progress | None
) -> list[ItemResult]:
    opts = suite.loglikelihood
    settings = GenerationSettings(chat_template=opts.chat_template, system=suite.generation.system)
    contexts = [suite.request_prompt(it) for it in items]
    conts = [[opts.target_delimiter + c for c in (it.model_extra or {})["choices"]] for it in items]

    def compute(chunk: list[int]) -> list[list[Loglik]]:
        requests = [LoglikRequest(contexts[i], c) for i in chunk for c in conts[i]]
        flat = iter(gen.loglikelihood(requests, settings))
        return [[next(flat) for _ in conts[i]] for i in chunk]

    payloads = [
        {
            "method": "multiple_choice",
            "context": ctx,
            "continuations": cs,
            "chat_template": opts.chat_template,
            "system": settings.system,
        }
        for ctx, cs in zip(contexts, conts, strict=True)
    ]
    scored = _score_cached(gen, cache, payloads, [it.id for it in items], compute, progress)
    by_item = scored.results
    criteria = suite.rubric.criteria
    out = []
    for n, (it, ctx, res) in enumerate(zip(items, contexts, by_item, strict=True)):
        extra = it.model_extra or {}
        choices, answer = list(extra["choices"]), int(extra["answer"])
        lls = [r.logprob for r in res]
        pred, pred_norm = mc_predictions(lls, choices)
        scores = {
            "acc": Score(
                value=float(pred == answer),
                passed=pred == answer,
                scorer=_spec("acc"),
                explanation=f"most likely: choice {pred} of {len(choices)}; answer {answer}",
            ),
            "acc_norm": Score(
                value=float(pred_norm == answer),
                passed=pred_norm == answer,
                scorer=_spec("acc_norm", normalisation=NORMALISATION),
                explanation=f"most likely per character: choice {pred_norm}; answer {answer}",
            ),
        }
        scores[OVERALL] = overall_score(scores, criteria)
        record = {
            "choices": choices,
            "answer": answer,
            "pred": pred,
            "pred_norm": pred_norm,
            "loglikelihoods": lls,
            "is_greedy": [r.is_greedy for r in res],
            "tokens": [r.tokens for r in res],
            "lengths": [len(c) for c in choices],
            "normalisation": NORMALISATION,
            "target_delimiter": opts.target_delimiter,
        }
        out.append(
            ItemResult(
                id=it.id,
                prompt=ctx,
                reference=choices[answer],
                output=choices[pred],
                scores=scores,
                seconds=scored.seconds[n],
                cached=scored.cached[n],
                fewshot=[s.id for s in suite.shots(it)] or None,
                loglik=record,
            )
        )
    return out


def _ppl_items(
    suite: Suite, gen: Any, items: list[Item], cache: GenerationCache | None, progress: Progress | None
) -> list[ItemResult]:
    texts = [it.prompt or "" for it in items]

    def compute(chunk: list[int]) -> list[list[Loglik]]:
        return [[r] for r in gen.loglikelihood_rolling([texts[i] for i in chunk])]

    payloads = [{"method": "perplexity", "text": t} for t in texts]
    scored = _score_cached(gen, cache, payloads, [it.id for it in items], compute, progress)
    criteria = suite.rubric.criteria
    out = []
    for n, (it, text) in enumerate(zip(items, texts, strict=True)):
        r = scored.results[n][0]
        rec = perplexity_record(text, r.logprob, r.tokens)
        scores = {}
        for unit, count in (("byte", rec["bytes"]), ("token", rec["tokens"]), ("word", rec["words"])):
            value = math.exp(r.logprob / count) if count else None
            scores[f"{unit}_probability"] = Score(
                value=value,
                scorer=_spec(f"{unit}_probability", inverse_of=f"{unit}_perplexity"),
                explanation=f"{unit} perplexity {rec[f'{unit}_perplexity']:.4g}" if count else "no tokens scored",
            )
        scores[OVERALL] = overall_score(scores, criteria)
        output = f"bits per byte {rec['bits_per_byte']:.4f}, token perplexity {rec['token_perplexity'] or 0:.3f}"
        out.append(
            ItemResult(
                id=it.id,
                prompt=text,
                output=output,
                scores=scores,
                seconds=scored.seconds[n],
                cached=scored.cached[n],
                loglik=rec,
            )
        )
    return out


def _corpus_metrics(results: list[ItemResult]) -> dict[str, Any]:
    recs = [r.loglik or {} for r in results]
    ll = sum(r["loglikelihood"] for r in recs)
    tokens, words, nbytes = (sum(r[k] for r in recs) for k in ("tokens", "words", "bytes"))
    return {
        "loglikelihood": ll,
        "documents": len(recs),
        "tokens": tokens,
        "words": words,
        "bytes": nbytes,
        "token_perplexity": math.exp(-ll / tokens) if tokens else None,
        "word_perplexity": math.exp(-ll / words),
        "byte_perplexity": math.exp(-ll / nbytes),
        "bits_per_byte": -ll / nbytes / math.log(2),
        "definition": "lm-eval weighted_perplexity / bits_per_byte: sums over documents, then the ratio",
    }


def evaluate_loglik(
    suite: Suite,
    generator: Generator,
    *,
    cache: GenerationCache | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
) -> Run:
    """Score a multiple-choice or perplexity suite by log-likelihood (no generation, no scorers)."""
    if not supports_loglikelihood(generator):
        raise ModelError(
            f"suite {suite.name!r} (method {suite.method}) needs a model that scores log-likelihoods "
            f"(a local model or an OpenAI-compatible completions server); {generator.describe().get('kind')!r} cannot",
            file=suite.path,
            field="method",
        )
    started = datetime.now(UTC).isoformat(timespec="seconds")
    items = suite.items[:limit] if limit else list(suite.items)
    t0 = time.perf_counter()
    logs = getattr(generator, "request_logs", None)  # a server's requests, logged as they end
    mark = len(logs) if logs is not None else 0
    if suite.method == "multiple_choice":
        results = _mc_items(suite, generator, items, cache, progress)
    else:
        results = _ppl_items(suite, generator, items, cache, progress)
    seconds = round(time.perf_counter() - t0, 3)
    summary = {}
    for crit in [*suite.rubric.criteria, None]:
        cid = crit.id if crit is not None else OVERALL
        binary = crit.scale.binary if crit else False
        values = [r.scores[cid].value for r in results]
        summary[cid] = summarize(
            values, binary=binary, confidence=suite.gate.confidence, seed=mean_seed(0, suite.name, cid)
        )
    metrics = _corpus_metrics(results) if suite.method == "perplexity" else None
    suite_record = suite.to_record(items)
    model = generator.describe()
    model.setdefault("fingerprint", generator.fingerprint)
    options = suite.loglikelihood.model_dump(mode="json")
    manifest = RunManifest(
        **collect_provenance().model_dump(),
        created=started,
        command=sys.argv if sys.argv and sys.argv[0] else None,
        method=suite.method,
        seed=suite.fewshot.seed if suite.fewshot else None,
        repeats=1,
        limit=limit,
        loglikelihood=options,
        generation={"method": suite.method, **options},
        generation_hash=content_hash(options),
        hashes=RunHashes(
            items=suite_record["items_hash"],
            rubric=suite_record["rubric_hash"],
            model=model.get("fingerprint"),
            adapter=model.get("adapter_hash"),
            fewshot=suite_record.get("fewshot_hash"),
        ),
        scorers={c.id: c.scorer.model_dump(mode="json") for c in suite.rubric.criteria},
        timing={
            "generated": 0,
            "scored": len(items),
            "cached": sum(r.cached for r in results),
            "cache": str(cache.path) if cache is not None and generator.cacheable else None,
            "scoring_seconds": seconds,
            "batch_size": getattr(generator, "last_batch_size", None),
        },
        requests=summarise_requests(logs[mark:]) if logs is not None and len(logs) > mark else None,
    )
    return Run(
        suite=SuiteRecord.model_validate(suite_record),
        model=ModelIdentity.model_validate(model),
        manifest=manifest,
        items=results,
        summary=summary,
        metrics=metrics,
    )
