"""harness monitor: planted drift and degradation are found, stable traffic raises no alarm, bad input is exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from fixtures.monitor_logs import planted_logs, write_jsonl
from typer.testing import CliRunner

from harness.cli import app, main
from harness.errors import InputError, InputFileError
from harness.monitor import MonitorReport, MonitorSettings, monitor_logs, parse_window


def _settings(**kw: object) -> MonitorSettings:
    return MonitorSettings(window=parse_window(str(kw.pop("window", "1d"))), embedder="hashing", **kw)  # type: ignore[arg-type]


@pytest.fixture()
def planted(tmp_path: Path) -> Path:
    path = tmp_path / "logs.jsonl"
    write_jsonl(planted_logs(seed=1), path)
    return path


def test_planted_shift_and_drop_are_found_where_planted(planted: Path) -> None:
    report = monitor_logs(planted, _settings())
    status = [w.status for w in report.windows]
    assert status[0] == "reference"
    assert status[1:4] == ["ok", "ok", "ok"]  # stable traffic
    assert status[4:6] == ["drift", "drift"]  # the topic shift, found in the first shifted window
    assert status[6:] == ["degraded", "degraded"]  # the quality drop
    assert report.verdict == "degraded" and report.exit_code == 1
    drop = report.windows[6]
    degraded = {q.criterion for q in drop.quality if q.degraded}
    assert degraded == {"json_valid", "rating"}
    shifted = report.windows[4]
    assert any("thermostat" in e.prompt or "Термостат" in e.prompt for e in shifted.examples)
    assert any("thermostat" in g or "firmware" in g for g, _ in shifted.new_ngrams)
    script = next(t for t in shifted.drift if t.test == "script")
    assert script.p_adjusted is not None and script.p_adjusted < 0.05  # the Cyrillic prompts explain part of it


def test_stable_traffic_raises_alarms_at_most_at_the_stated_rate(tmp_path: Path) -> None:
    alarms = 0
    runs = 12
    for seed in range(runs):
        path = tmp_path / f"stable{seed}.jsonl"
        write_jsonl(planted_logs(seed=100 + seed, windows=5, per_window=80, shift_at=None, drop_at=None), path)
        report = monitor_logs(path, _settings(seed=seed))
        alarms += report.verdict != "ok"
    # Each run holds two families at alpha 0.05 (drift, quality): at most ~10% of runs alarm.
    # P(Binomial(12, 0.1) >= 5) < 0.5%.
    assert alarms < 5


def test_row_windows_and_a_training_reference(tmp_path: Path) -> None:
    rows = planted_logs(seed=2, windows=4, per_window=60, shift_at=2, drop_at=None)
    for r in rows:
        del r["timestamp"]
    logs = tmp_path / "logs.jsonl"
    write_jsonl(rows, logs)
    train = tmp_path / "train.jsonl"
    write_jsonl(
        [{"prompt": r["prompt"], "completion": "x"} for r in planted_logs(seed=9, windows=2, shift_at=None)], train
    )
    # quality only counts drops beyond half a rating point / half the JSON rate: this test is about windows
    report = monitor_logs(logs, _settings(window="60", margin=0.5), reference=train)
    assert report.reference["source"] == str(train)
    assert [w.status for w in report.windows] == ["reference", "ok", "drift", "drift"]
    with pytest.raises(InputError) as err:
        monitor_logs(logs, _settings(window="1d"))
    assert err.value.line == 1 and err.value.field == "timestamp"


def test_small_windows_are_inconclusive_never_ok(tmp_path: Path) -> None:
    rows = planted_logs(seed=4, windows=3, per_window=40, shift_at=None, drop_at=None)
    rows = rows[:40] + rows[40:50] + rows[80:]  # the middle day keeps only 10 rows
    logs = tmp_path / "logs.jsonl"
    write_jsonl(rows, logs)
    report = monitor_logs(logs, _settings())
    assert report.windows[1].status == "inconclusive" and report.windows[1].drift == []
    assert report.verdict in ("inconclusive", "drift", "degraded") and report.exit_code != 0


def test_cli_writes_reports_valid_against_the_schema(planted: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["monitor", str(planted), "--embedder", "hashing", "--out", str(out), "--json"])
    assert res.exit_code == 1, res.output
    doc = json.loads((out / "monitor.json").read_text())
    assert doc["schema"] == "harness.monitor/v1" and doc["verdict"] == "degraded"
    jsonschema.validate(doc, MonitorReport.model_json_schema(by_alias=True))
    assert MonitorReport.model_validate(doc).verdict == "degraded"
    html = (out / "monitor.html").read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    md = (out / "monitor.md").read_text()
    assert md.count("```") % 2 == 0 and "| 6 |" in md


@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        ('{"prompt": "hi"}\n', [], "field 'output'"),
        ('{"output": "x", "timestamp": "2026-01-01"}\n', [], "field 'prompt'"),
        ('{"prompt": "a", "output": "b", "timestamp": "yesterday"}\n', [], "field 'timestamp'"),
        ('{"prompt": "a", "output": "b", "timestamp": "2026-01-01", "rating": "good"}\n', [], "field 'rating'"),
        ('{"prompt": "a", "output": "b"\n', [], ":1"),
        ('{"prompt": "a", "output": "b", "timestamp": 1}\n', ["--window", "1 fortnight"], "--window"),
        ('{"prompt": "a", "output": "b", "timestamp": 1}\n', ["--alpha", "1.5"], "'alpha' parameter"),
        ('{"prompt": "a", "output": "b", "timestamp": 1}\n', ["--quality", "vibes"], "'quality' parameter"),
    ],
)
def test_bad_input_is_a_clear_error_exit_2(
    tmp_path: Path, content: str, args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = tmp_path / "logs.jsonl"
    logs.write_text(content)
    with pytest.raises(SystemExit) as exc:
        main(["monitor", str(logs), "--embedder", "hashing", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and "internal error" not in err


def test_too_few_windows_and_missing_folder(tmp_path: Path) -> None:
    logs = tmp_path / "logs.jsonl"
    write_jsonl(planted_logs(seed=0, windows=1, per_window=50), logs)
    with pytest.raises(InputError, match="smaller --window"):
        monitor_logs(logs, _settings())
    with pytest.raises(InputFileError):
        monitor_logs(tmp_path / "nope", _settings())
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="no log files"):
        monitor_logs(tmp_path / "empty", _settings())


def test_a_folder_of_csv_and_parquet_logs_reads_like_one_file(tmp_path: Path) -> None:
    import pandas as pd

    rows = planted_logs(seed=6, windows=4, per_window=50, shift_at=None, drop_at=None)
    one = tmp_path / "one.jsonl"
    write_jsonl(rows, one)
    folder = tmp_path / "logs"
    folder.mkdir()
    pd.DataFrame(rows[:100]).to_csv(folder / "a.csv", index=False)
    pd.DataFrame(rows[100:]).to_parquet(folder / "b.parquet")
    a = monitor_logs(one, _settings()).to_document()
    b = monitor_logs(folder, _settings()).to_document()
    for doc in (a, b):
        doc.pop("logs")
        for w in doc["windows"]:
            for e in w["examples"]:
                e.pop("file"), e.pop("line")
    assert a == b


def test_a_monitoring_run_is_recorded_in_the_results_store(planted: Path, tmp_path: Path) -> None:
    from harness.store.store import Store

    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    with pytest.raises(SystemExit) as exc:
        main(["monitor", str(planted), "--embedder", "hashing", "--store", url])
    assert exc.value.code == 1
    with Store.open(url) as st:
        [rec] = st.records()
    assert rec.kind == "monitor" and rec.verdict == "degraded"
