"""Streaming sampled rows (``harness.models.hf_sample``) vs one plain ``model.generate`` call.

Sampled local batches run ``model.generate`` in a worker thread with a stopping criterion that
reports each row as it ends, so the caller can cache it at once. The peer is the plain call the
harness made before (the same seed, config and batch). Both sides sample 32 prompts x 48 new
tokens on the tiny random Llama built by ``harness.models.tiny`` (one torch thread), alternating,
7 rounds; the median and minimum count.

    python benchmarks/sample_stream.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    import torch
    from transformers import GenerationConfig

    from harness.models.factory import make_generator
    from harness.models.hf_sample import sample_rows
    from harness.models.tiny import build_tiny_model

    torch.set_num_threads(1)
    gen: Any = make_generator(str(build_tiny_model(Path(tempfile.mkdtemp()))), batch_size=64)
    prompts = [f"Item {i}: tell me something about number {i} " * (1 + i % 3) for i in range(32)]
    ids, mask = gen._pad(gen._encode(prompts, templated=False))
    cfg = GenerationConfig(max_new_tokens=48, do_sample=True, temperature=1.0, top_p=1.0,
                           eos_token_id=gen.eos_ids, pad_token_id=gen.tokenizer.pad_token_id)  # fmt: skip

    def direct() -> None:
        torch.manual_seed(0)
        with torch.inference_mode():
            gen.model.generate(input_ids=ids, attention_mask=mask, generation_config=cfg)

    def streamed() -> None:
        for _ in sample_rows(gen.model, ids, mask, cfg, gen.eos_ids, 0):
            pass

    times: dict[str, list[float]] = {"direct": [], "streamed": []}
    sides = [("direct", direct), ("streamed", streamed)]
    for r in range(7):
        for name, run in sides if r % 2 == 0 else reversed(sides):
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    for name, v in times.items():
        print(f"{name}: median {statistics.median(v) * 1000:.1f} ms, min {min(v) * 1000:.1f} ms")
    ratio = statistics.median(times["streamed"]) / statistics.median(times["direct"])
    print(f"streamed / direct (median): {ratio:.3f}")


if __name__ == "__main__":
    main()
