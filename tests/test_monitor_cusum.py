"""CUSUM for monitoring: Siegmund's ARL against published values, a Markov chain and a simulation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures.monitor_logs import planted_logs, write_jsonl
from scipy import stats as sps

from harness.errors import InputError
from harness.monitor import MonitorSettings, monitor_logs, parse_window
from harness.monitor.cusum import cusum_path, cusum_threshold, siegmund_arl, standardised

RUBRIC = Path(__file__).resolve().parent.parent / "examples" / "monitor" / "rubric.yaml"


@pytest.mark.parametrize(("h", "shift", "published"), [(4, 0.0, 168), (5, 0.0, 465), (4, 1.0, 8.38), (5, 1.0, 10.4)])
def test_siegmund_matches_montgomerys_table(h: float, shift: float, published: float) -> None:
    # Montgomery, Introduction to Statistical Quality Control (6th ed.), Table 9.3: ARL of the
    # two-sided tabular CUSUM with k = 1/2; two-sided 1/ARL = 1/ARL+ + 1/ARL-.
    arl = 1 / (1 / siegmund_arl(0.5, h, shift) + 1 / siegmund_arl(0.5, h, -shift))
    assert arl == pytest.approx(published, rel=0.015)


def _markov_arl(k: float, h: float, mu: float = 0.0, states: int = 400) -> float:
    """Brook & Evans (1972): the CUSUM on a grid of states in [0, h], ARL = (I − R)⁻¹ 1 from state 0."""
    w = h / (states - 0.5)  # state i is C in [(i − ½)w, (i + ½)w); state 0 holds C = 0
    centres = np.arange(states) * w
    r = np.zeros((states, states))
    for i, c in enumerate(centres):
        upper = (np.arange(states) + 0.5) * w - c + k  # next C < upper[j] ⟺ x < upper[j]
        cdf = sps.norm.cdf(upper, loc=mu)
        r[i, 0] = cdf[0]
        r[i, 1:] = np.diff(cdf)
    arl = np.linalg.solve(np.eye(states) - r, np.ones(states))
    return float(arl[0])


@pytest.mark.parametrize("arl0", [50.0, 200.0])
def test_the_threshold_gives_the_stated_in_control_arl(arl0: float) -> None:
    h = cusum_threshold(arl0)
    assert siegmund_arl(0.5, h) == pytest.approx(arl0, rel=1e-6)
    assert _markov_arl(0.5, h) == pytest.approx(arl0, rel=0.03)  # Siegmund is an approximation
    # Simulation: run lengths of in-control N(0, 1) windows (vectorised over runs).
    rng = np.random.default_rng(7)
    runs, steps = 4000, int(arl0 * 12)
    c = np.zeros(runs)
    stopped = np.full(runs, -1)
    for t in range(steps):
        c = np.maximum(0.0, c + rng.standard_normal(runs) - 0.5)
        fresh = (c > h) & (stopped < 0)
        stopped[fresh] = t + 1
        c[stopped > 0] = 0.0
    assert (stopped > 0).mean() > 0.999
    mean = stopped[stopped > 0].mean()
    se = stopped[stopped > 0].std(ddof=1) / np.sqrt(runs)
    assert abs(mean - arl0) < 4 * se + 0.03 * arl0, (mean, se)


def test_path_and_standardised_values() -> None:
    path = cusum_path([0.2, None, 3.0, 2.0], k=0.5, h=3.5)
    assert path == [(0.0, False), (None, False), (2.5, False), (4.0, True)]
    # A share of 0.8 over 100 rows against a reference of 0.9 over 100 rows:
    # z = 0.1 / sqrt(0.09 × (1/100 + 1/100)) = 2.36, positive because worse.
    ref = [1.0] * 90 + [0.0] * 10
    z = 0.1 / np.sqrt(0.09 * 0.02)
    assert standardised(0.8, 100, ref, kind="rate", higher_better=True) == pytest.approx(z)
    assert standardised(0.8, 100, ref, kind="rate", higher_better=False) == pytest.approx(-z)
    vals = [3.0, 4.0, 5.0, 4.0]
    got = standardised(3.5, 16, vals, kind="mean", higher_better=True)
    assert got == pytest.approx(0.5 / (np.std(vals, ddof=1) * np.sqrt(1 / 16 + 1 / 4)))


def test_cusum_in_a_monitoring_run(tmp_path: Path) -> None:
    logs = tmp_path / "logs.jsonl"
    # A small schema break (10% of replies) from window 4: CUSUM accumulates it.
    rows = planted_logs(seed=5, windows=9, per_window=100, shift_at=None, drop_at=None, schema_at=4, schema_break=0.1)
    write_jsonl(rows, logs)
    settings = MonitorSettings(window=parse_window("1d"), embedder="hashing", cusum_arl=100, quality=["refusal"])
    report = monitor_logs(logs, settings, rubric=RUBRIC)
    sch = [next(q for q in w.quality if q.criterion == "schema") for w in report.windows]
    assert all(q.cusum is not None for q in sch[1:]) and not any(q.cusum_signal for q in sch[1:4])
    assert any(q.cusum_signal for q in sch[4:])
    assert sch[-1].cusum > sch[3].cusum
    assert report.settings["cusum_arl"] == 100 and report.verdict == "degraded"
    assert any("CUSUM" in r for w in report.windows for r in w.reasons)
    with pytest.raises(InputError, match="cusum-arl"):
        monitor_logs(logs, MonitorSettings(window=parse_window("1d"), cusum_arl=0.5))
