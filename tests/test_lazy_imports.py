"""``harness --help`` and data-only help load no heavy library (a check of sys.modules, not a timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "scipy")

PROBE = """
import contextlib, io, json, sys
from harness.cli import main
sys.argv = ["harness", *json.loads(sys.argv[1])]
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main()
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "help": "Usage" in out.getvalue(), "modules": sorted(sys.modules)}))
"""


def _modules_after(args: list[str], *, check_documents: bool = True) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not check_documents:  # as a user runs it: written documents are not validated
        env.pop("HARNESS_CHECK_DOCUMENTS", None)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["--help"], ["validate", "--help"], ["agreement", "--help"]])
def test_help_imports_no_heavy_library(args: list[str]) -> None:
    result = _modules_after(args)
    assert result["code"] == 0 and result["help"], result["code"]
    loaded = [m for m in result["modules"] if m.split(".")[0] in HEAVY]
    assert loaded == [], f"harness {' '.join(args)} imported {loaded[:10]}"


def test_import_harness_is_lazy_but_complete() -> None:
    code = (
        "import sys, harness; before = set(sys.modules);"
        "missing = [n for n in harness.__all__ if not hasattr(harness, n)];"
        "print(sorted(m for m in before if m.split('.')[0] in ('numpy', 'torch', 'scipy', 'pydantic')), missing)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "[] []"


def test_agreement_on_a_plain_csv_loads_neither_pyarrow_rich_nor_the_document_models(tmp_path: Path) -> None:
    """The ratings stay columns coded by numpy and the document is plain JSON values (tests validate it)."""
    path = tmp_path / "r.csv"
    rows = "".join(f"i{i},r{j},{(i + j) % 3}\n" for i in range(30) for j in range(3))
    path.write_text("item_id,rater_id,score\n" + rows)
    args = ["agreement", str(path), "--level", "nominal", "--bootstrap", "0", "--json"]
    result = _modules_after(args, check_documents=False)
    assert result["code"] == 3
    loaded = [m for m in result["modules"] if m.split(".")[0] in ("pyarrow", "pandas", "rich", *HEAVY)]
    loaded += [m for m in ("harness.records", "harness.documents.agreement") if m in result["modules"]]
    assert loaded == [], loaded


@pytest.mark.parametrize(
    "text",
    ["plain", "[default: 13]", "a [b] c [/b]", "\\[x]", "\\\\[x]", "ends with \\", "ends \\\\", "[#fff]", "[@click]",
     "[1, 2]", "[ ok]", "x [default: 3] y [bold]z[/bold] \\"],
)
def test_help_escape_is_rich_markup_escape(text: str) -> None:
    from rich.markup import escape

    from harness.cli.app import _escape_markup

    assert _escape_markup(text) == escape(text)


def test_top_level_help_loads_no_model_backend_nor_validation_library() -> None:
    """``harness --help`` lists the verbs: no backend (httpx), no pydantic, no numpy."""
    result = _modules_after(["--help"])
    assert result["code"] == 0 and result["help"]
    loaded = [m for m in result["modules"] if m.split(".")[0] in ("httpx", "pydantic", "numpy")]
    loaded += [m for m in result["modules"] if m.startswith("harness.models.")]
    assert loaded == [], loaded
