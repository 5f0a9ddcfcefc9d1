"""JUnit XML for CI: one ``testsuite`` per suite, one ``testcase`` per rule.

A failed rule is a ``<failure>``, an inconclusive one is ``<skipped>`` with the reason; the shape
is the common one (Ant/Jenkins ``junit-10.xsd``) that GitHub, GitLab, Jenkins and Azure read.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from harness.report.formatting import fmt, fmt_ci, fmt_p
from harness.report.gate_view import as_document

if TYPE_CHECKING:
    from harness.compare.models import GateResult

__all__ = ["render_junit"]

# Characters XML 1.0 does not allow (outputs of a model can hold any of them).
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


def _details(r: Mapping[str, Any]) -> str:
    lines = [
        f"rule: {r['label']}",
        f"verdict: {r['verdict']} ({r['reason']})",
        f"statistic: {r['statistic']} = {fmt(r['estimate'])}, {r['confidence']:.0%} CI {fmt_ci(r['ci'])}, n = {r['n']}",
        f"delta: {fmt(r['delta'])} {fmt_ci(r.get('delta_ci'))}",
        f"p-value: {fmt_p(r['p_value'])} ({r.get('p_method') or 'none'}), "
        f"Holm-adjusted {fmt_p(r.get('p_value_holm'))}",
        "counts: " + ", ".join(f"{k} {v}" for k, v in r["counts"].items()),
    ]
    if r.get("calibration"):
        lines.append(f"calibration: {r['calibration'].get('reason', '')}")
    return _clean("\n".join(lines))


def render_junit(result: GateResult | Mapping[str, Any], *, timestamp: datetime | None = None) -> str:
    """The gate as JUnit XML (UTF-8, with declaration), from the gate or its ``harness.comparison/v1`` document.

    Example:
        >>> from harness.compare.models import GateResult
        >>> render_junit(GateResult(verdict="inconclusive", comparisons=[])).splitlines()[1]
        '<testsuites name="harness gate" tests="0" failures="0" errors="0" time="0" />'
    """
    doc = as_document(result)
    stamp = (timestamp or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    rules = [r for c in doc["comparisons"] for r in c["rules"]]
    root = ET.Element(
        "testsuites",
        name="harness gate",
        tests=str(len(rules)),
        failures=str(sum(r["verdict"] == "fail" for r in rules)),
        errors="0",
        time="0",
    )
    for c in doc["comparisons"]:
        suite_name = _clean(f"harness.gate.run.{c['suite']}")
        suite = ET.SubElement(
            root,
            "testsuite",
            name=suite_name,
            tests=str(len(c["rules"])),
            failures=str(sum(r["verdict"] == "fail" for r in c["rules"])),
            errors="0",
            skipped=str(sum(r["verdict"] == "inconclusive" for r in c["rules"])),
            time="0",
            timestamp=stamp,
        )
        props = ET.SubElement(suite, "properties")
        for name, value in (
            ("verdict", c["verdict"]),
            ("base", str(c["base"]["model"].get("spec", ""))),
            ("candidate", str(c["candidate"]["model"].get("spec", ""))),
            ("paired_items", str(c["n_paired"])),
            ("confidence", f"{c['policy']['confidence']:g}"),
        ):
            ET.SubElement(props, "property", name=name, value=_clean(value))
        for r in c["rules"]:
            case = ET.SubElement(suite, "testcase", name=_clean(r["label"]), classname=suite_name, time="0")
            if r["verdict"] == "fail":
                fail = ET.SubElement(case, "failure", message=_clean(r["reason"]), type="gate.fail")
                fail.text = _details(r)
            elif r["verdict"] == "inconclusive":
                ET.SubElement(case, "skipped", message=_clean(f"inconclusive: {r['reason']}"))
            out = ET.SubElement(case, "system-out")
            out.text = _details(r)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
