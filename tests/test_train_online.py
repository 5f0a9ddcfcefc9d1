"""Online RL (method: grpo / rloo) on TRL's trainers: the reward we name is the one used, KL per step."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.train.config import load_config
from harness.train.runner import train

ROOT = Path(__file__).parent.parent


def _project(tmp_path: Path, tiny_model_dir: Path, method: str, reward: str) -> Path:
    rows = [{"id": f"x{i}", "prompt": f"Say {i}", "completion": f"{i}"} for i in range(6)]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "on.yaml").write_text(
        f"base_model: {tiny_model_dir}\nmethod: {method}\ntrain_data: p.jsonl\nmax_steps: 2\nbatch_size: 4\n"
        f"max_length: 64\nlearning_rate: 1.0e-3\nonline:\n  reward: {reward}\n  num_generations: 2\n"
        "  max_completion_length: 6\n"
    )
    return tmp_path / "on.yaml"


@pytest.mark.parametrize(
    ("reward", "expected"), [("{type: regex, pattern: '.*'}", 1.0), ("{type: contains, value: 'zzqx'}", 0.0)]
)
def test_grpo_uses_the_named_scorer_and_records_kl_per_step(tmp_path, tiny_model_dir, reward, expected):
    config = _project(tmp_path, tiny_model_dir, "grpo", reward)
    result = train(load_config(config), tmp_path / "run", config_source=config)
    assert result.status == "trained"
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    o = m["online"]
    assert m["method"] == "grpo" and o["trainer"] == "trl.GRPOTrainer" and o["reward"]["type"] in ("regex", "contains")
    assert [r["step"] for r in o["kl_per_step"]] == [1, 2]
    assert all(math.isfinite(r["kl"]) and r["kl"] >= 0 for r in o["kl_per_step"])  # k3 is never negative
    assert [r["reward"] for r in o["reward_per_step"]] == [expected, expected]
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert sum("kl" in r for r in log) == 2
    assert (tmp_path / "run" / "adapter" / "adapter_config.json").is_file()
    assert "KL to the reference by step" in (tmp_path / "run" / "model_card.md").read_text()


def test_rloo_with_a_trained_reward_model(tmp_path, tiny_model_dir):
    from harness.models.loading import load_causal_lm
    from harness.models.spec import parse_spec

    prefs = [{"prompt": f"Say {i}", "chosen": f"{i}", "rejected": f"no {i}"} for i in range(4)]
    (tmp_path / "prefs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in prefs))
    (tmp_path / "rm.yaml").write_text(
        f"base_model: {tiny_model_dir}\nmethod: reward\ntrain_data: prefs.jsonl\nmax_steps: 1\nbatch_size: 4\n"
        "max_length: 64\n"
    )
    train(load_config(tmp_path / "rm.yaml"), tmp_path / "rm")
    config = _project(tmp_path, tiny_model_dir, "rloo", "{type: reward_model, model: rm}")
    result = train(load_config(config), tmp_path / "run", config_source=config)
    m = result.manifest
    assert m is not None and m["online"]["trainer"] == "trl.RLOOTrainer"
    assert m["online"]["reward"]["type"] == "reward_model" and m["online"]["reward"]["path"] == str(tmp_path / "rm")
    assert len(m["online"]["kl_per_step"]) == 2 and all(math.isfinite(r["kl"]) for r in m["online"]["kl_per_step"])
    rewards = [r["reward"] for r in m["online"]["reward_per_step"]]
    assert all(math.isfinite(r) for r in rewards) and rewards != [0.0, 0.0]  # raw reward-model outputs
    load_causal_lm(parse_spec(str(tmp_path / "run")))  # the run folder is a model spec like the others


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("", "needs an 'online' section"),
        ("online:\n  reward: {type: json_valid}\n  num_generations: 3\n", "multiple of online.num_generations"),
        ("online:\n  reward: {type: json_valid}\n  beta: 0\n", "greater than 0"),
    ],
)
def test_online_config_errors_name_the_key(tmp_path, extra, message):
    (tmp_path / "c.yaml").write_text(f"base_model: m\nmethod: grpo\ntrain_data: t.jsonl\nbatch_size: 4\n{extra}")
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "c.yaml")


@pytest.mark.e2e
def test_grpo_a_few_steps_on_the_bundled_model(tmp_path):
    config = ROOT / "examples" / "train_grpo.yaml"
    cfg = load_config(
        config,
        overrides=[
            "holdouts=[]",
            "max_steps=2",
            "batch_size=4",
            "online.num_generations=2",
            "online.max_completion_length=16",
            "online.reward={type: json_valid}",
        ],
    )
    result = train(cfg, tmp_path / "run", config_source=config)
    assert result.status == "trained" and result.manifest is not None
    kl = result.manifest["online"]["kl_per_step"]
    assert len(kl) == 2 and all(math.isfinite(r["kl"]) and r["kl"] >= 0 for r in kl)
