"""harness train vs TRL's SFTTrainer: the same LoRA SFT run on the same data, in one invocation.

    python benchmarks/train.py [--steps 6] [--batch-size 8] [--examples 64]

Both train the bundled SmolLM2-135M-Instruct with the same LoRA adapter (r 16, alpha 32,
dropout 0.05, all linear layers), learning rate, batch size, max length, seed and number of
optimizer steps, on the demo ticket data (planted problems removed), with loss on the completion
only and no gradient checkpointing. Each side runs in its own fresh process (spawned one after the
other) so that its peak resident memory (VmHWM) is its own. Throughput is target (completion)
tokens per second of training time as each trainer reports it (``train_runtime``); the target
tokens are counted once, with harness's masking, and are the same examples for both sides, so
the ratio is the ratio of training times.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

LORA = {"r": 16, "alpha": 32, "dropout": 0.05}
LR = 5e-4
MAX_LENGTH = 256


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def clean_rows(n: int) -> list[dict[str, Any]]:
    """The first ``n`` demo examples that ``harness validate`` raises nothing about."""
    from harness.validate import validate_file

    path = ROOT / "examples" / "tickets_train.jsonl"
    flagged = {i for f in validate_file(path).findings if f.severity != "info" for i in f.ids}
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return [r for r in rows if r["id"] not in flagged][:n]


def run_harness(data: str, out: str, steps: int, batch: int) -> dict[str, Any]:
    """This project's runner on the data."""
    from harness.train.config import load_config
    from harness.train.runner import train

    cfg = load_config(
        ROOT / "examples" / "train_tickets.yaml",
        overrides=[
            f"train_data={data}",
            "holdouts=[]",
            "eval_data=null",
            f"max_steps={steps}",
            f"batch_size={batch}",
            f"max_length={MAX_LENGTH}",
            f"learning_rate={LR}",
            f"lora.r={LORA['r']}",
            f"lora.alpha={LORA['alpha']}",
            f"lora.dropout={LORA['dropout']}",
            f"save_steps={steps}",
            "warmup=0",
            "lr_scheduler=linear",
        ],
    )
    result = train(cfg, Path(out) / "harness-run")
    assert result.manifest is not None
    res = result.manifest["results"]
    return {
        "seconds": res["train_seconds"],
        "runtime": json.loads((Path(out) / "harness-run" / "train_log.jsonl").read_text().splitlines()[-1])[
            "train_runtime"
        ],
        "final_loss": res["final_train_loss"],
        "peak_rss_mib": _peak_rss_mib(),
    }


def run_trl(data: str, out: str, steps: int, batch: int) -> dict[str, Any]:
    """TRL's SFTTrainer on the same conversations."""
    import datasets
    import torch
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from harness.models.loading import load_causal_lm, load_tokenizer
    from harness.models.spec import parse_spec

    rows = [json.loads(x) for x in Path(data).read_text().splitlines()]
    ds = datasets.Dataset.from_list(
        [
            {
                "prompt": [{"role": "user", "content": r["prompt"]}],
                "completion": [{"role": "assistant", "content": r["completion"]}],
            }
            for r in rows
        ]
    )
    model = load_causal_lm(parse_spec("smollm2-135m"))
    model.train()
    tok = load_tokenizer(parse_spec("smollm2-135m"))
    args = SFTConfig(
        output_dir=str(Path(out) / "trl-run"),
        max_steps=steps,
        per_device_train_batch_size=batch,
        learning_rate=LR,
        lr_scheduler_type="linear",
        max_length=MAX_LENGTH,
        completion_only_loss=True,
        gradient_checkpointing=False,
        bf16=False,
        use_cpu=not torch.cuda.is_available(),
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=42,
        dataloader_pin_memory=False,
        disable_tqdm=True,
    )
    peft = LoraConfig(
        r=LORA["r"],
        lora_alpha=LORA["alpha"],
        lora_dropout=LORA["dropout"],
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok, peft_config=peft)
    output = trainer.train()
    losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    return {
        "seconds": None,
        "runtime": output.metrics["train_runtime"],
        "final_loss": losses[-1],
        "peak_rss_mib": _peak_rss_mib(),
    }


def _child(name: str, queue: Any, *args: Any) -> None:
    import torch

    torch.manual_seed(0)
    fn = run_harness if name == "harness" else run_trl
    queue.put(fn(*args))


def _in_process(name: str, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, queue, *args))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    """Run both sides and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2, help="runs per side, alternating; the best time counts")
    opts = parser.parse_args()

    from harness.models.loading import load_tokenizer
    from harness.models.spec import parse_spec
    from harness.records import SFTRecord
    from harness.train.collate import encode_sft_records, resolve_chat_template

    rows = clean_rows(opts.examples)
    tok = load_tokenizer(parse_spec("smollm2-135m"))
    resolve_chat_template(tok, "auto")
    seen = min(opts.steps * opts.batch_size, len(rows))
    records = [
        SFTRecord(id=r["id"], line=i + 1, prompt=r["prompt"], completion=r["completion"]) for i, r in enumerate(rows)
    ]
    stats = encode_sft_records(records, tok, max_length=MAX_LENGTH).stats
    target_per_example = stats.n_trained_tokens / stats.n_kept
    target_tokens = target_per_example * opts.steps * opts.batch_size
    with tempfile.TemporaryDirectory() as tmp:
        data = str(Path(tmp) / "clean.jsonl")
        Path(data).write_text("".join(json.dumps(r) + "\n" for r in rows))
        runs: dict[str, list[dict[str, Any]]] = {"harness": [], "trl": []}
        for i in range(opts.repeats):
            # Alternate the order so a shared machine's load hits both sides alike.
            for name in ("harness", "trl") if i % 2 == 0 else ("trl", "harness"):
                out = Path(tmp) / f"{name}-{i}"
                runs[name].append(_in_process(name, data, str(out), opts.steps, opts.batch_size))
    ours = min(runs["harness"], key=lambda r: r["runtime"])
    peer = min(runs["trl"], key=lambda r: r["runtime"])
    import torch
    import trl

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, trl {trl.__version__}")
    print(
        f"data: {len(rows)} examples, {opts.steps} steps x batch {opts.batch_size} "
        f"({seen} examples seen), ~{target_per_example:.1f} target tokens/example, "
        f"~{stats.n_tokens / stats.n_kept:.0f} tokens/example"
    )
    for name, key, r in (("harness", "harness", ours), ("trl SFTTrainer", "trl", peer)):
        times = ", ".join(f"{x['runtime']:.1f}" for x in runs[key])
        print(
            f"{name:15s} train_runtime {r['runtime']:7.1f} s (runs: {times})  target tokens/s "
            f"{target_tokens / r['runtime']:7.1f}  peak RSS {r['peak_rss_mib']:7.0f} MiB  "
            f"last loss {r['final_loss']:.4f}"
        )
    print(
        f"ratio harness/trl: target tokens/s {peer['runtime'] / ours['runtime']:.2f}x, "
        f"peak memory {ours['peak_rss_mib'] / peer['peak_rss_mib']:.2f}x"
    )


if __name__ == "__main__":
    main()
