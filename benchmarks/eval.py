"""Generation speed: ``harness eval`` vs lm-eval's Hugging Face backend (``generate_until``).

One process, the same 100 prompts (the bundled suites' items: tickets, general, safety, in that
order) with the same model (the bundled SmolLM2-135M, the safetensors folder converted from its
GGUF), chat template applied by the harness and handed to lm-eval as the finished context
string, greedy decoding, the same ``max_new_tokens``. Steps:

1. harness: ``evaluate_suite`` with an empty cache (length-sorted, left-padded batches; greedy
   loop that drops finished sequences);
2. lm-eval: ``HFLM.generate_until`` with its stop sequence the end-of-turn token, at the given
   batch size (default: the harness's) and optionally also at its default batch size 1;
3. harness again, same cache: the cached re-run.

It checks that the greedy outputs are identical, and prints times, the ratio lm-eval / harness
(target >= 1.5), the cached re-run as a share of the first (target <= 5%) and the peak resident
memory added during each phase (sampled every 20 ms).

    python benchmarks/eval.py [--items 100] [--max-new-tokens 48] [--batch-size 16] [--lm-eval-default]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class PeakRSS:
    """Peak resident set size above the level at entry, sampled in a thread."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as fh:
            import os

            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.rss())

    def __enter__(self) -> PeakRSS:
        self.base = self.rss()
        self.peak = self.base
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.rss())

    @property
    def added_mib(self) -> float:
        return (self.peak - self.base) / 2**20


def build_suite(folder: Path, n: int) -> Path:
    """A generation-only suite of the first ``n`` bundled items (prompts with their templates)."""
    from harness.suite import load_suite

    rows = []
    for name in ("tickets", "general", "safety"):
        s = load_suite(ROOT / "suites" / name)
        rows += [{"id": it.id, "prompt": s.request_prompt(it)} for it in s.items]
    rows = rows[:n]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "suite.yaml").write_text(
        "name: bench\nrubric:\n  name: r\n  criteria:\n    - {id: words, scorer: {type: length, max: 100000}}\n"
    )
    return folder


def run_lm_eval(lm: object, contexts: list[str], max_new: int) -> list[str]:
    from lm_eval.api.instance import Instance

    reqs = [
        Instance(
            request_type="generate_until",
            doc={},
            arguments=(c, {"until": [], "max_gen_toks": max_new, "do_sample": False, "temperature": 0.0}),
            idx=i,
        )
        for i, c in enumerate(contexts)
    ]
    return lm.generate_until(reqs, disable_tqdm=True)  # type: ignore[attr-defined]


def main() -> None:
    """Run both and print the figures (Markdown)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=16, help="harness batch size (and lm-eval's unless given)")
    ap.add_argument("--lm-eval-batch-size", type=int, default=None)
    ap.add_argument("--lm-eval-default", action="store_true", help="also run lm-eval at its default batch size 1")
    args = ap.parse_args()

    import torch
    from lm_eval.models.huggingface import HFLM

    from harness.cache import GenerationCache
    from harness.evaluate import evaluate_suite
    from harness.models.base import make_generator
    from harness.models.loading import weights_folder
    from harness.models.spec import parse_spec
    from harness.suite import load_suite

    tmp = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    suite = load_suite(build_suite(tmp / "suite", args.items))
    suite.generation.max_new_tokens = args.max_new_tokens
    folder = weights_folder(parse_spec("smollm2-135m"))

    with PeakRSS() as m_load_h:
        gen = make_generator("smollm2-135m", batch_size=args.batch_size)
    lm_bs = args.lm_eval_batch_size or args.batch_size
    with PeakRSS() as m_load_l:
        lm = HFLM(pretrained=str(folder), backend="causal", batch_size=lm_bs, device="cpu", dtype="float32")
    contexts = [gen.render(it.prompt or "", suite.generation) for it in suite.items]

    # warm both up (first calls pay one-off costs)
    from harness.models.base import GenerationRequest

    list(
        gen.generate(
            [GenerationRequest("w", suite.items[0].prompt or "")],
            suite.generation.model_copy(update={"max_new_tokens": 2}),
        )
    )
    run_lm_eval(lm, contexts[:1], 2)

    cache = GenerationCache(tmp / "cache.sqlite")
    with PeakRSS() as m_h:
        t0 = time.perf_counter()
        run = evaluate_suite(suite, gen, cache=cache)
        t_h = time.perf_counter() - t0
    with PeakRSS() as m_l:
        t0 = time.perf_counter()
        peer = run_lm_eval(lm, contexts, args.max_new_tokens)
        t_l = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = evaluate_suite(suite, gen, cache=cache)
    t_c = time.perf_counter() - t0
    assert all(r.cached for r in again.items)

    ours = [r.output for r in run.items]
    same = sum(a == b for a, b in zip(ours, peer, strict=True))
    diff = [(r.id, a, b) for r, a, b in zip(run.items, ours, peer, strict=True) if a != b]
    tokens = sum(len(gen.tokenizer(o, add_special_tokens=False)["input_ids"]) for o in ours)

    t_d = None
    if args.lm_eval_default and lm_bs != 1:
        lm1 = HFLM(pretrained=str(folder), backend="causal", batch_size=1, device="cpu", dtype="float32")
        t0 = time.perf_counter()
        peer1 = run_lm_eval(lm1, contexts, args.max_new_tokens)
        t_d = time.perf_counter() - t0
        same1 = sum(a == b for a, b in zip(ours, peer1, strict=True))

    print(
        f"lm-eval {version('lm_eval')}, transformers {version('transformers')}, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}"
    )
    print(f"{len(ours)} prompts, max_new_tokens {args.max_new_tokens}, {tokens} output tokens, greedy")
    print(f"identical outputs: {same}/{len(ours)}")
    for rid, a, b in diff[:3]:
        print(f"  differs {rid}: harness {a[:80]!r} | lm-eval {b[:80]!r}")
    print()
    print("| run | batch size | seconds | tokens/s | peak RSS added MiB | ratio lm-eval / harness |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| harness (empty cache) | {args.batch_size} | {t_h:.1f} | {tokens / t_h:.1f} | {m_h.added_mib:.0f} | 1.00 |"
    )
    print(
        f"| lm-eval generate_until | {lm_bs} | {t_l:.1f} | {tokens / t_l:.1f} | {m_l.added_mib:.0f} | {t_l / t_h:.2f} |"
    )
    if t_d is not None:
        print(f"| lm-eval generate_until (default) | 1 | {t_d:.1f} | {tokens / t_d:.1f} | - | {t_d / t_h:.2f} |")
        print(f"\nidentical outputs at lm-eval batch size 1: {same1}/{len(ours)}")
    print(f"| harness, cached re-run | - | {t_c:.2f} | - | - | {100 * t_c / t_h:.1f}% of the first run |")
    print(f"\nmodel load RSS added: harness {m_load_h.added_mib:.0f} MiB, lm-eval {m_load_l.added_mib:.0f} MiB")


if __name__ == "__main__":
    main()
