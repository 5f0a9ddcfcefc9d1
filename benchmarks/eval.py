"""Generation speed: ``harness eval`` vs lm-eval's Hugging Face backend (``generate_until``).

One process, the same 100 prompts (the bundled suites' items: tickets, general, safety, in that
order) with the same model (the bundled SmolLM2-135M, the safetensors folder converted from its
GGUF), chat template applied by the harness and handed to lm-eval as the finished context
string, greedy decoding, the same ``max_new_tokens``. Steps:

1. harness: ``evaluate_suite`` with an empty cache (length-sorted, left-padded batches; greedy
   loop that drops finished sequences);
2. lm-eval: ``HFLM.generate_until`` (stop sequence: the end-of-turn token) at the same batch size;
   steps 1 and 2 run ``--rounds`` times, their order alternating (the machine may be shared), and
   the median and minimum count; one torch thread by default, as thread barriers stall badly when
   other processes compete for the cores;
3. harness again on the last round's cache: the cached re-run;
4. optionally lm-eval once at its default batch size 1 (``--lm-eval-default``).

It checks that the greedy outputs are identical, and prints times, the ratio lm-eval / harness
(target >= 1.5), the cached re-run as a share of the first (target <= 5%) and the peak resident
memory added during each phase (sampled every 20 ms).

    python benchmarks/eval.py [--items 100] [--max-new-tokens 48] [--batch-size auto] [--rounds 5] [--threads 1]
                              [--lm-eval-default]
"""

from __future__ import annotations

import argparse
import json
import statistics
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
    from harness.eval.suite import load_suite

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


