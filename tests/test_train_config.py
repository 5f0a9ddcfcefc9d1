"""TrainConfig: YAML loading, --set overrides, errors naming file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError, InputFileError
from harness.train.config import TrainConfig, check_paths, load_config

ROOT = Path(__file__).parent.parent


@pytest.fixture
def cfg_dir(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.jsonl").write_text('{"prompt": "a", "completion": "b"}\n')
    return tmp_path


def write(d: Path, text: str) -> Path:
    p = d / "c.yaml"
    p.write_text(text)
    return p


def test_paths_resolve_relative_to_the_config_file(cfg_dir, monkeypatch, tmp_path_factory):
    p = write(cfg_dir, "base_model: smollm2-135m\ntrain_data: data/train.jsonl\n")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    cfg = load_config(p)
    assert cfg.train_data == [(cfg_dir / "data" / "train.jsonl").resolve()]
    assert cfg.base_model == "smollm2-135m"  # an alias stays as given
    check_paths(cfg)


def test_set_overrides_parse_yaml_values_and_paths_relative_to_cwd(cfg_dir, monkeypatch):
    p = write(cfg_dir, "base_model: smollm2-135m\ntrain_data: data/train.jsonl\nholdouts: [x]\n")
    monkeypatch.chdir(cfg_dir / "data")
    cfg = load_config(p, overrides=["lora.r=4", "dpo.beta=0.25", "holdouts=[]", "eval_data=train.jsonl", "max_steps=3"])
    assert (cfg.lora.r, cfg.dpo.beta, cfg.holdouts, cfg.max_steps) == (4, 0.25, [], 3)
    assert cfg.eval_data == (cfg_dir / "data" / "train.jsonl").resolve()


@pytest.mark.parametrize(
    ("text", "overrides", "where", "field", "message"),
    [
        (
            "base_model: m\ntrain_data: t.jsonl\nlearning_rat: 0.1\n",
            [],
            ("c.yaml", 3),
            "learning_rat",
            "Did you mean 'learning_rate'",
        ),
        ("base_model: m\ntrain_data: t.jsonl\nlora:\n  r: 0\n", [], ("c.yaml", 4), "lora.r", "greater than 0"),
        ("base_model: m\ntrain_data: t.jsonl\nmethod: ppo\n", [], ("c.yaml", 3), "method", "'sft', 'dpo'"),
        ("base_model: m\n", [], ("c.yaml", None), "train_data", "required key is missing"),
        ("base_model: m\ntrain_data: t.jsonl\n", ["adapter=qlor"], ("--set", None), "adapter", "'lora', 'qlora'"),
        ("base_model: m\ntrain_data: t.jsonl\n", ["dpo.loss=cdpo"], ("--set", None), "dpo", "label_smoothing > 0"),
        (
            "base_model: m\ntrain_data: t.jsonl\ndpo:\n  label_smoothing: 0.1\n",
            [],
            ("c.yaml", 3),
            "dpo",
            "only used by loss 'cdpo'",
        ),
        (
            "base_model: m\ntrain_data: t.jsonl\nmethod: dpo\ncompletion_only_loss: false\n",
            [],
            ("c.yaml", None),
            None,
            "completion_only_loss",
        ),
    ],
)
def test_errors_name_file_line_and_key(tmp_path, text, overrides, where, field, message):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(p, overrides=overrides)
    err = info.value
    assert Path(err.file).name == where[0]
    if where[1] is not None:
        assert err.line == where[1]
    assert err.field == field
    assert message in str(err)


def test_invalid_yaml_and_bad_override(tmp_path):
    p = write(tmp_path, "base_model: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(p)
    with pytest.raises(ConfigError, match="key=value"):
        load_config(write(tmp_path, "base_model: m\ntrain_data: t\n"), overrides=["max_steps"])
    with pytest.raises(InputFileError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("base_model: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8") as info:
        load_config(latin1)
    assert Path(info.value.file) == latin1


def test_missing_holdout_fails_clearly_naming_the_key(cfg_dir):
    p = write(cfg_dir, "base_model: m\ntrain_data: data/train.jsonl\nholdouts: [suites/nope]\n")
    cfg = load_config(p)
    with pytest.raises(InputFileError) as info:
        check_paths(cfg)
    assert info.value.field == "holdouts[0]" and "does not exist" in str(info.value)
    assert Path(info.value.file).name == "c.yaml"


def test_resolved_config_round_trips(cfg_dir):
    cfg = load_config(write(cfg_dir, "base_model: m\ntrain_data: data/train.jsonl\ndpo: {loss: ipo, beta: 0.2}\n"))
    again = TrainConfig.model_validate(__import__("yaml").safe_load(cfg.to_yaml()))
    assert again.model_dump() == cfg.model_dump() and again.fingerprint() == cfg.fingerprint()


@pytest.mark.parametrize("name", ["train_tickets.yaml", "train_dpo.yaml"])
def test_example_configs_load(name):
    cfg = load_config(ROOT / "examples" / name)
    assert cfg.base_model == "smollm2-135m"
    assert all(p.is_file() for p in cfg.train_data)
    # Holdout suites are listed; a missing one fails clearly rather than being skipped.
    assert cfg.holdouts
    missing = [h for h in cfg.holdouts if not h.is_dir()]
    if missing:
        with pytest.raises(InputFileError, match="does not exist"):
            check_paths(cfg)
    else:
        check_paths(cfg)
