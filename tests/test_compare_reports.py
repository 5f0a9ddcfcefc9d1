"""Reports of a gate: Markdown (step summary), self-contained HTML (rendered in Chromium), JUnit XML."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from fixtures.runs import binary_rubric, make_run

from harness.compare import LeakageInfo
from harness.gate import GateResult, compare_runs, gate_result, policy_from_gate
from harness.report.comparison import render_markdown, write_reports
from harness.report.html import render_html
from harness.report.junit import render_junit

# The common JUnit shape (Ant's XML formatter as described by Jenkins' junit-10.xsd): written here
# from that description; testsuites > testsuite > (properties?, testcase*, system-out?, system-err?),
# testcase > (skipped?, error*, failure*, system-out*, system-err*).
JUNIT_XSD = """<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">
  <xs:complexType name="result" mixed="true">
    <xs:attribute name="message" type="xs:string"/>
    <xs:attribute name="type" type="xs:string"/>
  </xs:complexType>
  <xs:element name="testsuites">
    <xs:complexType>
      <xs:sequence>
        <xs:element ref="testsuite" minOccurs="0" maxOccurs="unbounded"/>
      </xs:sequence>
      <xs:attribute name="name" type="xs:string"/>
      <xs:attribute name="time" type="xs:decimal"/>
      <xs:attribute name="tests" type="xs:nonNegativeInteger"/>
      <xs:attribute name="failures" type="xs:nonNegativeInteger"/>
      <xs:attribute name="disabled" type="xs:nonNegativeInteger"/>
      <xs:attribute name="errors" type="xs:nonNegativeInteger"/>
      <xs:attribute name="skipped" type="xs:nonNegativeInteger"/>
    </xs:complexType>
  </xs:element>
  <xs:element name="testsuite">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="properties" minOccurs="0">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="property" maxOccurs="unbounded">
                <xs:complexType>
                  <xs:attribute name="name" type="xs:string" use="required"/>
                  <xs:attribute name="value" type="xs:string" use="required"/>
                </xs:complexType>
              </xs:element>
            </xs:sequence>
          </xs:complexType>
        </xs:element>
        <xs:element name="testcase" minOccurs="0" maxOccurs="unbounded">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="skipped" type="result" minOccurs="0"/>
              <xs:element name="error" type="result" minOccurs="0" maxOccurs="unbounded"/>
              <xs:element name="failure" type="result" minOccurs="0" maxOccurs="unbounded"/>
              <xs:element name="system-out" type="xs:string" minOccurs="0" maxOccurs="unbounded"/>
              <xs:element name="system-err" type="xs:string" minOccurs="0" maxOccurs="unbounded"/>
            </xs:sequence>
            <xs:attribute name="name" type="xs:string" use="required"/>
            <xs:attribute name="classname" type="xs:string"/>
            <xs:attribute name="time" type="xs:decimal"/>
            <xs:attribute name="assertions" type="xs:string"/>
            <xs:attribute name="status" type="xs:string"/>
          </xs:complexType>
        </xs:element>
        <xs:element name="system-out" type="xs:string" minOccurs="0"/>
        <xs:element name="system-err" type="xs:string" minOccurs="0"/>
      </xs:sequence>
      <xs:attribute name="name" type="xs:string" use="required"/>
      <xs:attribute name="tests" type="xs:nonNegativeInteger" use="required"/>
      <xs:attribute name="failures" type="xs:nonNegativeInteger"/>
      <xs:attribute name="errors" type="xs:nonNegativeInteger"/>
      <xs:attribute name="skipped" type="xs:nonNegativeInteger"/>
      <xs:attribute name="disabled" type="xs:nonNegativeInteger"/>
      <xs:attribute name="time" type="xs:decimal"/>
      <xs:attribute name="timestamp" type="xs:dateTime"/>
      <xs:attribute name="hostname" type="xs:string"/>
      <xs:attribute name="id" type="xs:string"/>
      <xs:attribute name="package" type="xs:string"/>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""


def _result(*, nasty: bool = False, leak: bool = False) -> GateResult:
    """Three rules: one pass, one fail, one inconclusive; outputs with HTML and control characters."""
    n = 50
    rng = np.random.default_rng(2)
    acc_b = np.r_[np.zeros(30), np.ones(20)]
    acc_c = np.r_[np.ones(25), np.zeros(5), np.ones(20)]
    q_b = rng.uniform(0.6, 0.9, n)
    q_c = q_b - 0.2
    safe_b = np.ones(n)
    safe_c = np.r_[np.zeros(3), np.ones(n - 3)]
    evil = '<script>alert("x")</script> & \x07bell \x00nul'
    outputs_b = [f"base answer {i}" + (evil if nasty and i == 1 else "") for i in range(n)]
    outputs_c = [f"candidate answer {i}" for i in range(n)]
    rubric = binary_rubric("acc", "safe")
    rubric["criteria"].append({"id": "q", "weight": 1.0, "scale": {"type": "continuous"}, "scorer": {"type": "chrf"}})
    gate = {"rules": [
        {"criterion": "acc", "require": "improvement"},
        {"criterion": "q", "require": "no_regression", "margin": 0.05},
        {"criterion": "safe", "require": "at_least", "value": 0.95},
    ]}
    base = make_run({"acc": acc_b, "q": q_b, "safe": safe_b}, outputs=outputs_b, rubric=rubric, model="base-model")
    cand = make_run({"acc": acc_c, "q": q_c, "safe": safe_c}, outputs=outputs_c, rubric=rubric, gate=gate,
                    model="cand-model")
    leakage = LeakageInfo(checked=True, train_data=["train.jsonl"], leaked_ids=["item-000"] if leak else [],
                          findings=[{"check": "leakage.exact", "ids": ["L3"], "holdout_ids": ["item-000"],
                                     "message": "exact copy"}] if leak else [], allowed=True)
    comp = compare_runs(base, cand, policy_from_gate(gate), leakage=leakage)
    return gate_result([comp], manifest={"command": ["harness", "compare"]})


