"""Losses against independent implementations: TRL's DPOTrainer and the model's own causal-LM loss."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import InputError
from harness.records import PreferenceRecord, SFTRecord
from harness.train.collate import PairCollator, SFTCollator, encode_pair, encode_sft, resolve_chat_template
from harness.train.losses import completion_nll, dpo_loss, logits_to_keep

PAIRS = [
    ("What is the capital of France?", "Paris is the capital of France.", "I cannot help with that request."),
    ("How do I reset my password?", "Open settings and choose reset.", "no"),
    (
        "I was charged twice for my order.",
        "Please refund the extra charge.",
        "The quick brown fox jumps over the lazy dog.",
    ),
]


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    from transformers import AutoTokenizer

    t = AutoTokenizer.from_pretrained(tiny_model_dir)
    resolve_chat_template(t, "auto")
    return t


def _perturb_lora(model, seed: int = 0) -> None:
    """A fresh LoRA adapter equals the base (B = 0); move it so policy and reference differ."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)


def _trl_trainer(tiny_model_dir, tmp_path, loss_type: str, beta: float):
    import datasets
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
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
    args = DPOConfig(
        output_dir=str(tmp_path / "trl"),
        beta=beta,
        loss_type=[loss_type],
        report_to="none",
        per_device_train_batch_size=len(PAIRS),
        max_length=None,
        bf16=False,
        use_cpu=True,
    )
    peft = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = DPOTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer, peft_config=peft)
    _perturb_lora(trainer.model)
    trainer.model.train()
    return trainer


def _pairs(tok, swap: bool = False):
    out = []
    for i, (p, c, r) in enumerate(PAIRS):
        rec = PreferenceRecord(id=f"p{i}", line=i + 1, prompt=p, chosen=r if swap else c, rejected=c if swap else r)
        pair, _ = encode_pair(rec, tok, max_length=512)
        out.append(pair)
    return out


def _trl_batch(pairs):
    """The same token sequences and completion masks in TRL's own collator (right padding)."""
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    rows = []
    for pair in pairs:
        n = pair.chosen_mask.index(1)
        m = pair.rejected_mask.index(1)
        assert n == m and pair.chosen_ids[:n] == pair.rejected_ids[:n]
        rows.append(
            {
                "prompt_ids": pair.chosen_ids[:n],
                "chosen_ids": pair.chosen_ids[n:],
                "rejected_ids": pair.rejected_ids[m:],
            }
        )
    return DataCollatorForPreference(pad_token_id=0)(rows)


def _our_loss(trainer, pairs, *, loss: str, beta: float, label_smoothing: float = 0.0):
    from harness.train.trainers import PreferenceTrainer

    batch = PairCollator(0)([p._asdict() for p in pairs])
    ours = PreferenceTrainer.__new__(PreferenceTrainer)  # only the loss code, on TRL's accelerator and model
    ours.accelerator = trainer.accelerator
    ours.beta, ours.loss_name, ours.label_smoothing = beta, loss, label_smoothing
    ours._metrics = {
        "train": __import__("collections").defaultdict(list),
        "eval": __import__("collections").defaultdict(list),
    }
    ours._trained_tokens = 0
    return ours.compute_loss(trainer.model, batch), ours


def _grads(model, loss) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _assert_close_grads(a, b):
    assert a.keys() == b.keys() and a
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-5, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.parametrize(("loss", "beta"), [("sigmoid", 0.1), ("sigmoid", 0.5), ("ipo", 0.1)])
def test_dpo_loss_and_gradients_match_trl(tiny_model_dir, tmp_path, tok, loss, beta):
    trainer = _trl_trainer(tiny_model_dir, tmp_path, loss, beta)
    pairs = _pairs(tok)
    trl_loss = trainer.compute_loss(trainer.model, _trl_batch(pairs))
    trl_grads = _grads(trainer.model, trl_loss)
    our_loss, ours = _our_loss(trainer, pairs, loss=loss, beta=beta)
    our_grads = _grads(trainer.model, our_loss)
    assert abs(trl_loss.item() - math.log(2)) > 1e-3  # the policy really differs from the reference
    torch.testing.assert_close(our_loss.detach(), trl_loss.detach(), rtol=1e-5, atol=1e-5)
    _assert_close_grads(our_grads, trl_grads)
    # Rewards logged as TRL logs them.
    trl_metrics = {k: sum(v) / len(v) for k, v in trainer._metrics["train"].items()}
    for key in ("rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins"):
        assert ours._metrics["train"][key][0] == pytest.approx(trl_metrics[key], abs=1e-5), key


def test_cdpo_is_the_label_flip_mixture_of_trl_sigmoid(tiny_model_dir, tmp_path, tok):
    eps, beta = 0.2, 0.3
    trainer = _trl_trainer(tiny_model_dir, tmp_path, "sigmoid", beta)
    straight = trainer.compute_loss(trainer.model, _trl_batch(_pairs(tok)))
    flipped = trainer.compute_loss(trainer.model, _trl_batch(_pairs(tok, swap=True)))
    trl_loss = (1 - eps) * straight + eps * flipped
    trl_grads = _grads(trainer.model, trl_loss)
    our_loss, _ = _our_loss(trainer, _pairs(tok), loss="cdpo", beta=beta, label_smoothing=eps)
    our_grads = _grads(trainer.model, our_loss)
    torch.testing.assert_close(our_loss.detach(), trl_loss.detach(), rtol=1e-5, atol=1e-5)
    _assert_close_grads(our_grads, trl_grads)


