"""One catalogue of hostile inputs driven through every verb that reads a file (issue 14, part 1).

In the spirit of scikit-learn's common estimator checks: every data verb (validate, agreement,
rankings, compare, gate --policy, eval suites and rubrics, train configs, monitor, red-team seeds,
rm-eval, import-lm-eval, store import, outputs: replay files) meets the same inputs — an empty file,
a line far over the record limit, ``/dev/zero``, binary garbage, bytes that are not UTF-8, a folder where a file is
expected, a missing file, a gzip file under a text file's name, a file with only a header, and an
unwritable --out — and must answer each with exit code 2, a message naming the input, and no
traceback. No model is loaded: verbs that take one get an ``outputs:`` replay or fail on the
input (or the output check) before any model would load.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parent.parent

# kind: what the input is, which decides the "header only" case and where the hostile bytes go
#   data  — a JSONL/CSV records file (the input itself)
#   yaml  — a YAML config (the input itself)
#   json  — a JSON document (the input itself)
#   suite-items / suite-yaml / rubric — a copy of suites/general with that file made hostile
#   train-data — a train config whose train_data is the hostile file (checked before the base model loads)
VERBS: dict[str, dict[str, Any]] = {
    "validate": {"argv": ["validate", "{input}", "--out", "{out}"], "kind": "data"},
    "validate --holdout": {"argv": ["validate", "{train}", "--holdout", "{input}"], "kind": "data"},
    "agreement": {"argv": ["agreement", "{input}", "--level", "nominal", "--out", "{out}"], "kind": "data"},
    "rankings": {"argv": ["rankings", "{input}", "--out", "{out}"], "kind": "data"},
    "compare": {"argv": ["compare", "{input}", "{run_b}", "--out", "{out}", "--no-store"], "kind": "json"},
    "compare --policy": {
        "argv": ["compare", "{run_a}", "{run_b}", "--policy", "{input}", "--out", "{out}", "--no-store"],
        "kind": "yaml",
    },
    "gate --policy": {
        "argv": ["gate", "{suite}", "--base", "outputs:{outputs}", "--candidate", "outputs:{outputs}",
                 "--policy", "{input}", "--out", "{out}", "--no-store", "--no-cache"],
        "kind": "yaml",
    },
    "eval outputs:": {
        "argv": ["eval", "{suite}", "--model", "outputs:{input}", "--out", "{out}", "--no-store", "--no-cache"],
        "kind": "data",
    },
    "eval suite.yaml": {
        "argv": ["eval", "{input}", "--model", "outputs:{outputs}", "--out", "{out}", "--no-store", "--no-cache"],
        "kind": "suite-yaml",
    },
    "eval items": {
        "argv": ["eval", "{input}", "--model", "outputs:{outputs}", "--out", "{out}", "--no-store", "--no-cache"],
        "kind": "suite-items",
    },
    "eval rubric": {
        "argv": ["eval", "{input}", "--model", "outputs:{outputs}", "--out", "{out}", "--no-store", "--no-cache"],
        "kind": "rubric",
    },
    "train config": {"argv": ["train", "{input}", "--out", "{out}"], "kind": "yaml"},
    "train data": {"argv": ["train", "{input}", "--out", "{out}"], "kind": "train-data"},
    "monitor": {"argv": ["monitor", "{input}", "--out", "{out}", "--no-store"], "kind": "data"},
    "monitor --reference": {
        "argv": ["monitor", "{logs}", "--reference", "{input}", "--out", "{out}", "--no-store"],
        "kind": "data",
    },
    "redteam seeds": {
        "argv": ["redteam", "{input}", "--expand-only", "--out", "{out}", "--no-store"],
        "kind": "suite-items",
        "suite": "safety",
    },
    "redteam --grader-labels": {
        "argv": ["redteam", "{redteam}", "--grader-labels", "{input}", "--model", "no-such-model", "--out", "{out}",
                 "--no-store", "--no-cache"],
        "kind": "data",
    },  # the model would load after the labels are read: it is never reached
    "rm-eval data": {"argv": ["rm-eval", "{nowhere}", "{input}", "--out", "{out}"], "kind": "data"},
    "import-lm-eval": {"argv": ["import-lm-eval", "{input}", "--out", "{out}"], "kind": "yaml"},
    "store import": {"argv": ["store", "import", "{input}", "--store", "{store}"], "kind": "json"},
}

CASES = ["empty", "huge_line", "dev_zero", "binary", "invalid_utf8", "directory", "missing", "gzip_renamed",
         "header_only", "unwritable_out"]  # fmt: skip

HEADER_ONLY = {
    "data": b"item_id,rater_id,score\n",
    "yaml": b"---\n",
    "json": b"{}\n",
    "suite-items": b"id,prompt,reference\n",
    "train-data": b"prompt,completion\n",
    "suite-yaml": b"---\n",
    "rubric": b"---\n",
}
HOSTILE_FILE = {"suite-items": "items.jsonl", "suite-yaml": "suite.yaml", "rubric": "rubric.yaml"}
HUGE = 33 * 2**20  # over the 32 MiB record limit and the 16 MiB config limit


def _hostile_bytes(case: str, kind: str, huge: Path) -> bytes | None:
    return {
        "empty": b"",
        "binary": bytes(range(256)) * 64,
        "invalid_utf8": b"\xff\xfe prompt,completion\n\xc3\x28,\xa0\xa1\n" * 20,
        "gzip_renamed": gzip.compress(b'{"prompt": "a", "completion": "b"}\n' * 50, mtime=0),
        "header_only": HEADER_ONLY[kind],
    }.get(case)


def make_case(case: str, where: Path, kind: str, huge: Path, suite_name: str = "general") -> tuple[Path, Path]:
    """Write the hostile input; return (the path given on the command line, the path the message must name)."""
    if kind in HOSTILE_FILE:
        suite = shutil.copytree(ROOT / "suites" / suite_name, where / "suite")
        rubric = f"../../rubrics/{suite_name}.yaml"  # the copy's rubric: the bundled one, or its own hostile file
        text = (suite / "suite.yaml").read_text()
        new = "rubric.yaml" if kind == "rubric" else str(ROOT / "rubrics" / f"{suite_name}.yaml")
        (suite / "suite.yaml").write_text(text.replace(rubric, new))
        target = suite / HOSTILE_FILE[kind]
        target.unlink(missing_ok=True)
        given = suite
        if kind == "suite-yaml" and case == "missing":
            return given, suite  # no suite.yaml: the folder is not a suite, and the message says so
    elif kind == "train-data":
        target = where / "train.jsonl"
        given = where / "config.yaml"
        given.write_text(f"base_model: smollm2-135m\nmethod: sft\nadapter: lora\ntrain_data: {target}\nmax_steps: 1\n")
    else:
        target = given = where / {"data": "input.jsonl", "yaml": "input.yaml", "json": "input.json"}[kind]
    if case == "directory":
        target.mkdir()
    elif case == "huge_line":
        target.symlink_to(huge)
    elif case == "dev_zero":  # an endless stream: refused as a device, never read
        target.symlink_to("/dev/zero")
    elif case in ("missing", "unwritable_out"):
        pass
    else:
        data = _hostile_bytes(case, kind, huge)
        assert data is not None
        target.write_bytes(data)
    return given, target


@pytest.fixture(scope="module")
def goods(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Good inputs for the other arguments (a training file, two runs, a replay, a suite, logs)."""
    from tests.fixtures.runs import make_run

    d = tmp_path_factory.mktemp("goods")
    rows = []
    for line in (ROOT / "suites/general/items.jsonl").read_text().splitlines():
        item = json.loads(line)
        rows.append({"id": item["id"], "output": str(item["reference"])})
    (d / "outputs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for name in ("a", "b"):
        (d / f"run_{name}.json").write_text(json.dumps(make_run({"correct": [1.0, 0.0, 1.0]}).to_document()))
    huge = d / "huge"
    with huge.open("wb") as fh:  # one line over every limit, no newline: a /dev/zero-like stream of text
        fh.write(b"a" * HUGE)
    return {
        "train": ROOT / "examples" / "tickets_train.jsonl",
        "run_a": d / "run_a.json",
        "run_b": d / "run_b.json",
        "outputs": d / "outputs.jsonl",
        "suite": ROOT / "suites" / "general",
        "logs": ROOT / "examples" / "monitor" / "logs.jsonl",
        "redteam": ROOT / "suites" / "redteam",
        "nowhere": d / "no-such-run",
        "store": d / "store.sqlite",
        "huge": huge,
    }


def cli(capfd: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str]:
    from harness.cli import main

    with pytest.raises(SystemExit) as info:
        main(args)
    _out, err = capfd.readouterr()
    return int(info.value.code or 0), err


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("verb", list(VERBS))
def test_hostile_input(capfd, tmp_path, goods, verb, case):
    spec = VERBS[verb]
    if case == "unwritable_out" and "{out}" not in spec["argv"]:
        pytest.skip(f"{verb} writes no --out")
    given, named = make_case(case, tmp_path, spec["kind"], goods["huge"], spec.get("suite", "general"))
    out = tmp_path / "out"
    if case == "unwritable_out":  # a regular file where the output folder's parent should be
        (tmp_path / "plain").write_text("x")
        out = named = tmp_path / "plain" / "out"
    args = [a.format(input=given, out=out, **goods) for a in spec["argv"]]
    code, err = cli(capfd, args)
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    names = {str(named), str(named.resolve())}  # a config's paths may be named resolved (a link's target)
    assert any(n in err for n in names), f"the message does not name {named}: {err}"
