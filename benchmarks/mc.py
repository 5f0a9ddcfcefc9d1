"""Multiple choice by log-likelihood: ``harness eval`` vs lm-eval's Hugging Face backend (``loglikelihood``).

One process, the same model (the bundled SmolLM2-135M, the safetensors folder converted from its
GGUF, float32 on CPU) and the same requests: the bundled ``suites/knowledge`` suite (122
questions x 4 options = 488 ``(context, " " + choice)`` requests; ``--items`` takes the first N).

1. harness: ``evaluate_suite`` (one forward pass per distinct prompt, only its last logits kept;
   the options run on a copy of its KV cache);
2. lm-eval: ``HFLM.loglikelihood`` on the same requests at each of ``--lm-eval-batch-sizes``
   (its best one is the peer's figure);
the two run ``--rounds`` times, their order alternating (the machine may be shared); the median
counts. It checks that every log-likelihood agrees to 1e-4 and acc / acc_norm are identical, and
prints requests per second, the ratio harness / lm-eval-at-its-best (target >= 1.5) and the peak
resident memory added by each side.

    python benchmarks/mc.py [--items 122] [--batch-size auto] [--lm-eval-batch-sizes 1,8,32,64]
                            [--rounds 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from importlib.metadata import version
from pathlib import Path

from eval import PeakRSS  # benchmarks/eval.py: peak resident memory sampler

ROOT = Path(__file__).resolve().parent.parent


def lm_eval_scores(lm: object, pairs: list[tuple[str, str]]) -> list[tuple[float, bool]]:
    from lm_eval.api.instance import Instance

    reqs = [Instance("loglikelihood", {}, p, i) for i, p in enumerate(pairs)]
    return lm.loglikelihood(reqs, disable_tqdm=True)  # type: ignore[attr-defined]


def main() -> None:
    """Run both sides in alternating rounds and print the figures (Markdown)."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--items", type=int, default=None)
    ap.add_argument("--batch-size", default="auto", help="harness batch size: N or auto")
    ap.add_argument("--lm-eval-batch-sizes", default="1,8,32,64")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch
    from lm_eval.models.huggingface import HFLM

    torch.set_num_threads(args.threads)
    from harness.eval.evaluate import evaluate_suite
    from harness.eval.loglik import mc_predictions
    from harness.eval.suite import load_suite
    from harness.models.factory import make_generator
    from harness.models.loading import weights_folder
    from harness.models.spec import parse_spec

    suite = load_suite(ROOT / "suites/knowledge")
    if args.items:
        suite.items = suite.items[: args.items]
    pairs = [
        (str(suite.request_prompt(it)), " " + c) for it in suite.items for c in (it.model_extra or {})["choices"]
    ]
    bs = "auto" if args.batch_size == "auto" else int(args.batch_size)
    with PeakRSS():
        gen = make_generator("smollm2-135m", batch_size=bs)  # type: ignore[arg-type]
    folder = weights_folder(parse_spec("smollm2-135m"))
    sizes = [int(x) for x in args.lm_eval_batch_sizes.split(",")]
    lms = {
        b: HFLM(pretrained=str(folder), backend="causal", batch_size=b, device="cpu", dtype="float32") for b in sizes
    }
    evaluate_suite(suite.model_copy(update={"items": suite.items[:2]}), gen)  # warm up both
    lm_eval_scores(lms[sizes[0]], pairs[:4])

    t_h: list[float] = []
    t_l: dict[int, list[float]] = {b: [] for b in sizes}
    mem_h = mem_l = 0.0
    run = None
    theirs: list[tuple[float, bool]] = []
    for r in range(args.rounds):
        for side in (("h", "l") if r % 2 == 0 else ("l", "h")):
            if side == "h":
                with PeakRSS() as m:
                    t0 = time.perf_counter()
                    run = evaluate_suite(suite, gen)
                    t_h.append(time.perf_counter() - t0)
                mem_h = max(mem_h, m.added_mib)
            else:
                for b in sizes:
                    with PeakRSS() as m:
                        t0 = time.perf_counter()
                        theirs = lm_eval_scores(lms[b], pairs)
                        t_l[b].append(time.perf_counter() - t0)
                    mem_l = max(mem_l, m.added_mib)
    assert run is not None
    ours = [ll for it in run.items for ll in (it.loglik or {})["loglikelihoods"]]
    diff = max(abs(a - b[0]) for a, b in zip(ours, theirs, strict=True))
    same_acc = True
    k = 0
    for it in run.items:
        choices = (it.loglik or {})["choices"]
        lls = [t[0] for t in theirs[k : k + len(choices)]]
        k += len(choices)
        same_acc &= mc_predictions(lls, choices) == ((it.loglik or {})["pred"], (it.loglik or {})["pred_norm"])
    med_h = statistics.median(t_h)
    med_l = {b: statistics.median(v) for b, v in t_l.items()}
    best = min(med_l, key=lambda b: med_l[b])
    n = len(pairs)
    print(f"lm-eval {version('lm-eval')}, torch {torch.__version__}, transformers {version('transformers')}, "
          f"{args.threads} thread(s), {len(suite.items)} items, {n} requests, rounds {args.rounds}")  # fmt: skip
    print("\n| side | batch size | median s | requests/s |\n| --- | --- | --- | --- |")
    print(f"| harness | {gen.last_batch_size} ({args.batch_size}) | {med_h:.2f} | {n / med_h:.1f} |")
    for b in sizes:
        print(f"| lm-eval | {b} | {med_l[b]:.2f} | {n / med_l[b]:.1f} |")
    print(f"\nthroughput ratio harness / lm-eval at its best batch size ({best}): {med_l[best] / med_h:.2f}x")
    print(f"max |log-likelihood difference|: {diff:.2e}; acc and acc_norm predictions identical: {same_acc}")
    print(f"acc {run.summary['acc'].mean:.3f}, acc_norm {run.summary['acc_norm'].mean:.3f} (n={run.summary['acc'].n})")
    print(f"peak added memory MiB: harness {mem_h:.0f}, lm-eval {mem_l:.0f}")


if __name__ == "__main__":
    main()
