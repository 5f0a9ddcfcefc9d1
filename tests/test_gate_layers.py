"""compare measures, gate decides: harness.compare never imports harness.gate, stats imports neither; no stage
imports a later one (train never imports eval: its online rewards come through the registry)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "harness"


def _imports(folder: str) -> list[tuple[str, str]]:
    """(file, imported module) for every import in a folder of the package, lazy ones included."""
    out = []
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                out.append((path.name, node.module))
            elif isinstance(node, ast.Import):
                out.extend((path.name, a.name) for a in node.names)
    return out


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        ("compare", ("harness.gate", "harness.report", "harness.cli", "harness.models")),
        ("stats", ("harness.compare", "harness.gate", "harness.eval", "harness.agreement", "harness.report")),
        ("gate", ("harness.report", "harness.cli", "harness.store")),
        ("eval", ("harness.compare", "harness.gate", "harness.report", "harness.cli")),
        ("train", ("harness.eval", "harness.compare", "harness.gate", "harness.report", "harness.cli",
                   "harness.store")),
    ],
)
def test_no_import_against_the_flow(folder: str, forbidden: tuple[str, ...]) -> None:
    bad = [(f, m) for f, m in _imports(folder) if m.startswith(forbidden)]
    assert bad == [], f"harness/{folder} imports against the flow: {bad}"


def test_the_gate_names_live_in_the_gate() -> None:
    import harness.compare
    import harness.gate

    gate_names = {"compare_runs", "gate_result", "combine_verdicts", "EXIT_CODES", "Verdict", "GateResult",
                  "Comparison", "RuleResult", "Policy", "Rule", "decide", "load_policy", "policy_from_gate"}
    assert gate_names <= set(harness.gate.__all__)
    assert not gate_names & set(harness.compare.__all__)
