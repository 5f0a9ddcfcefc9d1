"""harness gate: evaluate both models through the cache, check leakage, compare, report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.prompts import code_prompt

from harness.errors import InputError, InputFileError
from harness.eval.cache import GenerationCache
from harness.eval.run import load_run
from harness.gate import compare_runs, policy_of
from harness.gate.run import GateHooks, GateOptions, run_gate
from harness.models.base import GenerationRequest
from harness.models.fake import FakeGenerator

ROOT = Path(__file__).parent.parent
N = 30
RUBRIC = """name: r
criteria:
  - id: correct
    description: gives the code
    scale: binary
    scorer: {type: contains}
  - id: short
    weight: 0.5
    scale: binary
    scorer: {type: length, max: 6}
"""


def make_suite(root: Path, gate: str = "gate: [{criterion: correct, require: improvement}]\n") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "rubric.yaml").write_text(RUBRIC)
    (root / "suite.yaml").write_text(f"name: codes\nrubric: rubric.yaml\n{gate}")
    items = [{"id": f"q{i:02d}", "prompt": code_prompt(i), "reference": f"C{i:03d}"} for i in range(N)]
    (root / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    return root


def base_answer(req: GenerationRequest) -> str:
    i = int(req.item_id[1:])
    return f"It is C{i:03d}." if i < 10 else "I do not know it."


def cand_answer(req: GenerationRequest) -> str:
    i = int(req.item_id[1:])
    return f"It is C{i:03d}." if i < 28 else "No idea."


def fakes(**over: FakeGenerator):
    gens = {
        "base": FakeGenerator(base_answer, fingerprint="base"),
        "cand": FakeGenerator(cand_answer, fingerprint="cand"),
    }
    gens.update(over)
    return gens.__getitem__


def test_gate_passes_and_writes_runs_that_compare_alone(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "suite")
    cache = GenerationCache(tmp_path / "cache.sqlite")
    result = run_gate([suite], base="base", candidate="cand", options=GateOptions(out=tmp_path / "out"),
                      hooks=GateHooks(cache=cache, make_generator=fakes()))  # fmt: skip
    assert result.verdict == "pass" and result.exit_code == 0
    comp = result.comparisons[0]
    assert comp.criteria["correct"].counts["fixed"] == 18 and comp.criteria["correct"].counts["broken"] == 0
    b = load_run(tmp_path / "out" / "runs" / "codes" / "base")
    c = load_run(tmp_path / "out" / "runs" / "codes" / "candidate")
    again = compare_runs(b, c, policy_of(c))
    assert again.verdict == "pass" and again.criteria["correct"].ci == comp.criteria["correct"].ci
    assert result.manifest["base"] == "base" and result.manifest["cache"] == str(cache.path)


def test_gate_goes_through_the_cache(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "suite")
    cache = GenerationCache(tmp_path / "cache.sqlite")
    first = run_gate([suite], base="base", candidate="cand", hooks=GateHooks(cache=cache, make_generator=fakes()))

    def boom(req: GenerationRequest) -> str:
        raise AssertionError("generated although cached")

    again = run_gate(
        [suite],
        base="base",
        candidate="cand",
        hooks=GateHooks(
            cache=cache,
            make_generator=fakes(
                base=FakeGenerator(boom, fingerprint="base"), cand=FakeGenerator(boom, fingerprint="cand")
            ),
        ),
    )
    assert again.verdict == first.verdict
    assert again.comparisons[0].criteria["correct"].delta == first.comparisons[0].criteria["correct"].delta


def test_leaked_items_fail_the_gate_unless_allowed(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "suite")
    items = [json.loads(line) for line in (suite / "items.jsonl").read_text().splitlines()]
    train = tmp_path / "train.jsonl"
    rows = [{"prompt": items[i]["prompt"], "completion": items[i]["reference"]} for i in (12, 13, 14)]
    rows += [
        {"prompt": f"Unrelated question number {k} about gardening tools?", "completion": "A rake."} for k in range(20)
    ]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    opts = {"paraphrase": False}
    failed = run_gate(
        [suite],
        base="base",
        candidate="cand",
        options=GateOptions(train_data=[train], leakage_options=opts),
        hooks=GateHooks(make_generator=fakes()),
    )
    comp = failed.comparisons[0]
    assert comp.leakage.checked and comp.leakage.leaked_ids == ["q12", "q13", "q14"]
    assert failed.verdict == "fail" and comp.rules[-1].criterion == "leakage" and comp.rules[-1].verdict == "fail"
    assert comp.n_paired == N - 3 and comp.with_leaked["n_paired"] == N
    # the note names the method that did not run, not those that ran with their settings
    assert comp.leakage.note is not None and comp.leakage.note.startswith("methods off: paraphrase: off")
    assert "ngram" not in comp.leakage.note and "near_duplicate" not in comp.leakage.note
    assert comp.criteria["correct"].counts["fixed"] == 15
    assert comp.with_leaked["criteria"]["correct"]["counts"]["fixed"] == 18
    allowed = run_gate(
        [suite],
        base="base",
        candidate="cand",
        options=GateOptions(train_data=[train], allow_leakage=True, leakage_options=opts),
        hooks=GateHooks(make_generator=fakes()),
    )
    assert allowed.verdict == "pass" and allowed.comparisons[0].rules[-1].verdict == "pass"


def test_a_train_run_folder_supplies_its_training_data(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "suite")
    item = json.loads((suite / "items.jsonl").read_text().splitlines()[5])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "train.jsonl").write_text(json.dumps({"prompt": item["prompt"], "completion": "C005"}) + "\n")
    (run_dir / "manifest.json").write_text(
        json.dumps({"kind": "harness.train/v1", "base_model": "base", "train_data": ["train.jsonl"]})
    )
    gens = fakes()
    result = run_gate(
        [suite],
        base="base",
        candidate=str(run_dir),
        options=GateOptions(leakage_options={"paraphrase": False}),
        hooks=GateHooks(make_generator=lambda spec: gens("cand" if spec == str(run_dir) else spec)),
    )
    assert result.comparisons[0].leakage.leaked_ids == ["q05"] and result.verdict == "fail"
    (run_dir / "train.jsonl").unlink()
    with pytest.raises(InputFileError, match="does not exist"):
        run_gate([suite], base="base", candidate=str(run_dir), hooks=GateHooks(make_generator=gens))


def test_parsed_specs_are_passed_on_as_they_are(tmp_path: Path) -> None:
    from harness.gate.run import train_data_of
    from harness.models.spec import parse_spec

    suite = make_suite(tmp_path / "suite")
    outputs = {}
    for side, answer in (("base", base_answer), ("cand", cand_answer)):
        rows = [{"id": f"q{i:02d}", "output": answer(GenerationRequest(f"q{i:02d}", ""))} for i in range(N)]
        outputs[side] = tmp_path / f"{side}.jsonl"
        outputs[side].write_text("".join(json.dumps(r) + "\n" for r in rows))
    base, cand = (parse_spec(f"outputs:{outputs[s]}") for s in ("base", "cand"))
    seen = []

    def factory(spec):
        seen.append(spec)
        from harness.models.factory import make_generator

        return make_generator(spec)

    result = run_gate([suite], base=base, candidate=cand, hooks=GateHooks(make_generator=factory))
    assert seen[0] is base and seen[1] is cand  # parsed once, by the caller
    assert result.verdict == "pass" and result.manifest["candidate"] == f"outputs:{outputs['cand']}"
    assert train_data_of(cand) == []


def test_repeats_reach_the_comparison(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "suite")
    result = run_gate(
        [suite], base="base", candidate="cand", options=GateOptions(repeats=2), hooks=GateHooks(make_generator=fakes())
    )
    split = result.comparisons[0].repeats["candidate"]["correct"]
    assert split.attempts_per_item == 2 and split.generation == 0.0 and split.grading == 0.0


def test_gate_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="at least one suite"):
        run_gate([], base="a", candidate="b")
    suite = make_suite(tmp_path / "suite")
    with pytest.raises(InputError, match="distinct names"):
        run_gate([suite, suite], base="base", candidate="cand", hooks=GateHooks(make_generator=fakes()))
    with pytest.raises(InputFileError, match="no such training data"):
        run_gate(
            [suite],
            base="base",
            candidate="cand",
            options=GateOptions(train_data=[tmp_path / "nope.jsonl"]),
            hooks=GateHooks(make_generator=fakes()),
        )


def _outputs(path: Path, answer) -> Path:
    rows = [{"id": f"q{i:02d}", "output": answer(GenerationRequest(f"q{i:02d}", ""))} for i in range(N)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_gate_cli_end_to_end_with_replayed_outputs(tmp_path: Path) -> None:
    gate = "gate:\n  rules:\n    - {criterion: correct, require: no_new_failures}\n"
    suite = make_suite(tmp_path / "suite", gate=gate)
    base = _outputs(tmp_path / "base.jsonl", base_answer)
    cand = _outputs(tmp_path / "cand.jsonl", lambda r: "No idea." if r.item_id in ("q01", "q02") else cand_answer(r))
    out, junit = tmp_path / "out", tmp_path / "junit.xml"
    cmd = [
        sys.executable,
        "-m",
        "harness",
        "gate",
        str(suite),
        "--base",
        f"outputs:{base}",
        "--candidate",
        f"outputs:{cand}",
        "--out",
        str(out),
        "--junit",
        str(junit),
        "--json",
        "--cache",
        str(tmp_path / "c.sqlite"),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert doc["verdict"] == "fail" and doc["rules"][0]["counts"]["broken"] == 2
    assert (out / "report.html").is_file() and (out / "runs" / "codes" / "candidate" / "run.json").is_file()
    assert "<failure" in junit.read_text()
    compare = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "compare",
            str(out / "runs/codes/base"),
            str(out / "runs/codes/candidate"),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert compare.returncode == 1 and json.loads(compare.stdout)["rules"][0]["counts"] == doc["rules"][0]["counts"]


def test_gate_cli_bad_suite_exits_2(tmp_path: Path) -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "gate",
            str(tmp_path / "missing"),
            "--base",
            "a",
            "--candidate",
            "b",
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_gate_cli_on_two_tiny_local_models(tmp_path: Path, tiny_model_dir: Path) -> None:
    """The real generator path (HF folders) on a bundled suite, a few items, no cache."""
    from harness.models.tiny import build_tiny_model

    other = build_tiny_model(tmp_path / "other", seed=1)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "harness",
        "gate",
        "suites/general",
        "--base",
        str(tiny_model_dir),
        "--candidate",
        str(other),
        "--limit",
        "3",
        "--no-cache",
        "--out",
        str(out),
        "--json",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode in (0, 1, 3), r.stderr[-3000:]
    doc = json.loads(r.stdout)
    assert doc["exit_code"] == r.returncode
    comp = doc["comparisons"][0]
    assert comp["suite"] == "general" and comp["n_paired"] == 3
    assert comp["base"]["model"]["fingerprint"] != comp["candidate"]["model"]["fingerprint"]
    assert (out / "runs" / "general" / "base" / "run.json").is_file() and (out / "report.html").is_file()
    # Three items cannot prove anything: every interval rule is inconclusive or fails, none passes.
    assert all(x["verdict"] != "pass" for x in doc["rules"] if x["require"] != "no_new_failures")


@pytest.mark.e2e
def test_gate_on_the_bundled_model(tmp_path: Path) -> None:
    """The bundled model against itself on two items of the general suite: nothing can be shown."""
    cmd = [
        sys.executable,
        "-m",
        "harness",
        "gate",
        "suites/general",
        "--base",
        "smollm2-135m",
        "--candidate",
        "smollm2-135m",
        "--limit",
        "2",
        "--cache",
        str(tmp_path / "c.sqlite"),
        "--json",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert r.returncode == 3, r.stderr[-3000:]
    comp = json.loads(r.stdout)["comparisons"][0]
    assert comp["n_paired"] == 2 and comp["changes"] == []
    assert all(c["delta"] == 0.0 for c in comp["criteria"].values())