def test_fixture_has_every_verdict() -> None:
    verdicts = [r.verdict for r in _result().rules]
    assert set(verdicts) == {"pass", "fail", "inconclusive"}


def test_markdown_fits_a_step_summary() -> None:
    result = _result(leak=True)
    md = render_markdown(result)
    assert md.startswith("# ❌ Gate: FAIL")
    for rule in result.rules:
        assert rule.label in md
    for section in ("#### Criteria", "#### Broken items", "#### Fixed items", "#### Leakage", "With the leaked items"):
        assert section in md
    # Many long outputs still fit GitHub's 1 MiB step-summary limit.
    n = 3000
    big_b = make_run({"a": np.zeros(n)}, outputs=["x" * 5000] * n)
    big_c = make_run({"a": np.ones(n)}, outputs=["y" * 5000] * n)
    big = gate_result([compare_runs(big_b, big_c, policy_from_gate([{"criterion": "a", "require": "improvement"}]))])
    assert len(render_markdown(big).encode()) < 100_000


def _junit_schema():
    etree = pytest.importorskip("lxml.etree")
    return etree, etree.XMLSchema(etree.fromstring(JUNIT_XSD.encode()))


def test_junit_is_valid_and_maps_verdicts() -> None:
    etree, schema = _junit_schema()
    result = _result(nasty=True)
    xml = render_junit(result)
    doc = etree.fromstring(xml.encode())
    assert schema.validate(doc), schema.error_log
    root = ET.fromstring(xml)
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(result.rules)
    by_name = {c.get("name"): c for c in cases}
    for rule in result.rules:
        case = by_name[rule.label]
        if rule.verdict == "fail":
            assert case.find("failure") is not None and case.find("failure").get("message") == rule.reason
        elif rule.verdict == "inconclusive":
            assert case.find("skipped").get("message") == f"inconclusive: {rule.reason}"
        else:
            assert case.find("failure") is None and case.find("skipped") is None
    assert root.get("tests") == str(len(result.rules))
    assert root.get("failures") == str(sum(r.verdict == "fail" for r in result.rules))


def test_junit_schema_check_can_fail() -> None:
    """Negative control: the schema rejects a test case without a name and a misplaced failure."""
    etree, schema = _junit_schema()
    bad = b'<testsuites><testsuite name="s" tests="1"><testcase classname="c"/></testsuite></testsuites>'
    assert not schema.validate(etree.fromstring(bad))
    bad2 = (b'<testsuites><testsuite name="s" tests="1"><testcase name="a"><system-out>x</system-out>'
            b"<failure/></testcase></testsuite></testsuites>")
    assert not schema.validate(etree.fromstring(bad2))


def test_junit_survives_control_characters() -> None:
    xml = render_junit(_result(nasty=True))
    ET.fromstring(xml)  # raises on invalid characters
    assert "\x07" not in xml and "\x00" not in xml


def test_html_is_self_contained_and_escapes_outputs() -> None:
    html = render_html(_result(nasty=True, leak=True))
    low = html.lower()
    for forbidden in ("<script", "<link", " src=", "url(", "@import", "http://", "https://"):
        assert forbidden not in low, forbidden
    assert "&lt;script&gt;alert(" in html
    assert 'id="verdict"' in html and "Gate: FAIL" in html
    assert html.count("<svg") >= 2 * 4  # means and difference charts for acc, q, safe, overall
    for section in ("Fixed and broken items", "Leakage", "Judge calibration", "Manifest", "With the leaked items"):
        assert section in html
    assert "base answer 1" in html and "candidate answer 1" in html


def test_write_reports_writes_every_file(tmp_path: Path) -> None:
    result = _result()
    written = write_reports(result, out=tmp_path / "out", junit=tmp_path / "junit.xml")
    assert {p.name for p in written} == {"comparison.json", "report.md", "report.html", "junit.xml"}
    doc = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert doc["schema"] == "harness.comparison/v1" and doc["verdict"] == "fail"
    for rule in doc["rules"]:
        assert {"criterion", "require", "delta", "ci", "p_value", "counts", "verdict"} <= set(rule)
    assert isinstance(doc["excluded"], list)
    assert not list((tmp_path / "out").glob(".*.tmp"))


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium not found (make test installs Debian's chromium when missing)")
    write_reports(_result(nasty=True, leak=True), out=tmp_path)
    shot = tmp_path / "shot.png"
    cmd = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,1600", f"--screenshot={shot}", "--dump-dom", (tmp_path / "report.html").as_uri(),
    ]
    env = {**os.environ, "HOME": str(tmp_path)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Gate: FAIL" in proc.stdout
    assert 'id="verdict"' in proc.stdout
    from matplotlib.image import imread

    pixels = imread(str(shot))
    assert pixels.shape[0] >= 800 and pixels.shape[1] >= 1000
    # A blank page is one colour; the report has a red banner, text and charts.
    assert float(pixels[..., :3].std()) > 0.05
    banner = pixels[20:60, 20:200, :3].reshape(-1, 3).mean(axis=0)
    assert banner[0] > banner[1] + 0.2 and banner[0] > banner[2] + 0.2  # red: the FAIL banner rendered