def test_reference_is_the_base_with_the_adapter_disabled(tiny_model_dir, tmp_path, tok):
    from transformers import AutoModelForCausalLM

    from harness.train.losses import sequence_logps

    trainer = _trl_trainer(tiny_model_dir, tmp_path, "sigmoid", 0.1)
    pairs = _pairs(tok)
    _, ours = _our_loss(trainer, pairs, loss="sigmoid", beta=0.1)
    batch = PairCollator(0)([p._asdict() for p in pairs])
    ref = ours.reference_logps(trainer.model, batch)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    mask = batch["completion_mask"].clone()
    mask[:, 0] = 0
    with torch.no_grad():
        expected = sequence_logps(base, batch, mask)
        # Independently: summed log-softmax over the completion tokens of each unpadded row.
        rows = []
        for pair in pairs:
            for ids, m in ((pair.chosen_ids, pair.chosen_mask), (pair.rejected_ids, pair.rejected_mask)):
                logits = base(input_ids=torch.tensor([ids])).logits[0]
                lp = torch.log_softmax(logits[:-1], -1).gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
                rows.append(float((lp * torch.tensor(m[1:])).sum()))
    order = [r for i in range(0, len(rows), 2) for r in [rows[i]]] + [rows[i] for i in range(1, len(rows), 2)]
    torch.testing.assert_close(ref, expected, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(ref, torch.tensor(order), rtol=1e-5, atol=1e-4)


def test_completion_nll_matches_the_models_own_loss(tiny_model_dir, tok):
    """Left padding + logits_to_keep gives the NLL the model computes on each unpadded row."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    examples = [
        encode_sft(SFTRecord(id=str(i), line=i, prompt=p, completion=c), tok, max_length=512)[0]
        for i, (p, c, _) in enumerate(PAIRS)
    ]
    batch = SFTCollator(tok.pad_token_id)([e._asdict() for e in examples])
    with torch.no_grad():
        nll = completion_nll(model, batch)
        total, count = 0.0, 0
        for e in examples:
            out = model(input_ids=torch.tensor([e.input_ids]), labels=torch.tensor([e.labels]))
            n = sum(lab != -100 for lab in e.labels[1:])
            total += float(out.loss) * n
            count += n
    assert int(nll.n_tokens) == count
    assert float(nll.total) == pytest.approx(total, rel=1e-5)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-50, 0),
            st.floats(-50, 0),
            st.floats(-50, 0),
            st.floats(-50, 0),
            st.integers(1, 30),
            st.integers(1, 30),
        ),
        min_size=1,
        max_size=6,
    ),
    st.floats(0.01, 2.0),
    st.floats(0.01, 0.49),
)
def test_dpo_formulas_against_plain_python(rows, beta, eps):
    c, r, rc, rr, lc, lr = (torch.tensor(col, dtype=torch.float64) for col in zip(*rows, strict=True))

    def logsig(x: float) -> float:
        return -math.log1p(math.exp(-x)) if x > 0 else x - math.log1p(math.exp(x))

    for name in ("sigmoid", "cdpo", "ipo"):
        out = dpo_loss(
            c,
            r,
            rc,
            rr,
            beta=beta,
            loss=name,
            label_smoothing=eps if name == "cdpo" else 0.0,
            chosen_lengths=lc,
            rejected_lengths=lr,
        )
        for i, (a, b, ra, rb, la, lb) in enumerate(rows):
            h = (a - ra) - (b - rb)
            if name == "sigmoid":
                want = -logsig(beta * h)
            elif name == "cdpo":
                want = -(1 - eps) * logsig(beta * h) - eps * logsig(-beta * h)
            else:
                want = ((a - ra) / la - (b - rb) / lb - 1 / (2 * beta)) ** 2
            assert float(out.losses[i]) == pytest.approx(want, rel=1e-9, abs=1e-9)
            assert float(out.chosen_rewards[i]) == pytest.approx(beta * (a - ra), rel=1e-9, abs=1e-12)


def test_dpo_loss_rejects_silent_changes_of_meaning():
    x = torch.zeros(2)
    with pytest.raises(InputError, match=r"[Dd]id you mean"):
        dpo_loss(x, x, x, x, loss="sigmod")
    with pytest.raises(ValueError, match="only defined for cdpo"):
        dpo_loss(x, x, x, x, loss="sigmoid", label_smoothing=0.1)
    with pytest.raises(ValueError, match="0 < label_smoothing"):
        dpo_loss(x, x, x, x, loss="cdpo")
    with pytest.raises(ValueError, match="ipo needs"):
        dpo_loss(x, x, x, x, loss="ipo")


def test_logits_to_keep_covers_every_trained_column():
    mask = torch.tensor([[0, 0, 0, 1, 1], [0, 1, 1, 1, 1]])
    assert logits_to_keep(mask) == 5  # the token at column 1 is predicted from column 0
    assert logits_to_keep(torch.tensor([[1, 1, 1]])) == 3
    assert logits_to_keep(torch.zeros(2, 4, dtype=torch.long)) == 1
