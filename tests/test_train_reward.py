"""Reward-model training: loss and gradients against TRL's RewardTrainer, pooling, the loss formula, a run."""

from __future__ import annotations

import math
from collections import defaultdict

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.records import PreferenceRecord
from harness.train.collate import encode_pair, resolve_chat_template
from harness.train.losses import bradley_terry_loss
from harness.train.reward import RewardCollator, RewardTrainer, sequence_rewards

PAIRS = [
    ("What is the capital of France?", "Paris is the capital of France.", "I cannot help with that request."),
    ("How do I reset my password?", "Open settings and choose reset.", "no"),
    ("I was charged twice for my order.", "Please refund the extra charge.", "The quick brown fox jumps."),
]
MARGINS = [1.0, 0.0, 2.0]


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    from transformers import AutoTokenizer

    t = AutoTokenizer.from_pretrained(tiny_model_dir)
    resolve_chat_template(t, "auto")
    return t


def _trl_trainer(tiny_model_dir, tmp_path, center: float | None):
    import datasets
    from peft import LoraConfig
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig
    from trl import RewardTrainer as TRLRewardTrainer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=1, dtype=torch.float32)
    data = datasets.Dataset.from_list(
        [
            {
                "prompt": [{"role": "user", "content": p}],
                "chosen": [{"role": "assistant", "content": c}],
                "rejected": [{"role": "assistant", "content": r}],
            }
            for p, c, r in PAIRS
        ]
    )
    args = RewardConfig(
        output_dir=str(tmp_path / "trl"),
        center_rewards_coefficient=center,
        report_to="none",
        per_device_train_batch_size=len(PAIRS),
        max_length=None,
        bf16=False,
        use_cpu=True,
    )
    peft = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear", task_type="SEQ_CLS")
    trainer = TRLRewardTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer, peft_config=peft)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # move the adapter off zero so the comparison covers LoRA, not only the head
        for name, p in trainer.model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    trainer.model.train()
    return trainer


def _encoded(tok):
    out = []
    for i, (p, c, r) in enumerate(PAIRS):
        pair, _ = encode_pair(
            PreferenceRecord(id=f"p{i}", line=i + 1, prompt=p, chosen=c, rejected=r), tok, max_length=512
        )
        out.append({"chosen_ids": pair.chosen_ids, "rejected_ids": pair.rejected_ids, "margin": MARGINS[i]})
    return out


def _ours(trainer, use_margin: bool, center: float | None):
    ours = RewardTrainer.__new__(RewardTrainer)  # only the loss code, on TRL's accelerator and model
    ours.accelerator = trainer.accelerator
    ours.use_margin, ours.center = use_margin, center
    ours._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
    ours._trained_tokens = 0
    return ours


def _grads(model, loss) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize(("use_margin", "center"), [(False, None), (True, None), (True, 0.01), (False, 0.5)])
def test_reward_loss_and_gradients_match_trl(tiny_model_dir, tmp_path, tok, use_margin, center):
    from trl.trainer.reward_trainer import DataCollatorForPreference

    trainer = _trl_trainer(tiny_model_dir, tmp_path, center)
    rows = _encoded(tok)
    trl_rows = rows if use_margin else [{k: v for k, v in r.items() if k != "margin"} for r in rows]
    trl_batch = DataCollatorForPreference(pad_token_id=tok.pad_token_id)(trl_rows)
    trl_loss = trainer.compute_loss(trainer.model, trl_batch)
    trl_grads = _grads(trainer.model, trl_loss)
    ours = _ours(trainer, use_margin, center)
    our_loss = ours.compute_loss(trainer.model, RewardCollator(tok.pad_token_id, use_margin=use_margin)(rows))
    our_grads = _grads(trainer.model, our_loss)
    assert abs(trl_loss.item() - math.log(2)) > 1e-3  # the head is not at zero: the test compares something
    torch.testing.assert_close(our_loss.detach(), trl_loss.detach(), rtol=1e-5, atol=1e-5)
    assert trl_grads.keys() == our_grads.keys() and any("score" in k for k in our_grads)
    for name in trl_grads:
        torch.testing.assert_close(
            our_grads[name], trl_grads[name], rtol=1e-5, atol=1e-5, msg=lambda m, n=name: f"{n}: {m}"
        )
    trl_metrics = {k: sum(v) / len(v) for k, v in trainer._metrics["train"].items()}
    for key in ("accuracy", "margin", "mean_reward"):
        assert ours._metrics["train"][key][0] == pytest.approx(trl_metrics[key], abs=1e-5), key
    assert tok.pad_token_id == trainer.model.config.pad_token_id  # pooling left the config as it was


