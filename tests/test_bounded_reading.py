"""Inputs are read with bounded memory: devices, sparse files and endless lines are clear errors (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.columns import read_csv_columns
from harness.configfile import MAX_CONFIG_BYTES, read_yaml_text
from harness.errors import ConfigError, HarnessError, InputError, InputFileError
from harness.records import MAX_RECORD_BYTES, iter_records

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def sparse(tmp_path: Path) -> Path:
    path = tmp_path / "sparse.csv"
    with path.open("wb") as fh:
        fh.truncate(2**30)  # 1 GiB of NUL bytes, no disk used
    return path


@pytest.fixture()
def long_line(tmp_path: Path) -> Path:
    path = tmp_path / "long.jsonl"
    path.write_bytes(b'{"prompt": "' + b"a" * (MAX_RECORD_BYTES + 10) + b'", "completion": "x"}\n')
    return path


def test_character_device_is_refused() -> None:
    with pytest.raises(InputFileError, match="device"):
        list(iter_records("/dev/zero"))
    with pytest.raises(InputFileError, match="device"):
        read_yaml_text("/dev/zero")


def test_sparse_file_is_refused_from_its_first_bytes(sparse: Path) -> None:
    with pytest.raises(InputError, match="NUL") as err:
        list(iter_records(sparse))
    assert str(sparse) in str(err.value)
    with pytest.raises(ConfigError, match=f"larger than {MAX_CONFIG_BYTES // 2**20} MiB"):
        read_yaml_text(sparse)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_forced_format_stops_at_the_line_limit(sparse: Path, fmt: str) -> None:
    with pytest.raises(InputError, match="longer than") as err:
        list(iter_records(sparse, format=fmt))
    assert err.value.line == 1


def test_long_line_names_file_and_line(long_line: Path, tmp_path: Path) -> None:
    good = b'{"prompt": "p", "completion": "c"}\n'
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(good * 3 + long_line.read_bytes())
    with pytest.raises(InputError, match="longer than") as err:
        list(iter_records(path))
    assert err.value.line == 4 and str(path) in str(err.value)


def test_fast_csv_reader_stops_at_the_line_limit(sparse: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="longer than"):
        read_csv_columns(sparse)
    small = tmp_path / "nul.csv"
    small.write_bytes(b"item_id,rater_id,score\n\x00\x00\n")
    assert read_csv_columns(small) is None  # the careful reader reports it


WRAPPER = """
import json, resource, subprocess, sys
proc = subprocess.run([sys.executable, "-m", "harness", *sys.argv[1:]], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"code": proc.returncode, "stderr": proc.stderr, "peak_kib": peak}))
"""


def _run(args: list[str]) -> tuple[int, str, int]:
    """Exit code, stderr and peak resident memory (KiB) of ``harness ARGS``, measured by a fresh parent."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", WRAPPER, *args], capture_output=True, text=True, env=env, check=True)
    result = json.loads(out.stdout)
    return result["code"], result["stderr"], result["peak_kib"]


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "{sparse}"],
        ["validate", "{sparse}", "--format", "jsonl"],
        ["agreement", "{sparse}", "--level", "nominal", "--format", "csv"],
        ["validate", "/dev/zero"],
        ["agreement", "/dev/zero", "--level", "nominal"],
        ["train", "{sparse}"],
        ["train", "/dev/zero"],
    ],
)
def test_cli_exit_2_with_bounded_memory(sparse: Path, args: list[str]) -> None:
    code, err, peak_kib = _run([a.format(sparse=sparse) for a in args])
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err
    assert (str(sparse) in err) or ("/dev/zero" in err)
    # a 1 GiB input read whole would need over 1,000,000 KiB; the bound is the 32 MiB line limit plus the program
    assert peak_kib < 400_000, peak_kib


def test_errors_are_harness_errors() -> None:
    assert issubclass(InputFileError, HarnessError) and issubclass(ConfigError, HarnessError)


@pytest.mark.parametrize("which", ["device", "sparse"])
def test_policy_file_is_bounded(sparse: Path, which: str) -> None:
    from harness.gate.policy import load_policy

    path = Path("/dev/zero") if which == "device" else sparse
    with pytest.raises(HarnessError) as err:
        load_policy(path)
    assert str(path) in str(err.value)
