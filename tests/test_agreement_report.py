"""Ratings files, bad input, the harness.agreement/v1 document and its diagnostics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.agreement import agreement_report, gate_verdict, krippendorff_alpha, load_ratings
from harness.agreement.diagnostics import item_disagreement, loo_consensus
from harness.errors import InputError
from harness.report.agreement import render_markdown

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "ratings.csv"
PAIRWISE = ROOT / "examples" / "ratings_pairwise.csv"
MATRIX = np.array([[1, 2, 3], [2, 2, 2], [3, 3, 4], [4, 4, 4], [5, 4, 5], [1, 1, np.nan], [2, 3, 2], [5, 5, 5]])


def _long_csv(tmp_path: Path, rows: list[str], header: str = "item_id,rater_id,score", name: str = "r.csv") -> Path:
    p = tmp_path / name
    p.write_text(header + "\n" + "\n".join(rows) + "\n")
    return p


def _matrix_rows(matrix: np.ndarray) -> list[str]:
    return [f"i{i},r{j},{int(v)}" for i, row in enumerate(matrix) for j, v in enumerate(row) if not np.isnan(v)]


def _alpha(doc: dict, group: int = 0) -> float | None:
    return doc["groups"][group]["coefficients"]["krippendorff_alpha"]["value"]


# ---------------------------------------------------------------------------- reading
def test_long_csv_jsonl_and_wide_forms_give_the_same_alpha(tmp_path):
    expected = krippendorff_alpha(MATRIX, level="ordinal")
    csv_path = _long_csv(tmp_path, _matrix_rows(MATRIX))
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps({"item_id": f"i{i}", "rater_id": f"r{j}", "score": v})
            for i, row in enumerate(MATRIX.tolist())
            for j, v in enumerate(row)
            if v == v
        )
    )
    wide = tmp_path / "w.csv"
    wide.write_text(
        "item_id,r0,r1,r2\n"
        + "\n".join(
            f"i{i}," + ",".join("" if np.isnan(v) else str(int(v)) for v in row) for i, row in enumerate(MATRIX)
        )
    )
    for path, is_wide in ((csv_path, False), (jsonl, False), (wide, True)):
        doc = agreement_report(path, level="ordinal", bootstrap=0, wide=is_wide)
        assert _alpha(doc) == pytest.approx(expected, abs=1e-12), path.name
        assert doc["groups"][0]["n_items"] == 8 and doc["groups"][0]["n_raters"] == 3


def test_identical_duplicate_is_ignored_and_counted(tmp_path):
    p = _long_csv(tmp_path, [*_matrix_rows(MATRIX), "i0,r0,1"])
    doc = agreement_report(p, level="interval", bootstrap=0)
    assert doc["groups"][0]["duplicates_ignored"] == 1


@pytest.mark.parametrize(
    ("rows", "kwargs", "message", "line", "field"),
    [
        (["a,x,1", "a,y,2", "a,x,3"], {}, "twice with different scores (also on line 2)", 4, "score"),
        (["a,x,1", "a,y,7"], {"scale": "1-5"}, "off the declared scale 1-5", 3, "score"),
        (["a,x,1", "b,x,2"], {}, "only one rater", None, "rater_id"),
        (["a,x,1", "a,y,good"], {}, "is not a number", 3, "score"),
        (["a,x,low", "a,y,hi"], {"scale": "low,mid,high", "level": "ordinal"}, "off the declared scale", 3, "score"),
    ],
)
def test_bad_ratings_are_named_by_file_line_and_field(tmp_path, rows, kwargs, message, line, field):
    p = _long_csv(tmp_path, rows)
    with pytest.raises(InputError) as err:
        agreement_report(p, **{"level": "interval", "bootstrap": 0, **kwargs})
    assert message in str(err.value)
    assert err.value.file == str(p) and err.value.line == line and err.value.field == field


def test_more_bad_input(tmp_path):
    header = "item_id,rater_id,criterion,score,gold"
    crit = _long_csv(tmp_path, ["a,x,c1,1,", "a,y,c2,2,"], header, "crit.csv")
    with pytest.raises(InputError, match="pass --by criterion"):
        agreement_report(crit, level="nominal", bootstrap=0)
    gold = _long_csv(tmp_path, ["a,x,c1,1,1", "a,y,c1,2,2"], header, "gold.csv")
    with pytest.raises(InputError, match="two different gold values"):
        agreement_report(gold, level="nominal", bootstrap=0)
    ab = _long_csv(tmp_path, ["a,x,A,AB", "a,y,B,up"], "item_id,rater_id,score,shown_order", "ab.csv")
    with pytest.raises(InputError, match="shown_order 'up'"):
        agreement_report(ab, level="nominal", bootstrap=0)
    with pytest.raises(InputError, match="pairwise preference ratings"):
        agreement_report(ab, level="ordinal", bootstrap=0)
    stamps = _long_csv(tmp_path, ["a,x,1,2026-11-02", "a,y,2,batch-2"], "item_id,rater_id,score,timestamp", "t.csv")
    with pytest.raises(InputError, match="not an ISO 8601 date") as err:
        agreement_report(stamps, level="nominal", bootstrap=0)
    assert err.value.line == 3
    wide = tmp_path / "w.csv"
    wide.write_text("name,r1,r2\na,1,2\n")
    with pytest.raises(InputError, match="item_id"):
        load_ratings(wide, wide=True)
    with pytest.raises(InputError, match="'level' parameter of agreement_report"):
        agreement_report(crit, level="nomial")
    with pytest.raises(InputError, match="interval level needs a numeric scale"):
        agreement_report(_long_csv(tmp_path, ["a,x,1", "a,y,2"], name="n.csv"), level="interval", scale="a,b")


# ---------------------------------------------------------------------------- the document
KEYS_ALWAYS = {
    "percent_agreement",
    "cohen_kappa",
    "cohen_kappa_linear",
    "cohen_kappa_quadratic",
    "fleiss_kappa",
    "krippendorff_alpha",
    "gwet_ac1",
    "gwet_ac2",
    "icc1",
    "icc2",
    "icc3",
    "icc1k",
    "icc2k",
    "icc3k",
    "kendall_w",
}


def test_document_contract_and_json(tmp_path):
    doc = agreement_report(_long_csv(tmp_path, _matrix_rows(MATRIX)), level="interval", bootstrap=200)
    json.dumps(doc, allow_nan=False)
    assert doc["schema"] == "harness.agreement/v1" and doc["level"] == "interval"
    g = doc["groups"][0]
    assert {"criterion", "n_items", "n_raters", "coefficients", "raters", "items"} <= set(g)
    assert set(g["coefficients"]) == KEYS_ALWAYS
    for key, entry in g["coefficients"].items():
        assert {"value", "ci"} <= set(entry)
        if entry["value"] is None:
            assert entry["reason"], key
    assert g["coefficients"]["krippendorff_alpha"]["level"] == "interval"
    assert (
        g["coefficients"]["cohen_kappa"]["value"] is None
        and "exactly two raters" in g["coefficients"]["cohen_kappa"]["reason"]
    )
    for form in ("icc1", "icc2", "icc3", "icc1k", "icc2k", "icc3k"):
        lo, hi = g["coefficients"][form]["ci"]
        assert lo < hi and g["coefficients"][form]["value"] > 0.5
    assert g["coefficients"]["fleiss_kappa"]["form"].startswith("generalised")
    assert "se" in g["coefficients"]["fleiss_kappa"]


def test_two_raters_get_cohen_kappa_with_analytic_interval(tmp_path):
    doc = agreement_report(_long_csv(tmp_path, _matrix_rows(MATRIX[:, :2])), level="ordinal", bootstrap=200)
    c = doc["groups"][0]["coefficients"]
    for key in ("cohen_kappa", "cohen_kappa_linear", "cohen_kappa_quadratic"):
        assert c[key]["value"] is not None and c[key]["se"] > 0
        lo, hi = c[key]["ci_analytic"]
        assert lo < c[key]["value"] < hi
    assert c["icc2"]["value"] is None and "interval or ratio" in c["icc2"]["reason"]
    nominal = agreement_report(_long_csv(tmp_path, _matrix_rows(MATRIX[:, :2])), level="nominal", bootstrap=0)
    assert "ordered categories" in nominal["groups"][0]["coefficients"]["cohen_kappa_linear"]["reason"]


def test_no_data_is_not_zero(tmp_path):
    same = _long_csv(tmp_path, [f"i{i},r{j},3" for i in range(5) for j in range(3)])
    doc = agreement_report(same, level="interval", bootstrap=100)
    c = doc["groups"][0]["coefficients"]
    for key in ("krippendorff_alpha", "fleiss_kappa", "icc2"):
        assert c[key]["value"] is None and c[key]["ci"] is None and c[key]["reason"], key
    assert "not 0" in c["krippendorff_alpha"]["reason"]
    assert c["percent_agreement"]["value"] == 1.0
    assert doc["groups"][0]["gate"]["verdict"] == "inconclusive" and doc["verdict"] == "inconclusive"


def test_gate_verdicts():
    assert gate_verdict({"value": 0.9, "ci": [0.8, 0.95]}, 0.667)["verdict"] == "pass"
    assert gate_verdict({"value": 0.5, "ci": [0.4, 0.6]}, 0.667)["verdict"] == "fail"
    assert gate_verdict({"value": 0.66, "ci": [0.6, 0.7]}, 0.667)["verdict"] == "inconclusive"
    assert gate_verdict({"value": 0.9, "ci": None}, 0.667)["verdict"] == "inconclusive"
    assert gate_verdict({"value": None, "ci": None, "reason": "x"}, 0.667)["verdict"] == "inconclusive"


# ---------------------------------------------------------------------------- diagnostics on the example
@pytest.fixture(scope="module")
def example_doc():
    return agreement_report(EXAMPLE, level="ordinal", by="criterion", scale="1-5", bootstrap=300)


def test_example_flags_the_planted_unreliable_rater(example_doc):
    assert [g["criterion"] for g in example_doc["groups"]] == ["correctness", "helpfulness"]
    correctness = example_doc["groups"][0]
    flagged = {r["rater_id"]: r for r in correctness["raters"] if r["outlier"]}
    assert set(flagged) == {"eli"}
    eli = flagged["eli"]
    assert len(eli["outlier_reasons"]) == 2  # consensus and gold
    others = [r for r in correctness["raters"] if r["rater_id"] != "eli"]
    assert all(r["gold_accuracy"] > eli["gold_accuracy"] + 0.3 for r in others)
    assert eli["alpha_without"] > correctness["coefficients"]["krippendorff_alpha"]["value"] + 0.2
    helpfulness = {r["rater_id"]: r for r in example_doc["groups"][1]["raters"]}
    assert helpfulness["eli"]["outlier"] and not helpfulness["ana"]["outlier"]


def test_example_items_worst_first_and_drift_by_week(example_doc):
    items = example_doc["groups"][0]["items"]
    scores = [i["disagreement"] for i in items if i["disagreement"] is not None]
    assert scores == sorted(scores, reverse=True) and len(items) == 40
    assert any("gold" in i for i in items)
    drift = example_doc["groups"][1]["drift"]
    assert drift["by"] == "week" and [p["period"] for p in drift["periods"]] == ["2026-W45", "2026-W46", "2026-W47"]
    chen = [p["rater_consensus_agreement"]["chen"] for p in drift["periods"]]
    assert chen[2] < chen[0] - 0.2  # the planted rush in week three
    md = render_markdown(example_doc)
    assert "**FAIL**" in md and "ordinal" in md and "low accuracy on gold items" in md and "2026-W47" in md


def test_pairwise_example_finds_position_bias():
    doc = agreement_report(PAIRWISE, level="nominal", bootstrap=0)
    pw = doc["groups"][0]["pairwise"]
    assert pw["counts"]["A"] + pw["counts"]["B"] + pw["counts"]["tie"] == pw["n"] == 160
    biased = [r["rater_id"] for r in pw["raters"] if r["position_bias"] and r["position_bias"]["biased"]]
    assert biased == ["dara"]
    assert doc["groups"][0]["categories"] == ["A", "B", "tie"]


def test_pairwise_without_shown_order(tmp_path):
    p = _long_csv(tmp_path, ["a,x,A", "a,y,A", "b,x,B", "b,y,tie"])
    pw = agreement_report(p, level="nominal", bootstrap=0)["groups"][0]["pairwise"]
    assert pw["position_bias"] is None and "shown_order" in pw["position_bias_reason"]


def test_batches_when_timestamps_are_not_dates(tmp_path):
    rows = [
        f"i{i},r{j},{v},b{1 + i // 4}" for i, row in enumerate(MATRIX.tolist()) for j, v in enumerate(row) if v == v
    ]
    p = _long_csv(tmp_path, [r.replace(".0", "") for r in rows], "item_id,rater_id,score,timestamp")
    drift = agreement_report(p, level="interval", bootstrap=0)["groups"][0]["drift"]
    assert drift["by"] == "batch" and [x["period"] for x in drift["periods"]] == ["b1", "b2"]
    assert drift["periods"][0]["krippendorff_alpha"] == pytest.approx(krippendorff_alpha(MATRIX[:4], level="interval"))


# ---------------------------------------------------------------------------- diagnostics units
def test_leave_one_out_consensus():
    data = np.array([[1, 1, 2], [3, 2, 2], [4, np.nan, np.nan], [1, 2, 3]], dtype=float)
    np.testing.assert_array_equal(loo_consensus(data, 0, "interval"), [1.5, 2.0, np.nan, 2.5])
    np.testing.assert_array_equal(loo_consensus(data, 0, "ordinal"), [1.5, 2.0, np.nan, 2.5])
    # nominal: the others' mode; ties (1-2 on the first item, 2-3 on the last) go to 2, the most frequent value
    np.testing.assert_array_equal(loo_consensus(data, 0, "nominal"), [2.0, 2.0, np.nan, 2.0])
    np.testing.assert_array_equal(loo_consensus(data, 2, "nominal"), [1.0, 2.0, 4.0, 2.0])


def test_item_disagreement_is_zero_when_unanimous_and_relative_to_chance():
    d = item_disagreement(MATRIX, level="interval")
    assert d[1] == 0 and d[3] == 0 and d[7] == 0
    assert d[0] > d[2] > 0
    # Averaged with pair weights, item disagreement recovers alpha: 1 - weighted mean = alpha.
    m = (~np.isnan(MATRIX)).sum(axis=1)
    weights = m * (m - 1) / (m - 1)  # each item contributes m_u pairable values (Krippendorff's weighting)
    ok = m >= 2
    assert 1 - np.average(d[ok], weights=weights[ok]) == pytest.approx(krippendorff_alpha(MATRIX, level="interval"))


@pytest.mark.parametrize(
    ("source", "kwargs"),
    [
        ("example", {"level": "ordinal", "by": "criterion", "scale": "1-5", "bootstrap": 50}),
        ("example", {"level": "interval", "by": "criterion", "bootstrap": 30, "min_alpha": 1}),
        ("pairwise", {"level": "nominal", "bootstrap": 30}),
        ("two", {"level": "ordinal", "bootstrap": 20}),
        ("two", {"level": "ratio", "bootstrap": 0}),
    ],
)
def test_document_is_what_its_models_write(tmp_path, source, kwargs):
    """The document is built as plain JSON values without pydantic: a dump through the models
    (harness.documents.agreement) gives the same text, key order and number types included."""
    from harness.documents.agreement import AgreementDocument

    path = {"example": EXAMPLE, "pairwise": PAIRWISE}.get(source)
    if path is None:
        path = _long_csv(tmp_path, [f"i{i},{r},{(i * k) % 4 + 1}" for i in range(40) for k, r in ((1, "a"), (3, "b"))])
    doc = agreement_report(path, **kwargs)
    text = json.dumps(doc, ensure_ascii=False, allow_nan=False)
    assert json.dumps(AgreementDocument.model_validate(doc).to_document(), ensure_ascii=False) == text
