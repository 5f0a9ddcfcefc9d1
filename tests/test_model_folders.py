"""Broken and hostile model folders: an error naming the file (exit 2), never pickle, never remote code.

Issue 14, parts 1 and 3. The hostile ``.bin`` files here are real pickles whose unpickling would
create a marker file (``__reduce__`` calling ``pathlib.Path.touch``): every test asserts the
marker never appears, so a loader that reads them would be caught, not just a missing message.
"""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import ModelError
from harness.models.spec import parse_spec

ROOT = Path(__file__).parent.parent


class _Touch:
    """Unpickling this calls ``Path(marker).touch()``: code run by loading a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def hostile_pickle(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps({"weight": _Touch(marker)}))
    return path


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=ROOT, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
    )  # fmt: skip


def test_the_hostile_pickle_really_runs_code(tmp_path):
    # the oracle: were these files unpickled, the marker would appear
    marker = tmp_path / "ran"
    pickle.loads(hostile_pickle(tmp_path / "x.bin", marker).read_bytes())
    assert marker.exists()


def _copy_without_weights(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.safetensors"))
    return dst


@pytest.fixture
def adapter_bin_only(tmp_path: Path, tiny_model_dir: Path) -> tuple[Path, Path]:
    """A PEFT adapter folder whose only weights are a hostile adapter_model.bin."""
    marker = tmp_path / "adapter-pickle-ran"
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "base_model_name_or_path": str(tiny_model_dir), "task_type": "CAUSAL_LM",
        "r": 2, "lora_alpha": 4, "target_modules": ["q_proj"],
    }))  # fmt: skip
    hostile_pickle(folder / "adapter_model.bin", marker)
    return folder, marker


def test_adapter_with_only_a_bin_is_refused(adapter_bin_only):
    from harness.models.loading import load_causal_lm

    folder, marker = adapter_bin_only
    with pytest.raises(ModelError, match="--allow-pickle") as info:
        load_causal_lm(parse_spec(str(folder)))
    assert info.value.file == str(folder / "adapter_model.bin")
    assert not marker.exists()


def test_adapter_bin_refused_by_eval_exit_2(adapter_bin_only, tmp_path):
    folder, marker = adapter_bin_only
    r = harness("eval", "suites/general", "--model", str(folder), "--limit", "1", "--no-cache", "--no-store")
    assert r.returncode == 2, r.stderr
    assert "adapter_model.bin" in r.stderr and "--allow-pickle" in r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert not marker.exists()


def test_base_with_only_pytorch_model_bin_is_refused(tmp_path, tiny_model_dir):
    from harness.models.loading import load_causal_lm

    folder = _copy_without_weights(tiny_model_dir, tmp_path / "base")
    marker = tmp_path / "base-pickle-ran"
    hostile_pickle(folder / "pytorch_model.bin", marker)
    with pytest.raises(ModelError, match=r"pytorch_model.bin.*--allow-pickle"):
        load_causal_lm(parse_spec(str(folder)))
    assert not marker.exists()


def test_reward_run_with_pickled_adapter_is_refused(tmp_path, tiny_model_dir, adapter_bin_only):
    from harness.eval.reward_model import load_reward_model

    adapter, marker = adapter_bin_only
    run = tmp_path / "rm-run"
    run.mkdir()
    shutil.copytree(adapter, run / "adapter")
    (run / "manifest.json").write_text(json.dumps({
        "kind": "harness.train/v1", "base_model": str(tiny_model_dir), "method": "reward", "adapter": "lora",
    }))  # fmt: skip
    with pytest.raises(ModelError, match=r"adapter_model.bin.*--allow-pickle"):
        load_reward_model(run)
    assert not marker.exists()


def test_corrupt_config_json_names_the_file(tmp_path, tiny_model_dir):
    folder = shutil.copytree(tiny_model_dir, tmp_path / "m")
    (folder / "config.json").write_text('{"model_type": "llama", ')
    with pytest.raises(ModelError, match="not valid JSON") as info:
        parse_spec(str(folder))
    assert info.value.file == str(folder / "config.json")


def test_corrupt_config_json_exit_2(tmp_path, tiny_model_dir):
    folder = shutil.copytree(tiny_model_dir, tmp_path / "m")
    (folder / "config.json").write_bytes(b"\xff\xfe garbage")
    r = harness("eval", "suites/general", "--model", str(folder), "--limit", "1", "--no-cache", "--no-store")
    assert r.returncode == 2, r.stderr
    assert str(folder / "config.json") in r.stderr and "Traceback" not in r.stderr


def test_no_tokenizer_names_the_folder(tmp_path, tiny_model_dir):
    from harness.models.loading import load_tokenizer

    folder = shutil.copytree(tiny_model_dir, tmp_path / "m", ignore=shutil.ignore_patterns("tokenizer*", "special*"))
    with pytest.raises(ModelError, match="no tokenizer") as info:
        load_tokenizer(parse_spec(str(folder)))
    assert info.value.file == str(folder)


def test_auto_map_with_unknown_model_type_never_runs_the_code(tmp_path, tiny_model_dir):
    from harness.models.loading import load_causal_lm

    folder = shutil.copytree(tiny_model_dir, tmp_path / "m")
    marker = tmp_path / "remote-code-ran"
    (folder / "modeling_evil.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n")
    cfg = json.loads((folder / "config.json").read_text())
    cfg |= {"model_type": "evil", "auto_map": {"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"}}
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match=r"unknown model_type 'evil'.*trust_remote_code stays off") as info:
        load_causal_lm(parse_spec(str(folder)))
    assert info.value.file == str(folder / "config.json") and info.value.field == "model_type"
    assert not marker.exists()


def test_adapter_config_that_is_not_json(tmp_path, tiny_model_dir):
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("base_model_name_or_path: not json\n")
    with pytest.raises(ModelError, match="not valid JSON") as info:
        parse_spec(str(folder))
    assert info.value.file == str(folder / "adapter_config.json")
    r = harness("eval", "suites/general", "--model", str(folder), "--no-store")
    assert r.returncode == 2 and "adapter_config.json" in r.stderr and "Traceback" not in r.stderr


def test_truncated_safetensors_is_a_model_error(tmp_path, tiny_model_dir):
    from harness.models.loading import load_causal_lm

    folder = shutil.copytree(tiny_model_dir, tmp_path / "m")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelError, match="cannot load the model") as info:
        load_causal_lm(parse_spec(str(folder)))
    assert info.value.file == str(folder)
