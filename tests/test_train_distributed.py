"""`torchrun --nproc_per_node 2 -m harness train` on CPU: DDP over gloo, as the Trainer sets it up."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_torchrun_two_processes_share_one_epoch(tmp_path, tiny_model_dir):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    assert torchrun, "torchrun ships with torch"
    rows = [
        {"id": f"x{i}", "prompt": f"What is {i} plus {i}?", "completion": f"The answer is {2 * i}."} for i in range(16)
    ]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "c.yaml").write_text(
        f"base_model: {tiny_model_dir}\ntrain_data: train.jsonl\nmax_steps: 4\nbatch_size: 2\nsave_steps: 2\n"
        "max_length: 64\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    r = subprocess.run(
        [
            torchrun,
            "--nproc_per_node",
            "2",
            "--master_port",
            str(_free_port()),
            "-m",
            "harness",
            "train",
            "c.yaml",
            "--out",
            "run",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["world_size"] == 2
    # 4 steps x 2 examples x 2 processes = the 16 examples once each: the ranks split the data.
    assert m["results"]["epochs"] == pytest.approx(1.0)
    assert m["results"]["trained_tokens"] == m["data"]["n_trained_tokens"]
    log = [json.loads(x) for x in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in log if "loss" in x] == [1, 2, 3, 4]
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").is_file()
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["checkpoint-2", "checkpoint-4"]
    assert r.stderr.count("trained 4 steps") == 1  # one process reports
