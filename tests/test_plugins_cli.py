"""``harness list``: the registered plug-ins of each kind as a table or a JSON document."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "harness", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.mark.parametrize(
    ("kind", "some"),
    [("scorers", "json_schema"), ("models", "openai"), ("checks", "duplicates.near"), ("leakage", "ngram"),
     ("losses", "ipo")],
)
def test_list_a_kind_as_json(kind, some):
    r = run("list", kind, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "harness.plugins/v1" and doc["kind"] == kind
    names = [p["name"] for p in doc["plugins"]]
    assert names == sorted(names) and some in names
    entry = next(p for p in doc["plugins"] if p["name"] == some)
    assert entry["summary"] and isinstance(entry["recorded"], dict)


def test_list_a_kind_as_a_table_on_stdout():
    r = run("list", "losses")
    assert r.returncode == 0, r.stderr
    assert all(word in r.stdout for word in ("name", "summary", "recorded", "sigmoid", "cdpo", "ipo", "Rafailov"))
    assert r.stderr == ""


def test_recorded_arguments_reach_the_listing():
    doc = json.loads(run("list", "leakage", "--json").stdout)
    ngram = next(p for p in doc["plugins"] if p["name"] == "ngram")
    assert ngram["recorded"]["rank"] == 1 and "n" in ngram["recorded"]["options"]


def test_list_without_a_kind_names_every_kind():
    r = run("list", "--json")
    assert r.returncode == 0, r.stderr
    kinds = {k["kind"]: k["names"] for k in json.loads(r.stdout)["kinds"]}
    assert {"scorers", "models", "checks", "leakage", "losses"} <= set(kinds)
    assert "contains" in kinds["scorers"]
    assert "leakage" in run("list").stdout


def test_an_unknown_kind_is_bad_usage_with_did_you_mean():
    r = run("list", "scorer")
    assert r.returncode == 2
    assert "unknown plug-in kind 'scorer'" in r.stderr and "Did you mean 'scorers'?" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
