"""The results store on both back-ends: recording, idempotent import, transactions, concurrent
writers from several processes, schema versions, history, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fixtures.postgres import fresh_database, postgres_server  # noqa: F401  (a fixture)
from fixtures.runs import binary_rubric, make_run

from harness.errors import InputError
from harness.eval.evaluate import summarize
from harness.eval.run import Run
from harness.store import Store, StoreUnavailableError, StoreVersionError, head_revision, resolve_store_url
from harness.store.history import Filters, history_document, trend_points

ROOT = Path(__file__).parent.parent


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store on each back-end."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return fresh_database(request.getfixturevalue("postgres_server"))


def summarised(run: Run) -> Run:
    """The run with its per-criterion summary filled in, as harness eval writes it."""
    crits = {c for it in run.items for c in it.scores}
    run.summary = {c: summarize([it.scores[c].value for it in run.items], binary=True) for c in sorted(crits)}
    return run


def a_run(model: str, values: list[float], *, suite: str = "demo", created: str | None = None) -> dict:
    run = summarised(make_run({"acc": values}, rubric=binary_rubric("acc"), model=model, suite=suite))
    if created is not None:
        run.manifest.created = created
    return run.to_document()


def test_record_is_read_back_and_idempotent(store_url: str) -> None:
    doc = a_run("m1", [1, 0, 1, 1, 1, 0, 1, 1], created="2026-01-02T03:04:05+00:00")
    with Store.open(store_url) as st:
        first, again = st.record(doc, source="test"), st.record(doc, source="test")
        assert first.new and not again.new and again.id == first.id and st.count() == 1
        rec = st.get(first.id)
        assert rec.document == doc and rec.kind == "run" and rec.created_at.isoformat() == "2026-01-02T03:04:05+00:00"
        assert rec.provenance["model"]["fingerprint"] == "m1"
        rows = st.results(suite="demo", criterion="acc")
        assert len(rows) == 1 and rows[0]["mean"] == pytest.approx(0.75) and rows[0]["n"] == 8
        assert rows[0]["ci_low"] == pytest.approx(doc["summary"]["acc"]["ci"][0])
        assert st.results(suite="other") == [] and len(st.results(model="m1")) == 1


def test_a_comparison_and_its_runs_are_one_transaction(store_url: str) -> None:
    base, cand = a_run("b", [0, 1] * 10), a_run("c", [1, 1] * 10)
    comparison = {"schema": "harness.comparison/v1", "verdict": "pass", "comparisons": [
        {"suite": "demo", "verdict": "pass", "candidate": {"model": {"spec": "c"}}, "criteria": {}}], "manifest": {}}
    with Store.open(store_url) as st:
        with pytest.raises(InputError, match="expected a run document"):  # the second run is not a run
            st.record(comparison, runs={"demo": {"base": base, "candidate": {**comparison}}})
        assert st.count() == 0 and st.results() == []  # nothing written half
        rec = st.record(comparison, runs={"demo": {"base": base, "candidate": cand}})
        assert st.count() == 3
        last = st.last_passing_run("demo")
        assert last is not None and last.parent_id == rec.id and last.document == cand


def _writer(url: str, worker: int, n: int) -> subprocess.Popen[str]:
    code = f"""
import sys
sys.path.insert(0, {str(ROOT / 'tests')!r})
from test_store import a_run
from harness.store import Store
st = Store.open({url!r})
for i in range({n}):
    st.record(a_run(f"w{worker}-{{i}}", [1, 0, 1, {worker % 2}, i % 2, 1]), source="worker")
