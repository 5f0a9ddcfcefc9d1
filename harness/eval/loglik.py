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

import math
import platform
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from harness.errors import ModelError
from harness.eval.evaluate import _hash, git_commit, library_versions, overall_score, summarize
from harness.eval.methods import NORMALISATION
from harness.eval.rubric import OVERALL
from harness.eval.run import ItemResult, Run, Score
from harness.eval.suite import Item, Suite
from harness.models.base import GenerationSettings, Generator
from harness.models.loglik import LoglikRequest, supports_loglikelihood

__all__ = ["evaluate_loglik", "mc_predictions", "perplexity_record"]

Progress = Callable[[str, int, int], None]


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


def _mc_items(suite: Suite, gen: Any, items: list[Item], progress: Progress | None) -> list[ItemResult]:
    opts = suite.loglikelihood
    settings = GenerationSettings(chat_template=opts.chat_template, system=suite.generation.system)
    contexts = [suite.request_prompt(it) for it in items]
    requests, owner = [], []
    for k, (it, ctx) in enumerate(zip(items, contexts, strict=True)):
        for c in (it.model_extra or {})["choices"]:
            requests.append(LoglikRequest(ctx, opts.target_delimiter + c))
            owner.append(k)
    if progress:
        progress("score", 0, len(items))
    t0 = time.perf_counter()
    results = gen.loglikelihood(requests, settings)
    per = (time.perf_counter() - t0) / max(len(items), 1)
    if progress:
        progress("score", len(items), len(items))
    by_item: list[list[Any]] = [[] for _ in items]
    for k, r in zip(owner, results, strict=True):
        by_item[k].append(r)
    criteria = suite.rubric.criteria
    out = []
    for it, ctx, res in zip(items, contexts, by_item, strict=True):
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
                seconds=round(per, 4),
                fewshot=[s.id for s in suite.shots(it)] or None,
                loglik=record,
            )
        )
    return out


def _ppl_items(suite: Suite, gen: Any, items: list[Item], progress: Progress | None) -> list[ItemResult]:
    texts = [it.prompt or "" for it in items]
    if progress:
        progress("score", 0, len(items))
    t0 = time.perf_counter()
    results = gen.loglikelihood_rolling(texts)
    per = (time.perf_counter() - t0) / max(len(items), 1)
    if progress:
        progress("score", len(items), len(items))
    criteria = suite.rubric.criteria
    out = []
    for it, text, r in zip(items, texts, results, strict=True):
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
        out.append(ItemResult(id=it.id, prompt=text, output=output, scores=scores, seconds=round(per, 4), loglik=rec))
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
    suite: Suite, generator: Generator, *, limit: int | None = None, progress: Progress | None = None
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
    if suite.method == "multiple_choice":
        results = _mc_items(suite, generator, items, progress)
    else:
        results = _ppl_items(suite, generator, items, progress)
    seconds = round(time.perf_counter() - t0, 3)
    summary = {}
    for crit in [*suite.rubric.criteria, None]:
        cid = crit.id if crit is not None else OVERALL
        binary = crit.scale.binary if crit else False
        values = [r.scores[cid].value for r in results]
        summary[cid] = summarize(values, binary=binary, confidence=suite.gate.confidence)
    metrics = _corpus_metrics(results) if suite.method == "perplexity" else None
    suite_record = suite.to_record(items)
    model = generator.describe()
    model.setdefault("fingerprint", generator.fingerprint)
    libs = library_versions()
    manifest = {
        "created": started,
        "harness_version": libs.get("harness"),
        "git_commit": git_commit(),
        "libraries": libs,
        "platform": platform.platform(),
        "command": sys.argv if sys.argv and sys.argv[0] else None,
        "method": suite.method,
        "seed": suite.fewshot.seed if suite.fewshot else None,
        "repeats": 1,
        "limit": limit,
        "loglikelihood": suite.loglikelihood.model_dump(mode="json"),
        "generation": {"method": suite.method, **suite.loglikelihood.model_dump(mode="json")},
        "generation_hash": _hash(suite.loglikelihood.model_dump(mode="json")),
        "hashes": {
            "items": suite_record["items_hash"],
            "rubric": suite_record["rubric_hash"],
            "model": model.get("fingerprint"),
            "adapter": model.get("adapter_hash"),
            "fewshot": suite_record.get("fewshot_hash"),
        },
        "scorers": {c.id: c.scorer.model_dump(mode="json") for c in suite.rubric.criteria},
        "timing": {
            "generated": 0,
            "scored": len(items),
            "cached": 0,
            "scoring_seconds": seconds,
            "batch_size": getattr(generator, "last_batch_size", None),
        },
    }
    return Run(suite=suite_record, model=model, manifest=manifest, items=results, summary=summary, metrics=metrics)
