"""``harness validate`` over shards on a Dask cluster of two worker processes (issue 15, part 5).

The oracle is the single-process streaming pass (``validate_file``) over the shards concatenated
into one JSONL file, its lines mapped back to (shard, line): the distributed findings must be the
same findings in the same order, with each line attributed to its shard. Planted across shards:
exact and near duplicates, a re-used id, and leaks of every planted kind against a holdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from harness.cli import app, main
from harness.errors import HarnessError
from harness.records import dump_jsonl
from harness.validate import validate_file
from harness.validate.distributed import validate_shards
from tests.fixtures.planted import build

distributed = pytest.importorskip("distributed")

NOTE = "Each of the planted rows below is looked for by name in the findings."


@pytest.fixture(scope="module")
def cluster() -> Any:
    c = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    try:
        yield c
    finally:
        c.close()


def _planted_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    planted = build(n_holdout=60, files={"sft": (240, 4)})
    rows = [dict(r) for r in planted.train["sft"]]
    for r in rows[1::2]:  # half the rows without an id: named L<line> of their own shard
        r.pop("id")
    long = next(r for r in rows[:90] if len(r["completion"].split()) > 40)  # in part-0
    words = long["completion"].split()
    words[3], words[17] = "alpha", "omega"
    rows[190] = {**rows[190], "prompt": long["prompt"].upper(), "completion": long["completion"] + "  "}  # exact
    rows[130] = {**rows[130], "prompt": long["prompt"], "completion": " ".join(words)}  # near duplicate
    rows[170]["id"] = "dup-id"
    rows[20]["id"] = "dup-id"
    rows[100]["completion"] += " Write to ada.lovelace@example.org for details."
    rows[210]["prompt"] = "   "
    return planted.holdout, rows


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    holdout_rows, rows = _planted_rows()
    d = tmp_path_factory.mktemp("shards")
    holdout = d / "holdout.jsonl"
    holdout.write_text(dump_jsonl(holdout_rows))
    folder = d / "train"
    folder.mkdir()
    parts = [rows[:90], rows[90:160], rows[160:]]
    (folder / "part-0.jsonl").write_text(dump_jsonl(parts[0]))
    table = pa.Table.from_pylist(parts[1])
    pq.write_table(table, folder / "part-1.parquet")
    # a row that is not JSON: a schema finding on its shard's line
    (folder / "part-2.jsonl").write_text(dump_jsonl(parts[2]) + "{not json\n")
    concat = d / "all.jsonl"
    concat.write_text(dump_jsonl(rows) + "{not json\n")
    files = [str(folder / n) for n in ("part-0.jsonl", "part-1.parquet", "part-2.jsonl")]
    sizes = [len(p) for p in parts]
    sizes[2] += 1
    return {"folder": folder, "holdout": holdout, "concat": concat, "files": files, "sizes": sizes}


def _where(line: int, files: list[str], sizes: list[int]) -> tuple[str, int]:
    for f, n in zip(files, sizes, strict=True):
        if line <= n:
            return f, line
        line -= n
    raise AssertionError("line past the end")


def _key(f: Any, where: list[tuple[str, int]], ids: list[str]) -> tuple:
    data = {k: v for k, v in (f.data or {}).items() if k not in ("n_examples",)}
    return (f.check, f.severity, tuple(where), tuple(ids), tuple(f.holdout_ids or ()), f.holdout, json.dumps(data))


def _oracle_keys(report: Any, files: list[str], sizes: list[int]) -> list[tuple]:
    out = []
    for f in report.findings:
        where = [_where(ln, files, sizes) for ln in f.lines]
        # an id L<n> of the concatenated file is L<line> of its shard
        ids = [f"L{w[1]}" if i.startswith("L") and i[1:].isdigit() else i for i, w in zip(f.ids, where, strict=False)]
        out.append(_key(f, where, ids))
    return out


def _sharded_keys(report: Any) -> list[tuple]:
    return [_key(f, list(zip(f.files or [], f.lines, strict=True)), f.ids) for f in report.findings]


def test_dask_findings_equal_the_single_process_pass(shards: dict[str, Any], cluster: Any) -> None:
    holdouts = [shards["holdout"]]
    local = validate_shards(shards["folder"], holdouts=holdouts, paraphrase=False)
    dask = validate_shards(
        shards["folder"], engine="dask", scheduler=cluster.scheduler_address, holdouts=holdouts, paraphrase=False
    )
    oracle = validate_file(shards["concat"], holdouts=holdouts, paraphrase=False)
    assert dask.to_document() == local.to_document()
    assert _sharded_keys(dask) == _oracle_keys(oracle, shards["files"], shards["sizes"])
    assert dask.n_records == oracle.n_records and dask.n_rows == oracle.n_rows
    assert dask.stats["length"] == oracle.stats["length"]
    assert [s["file"] for s in dask.stats["shards"]] == shards["files"]

    by_check: dict[str, list[Any]] = {}
    for f in dask.findings:
        by_check.setdefault(f.check, []).append(f)
    f0, f1, f2 = shards["files"]
    # planted across shards: the exact copy (rows 190 -> part-2), the near copy (row 130 -> part-1)
    assert any(set(f.files) == {f0, f2} for f in by_check["duplicates.exact"])
    assert any(set(f.files) == {f0, f1, f2} for f in by_check["duplicates.near"])
    (dup_id,) = by_check["schema.duplicate_id"]
    assert dup_id.files == [f0, f2] and dup_id.lines == [21, 11]
    assert [(f.files, f.lines) for f in by_check["pii.email"]] == [([f1], [11])]
    assert [(f.files, f.lines) for f in by_check["schema.empty_field"]] == [([f2], [51])]
    assert [f.files for f in by_check["schema.invalid_json"]] == [[f2]]
    leaks = [f for c, fs in by_check.items() if c.startswith("leakage.") and c != "leakage.summary" for f in fs]
    assert len(leaks) >= 4 * 4 and {f.files[0] for f in leaks} == set(shards["files"])


def test_one_file_on_dask_is_the_validate_file_document(shards: dict[str, Any], cluster: Any) -> None:
    path = shards["files"][2]
    holdouts = [shards["holdout"]]
    dask = validate_shards(
        path, engine="dask", scheduler=cluster.scheduler_address, holdouts=holdouts, paraphrase=False
    )
    assert dask.to_document() == validate_file(path, holdouts=holdouts, paraphrase=False).to_document()


def test_cli_dask_engine_matches_local(shards: dict[str, Any], cluster: Any) -> None:
    base = ["validate", str(shards["folder"]), "--holdout", str(shards["holdout"]), "--no-paraphrase", "--json"]
    local = CliRunner().invoke(app, base)
    dask = CliRunner().invoke(app, [*base, "--engine", "dask", "--scheduler", cluster.scheduler_address])
    assert local.exit_code == dask.exit_code == 1, dask.output
    assert json.loads(dask.stdout) == json.loads(local.stdout)


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``harness ARGS`` (in this process, as the console script)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as caught:
        main(args)
    out = capsys.readouterr()
    return int(caught.value.code), out.out, out.err


@pytest.fixture
def tiny(tmp_path: Path) -> str:
    train = tmp_path / "t.jsonl"
    train.write_text(dump_jsonl([{"prompt": "Hi", "completion": "Hello"}]))
    return str(train)


def test_local_cluster_started_when_no_scheduler(shards: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    args = ["validate", str(shards["folder"]), "--json", "--workers", "1"]
    rc_dask, out_dask, _ = _main([*args, "--engine", "dask"], capsys)  # a one-worker local cluster
    rc_local, out_local, _ = _main(args, capsys)
    assert rc_dask == rc_local == 1  # the bad JSON row of part-2 is an error
    assert json.loads(out_dask) == json.loads(out_local)


def test_unreachable_scheduler_is_exit_4(tiny: str, capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    monkeypatch.setattr("harness.validate.distributed.CONNECT_TIMEOUT_S", 2)
    rc, _, err = _main(["validate", tiny, "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9"], capsys)
    assert rc == 4  # infrastructure: CI may retry
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9' within 2 s" in err


def test_dask_missing_names_the_extra(tiny: str, capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    rc, _, err = _main(["validate", tiny, "--engine", "dask"], capsys)
    assert rc == 2
    assert "finetune-harness[scale]" in err


def test_bad_engine_and_scheduler_without_dask(tiny: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _main(["validate", tiny, "--engine", "ray"], capsys)
    assert rc == 2 and "--engine must be one of local, dask" in err
    rc, _, err = _main(["validate", tiny, "--scheduler", "tcp://127.0.0.1:8786"], capsys)
    assert rc == 2 and "--scheduler needs --engine dask" in err


def test_unreadable_shard_on_a_worker_is_bad_input(tmp_path: Path, cluster: Any) -> None:
    pq.write_table(pa.Table.from_pylist([{"prompt": "Hi", "completion": "Hello"}]), tmp_path / "a.parquet")
    (tmp_path / "b.parquet").write_text(dump_jsonl([{"prompt": "Hi", "completion": "Hello"}]))
    with pytest.raises(HarnessError) as caught:  # raised on a worker, re-raised here
        validate_shards(tmp_path, engine="dask", scheduler=cluster.scheduler_address, format="parquet")
    assert caught.value.exit_code == 2
    assert "b.parquet" in str(caught.value) and "cannot read Parquet" in str(caught.value)
