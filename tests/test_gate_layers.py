"""compare measures, gate decides: harness.compare never imports harness.gate, stats imports neither; no stage
imports a later one (train never imports eval: its online rewards come through the registry)."""

from __future__ import annotations

import ast
import sys
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


# The README's architecture table, top to bottom: a module may import only its own layer and those below.
LAYERS = [
    ("cli",), ("report",), ("store",), ("gate",), ("monitor", "redteam"), ("compare",), ("eval",), ("train",),
    ("validate",), ("agreement", "leakage"), ("models",), ("files", "findings"), ("documents", "stats"),
]


def _layer(parts: tuple[str, ...]) -> int:
    """The layer of ``harness.<parts>`` (a module path below the package): other root modules are the bottom."""
    name = parts[0].removesuffix(".py") if parts else ""
    for i, names in enumerate(LAYERS):
        if name in names:
            return i
    return len(LAYERS)


def test_no_module_imports_a_layer_above_its_own() -> None:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).parts
        if rel[0] in ("__init__.py", "__main__.py", "demo.py"):  # the public API and the demo stand on top
            continue
        mine = _layer(rel)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            else:
                continue
            for m in mods:
                parts = tuple(m.split("."))
                if parts[0] == "harness" and len(parts) > 1 and _layer(parts[1:]) < mine:
                    bad.append(f"{'/'.join(rel)} imports {m}")
    assert bad == [], "imports against the README's architecture order:\n" + "\n".join(bad)


def test_the_layer_test_sees_a_violation(tmp_path, monkeypatch) -> None:
    """The check above can fail: a stats module importing the gate is caught."""
    pkg = tmp_path / "harness"
    (pkg / "stats").mkdir(parents=True)
    (pkg / "stats" / "bad.py").write_text("from harness.gate import decide\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    with pytest.raises(AssertionError, match=r"stats/bad\.py imports harness\.gate"):
        test_no_module_imports_a_layer_above_its_own()
