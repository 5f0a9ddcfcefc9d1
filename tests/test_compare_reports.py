"""Reports of a gate: Markdown (step summary), self-contained HTML (rendered in Chromium), JUnit XML."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from fixtures.browser import chromium, measure
from fixtures.runs import binary_rubric, make_run

from harness.compare import LeakageInfo, compare_runs, gate_result, policy_from_gate
from harness.compare.models import GateResult
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


def _three_suites() -> GateResult:
    """A failing suite (with leakage and hostile outputs), an inconclusive one and a passing one, in that mix."""
    fail = _result(nasty=True, leak=True).comparisons[0]
    acc_b, acc_c = np.r_[np.zeros(30), np.ones(10)], np.ones(40)
    rubric = binary_rubric("acc")
    rule = {"rules": [{"criterion": "acc", "require": "improvement"}]}
    # Long unbroken outputs and a long criterion name must wrap, not widen the page.
    long_rubric = binary_rubric("acc", "answers_cite_the_ticket_number_and_the_customer_account_id")
    long = {"acc": acc_b, "answers_cite_the_ticket_number_and_the_customer_account_id": acc_b}
    passing = compare_runs(
        make_run(long, rubric=long_rubric, suite="codes", outputs=["https://example.invalid/" + "x" * 400] * 40),
        make_run({k: acc_c for k in long}, rubric=long_rubric, suite="codes", gate=rule), policy_from_gate(rule))
    before, after = np.r_[np.zeros(5), np.ones(5)], np.r_[1, np.zeros(4), 0, np.ones(4)]  # one fixed, one broken
    unsure = compare_runs(make_run({"acc": before}, rubric=rubric, suite="safety"),
                          make_run({"acc": after}, rubric=rubric, suite="safety", gate=rule), policy_from_gate(rule))
    return gate_result([passing, unsure, fail], manifest={"command": ["harness", "gate"]})


def test_html_summary_lists_suites_failing_first_with_links() -> None:
    result = _three_suites()
    assert [c.verdict for c in result.comparisons] == ["pass", "inconclusive", "fail"]
    html = render_html(result)
    summary = html[html.index('id="summary"'):html.index("</nav>")]
    item = r'<li data-verdict="(\w+)"><span class="tag \w+">\w+</span><a href="#([\w-]+)">([^<]+)</a>'
    order = re.findall(item, summary)
    assert [(v, name) for v, _, name in order] == [("fail", "demo"), ("inconclusive", "safety"), ("pass", "codes")]
    for verdict, anchor, _ in order:
        assert f'<section id="{anchor}" class="suite" data-verdict="{verdict}">' in html
    assert html.index('id="summary"') < html.index("<section")
    # The failing suite's failing rule is named in the summary, with its reason.
    failed = next(r for r in result.rules if r.verdict == "fail")
    assert f"fail: {failed.label}" in summary


def test_html_tick_labels_use_a_true_minus_and_fit_the_plot() -> None:
    from harness.report.charts import PAD, WIDTH, delta_chart, delta_span, tick_label

    assert tick_label(-0.25) == "−0.25" and tick_label(0.0) == "0"
    span = delta_span([-0.2, 0.01], [0.05])
    assert span == 0.2
    chart = delta_chart(-0.2, [-0.24, -0.16], span, [0.05], title="d")
    assert [t.label for t in chart.ticks] == ["−0.2", "−0.1", "0", "0.1", "0.2"]
    # Half of the widest label (about 0.6 em per character at 12 units) fits inside the padding.
    assert max(len(t.label) for t in chart.ticks) * 0.6 * chart.font / 2 < PAD
    assert chart.ticks[0].x == PAD and chart.ticks[-1].x == WIDTH - PAD
    assert chart.intervals[0].colour == "#b91c1c"  # interval below zero: red


def test_reports_render_from_a_comparison_document_on_disk(tmp_path: Path) -> None:
    result = _result(leak=True)
    write_reports(result, out=tmp_path)
    doc = json.loads((tmp_path / "comparison.json").read_text())
    assert render_markdown(doc) == (tmp_path / "report.md").read_text()
    assert render_html(doc) == (tmp_path / "report.html").read_text()


def _layout_problems(m: dict, width: int) -> list[str]:
    """Everything wrong with a measured layout (see fixtures.browser.measure), as readable lines."""
    vw, problems = m["viewport"], []
    if not width - 20 <= vw <= width:
        problems.append(f"viewport {vw} px for a {width} px frame")
    if m["scroll_width"] > vw:
        problems.append(f"page scrolls sideways: {m['scroll_width']} px in a {vw} px viewport; {m['overflowing']}")
    for i, t in enumerate(m["tables"]):
        box, sc = t["box"], t["scroller"]
        if box["width"] > vw + 0.5 and (sc is None or sc["left"] < -0.5 or sc["right"] > vw + 0.5):
            problems.append(f"table {i} is {box['width']:.0f} px wide, not inside a scroll container")
        if len(t["header_widths"]) != t["columns"] or min(t["header_widths"], default=99) < 20:
            problems.append(f"table {i} loses a column: header widths {t['header_widths']}")
    for x in m["texts"]:
        px = x["font_user"] * x["scale"]
        if px < 10:
            problems.append(f"tick label {x['text']!r} is {px:.1f} px")
        b, s = x["box"], x["svg"]
        if b["left"] < s["left"] - 0.5 or b["right"] > s["right"] + 0.5 or b["bottom"] > s["bottom"] + 0.5:
            problems.append(f"tick label {x['text']!r} is clipped by its plot")
    if m["first_in_main"] != "summary":
        problems.append(f"the page opens with {m['first_in_main']!r}, not the summary")
    if m["summary"] and m["sections"] and m["summary"]["bottom"] > min(s["top"] for s in m["sections"]):
        problems.append("the summary is not above every suite")
    links = m["summary_links"]
    rank = {"fail": 0, "inconclusive": 1, "pass": 2}
    if [rank[lk["verdict"]] for lk in links] != sorted(rank[lk["verdict"]] for lk in links):
        problems.append("the summary does not list failing suites first")
    if sorted(lk["href"][1:] for lk in links) != sorted(s["id"] for s in m["sections"]):
        problems.append("the summary does not link every suite's section")
    problems += [f"link {lk['href']} leads to a {lk['target_verdict']} section" for lk in links
                 if lk["target_verdict"] != lk["verdict"]]
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("width", [1400, 400])
def test_report_layout_in_headless_chromium(tmp_path: Path, width: int) -> None:
    """At 1400 and 400 px: summary first, no table wider than the screen outside a scroll box, labels >= 10 px."""
    if chromium() is None:
        pytest.skip("chromium not found (make test installs Debian's chromium when missing)")
    shot = tmp_path / f"report-{width}.png"
    m = measure(render_html(_three_suites()), width, tmp_path, screenshot=shot)
    assert len(m["tables"]) >= 8 and len(m["texts"]) >= 5 * 2 * 8 and len(m["sections"]) == 3
    labels = {x["text"] for x in m["texts"]}
    assert "−0.25" in labels, sorted(labels)  # the safety suite's axis: a long negative label, checked for clipping
    assert _layout_problems(m, width) == []
    if width == 400:
        # Some table really is wider than the screen and scrolls inside its own box.
        assert any(t["box"]["width"] > m["viewport"] and t["scroller"] for t in m["tables"])
    from matplotlib.image import imread

    pixels = imread(str(shot))
    assert float(pixels[..., :3].std()) > 0.05  # not a blank page
    banner = pixels[10:40, 10:200, :3].reshape(-1, 3).mean(axis=0)
    assert banner[0] > banner[1] + 0.2 and banner[0] > banner[2] + 0.2  # red: the FAIL banner rendered


@pytest.mark.slow
def test_layout_check_can_fail(tmp_path: Path) -> None:
    """Negative control: without scroll boxes, with small labels and with labels moved off the plot, it complains."""
    if chromium() is None:
        pytest.skip("chromium not found (make test installs Debian's chromium when missing)")
    page = render_html(_three_suites())
    broken = (page.replace("overflow-x: auto", "overflow-x: visible").replace('font-size="12"', 'font-size="7"')
              .replace('class="tick" ', 'class="tick" transform="translate(-30 0)" ')
              .replace('<nav class="summary" id="summary"', "<nav"))
    problems = _layout_problems(measure(broken, 400, tmp_path), 400)
    for expected in ("not inside a scroll container", "px wide", "is 7.0 px", "clipped by its plot",
                     "page scrolls sideways", "not the summary"):
        assert any(expected in p for p in problems), (expected, problems)


@pytest.mark.parametrize(
    "name", ["harness.report.formatting", "harness.report.charts", "harness.report.html", "harness.report.junit"]
)
def test_report_docstring_examples(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


def test_report_modules_import_without_cycles() -> None:
    """No module of harness/report imports, even lazily, one that imports it back (issue: comparison <-> html/junit)."""
    import ast

    folder = Path(__file__).parent.parent / "harness" / "report"
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        name = "harness.report" if path.stem == "__init__" else f"harness.report.{path.stem}"
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harness.report"):
                graph[name].add(node.module)
    assert "harness.report.html" in graph["harness.report.comparison"]  # the graph is really read

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ()))

    # The package itself is imported first by every submodule; only cycles among submodules count.
    cycles = [m for m in graph if m != "harness.report" and reaches(m, m, {m})]
    assert cycles == []