def cpu_seconds() -> float:
    """User + system CPU time of this process."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    """Run both sides in alternating rounds and print the figures (Markdown)."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--batch-size", default="auto", help="harness batch size: N or auto")
    ap.add_argument("--lm-eval-batch-size", type=int, default=None, help="default: the harness's resolved size")
    ap.add_argument("--rounds", type=int, default=5, help="rounds, the order of the two sides alternating")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: stable timings on a shared machine)")
    ap.add_argument("--lm-eval-default", action="store_true", help="also run lm-eval once at its default batch size 1")
    args = ap.parse_args()

    import torch
    from lm_eval.models.huggingface import HFLM

    torch.set_num_threads(args.threads)

    from harness.eval.cache import GenerationCache
    from harness.eval.evaluate import evaluate_suite
    from harness.eval.suite import load_suite
    from harness.models.base import GenerationRequest
    from harness.models.factory import make_generator
    from harness.models.spec import parse_spec

    tmp = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    suite = load_suite(build_suite(tmp / "suite", args.items))
    suite.generation.max_new_tokens = args.max_new_tokens
    folder = parse_spec("smollm2-135m").weights_folder()
    bs: int | str = "auto" if args.batch_size == "auto" else int(args.batch_size)

    with PeakRSS() as m_load_h:
        gen = make_generator("smollm2-135m", batch_size=bs)  # type: ignore[arg-type]
    contexts = [gen.render(it.prompt or "", suite.generation) for it in suite.items]
    lens = [len(x) for x in gen._encode(contexts)]
    resolved = gen.resolve_batch_size(len(lens), max(lens), args.max_new_tokens)
    lm_bs = args.lm_eval_batch_size or resolved
    with PeakRSS() as m_load_l:
        lm = HFLM(pretrained=str(folder), backend="causal", batch_size=lm_bs, device="cpu", dtype="float32")

    warm = suite.generation.model_copy(update={"max_new_tokens": 2})
    list(gen.generate([GenerationRequest("w", suite.items[0].prompt or "")], warm))
    run_lm_eval(lm, contexts[:1], 2)

    t_h, t_l, c_h, c_l, mem_h, mem_l = [], [], [], [], [], []
    outputs_h: list[list[str]] = []
    outputs_l: list[list[str]] = []
    cache = None
    for r in range(args.rounds):
        for side in ("harness", "lm-eval") if r % 2 == 0 else ("lm-eval", "harness"):
            if side == "harness":
                cache = GenerationCache(tmp / f"cache-{r}.sqlite")
                with PeakRSS() as m:
                    t0, c0 = time.perf_counter(), cpu_seconds()
                    run = evaluate_suite(suite, gen, cache=cache)
                    t_h.append(time.perf_counter() - t0)
                    c_h.append(cpu_seconds() - c0)
                mem_h.append(m.added_mib)
                outputs_h.append([it.output for it in run.items])
            else:
                with PeakRSS() as m:
                    t0, c0 = time.perf_counter(), cpu_seconds()
                    outputs_l.append(run_lm_eval(lm, contexts, args.max_new_tokens))
                    t_l.append(time.perf_counter() - t0)
                    c_l.append(cpu_seconds() - c0)
                mem_l.append(m.added_mib)
        print(f"round {r + 1}: harness {t_h[-1]:.1f} s, lm-eval {t_l[-1]:.1f} s", flush=True)
    assert cache is not None
    t0 = time.perf_counter()
    again = evaluate_suite(suite, gen, cache=cache)
    t_c = time.perf_counter() - t0
    assert all(it.cached for it in again.items)

    ours, peer = outputs_h[0], outputs_l[0]
    stable = all(o == ours for o in outputs_h) and all(o == peer for o in outputs_l)
    same = sum(a == b for a, b in zip(ours, peer, strict=True))
    diff = [(it.id, a, b) for it, a, b in zip(suite.items, ours, peer, strict=True) if a != b]
    tokens = sum(len(x) for x in gen._encode(ours, templated=True))

    t_d = same1 = None
    if args.lm_eval_default and lm_bs != 1:
        lm1 = HFLM(pretrained=str(folder), backend="causal", batch_size=1, device="cpu", dtype="float32")
        run_lm_eval(lm1, contexts[:1], 2)
        t0 = time.perf_counter()
        peer1 = run_lm_eval(lm1, contexts, args.max_new_tokens)
        t_d = time.perf_counter() - t0
        same1 = sum(a == b for a, b in zip(ours, peer1, strict=True))

    med = statistics.median
    print()
    print(
        f"lm-eval {version('lm_eval')}, transformers {version('transformers')}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; {len(ours)} prompts, max_new_tokens {args.max_new_tokens}, "
        f"{tokens} output tokens, greedy; {args.rounds} rounds (order alternating): median and minimum"
    )
    print(f"identical outputs harness vs lm-eval (batch {lm_bs}): {same}/{len(ours)}; stable across rounds: {stable}")
    for rid, a, b in diff[:3]:
        print(f"  differs {rid}: harness {a[:70]!r} | lm-eval {b[:70]!r}")
    print()
    print(
        "| run | batch size | wall s, median (min) | CPU s, median | output tokens/s | peak RSS added MiB | "
        "lm-eval / harness, median (min) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    h, lw = med(t_h), med(t_l)
    print(
        f"| harness, empty cache | {bs} ({resolved}) | {h:.1f} ({min(t_h):.1f}) | {med(c_h):.1f} | "
        f"{tokens / h:.1f} | {max(mem_h):.0f} | 1.00 |"
    )
    print(
        f"| lm-eval generate_until | {lm_bs} | {lw:.1f} ({min(t_l):.1f}) | {med(c_l):.1f} | {tokens / lw:.1f} | "
        f"{max(mem_l):.0f} | {lw / h:.2f} ({min(t_l) / min(t_h):.2f}) |"
    )
    if t_d is not None:
        print(f"| lm-eval generate_until, default batch | 1 | {t_d:.1f} | - | {tokens / t_d:.1f} | - | {t_d / h:.2f} |")
    print(f"| harness, cached re-run | - | {t_c:.2f} | - | - | - | {100 * t_c / h:.1f}% of the first run |")
    if same1 is not None:
        print(f"\nidentical outputs harness vs lm-eval at batch size 1: {same1}/{len(ours)}")
    print(f"model load RSS added: harness {m_load_h.added_mib:.0f} MiB, lm-eval {m_load_l.added_mib:.0f} MiB")
    print(f"wall times per round: harness {[round(x, 1) for x in t_h]}, lm-eval {[round(x, 1) for x in t_l]}")


if __name__ == "__main__":
    main()