"""
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, text=True, stderr=subprocess.PIPE)


def test_concurrent_writers_lose_nothing(store_url: str) -> None:
    workers, each = 4, 25
    Store.open(store_url).close()  # half the workers race the schema creation below too, on a second store
    procs = [_writer(store_url, w, each) for w in range(workers)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errs
    with Store.open(store_url) as st:
        assert st.count() == workers * each
        specs = {r["model_spec"] for r in st.results()}
        assert specs == {f"w{w}-{i}" for w in range(workers) for i in range(each)}


def test_concurrent_first_opens_create_the_schema_once(store_url: str) -> None:
    procs = [_writer(store_url, w, 2) for w in range(3)]  # nobody opened this store before
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errs
    with Store.open(store_url) as st:
        assert st.count() == 6


def test_a_store_from_a_newer_version_is_refused(store_url: str) -> None:
    from sqlalchemy import text

    st = Store.open(store_url)
    with st.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    st.close()
    with pytest.raises(StoreVersionError, match="newer version of harness.*9999_future.*" + head_revision()):
        Store.open(store_url)
    r = subprocess.run([sys.executable, "-m", "harness", "history", "--store", store_url],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)  # fmt: skip
    assert r.returncode == 2 and "newer version of harness" in r.stderr and "Traceback" not in r.stderr


def test_history_filters_and_trend_points(store_url: str) -> None:
    with Store.open(store_url) as st:
        st.record(a_run("m1", [1, 0, 0, 1], created="2026-01-01T00:00:00+00:00"))
        st.record(a_run("m2", [1, 1, 0, 1], created="2026-02-01T00:00:00+00:00"))
        st.record(a_run("m2", [1, 1, 1, 1], suite="other", created="2026-03-01T00:00:00+00:00"))
        doc = history_document(st, Filters(suite="demo"))
        assert [e["models"]["model"] for e in doc["entries"]] == ["m2", "m1"]  # newest first
        assert doc["entries"][0]["criteria"]["acc"]["mean"] == pytest.approx(0.75)
        from datetime import UTC, datetime

        since = history_document(st, Filters(since=datetime(2026, 1, 15, tzinfo=UTC)))
        assert {e["suite"] for e in since["entries"]} == {"demo", "other"} and len(since["entries"]) == 2
        assert [p.model for p in trend_points(st, Filters(model="m2", suite="demo"))] == ["m2"]


def test_store_urls() -> None:
    assert resolve_store_url("none") is None and resolve_store_url(None, no_store=True) is None
    assert resolve_store_url("x.sqlite").startswith("sqlite:////")
    assert resolve_store_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_bad_and_unreachable_store_urls_exit_2_and_4(tmp_path: Path) -> None:
    def history(url: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "harness", "history", "--store", url],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)  # fmt: skip

    bad = history("mysql://u@h/db")
    assert bad.returncode == 2 and "unsupported store back-end 'mysql'" in bad.stderr
    assert history("postgresql://u@h:notaport/db").returncode == 2
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = history(f"postgresql://nobody:secret@127.0.0.1:{port}/db")
    assert down.returncode == 4 and "cannot open the store" in down.stderr
    assert "secret" not in down.stderr and "Traceback" not in down.stderr
    with pytest.raises(StoreUnavailableError):
        Store.open(f"postgresql://nobody@127.0.0.1:{port}/db")


def test_cli_records_compare_and_imports_files(tmp_path: Path, store_url: str) -> None:
    from harness.files import write_json

    b = summarised(make_run({"acc": np.r_[np.ones(20), np.zeros(20)]}, rubric=binary_rubric("acc"), model="base",
                            gate=[{"criterion": "acc", "require": "no_new_failures", "max": 2}]))  # fmt: skip
    c = summarised(make_run({"acc": np.ones(40)}, rubric=binary_rubric("acc"), model="cand",
                            gate=[{"criterion": "acc", "require": "no_new_failures", "max": 2}]))  # fmt: skip
    bp, cp = write_json(tmp_path / "b" / "run.json", b.to_document()), write_json(tmp_path / "c.json", c.to_document())
    out = tmp_path / "out"

    def harness(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=ROOT,
                              timeout=300)  # fmt: skip

    r = harness("compare", str(bp), str(cp), "--out", str(out), "--no-store")
    assert r.returncode == 0 and "Recorded" not in r.stderr
    imp = harness("store", "import", str(out / "comparison.json"), str(bp), "--store", store_url)
    assert imp.returncode == 0, imp.stderr
    assert "comparison imported as #1" in imp.stderr and "run imported as #4" in imp.stderr
    again = harness("store", "import", str(out), "--store", store_url)
    assert "already in the store as #1" in again.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "harness.validation/v1"}')
    refused = harness("store", "import", str(cp), str(bad), "--store", store_url)
    assert refused.returncode == 2 and "bad.json" in refused.stderr and "field 'schema'" in refused.stderr
    with Store.open(store_url) as st:
        last = st.last_passing_run("demo")
        assert last is not None and last.document["model"]["spec"] == "cand"  # its run came with the comparison
    h = harness("history", "--store", store_url, "--json", "--kind", "comparison")
    entries = json.loads(h.stdout)["entries"]
    assert len(entries) == 1 and entries[0]["verdict"] == "pass" and entries[0]["criteria"]["acc"]["delta"] == 0.5
    page = tmp_path / "history.html"
    h = harness("history", "--store", store_url, "--html", str(page))
    assert h.returncode == 0 and page.read_text().count("<svg") == 1 and "demo · acc" in page.read_text()
    rec = harness("compare", str(bp), str(cp), "--store", store_url)
    assert rec.returncode == 0 and "Recorded in the store" in rec.stderr
    with Store.open(store_url) as st:
        assert st.count() == 4 + 3  # the refused import wrote nothing: c.json is not among the records


def test_the_migrations_build_the_tables_the_code_declares(store_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from harness.store.schema import metadata

    with Store.open(store_url) as st, st.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()
