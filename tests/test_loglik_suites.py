"""Log-likelihood suites with fake models: multiple choice, perplexity, few-shot, dataset sources, bad input."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import ConfigError, ModelError, SchemaError
from harness.eval.evaluate import evaluate_suite
from harness.eval.loglik import mc_predictions
from harness.eval.run import Run
from harness.eval.suite import load_suite
from harness.gate.judge import compare_runs
from harness.gate.policy import policy_from_gate
from harness.models.fake import FakeGenerator

ROOT = Path(__file__).parent.parent


def write_suite(folder: Path, yaml_text: str, rows: list[dict] | None = None, name: str = "items.jsonl") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "suite.yaml").write_text(yaml_text)
    if rows is not None:
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


MC_ROWS = [
    {"id": "q1", "prompt": "2+2?", "choices": ["3", "4", "twenty"], "answer": 1},
    {"id": "q2", "prompt": "Capital of France?", "choices": ["Paris", "Rome"], "answer": 0},
    {"id": "q3", "prompt": "Sky?", "choices": ["blue", "green"], "answer": "1"},
]


def by_length(ctx, cont: str) -> float:
    """A fake model that likes short continuations: log p = -len(continuation)."""
    return -float(len(cont))


def test_multiple_choice_acc_acc_norm_and_the_run_document(tmp_path):
    suite = load_suite(write_suite(tmp_path / "mc", "name: mc\nmethod: multiple_choice\n", MC_ROWS))
    assert suite.rubric.ids == ["acc", "acc_norm"]
    # log p = -len(" " + choice): acc picks the shortest; per character the longest choice wins
    run = evaluate_suite(suite, FakeGenerator({}, loglik=by_length))
    doc = Run.model_validate(json.loads(json.dumps(run.to_document())))
    q1 = doc.items[0]
    assert q1.loglik["loglikelihoods"] == [-2.0, -2.0, -7.0]
    assert q1.loglik["pred"] == 0 and q1.loglik["pred_norm"] == 2  # a tie goes to the first; -7/6 > -2/1
    assert q1.output == "3" and q1.scores["acc"].value == 0.0 and q1.loglik["normalisation"] == "characters"
    q2 = doc.items[1]
    assert q2.loglik["loglikelihoods"] == [-6.0, -5.0] and q2.loglik["pred"] == 1
    assert q2.loglik["pred_norm"] == 0  # per character -6/5 > -5/4: acc_norm differs from acc here
    assert [i.scores["acc"].value for i in doc.items] == [0.0, 0.0, 0.0]
    assert [i.scores["acc_norm"].value for i in doc.items] == [0.0, 1.0, 1.0]
    assert doc.summary["acc"].n == 3 and doc.summary["acc"].method == "wilson"
    assert doc.suite["method"] == "multiple_choice"


def test_acc_norm_divides_by_characters_like_lm_eval():
    import numpy as np

    lls, choices = [-3.0, -5.0, -9.5], ["ab", "abcd", "abcdefgh"]
    pred, pred_norm = mc_predictions(lls, choices)
    # lm-eval (api/task.py, multiple_choice): argmax(lls), argmax(lls / [len(c) for c in choices])
    assert pred == int(np.argmax(lls)) == 0
    assert pred_norm == int(np.argmax(np.array(lls) / np.array([len(c) for c in choices]))) == 2


def test_requests_put_target_delimiter_before_each_choice(tmp_path):
    suite = load_suite(
        write_suite(
            tmp_path / "mc",
            'name: mc\nmethod: multiple_choice\nprompt_template: "Q: {prompt}\\nA:"\n'
            'loglikelihood: {target_delimiter: "~"}\n',
            MC_ROWS[:1],
        )
    )
    gen = FakeGenerator({}, loglik=by_length)
    evaluate_suite(suite, gen)
    assert [(r.context, r.continuation) for r in gen.loglik_calls] == [
        ("Q: 2+2?\nA:", "~3"), ("Q: 2+2?\nA:", "~4"), ("Q: 2+2?\nA:", "~twenty"),
    ]  # fmt: skip


def test_gate_on_accuracy_uses_paired_statistics(tmp_path):
    rows = [{"id": f"q{i}", "prompt": f"q{i}?", "choices": ["right", "wrong"], "answer": 0} for i in range(40)]
    suite = load_suite(write_suite(tmp_path / "mc", "name: mc\nmethod: multiple_choice\n", rows))
    base = evaluate_suite(suite, FakeGenerator({}, fingerprint="b", loglik=lambda c, x: -1.0 if "right" in x else -2.0))
    forgot = {f"q{i}?" for i in range(25)}

    def cand_ll(ctx, x):
        return (-2.0 if "right" in x else -1.0) if ctx in forgot else (-1.0 if "right" in x else -2.0)

    cand = evaluate_suite(suite, FakeGenerator({}, fingerprint="c", loglik=cand_ll))
    comp = compare_runs(
        base, cand, policy_from_gate([{"criterion": "acc", "require": "no_regression", "margin": 0.05}])
    )
    assert comp.verdict == "fail"
    rule = comp.rules[0]
    assert rule.delta == pytest.approx(-25 / 40) and rule.n == 40 and rule.counts["broken"] == 25
    assert base.summary["acc"].mean == 1.0 and cand.summary["acc"].mean == 15 / 40


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ({"prompt": "p", "choices": ["only"], "answer": 0}, "choices", "at least two options; got 1 option"),
        ({"prompt": "p", "choices": "ab", "answer": 0}, "choices", "at least two options; got str"),
        ({"prompt": "p", "choices": ["a", "b"], "answer": 2}, "answer", "0 to 1; got 2"),
        ({"prompt": "p", "choices": ["a", "b"], "answer": True}, "answer", "got True"),
        ({"prompt": "p", "choices": ["a", ""], "answer": 0}, "choices[1]", "non-empty"),
    ],
)
def test_bad_multiple_choice_items_name_file_line_field(tmp_path, row, field, message):
    folder = write_suite(tmp_path / "mc", "name: mc\nmethod: multiple_choice\n", [MC_ROWS[0], {"id": "bad", **row}])
    with pytest.raises(SchemaError, match=message) as e:
        load_suite(folder)
    assert e.value.line == 2 and e.value.field == field and e.value.file.endswith("items.jsonl")


def test_cli_bad_answer_and_model_without_loglikelihood_exit_2(tmp_path):
    bad = write_suite(tmp_path / "bad", "name: mc\nmethod: multiple_choice\n", [{**MC_ROWS[0], "answer": 7}])
    outputs = tmp_path / "o.jsonl"
    outputs.write_text('{"id": "q1", "output": "4"}\n')
    good = write_suite(tmp_path / "good", "name: mc\nmethod: multiple_choice\n", MC_ROWS[:1])
    for suite, needle in ((bad, "items.jsonl:1, field 'answer'"), (good, "needs a model that scores log-likelihoods")):
        r = subprocess.run(
            [sys.executable, "-m", "harness", "eval", str(suite), "--model", f"outputs:{outputs}", "--no-cache"],
            capture_output=True, text=True, cwd=ROOT, timeout=300,
        )  # fmt: skip
        assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_suite_yaml_method_errors(tmp_path):
    with pytest.raises(ConfigError, match="remove 'rubric'"):
        load_suite(write_suite(tmp_path / "a", "name: a\nmethod: multiple_choice\nrubric: r.yaml\n", MC_ROWS))
    with pytest.raises(ConfigError, match="needs a 'rubric'"):
        load_suite(write_suite(tmp_path / "b", "name: b\n", MC_ROWS))
    with pytest.raises(ConfigError, match="method"):
        load_suite(write_suite(tmp_path / "c", "name: c\nmethod: multiple_choise\n", MC_ROWS))
    with pytest.raises(ConfigError, match="not in the rubric"):
        load_suite(
            write_suite(
                tmp_path / "d",
                "name: d\nmethod: multiple_choice\ngate: [{criterion: ac, require: improvement}]\n",
                MC_ROWS,
            )
        )


# ------------------------------------------------------------------------------------ perplexity
DOCS = ["The cat sat on the mat.", "Perplexity is lower-better.\nIt is  unbounded.", "Ünïcödé bytes count twice."]


def test_perplexity_items_metrics_and_inverse_scores(tmp_path):
    from lm_eval.api.metrics import bits_per_byte, weighted_perplexity

    rows = [{"id": f"d{i}", "text": t} for i, t in enumerate(DOCS)]
    suite = load_suite(write_suite(tmp_path / "ppl", "name: ppl\nmethod: perplexity\n", rows))
    lls = {t: -1.3 * len(t) for t in DOCS}
    run = evaluate_suite(suite, FakeGenerator({}, rolling=lambda t: lls[t]))
    assert suite.rubric.ids == ["byte_probability", "token_probability", "word_probability"]
    for item, text in zip(run.items, DOCS, strict=True):
        rec = item.loglik
        nbytes = len(text.encode())
        assert rec["bytes"] == nbytes and rec["words"] == len(text.split())  # no leading/trailing space here
        assert rec["bits_per_byte"] == pytest.approx(-lls[text] / nbytes / math.log(2))
        assert item.scores["byte_probability"].value == pytest.approx(2 ** -rec["bits_per_byte"])
        assert item.scores["word_probability"].value == pytest.approx(1 / rec["word_perplexity"])
        assert item.scores["overall"].value == item.scores["byte_probability"].value
    # lm-eval's own aggregations (api/metrics.py) over (loglikelihood, count) pairs are the oracle
    words = [(lls[t], len(t.split())) for t in DOCS]
    nbytes = [(lls[t], len(t.encode())) for t in DOCS]
    assert run.metrics["word_perplexity"] == pytest.approx(weighted_perplexity(words))
    assert run.metrics["byte_perplexity"] == pytest.approx(weighted_perplexity(nbytes))
    assert run.metrics["bits_per_byte"] == pytest.approx(bits_per_byte(nbytes))


def test_perplexity_gate_fails_on_regression_beyond_margin(tmp_path):
    texts = [f"Document number {i} talks about the weather and the sea." for i in range(30)]
    rows = [{"id": f"d{i}", "text": t} for i, t in enumerate(texts)]
    gate = "gate: [{criterion: byte_probability, require: no_regression, margin: 0.01}]\n"
    suite = load_suite(write_suite(tmp_path / "ppl", "name: ppl\nmethod: perplexity\n" + gate, rows))
    nat = {t: 0.5 + 0.03 * (i % 5) for i, t in enumerate(texts)}  # nats per byte, varying by document

    def model(extra):
        return lambda t: -(nat[t] + extra * (1 + (len(t) % 3) / 10)) * len(t.encode())

    base = evaluate_suite(suite, FakeGenerator({}, fingerprint="b", rolling=model(0.0)))
    # about 0.1 nats per byte more: per-byte probability falls by about 0.055 (perplexity rises)
    worse = evaluate_suite(suite, FakeGenerator({}, fingerprint="w", rolling=model(0.1)))
    close = evaluate_suite(suite, FakeGenerator({}, fingerprint="s", rolling=model(0.001)))
    assert compare_runs(base, worse).verdict == "fail"
    assert compare_runs(base, close).verdict == "pass"
    assert compare_runs(base, worse).rules[0].delta == pytest.approx(-0.055, abs=0.01)
    assert base.summary["byte_probability"].mean == pytest.approx(sum(math.exp(-v) for v in nat.values()) / 30)


def test_perplexity_item_needs_text(tmp_path):
    with pytest.raises(SchemaError, match="needs 'text'") as e:
        load_suite(write_suite(tmp_path / "p", "name: p\nmethod: perplexity\n", [{"id": "a", "text": " "}]))
    assert e.value.line == 1 and e.value.field == "text"


# -------------------------------------------------------------------------------------- few-shot
def test_fewshot_is_seeded_recorded_and_never_the_item_itself(tmp_path):
    rows = [{"id": f"q{i}", "prompt": f"q{i}?", "choices": [f"a{i}", "x"], "answer": 0} for i in range(12)]
    yaml_text = 'name: mc\nmethod: multiple_choice\nfewshot: {n: 3, seed: 7, description: "Quiz.\\n\\n"}\n'
    suite = load_suite(write_suite(tmp_path / "mc", yaml_text, rows))
    run = evaluate_suite(suite, FakeGenerator({}, loglik=by_length))
    again = evaluate_suite(load_suite(tmp_path / "mc"), FakeGenerator({}, loglik=by_length))
    for item, other in zip(run.items, again.items, strict=True):
        assert item.fewshot == other.fewshot and len(item.fewshot) == 3 and item.id not in item.fewshot
        shots = item.fewshot
        assert item.prompt == "Quiz.\n\n" + "\n\n".join([*(f"{s}? a{s[1:]}" for s in shots), f"{item.id}?"])
    assert len({tuple(i.fewshot) for i in run.items}) > 1
    other_seed = load_suite(write_suite(tmp_path / "mc2", yaml_text.replace("seed: 7", "seed: 8"), rows))
    assert [other_seed.shots(i) for i in other_seed.items] != [suite.shots(i) for i in suite.items]


def test_fewshot_from_a_file_and_as_chat_turns(tmp_path):
    shots = [{"id": f"s{i}", "prompt": f"shot {i}", "reference": f"answer {i}"} for i in range(4)]
    items = [{"id": "x", "prompt": "real question", "reference": "r"}]
    rubric = "rubric: {name: r, criteria: [{id: ok, scale: binary, scorer: {type: exact}}]}\n"
    folder = write_suite(
        tmp_path / "g", "name: g\n" + rubric + "fewshot: {n: 2, file: dev.jsonl, as_turns: true}\n", items
    )
    (folder / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in shots))
    suite = load_suite(folder)
    gen = FakeGenerator({"x": "r"})
    run = evaluate_suite(suite, gen)
    msgs = gen.calls[0].prompt
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant", "user"]
    assert msgs[-1]["content"] == "real question" and msgs[1]["content"].startswith("answer ")
    assert run.items[0].fewshot == [m["content"].replace("shot", "s").replace(" ", "") for m in msgs[:-1:2]]
    with pytest.raises(ConfigError, match="5 shots asked, the pool has 4") as e:
        load_suite(write_suite(tmp_path / "g", "name: g\n" + rubric + "fewshot: {n: 5, file: dev.jsonl}\n"))
    assert e.value.field == "fewshot.n"


# ------------------------------------------------------------------------------- dataset sources
SRC_ROWS = [
    {"qid": "a1", "question": "Largest planet?", "options": ["Mars", "Jupiter"], "label": "B"},
    {"qid": "a2", "question": "Smallest prime?", "options": ["2", "1"], "label": 0},
    {"qid": "a3", "question": "Water boils at?", "options": ["100 C", "50 C"], "label": "100 C"},
]
SOURCE = (
    'source:\n  path: data\n  template: "Question: {question}\\nAnswer:"\n'
    "  fields: {id: qid, choices: options, answer: label}\n"
)


def test_source_jsonl_folder_with_template_and_field_mapping(tmp_path):
    folder = write_suite(tmp_path / "s", "name: s\nmethod: multiple_choice\n" + SOURCE)
    (folder / "data").mkdir()
    (folder / "data" / "part1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in SRC_ROWS[:2]))
    (folder / "data" / "part2.jsonl").write_text(json.dumps(SRC_ROWS[2]) + "\n")
    suite = load_suite(folder)
    assert [i.id for i in suite.items] == ["a1", "a2", "a3"]
    assert suite.items[0].prompt == "Question: Largest planet?\nAnswer:"
    assert [(i.model_extra or {})["answer"] for i in suite.items] == [1, 0, 0]


def test_source_parquet_csv_and_saved_dataset(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Dataset, DatasetDict

    base = write_suite(tmp_path / "p", "name: p\nmethod: multiple_choice\n" + SOURCE)
    (base / "data").mkdir()
    pq.write_table(pa.Table.from_pylist([{**r, "label": str(r["label"])} for r in SRC_ROWS]), base / "data/x.parquet")
    assert [i.id for i in load_suite(base).items] == ["a1", "a2", "a3"]

    hf = write_suite(
        tmp_path / "h",
        "name: h\nmethod: multiple_choice\nfewshot: {n: 1, split: train}\n"
        + SOURCE.replace("path: data", "path: data\n  split: test"),
    )
    rows = [{**r, "label": str(r["label"])} for r in SRC_ROWS]
    train = [{**r, "qid": "t-" + r["qid"]} for r in rows]
    DatasetDict({"test": Dataset.from_list(rows), "train": Dataset.from_list(train)}).save_to_disk(hf / "data")
    suite = load_suite(hf)
    assert [i.id for i in suite.items] == ["a1", "a2", "a3"]
    assert all(s.id.startswith("t-") for i in suite.items for s in suite.shots(i))
    with pytest.raises(ConfigError, match=r"splits \['test', 'train'\]"):
        load_suite(
            write_suite(tmp_path / "h2", "name: h\nmethod: multiple_choice\n" + SOURCE.replace("data", "../h/data"))
        )

    perp = write_suite(tmp_path / "c", "name: c\nmethod: perplexity\nsource: {path: docs.csv, fields: {text: body}}\n")
    (perp / "docs.csv").write_text("body\nfirst document\nsecond document\n")
    assert [i.prompt for i in load_suite(perp).items] == ["first document", "second document"]


def test_source_errors_name_file_row_and_field(tmp_path):
    folder = write_suite(
        tmp_path / "s", "name: s\nmethod: multiple_choice\n" + SOURCE.replace("{question}", "{qestion}")
    )
    (folder / "data").mkdir()
    (folder / "data" / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in SRC_ROWS))
    with pytest.raises(SchemaError, match="template names field 'qestion', which the data lacks") as e:
        load_suite(folder)
    assert e.value.line == 1 and e.value.field == "qestion" and e.value.file.endswith("d.jsonl")
    (folder / "suite.yaml").write_text("name: s\nmethod: multiple_choice\n" + SOURCE.replace("options", "opts"))
    with pytest.raises(SchemaError, match="column 'opts'"):
        load_suite(folder)
    (folder / "data" / "d.jsonl").write_text(json.dumps({**SRC_ROWS[0], "label": "Saturn"}) + "\n")
    (folder / "suite.yaml").write_text("name: s\nmethod: multiple_choice\n" + SOURCE)
    with pytest.raises(SchemaError, match="neither an index") as e:
        load_suite(folder)
    assert e.value.field == "answer"
    (folder / "suite.yaml").write_text("name: s\nmethod: multiple_choice\nsource: {path: nowhere}\n")
    with pytest.raises(ConfigError, match="does not exist"):
        load_suite(folder)


def test_import_lm_eval_refuses_remote_data_and_python_hooks(tmp_path):
    from harness.eval.lmeval_import import import_lm_eval_task

    base = "output_type: multiple_choice\ndoc_to_text: q\ndoc_to_choice: c\ndoc_to_target: 0\ntest_split: test\n"
    remote = tmp_path / "remote.yaml"
    remote.write_text("task: r\ndataset_path: allenai/ai2_arc\n" + base)
    with pytest.raises(ConfigError, match="nothing is downloaded"):
        import_lm_eval_task(remote, tmp_path / "out")
    hook = tmp_path / "hook.yaml"
    hook.write_text("task: h\ndataset_path: json\nprocess_docs: !function utils.process\n" + base)
    with pytest.raises(ConfigError, match="Python hook"):
        import_lm_eval_task(hook, tmp_path / "out")
    gen = tmp_path / "gen.yaml"
    gen.write_text(base.replace("multiple_choice", "generate_until"))
    with pytest.raises(ConfigError, match="only multiple_choice"):
        import_lm_eval_task(gen, tmp_path / "out")


def test_model_without_loglikelihood_is_refused(tmp_path):
    suite = load_suite(write_suite(tmp_path / "mc", "name: mc\nmethod: multiple_choice\n", MC_ROWS))
    with pytest.raises(ModelError, match="scores log-likelihoods"):
        evaluate_suite(suite, FakeGenerator({}))


# ------------------------------------------------------------------------------ bundled suites
def test_bundled_knowledge_and_general_text_suites():
    mc = load_suite(ROOT / "suites/knowledge")
    assert mc.method == "multiple_choice" and len(mc.items) >= 100
    extras = [i.model_extra or {} for i in mc.items]
    assert all(len(e["choices"]) == 4 and len(set(e["choices"])) == 4 for e in extras)
    answers = [e["answer"] for e in extras]
    assert all(answers.count(k) >= 15 for k in range(4))  # the right option is not always in one place
    assert len({i.prompt for i in mc.items}) == len(mc.items)
    ppl = load_suite(ROOT / "suites/general-text")
    assert ppl.method == "perplexity" and len(ppl.items) >= 20
    assert all(len((i.prompt or "").split()) >= 25 for i in ppl.items)


def test_gate_runs_log_likelihood_suites_end_to_end():
    from harness.gate.run import GateHooks, run_gate

    def make(spec: str) -> FakeGenerator:
        shift = 0.0 if spec == "base" else 0.1  # the candidate: ~0.1 nats per byte worse on general text
        return FakeGenerator(
            {}, fingerprint=spec, loglik=by_length,
            rolling=lambda t: -(0.5 + shift + 0.02 * (len(t) % 5)) * len(t.encode()),
        )  # fmt: skip

    res = run_gate([ROOT / "suites/knowledge", ROOT / "suites/general-text"], base="base", candidate="cand",
                   hooks=GateHooks(make_generator=make))  # fmt: skip
    verdicts = {c.rules[0].criterion: c.rules[0].verdict for c in res.comparisons}
    assert verdicts["byte_probability"] == "fail" and res.verdict == "fail"
    assert verdicts["acc"] != "fail"  # the same choice scores on both sides: no accuracy regression


def test_leakage_reads_a_source_suite_and_perplexity_documents(tmp_path):
    from harness.leakage.holdout import load_holdout

    folder = write_suite(tmp_path / "s", "name: s\nmethod: multiple_choice\n" + SOURCE)
    (folder / "data").mkdir()
    (folder / "data" / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in SRC_ROWS))
    items = load_holdout(folder)
    assert [i.id for i in items] == ["a1", "a2", "a3"]
    assert items[0].texts["prompt"] == "Question: Largest planet?\nAnswer:" and items[0].line == 1
    docs = load_holdout(ROOT / "suites/general-text")
    assert len(docs) == 24 and all("text" in d.texts for d in docs)


def test_log_likelihoods_are_cached_and_a_killed_run_resumes(tmp_path, monkeypatch):
    import harness.eval.loglik as loglik_mod
    from harness.eval.cache import GenerationCache

    monkeypatch.setattr(loglik_mod, "CHUNK_ITEMS", 2)
    rows = [{"id": f"q{i}", "prompt": f"q{i}?", "choices": [f"a{i}", "bb"], "answer": 0} for i in range(7)]
    suite = load_suite(write_suite(tmp_path / "mc", "name: mc\nmethod: multiple_choice\n", rows))
    calls = {"n": 0}

    def dies_on_third_chunk(ctx, x):
        calls["n"] += 1
        if calls["n"] > 8:  # 2 chunks x 2 items x 2 choices done, then the "machine" stops
            raise KeyboardInterrupt
        return by_length(ctx, x)

    with GenerationCache(tmp_path / "c.sqlite") as cache:
        with pytest.raises(KeyboardInterrupt):
            evaluate_suite(suite, FakeGenerator({}, loglik=dies_on_third_chunk), cache=cache)
        gen = FakeGenerator({}, loglik=by_length)
        run = evaluate_suite(suite, gen, cache=cache)
        assert len(gen.loglik_calls) == 3 * 2  # items 4-6 only: 3 items x 2 choices
        assert [i.cached for i in run.items] == [True] * 4 + [False] * 3
        again = evaluate_suite(suite, FakeGenerator({}, loglik=by_length), cache=cache)
        assert all(i.cached for i in again.items) and run.manifest["timing"]["cached"] == 4
    fresh = evaluate_suite(suite, FakeGenerator({}, loglik=by_length))
    assert [i.loglik for i in again.items] == [i.loglik for i in fresh.items]


def test_import_lm_eval_task_with_fewshot_and_cli(tmp_path):
    rows = [{"q": f"Question {i}?", "opts": ["yes", "no"], "gold": i % 2} for i in range(6)]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:3]))
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[3:]))
    (tmp_path / "task.yaml").write_text(
        "task: yn\ndataset_path: json\ndataset_kwargs:\n  data_files: {test: test.jsonl, train: train.jsonl}\n"
        "test_split: test\ntraining_split: train\nfewshot_split: train\nnum_fewshot: 2\n"
        'output_type: multiple_choice\ndoc_to_text: "Q: {{q}}\\nA:"\ndoc_to_choice: opts\ndoc_to_target: gold\n'
        'target_delimiter: " "\nfewshot_delimiter: "\\n\\n"\ndescription: "Answer yes or no.\\n\\n"\n'
    )
    r = subprocess.run(
        [sys.executable, "-m", "harness", "import-lm-eval", str(tmp_path / "task.yaml"), "--out", str(tmp_path / "s")],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    suite = load_suite(tmp_path / "s")
    assert [i.prompt for i in suite.items] == ["Q: Question 0?\nA:", "Q: Question 1?\nA:", "Q: Question 2?\nA:"]
    assert [(i.model_extra or {})["answer"] for i in suite.items] == [0, 1, 0]
    assert suite.fewshot is not None and suite.fewshot.n == 2 and len(suite.fewshot_pool) == 3
    prompt = suite.request_prompt(suite.items[0])
    assert isinstance(prompt, str) and prompt.startswith("Answer yes or no.\n\nQ: Question ")
    assert prompt.count("\n\n") == 3 and prompt.endswith("\n\nQ: Question 0?\nA:")
    remote = "task: x\ndataset_path: cais/mmlu\noutput_type: multiple_choice\ndoc_to_text: q\ndoc_to_choice: c\n"
    (tmp_path / "task.yaml").write_text(remote + "doc_to_target: 0\ntest_split: test\n")
    r = subprocess.run(
        [sys.executable, "-m", "harness", "import-lm-eval", str(tmp_path / "task.yaml"), "--out", str(tmp_path / "t")],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert r.returncode == 2 and "nothing is downloaded" in r.stderr and "Traceback" not in r.stderr