def test_reward_is_pooled_at_each_rows_own_last_token_even_when_it_is_the_pad_token(tiny_model_dir, tok):
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=1, dtype=torch.float32).eval()
    pad = tok.pad_token_id
    seqs = [[5, 6, 7, pad], [8, 9], [10, 11, 12, 13, 14]]  # the first row ends with the pad token itself
    model.config.pad_token_id = pad
    batch = RewardCollator(pad)([{"chosen_ids": s, "rejected_ids": s} for s in seqs])
    with torch.no_grad():
        got = sequence_rewards(model, batch)[: len(seqs)]
        assert model.config.pad_token_id == pad  # restored
        # Reference: each row alone, with no pad id, so transformers pools at its last column.
        model.config.pad_token_id = None
        alone = [float(model(input_ids=torch.tensor([s])).logits[0, 0]) for s in seqs]
    torch.testing.assert_close(got, torch.tensor(alone), rtol=1e-5, atol=1e-5)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-20, 20), st.floats(-20, 20), st.floats(0, 3)), min_size=1, max_size=8),
    st.one_of(st.none(), st.floats(0.001, 1.0)),
)
def test_bradley_terry_against_plain_python(rows, center):
    c, r, m = (torch.tensor(col, dtype=torch.float64) for col in zip(*rows, strict=True))
    got = float(bradley_terry_loss(c, r, margin=m, center_coefficient=center))

    def softplus(x: float) -> float:
        return max(x, 0) + math.log1p(math.exp(-abs(x)))

    want = sum(softplus(-(a - b - mm)) for a, b, mm in rows) / len(rows)
    if center is not None:
        want += center * sum((a + b) ** 2 for a, b, _ in rows) / len(rows)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-9)


def _rankings_project(tmp_path, tiny_model_dir, *, ranks=(1, 3, 2)):
    import json

    rows = [
        {
            "prompt": f"Say {i}",
            "responses": [f"{i}", f"no, {i + 1} yes", f"maybe {i}"],
            "ranks": list(ranks),
            "rater_id": "a",
        }
        for i in range(8)
    ]
    (tmp_path / "rk.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "rm.yaml").write_text(
        f"base_model: {tiny_model_dir}\nmethod: reward\ntrain_data: rk.jsonl\nmax_steps: 2\nbatch_size: 4\n"
        "max_length: 64\nlearning_rate: 1.0e-3\nreward:\n  use_margin: true\npairs:\n  scheme: adjacent\n"
    )
    return tmp_path


def test_reward_run_from_rankings_records_the_conversion_and_reloads(tmp_path, tiny_model_dir):
    import json

    from harness.eval.reward_model import load_reward_model
    from harness.train.config import load_config
    from harness.train.runner import train

    project = _rankings_project(tmp_path, tiny_model_dir)
    result = train(load_config(project / "rm.yaml"), project / "run", config_source=project / "rm.yaml")
    assert result.status == "trained"
    manifest = json.loads((project / "run" / "manifest.json").read_text())
    assert manifest["method"] == "reward" and manifest["weights"] == "adapter"
    conv = manifest["pairs_from_rankings"][0]
    assert (conv["scheme"], conv["ties"], conv["n_rankings"], conv["n_pairs"]) == ("adjacent", "drop", 8, 16)
    assert manifest["results"]["reward"]["rewards/accuracy"] is not None
    assert "Bradley-Terry" in (project / "run" / "model_card.md").read_text()
    assert json.loads((project / "run" / "validation.json").read_text())["kind"] == "ranking"  # preflight ran
    rm = load_reward_model(project / "run")
    got = rm.score(["Say 1", "Say 1", "Say 2"], ["1", "no, 2 yes", "maybe 2"])
    # The same conversations scored one at a time give the same rewards (batching and padding change nothing).
    alone = [rm.score([p], [r])[0] for p, r in (("Say 1", "1"), ("Say 1", "no, 2 yes"), ("Say 2", "maybe 2"))]
    assert got == pytest.approx(alone, abs=1e-5)


def test_reward_run_with_no_pair_left_is_an_input_error(tmp_path, tiny_model_dir):
    from harness.errors import InputError
    from harness.train.config import load_config
    from harness.train.runner import train

    project = _rankings_project(tmp_path, tiny_model_dir, ranks=(1, 1, 1))
    with pytest.raises(InputError, match="no preference pair left") as exc:
        train(load_config(project / "rm.yaml"), project / "run")
    assert exc.value.field == "ranks" and exc.value.file.endswith("rk.jsonl")


def test_rm_eval_cli_gate_exit_codes(tmp_path, tiny_model_dir):
    import json
    import subprocess
    import sys

    from harness.train.config import load_config
    from harness.train.runner import train

    project = _rankings_project(tmp_path, tiny_model_dir)
    train(load_config(project / "rm.yaml"), project / "run")
    base = [sys.executable, "-m", "harness", "rm-eval", str(project / "run"), str(project / "rk.jsonl")]
    r = subprocess.run([*base, "--json", "--out", str(project / "ev")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "harness.reward_eval/v1" and doc["accuracy"]["n"] == 24 and doc["verdict"] is None
    assert (project / "ev" / "reliability.png").is_file() and (project / "ev" / "reward_eval.md").is_file()
    lo, hi = doc["accuracy"]["ci"]
    fail = subprocess.run([*base, "--min-accuracy", str(min(1.0, hi + 0.01))], capture_output=True, text=True)
    assert fail.returncode == (1 if hi + 0.01 <= 1.0 else 3)
    ok = subprocess.run([*base, "--min-accuracy", str(max(0.0, lo - 0.01))], capture_output=True, text=True)
    assert ok.returncode == 0
    bad = subprocess.run([*base, "--min-accuracy", "2"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
