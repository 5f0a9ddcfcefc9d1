"""The command line registers every verb module, and a data verb loads only its own."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import harness.cli
from harness.cli import VERB_MODULES, _modules_for

CLI = Path(harness.cli.__file__).parent


def test_every_module_that_registers_verbs_is_listed():
    registering = {
        p.stem
        for p in CLI.glob("*.py")
        if p.stem != "app" and re.search(r"@app\.|app\.command\(|app\.add_typer\(", p.read_text())
    }
    assert "data" in registering and "training" in registering
    assert registering <= set(VERB_MODULES), registering - set(VERB_MODULES)


def test_light_verbs_load_their_module_only():
    assert _modules_for(["agreement", "r.csv", "--level", "nominal"]) == ("data",)
    assert _modules_for(["--quiet", "validate", "t.jsonl"]) == ("data",)
    assert _modules_for(["eval", "suite"]) == VERB_MODULES
    assert _modules_for(["--help"]) == VERB_MODULES
    assert _modules_for([]) == VERB_MODULES


def test_agreement_process_does_not_import_the_other_verbs(tmp_path):
    ratings = tmp_path / "r.csv"
    rows = "".join(f"i{i},r{j},{(i + j) % 3}\n" for i in range(6) for j in range(3))
    ratings.write_text("item_id,rater_id,score\n" + rows)
    code = (
        "import sys\nfrom harness.cli import main\n"
        f"try:\n    main(['agreement', {str(ratings)!r}, '--level', 'nominal', '--bootstrap', '0', '--json'])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('harness.cli.')))\n"
        "print(sorted(m for m in ('scipy', 'torch', 'transformers', 'jinja2', 'numpy.ma') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    loaded = {m.removeprefix("harness.cli.") for m in ast.literal_eval(out[-2])}
    assert "data" in loaded
    assert not loaded & (set(VERB_MODULES) - {"data"})  # helpers (app, outputs) may load, other verbs not
    assert out[-1] == "[]"
