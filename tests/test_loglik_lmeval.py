"""Oracle: our log-likelihoods, acc/acc_norm and perplexities equal lm-evaluation-harness's on a tiny model.

lm-eval (``lm_eval.models.huggingface.HFLM`` over the same model object, and ``simple_evaluate``
on task YAMLs with local data) is the independent implementation; the tolerance is 1e-4 on
log-likelihoods (float32 on CPU; the two batch and pad differently), acc/acc_norm identical.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")

from harness.eval.evaluate import evaluate_suite
from harness.eval.lmeval_import import import_lm_eval_task
from harness.eval.suite import load_suite
from harness.models.factory import make_generator
from harness.models.loglik import LoglikRequest

TOL = 1e-4
QUESTIONS = [
    ("What is two plus two?", ["three", "four", "five", "twenty-two"], 1),
    ("Which is the capital of France?", ["Paris", "Rome", "Berlin", "Madrid"], 0),
    ("Which animal says moo?", ["cat", "dog", "cow", "a very large duck"], 2),
    ("What colour is the clear sky?", ["green", "blue", "red", "yellow"], 1),
    ("How do I reset my password?", ["Open settings and choose reset.", "Ask the fox.", "No.", "Call 0 1 2"], 0),
    ("I was charged twice for my order.", ["refund the extra charge", "jump", "A", "the lazy dog"], 0),
    ("Pick a number", ["1", "2", "3 4 5", "10 11 12 13"], 3),
    ("Is the fox quick?", ["yes", "no"], 0),
]
DOCS = [
    "The quick brown fox jumps over the lazy dog.",
    "I was charged twice for my order. Please refund the extra charge.\n\nThanks,  Ann",
    "0 1 2 3 4 5 6 7 8 9 10 " * 60,  # longer than the model's 512 positions: several rolling windows
    "Paris is the capital of France. How do I reset my password?",
]


@pytest.fixture(scope="module")
def model_dir(lively_model_dir):
    """The tiny model with larger random weights, so choices get clearly different log-likelihoods."""
    return lively_model_dir


@pytest.fixture(scope="module")
def gen(model_dir):
    return make_generator(str(model_dir), batch_size=3)


@pytest.fixture(scope="module")
def lm(gen):
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=gen.model, tokenizer=gen.tokenizer, batch_size=2)


def _instances(kind, args):
    from lm_eval.api.instance import Instance

    return [Instance(kind, {}, a, i) for i, a in enumerate(args)]


def _greedy_pair(gen) -> tuple[str, str]:
    """A context and its argmax next token as text (re-encoding to that token): is_greedy must hold."""
    import torch

    for context in ["The quick brown fox", "What is the capital", "Extract the ticket", "I was charged", "0 1 2 3"]:
        ids = gen.tokenizer.encode(context)
        with torch.inference_mode():
            tok = int(gen.model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
        text = gen.tokenizer.decode([tok])
        if text.strip() and gen.tokenizer.encode(context + text)[len(ids) :] == [tok]:
            return context, text
    raise AssertionError("no context whose greedy token re-encodes to itself")


def test_loglikelihood_equals_lm_eval(gen, lm):
    pairs = [(f"Question: {q}\nAnswer:", f" {c}") for q, cs, _ in QUESTIONS for c in cs]
    pairs += [("Q: 1 2 3 ", "4 5"), ("", "hello world"), ("A", "B"), ("The quick brown fox", " jumps over it.")]
    pairs.append(_greedy_pair(gen))
    theirs = lm.loglikelihood(_instances("loglikelihood", pairs), disable_tqdm=True)
    for bs in (1, 4, "auto"):
        g = make_generator(str(gen.spec.path), batch_size=bs) if bs != 3 else gen
        ours = g.loglikelihood([LoglikRequest(c, x) for c, x in pairs])
        assert len(ours) == len(theirs) == len(pairs)
        for (c, x), o, (lp, greedy) in zip(pairs, ours, theirs, strict=True):
            assert abs(o.logprob - lp) <= TOL, (bs, c, x, o.logprob, lp)
            assert o.is_greedy == greedy, (c, x)
    assert ours[-1].is_greedy, "the model's own greedy continuation must be greedy"
    assert len({round(o.logprob, 3) for o in ours}) > len(pairs) // 2  # not a degenerate model


def test_rolling_equals_lm_eval(gen, lm):
    theirs = lm.loglikelihood_rolling(_instances("loglikelihood_rolling", [(d,) for d in DOCS]), disable_tqdm=True)
    ours = gen.loglikelihood_rolling(DOCS)
    assert ours[2].tokens > 512  # the long document really was cut into windows
    for o, t in zip(ours, theirs, strict=True):
        assert abs(o.logprob - t) <= TOL * max(1.0, abs(t) / 100), (o.logprob, t)


def _write_task(folder: Path) -> Path:
    rows = [{"question": q, "options": cs, "label": a} for q, cs, a in QUESTIONS]
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "docs.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for d in DOCS))
    (folder / "mc_task.yaml").write_text(
        "task: mc_task\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: data.jsonl\n"
        "test_split: test\noutput_type: multiple_choice\n"
        'doc_to_text: "Question: {{question}}\\nAnswer:"\ndoc_to_choice: "{{options}}"\ndoc_to_target: label\n'
        "metric_list:\n  - metric: acc\n  - metric: acc_norm\n"
    )
    (folder / "ppl_task.yaml").write_text(
        "task: ppl_task\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: docs.jsonl\n"
        'test_split: test\noutput_type: loglikelihood_rolling\ndoc_to_text: ""\ndoc_to_target: "{{text}}"\n'
        "metric_list:\n  - metric: word_perplexity\n  - metric: byte_perplexity\n  - metric: bits_per_byte\n"
    )
    return folder


def test_multiple_choice_and_perplexity_suites_equal_lm_eval_tasks(gen, lm, tmp_path, monkeypatch):
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    (tmp_path / "tasks").mkdir()
    task_dir = _write_task(tmp_path / "tasks")
    # lm-eval resolves data_files against the working directory
    monkeypatch.chdir(task_dir)
    tm = TaskManager(include_path=str(task_dir), include_defaults=False)
    res = simple_evaluate(model=lm, tasks=["mc_task", "ppl_task"], task_manager=tm, log_samples=True, num_fewshot=0)

    run = evaluate_suite(load_suite(import_lm_eval_task(task_dir / "mc_task.yaml", tmp_path / "mc")), gen)
    samples = sorted(res["samples"]["mc_task"], key=lambda s: s["doc_id"])
    assert len(samples) == len(run.items) == len(QUESTIONS)
    for s, item in zip(samples, run.items, strict=True):
        theirs = [r[0] for r in s["filtered_resps"]]
        ours = item.loglik["loglikelihoods"]
        assert max(abs(a - b) for a, b in zip(ours, theirs, strict=True)) <= TOL
        assert item.scores["acc"].value == s["acc"] and item.scores["acc_norm"].value == s["acc_norm"], item.id
    assert run.summary["acc"].mean == res["results"]["mc_task"]["acc,none"]
    assert run.summary["acc_norm"].mean == res["results"]["mc_task"]["acc_norm,none"]
    assert 0 < run.summary["acc"].mean < 1 and any(i.loglik["pred"] != i.loglik["pred_norm"] for i in run.items)

    ppl_suite = tmp_path / "ppl"
    ppl_suite.mkdir()
    (ppl_suite / "suite.yaml").write_text("name: ppl\nmethod: perplexity\n")
    docs = [{"id": f"d{i}", "text": d} for i, d in enumerate(DOCS)]
    (ppl_suite / "items.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    prun = evaluate_suite(load_suite(ppl_suite), gen)
    theirs = res["results"]["ppl_task"]
    for key in ("word_perplexity", "byte_perplexity", "bits_per_byte"):
        assert math.isclose(prun.metrics[key], theirs[f"{key},none"], rel_tol=1e-5), key


def test_chat_contexts_render_through_the_chat_template(gen, lm):
    from harness.models.base import GenerationSettings

    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    text = gen.render(msgs, GenerationSettings())
    assert text.startswith("<|im_start|>user") and text.endswith("<|im_start|>assistant\n")
    (a,) = gen.loglikelihood([LoglikRequest(msgs, "Paris")])
    (b,) = gen.loglikelihood([LoglikRequest("What is the capital of France?", "Paris")], GenerationSettings())
    ((theirs, _),) = lm.loglikelihood(_instances("loglikelihood", [(text, "Paris")]), disable_tqdm=True)
    assert a == b and abs(a.logprob - theirs) <= TOL
