"""harness train on the tiny model: preflight, run folder, manifest, resume, full weights, DPO, CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from harness.errors import ConfigError, InputFileError, ModelError
from harness.models.loading import load_causal_lm, load_tokenizer
from harness.models.spec import parse_spec
from harness.models.weights import file_hash
from harness.train.config import load_config
from harness.train.runner import load_model, train

ROOT = Path(__file__).parent.parent


def _rows(n: int, start: int = 0) -> str:
    return "".join(
        json.dumps({"id": f"x{i}", "prompt": f"What is {i} plus {i}?", "completion": f"The answer is {2 * i}."}) + "\n"
        for i in range(start, start + n)
    )


@pytest.fixture
def project(tmp_path, tiny_model_dir):
    (tmp_path / "train.jsonl").write_text(_rows(16))
    (tmp_path / "eval.jsonl").write_text(_rows(4, start=100))
    prefs = [{"id": f"p{i}", "prompt": f"Say {i}", "chosen": f"{i}", "rejected": f"no, {i + 1} yes"} for i in range(8)]
    (tmp_path / "prefs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in prefs))
    (tmp_path / "sft.yaml").write_text(
        f"base_model: {tiny_model_dir}\ntrain_data: train.jsonl\neval_data: eval.jsonl\n"
        "max_steps: 4\nbatch_size: 4\nsave_steps: 2\nmax_length: 64\nlearning_rate: 1.0e-3\n"
    )
    (tmp_path / "dpo.yaml").write_text(
        f"base_model: {tiny_model_dir}\nmethod: dpo\ntrain_data: prefs.jsonl\neval_data: prefs.jsonl\n"
        "max_steps: 2\nbatch_size: 4\nmax_length: 64\nlearning_rate: 1.0e-3\n"
    )
    return tmp_path


@pytest.fixture
def sft_run(project):
    cfg = load_config(project / "sft.yaml")
    result = train(cfg, project / "run", config_source=project / "sft.yaml")
    assert result.status == "trained"
    return project / "run", cfg, result


def test_run_folder_layout_and_manifest(sft_run, tiny_model_dir):
    run, cfg, result = sft_run
    for name in (
        "manifest.json",
        "config.yaml",
        "validation.json",
        "train_log.jsonl",
        "loss.png",
        "model_card.md",
        "tokenizer_config.json",
        "chat_template.jinja",
        "adapter/adapter_model.safetensors",
    ):
        assert (run / name).is_file(), name
    assert any((run / "checkpoints").glob("checkpoint-*"))
    m = json.loads((run / "manifest.json").read_text())
    assert m == result.manifest
    assert m["kind"] == "harness.train/v1" and m["base_model"] == str(tiny_model_dir)
    assert m["train_data"] == [str(project_file) for project_file in cfg.train_data]
    assert m["train_data_hashes"] == {str(cfg.train_data[0]): file_hash(cfg.train_data[0])}
    assert m["base_model_hashes"]["model.safetensors"] == file_hash(tiny_model_dir / "model.safetensors")
    assert m["seed"] == 42 and m["config_hash"] == cfg.fingerprint()
    assert m["versions"]["torch"] and m["versions"]["transformers"] and m["versions"]["peft"]
    assert "commit" in m["git"]
    assert m["results"]["global_step"] == 4 and isinstance(m["results"]["eval_loss"], float)
    assert m["results"]["trained_tokens"] == m["data"]["n_trained_tokens"]  # 4 steps x 4 = the 16 examples once
    assert m["data"]["n_kept"] == 16 and m["data"]["n_dropped"] == 0
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4]
    assert any("eval_loss" in r for r in log)
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved == cfg.model_dump(mode="json")
    assert json.loads((run / "validation.json").read_text())["schema"] == "harness.validation/v1"
    card = (run / "model_card.md").read_text()
    assert "train.jsonl" in card and file_hash(cfg.train_data[0]) in card
    assert "leakage into evaluation data was not checked" in card
    assert f"{m['results']['eval_loss']:.4f}" in card


def test_run_folder_is_a_model_spec_with_the_training_template(sft_run, tiny_model_dir):
    run, _, _ = sft_run
    spec = parse_spec(str(run))
    assert spec.kind == "run" and spec.base is not None and spec.base.path == tiny_model_dir
    tok = load_tokenizer(spec)
    assert tok.chat_template == (run / "chat_template.jinja").read_text()
    # The prompt eval will send is exactly the masked prefix training saw.
    from harness.records import SFTRecord
    from harness.train.collate import IGNORE, encode_sft

    ex, _ = encode_sft(SFTRecord(id="a", line=1, prompt="What is 1 plus 1?", completion="2"), tok, max_length=64)
    n = next(i for i, lab in enumerate(ex.labels) if lab != IGNORE)
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "What is 1 plus 1?"}], tokenize=False, add_generation_prompt=True
    )
    assert tok.decode(ex.input_ids[:n]) == prompt
    model = load_causal_lm(spec)
    base = load_causal_lm(parse_spec(str(tiny_model_dir)))
    ids = torch.tensor([ex.input_ids])
    with torch.no_grad():
        assert not torch.allclose(model(input_ids=ids).logits, base(input_ids=ids).logits)


def test_plain_template_is_recorded_for_eval(project):
    from harness.train.collate import PLAIN_TEMPLATE

    cfg = load_config(project / "sft.yaml", overrides=["chat_template=plain", "max_steps=1", "eval_data=null"])
    train(cfg, project / "plain")
    assert load_tokenizer(parse_spec(str(project / "plain"))).chat_template == PLAIN_TEMPLATE


def test_preflight_blocks_on_error_findings_unless_allowed(project):
    (project / "bad.jsonl").write_text(_rows(6) + json.dumps({"id": "empty", "prompt": "Hi", "completion": ""}) + "\n")
    cfg = load_config(project / "sft.yaml", overrides=[f"train_data={project / 'bad.jsonl'}", "max_steps=1"])
    blocked = train(cfg, project / "blocked")
    assert blocked.status == "blocked" and blocked.preflight.blocking == 1
    doc = json.loads((project / "blocked" / "validation.json").read_text())
    assert [f["check"] for f in doc["findings"] if f["severity"] == "error"] == ["schema.empty_field"]
    assert not (project / "blocked" / "adapter").exists() and not (project / "blocked" / "manifest.json").exists()
    allowed = train(cfg, project / "allowed", allow_findings=True)
    assert allowed.status == "trained"
    assert allowed.manifest["preflight"]["allowed_findings"] is True
    assert "--allow-findings" in (project / "allowed" / "model_card.md").read_text()


def test_resume_continues_with_the_same_data_order(project):
    cfg = load_config(project / "sft.yaml", overrides=["eval_data=null", "max_steps=4", "save_steps=2"])
    straight = train(cfg, project / "a")
    assert straight.status == "trained"
    # Simulate a crash after the step-2 checkpoint: drop everything written later.
    shutil.copytree(project / "a", project / "b")
    b = project / "b"
    shutil.rmtree(b / "checkpoints" / "checkpoint-4")
    shutil.rmtree(b / "adapter")
    (b / "manifest.json").unlink()
    with pytest.raises(InputFileError, match="already exists"):
        train(cfg, b)
    changed = load_config(project / "sft.yaml", overrides=["eval_data=null", "max_steps=4", "save_steps=2", "seed=1"])
    with pytest.raises(ConfigError, match="seed"):
        train(changed, b, resume=True)
    resumed = train(cfg, b, resume=True)
    assert resumed.manifest["results"]["resumed"] is True
    log_a = [json.loads(x) for x in (project / "a" / "train_log.jsonl").read_text().splitlines()]
    log_b = [json.loads(x) for x in (b / "train_log.jsonl").read_text().splitlines()]
    losses_a = {r["step"]: r["loss"] for r in log_a if "loss" in r}
    losses_b = [(r["step"], r["loss"]) for r in log_b if "loss" in r]
    assert [s for s, _ in losses_b] == [1, 2, 3, 4]  # each step logged once
    for step, loss in losses_b:
        assert loss == pytest.approx(losses_a[step], rel=1e-6), step
    from safetensors.torch import load_file

    wa = load_file(project / "a" / "adapter" / "adapter_model.safetensors")
    wb = load_file(b / "adapter" / "adapter_model.safetensors")
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-6, atol=1e-7)


def test_resume_needs_a_checkpoint(project):
    cfg = load_config(project / "sft.yaml")
    (project / "empty").mkdir()
    with pytest.raises(InputFileError, match=r"config\.yaml"):
        train(cfg, project / "empty", resume=True)


def test_full_fine_tuning_writes_model_folder_loaded_without_peft(project, tiny_model_dir):
    cfg = load_config(project / "sft.yaml", overrides=["adapter=full", "max_steps=2", "eval_data=null"])
    train(cfg, project / "full")
    run = project / "full"
    assert (run / "model" / "model.safetensors").is_file() and not (run / "adapter").exists()
    model = load_causal_lm(parse_spec(str(run)))
    assert type(model).__name__ == "LlamaForCausalLM"
    base = load_causal_lm(parse_spec(str(tiny_model_dir)))
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        assert not torch.allclose(model(input_ids=ids).logits, base(input_ids=ids).logits)


def test_qlora_without_cuda_names_what_is_missing(project):
    cfg = load_config(project / "sft.yaml", overrides=["adapter=qlora"])
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ModelError, match="CUDA") as info:
        load_model(cfg)
    assert "bitsandbytes" in str(info.value) and "adapter: lora" in str(info.value)


@pytest.mark.parametrize("loss", ["sigmoid", "ipo"])
def test_dpo_run_logs_rewards(project, loss):
    cfg = load_config(project / "dpo.yaml", overrides=[f"dpo.loss={loss}"])
    result = train(cfg, project / f"dpo-{loss}")
    m = result.manifest
    assert m["method"] == "dpo" and isinstance(m["results"]["eval_loss"], float)
    log = [json.loads(x) for x in (project / f"dpo-{loss}" / "train_log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "loss" in r]
    assert len(steps) == 2
    for key in ("rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins"):
        assert all(key in r for r in steps), key
    assert "eval_rewards/accuracies" in m["results"]["dpo"]


def test_dpo_full_uses_precomputed_reference(project):
    cfg = load_config(project / "dpo.yaml", overrides=["adapter=full", "eval_data=null", "max_steps=1"])
    result = train(cfg, project / "dpo-full")
    first = next(json.loads(x) for x in (project / "dpo-full" / "train_log.jsonl").read_text().splitlines())
    # At step 1 the policy is the reference: rewards are 0 and the loss is log 2.
    assert first["loss"] == pytest.approx(0.693147, abs=1e-4)
    assert abs(first["rewards/margins"]) < 1e-4
    assert (project / "dpo-full" / "model" / "model.safetensors").is_file() and result.status == "trained"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=cwd, timeout=600, env=env
    )


def test_cli_json_and_exit_codes(project):
    r = _cli("train", "sft.yaml", "--out", "cli-run", "--set", "max_steps=1", "--json", cwd=project)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["kind"] == "harness.train/v1"  # stdout holds only the document
    (project / "bad.jsonl").write_text(json.dumps({"prompt": "Hi", "completion": " "}) + "\n")
    r = _cli("train", "sft.yaml", "--set", "train_data=bad.jsonl", "--out", "cli-bad", cwd=project)
    assert r.returncode == 1 and "schema.empty_field" in r.stderr and "--allow-findings" in r.stderr
    r = _cli("train", "sft.yaml", "--set", "lora.rank=4", cwd=project)
    assert r.returncode == 2 and "lora.rank" in r.stderr and "Traceback" not in r.stderr


def test_preflight_checks_leakage_into_holdout_suites(project):
    suite = project / "suites" / "arith"
    suite.mkdir(parents=True)
    (suite / "suite.yaml").write_text("name: arith\nitems: items.jsonl\n")
    (suite / "items.jsonl").write_text(
        json.dumps({"id": "h1", "prompt": "What is 3 plus 3?", "reference": "6"}) + "\n"
        + json.dumps({"id": "h2", "prompt": "Name a colour of the sky at noon.", "reference": "blue"}) + "\n"
    )
    cfg = load_config(project / "sft.yaml", overrides=[f"holdouts=[{suite}]", "max_steps=1", "eval_data=null"])
    blocked = train(cfg, project / "leaky")
    assert blocked.status == "blocked" and blocked.preflight.leakage_checked
    doc = json.loads((project / "leaky" / "validation.json").read_text())
    leaks = [f for f in doc["findings"] if f["check"].startswith("leakage.") and f["severity"] == "error"]
    assert leaks and leaks[0]["ids"] == ["x3"] and leaks[0]["holdout_ids"] == ["h1"]
    assert doc["holdouts"] == [str(suite)]
    allowed = train(cfg, project / "leaky-allowed", allow_findings=True)
    assert allowed.manifest["holdouts"] == [str(suite)] and allowed.manifest["preflight"]["leakage_checked"]
    card = (project / "leaky-allowed" / "model_card.md").read_text()
    assert str(suite) in card and "leakage" in card and "not checked" not in card


def test_gradient_accumulation_weighs_every_token_alike(project):
    """Batch 4 in one step and 2 x 2 accumulated give the same loss and gradient norm."""

    def first_step(run: str, *overrides: str) -> dict:
        cfg = load_config(project / "sft.yaml", overrides=["eval_data=null", "max_steps=1", *overrides])
        train(cfg, project / run)
        return next(json.loads(x) for x in (project / run / "train_log.jsonl").read_text().splitlines())

    # Examples of different completion lengths, so a per-micro-batch mean would weigh tokens unequally.
    rows = [
        {"id": f"v{i}", "prompt": f"Count to {i}.", "completion": " ".join(str(k) for k in range(i + 1))}
        for i in range(8)
    ]
    (project / "uneven.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = f"train_data={project / 'uneven.jsonl'}", "lora.dropout=0"  # no dropout: no randomness
    whole = first_step("ga1", *data, "batch_size=4", "gradient_accumulation_steps=1")
    split = first_step("ga2", *data, "batch_size=2", "gradient_accumulation_steps=2")
    assert split["loss"] == pytest.approx(whole["loss"], rel=1e-5)
    assert split["grad_norm"] == pytest.approx(whole["grad_norm"], rel=1e-4)
