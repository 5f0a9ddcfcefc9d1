"""Typed documents: files written before the models existed load, round-trip and match the schemas."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tokenize
from pathlib import Path

import jsonschema
import pytest

from harness.compare.criteria import criteria_info
from harness.documents import KINDS, check_document, document_model, json_schema, kind_of
from harness.documents.agreement import DEFAULT_MIN_ALPHA
from harness.documents.train import TrainManifest
from harness.errors import InputError, SchemaError
from harness.eval.rubric import DEFAULT_CALIBRATION_FLOOR
from harness.eval.run import Run, RunManifest, load_run
from harness.files import write_json
from harness.gate.verdict import GateManifest
from harness.provenance import LIBRARIES, Provenance, collect_provenance, file_hash, git_state

ROOT = Path(__file__).parent.parent
V1 = Path(__file__).parent / "fixtures" / "v1_documents"
FIXTURES = sorted(V1.glob("*.json"))
# Keys the provenance module moved: run manifests recorded git_commit/libraries/harness_version,
# gate manifests harness/python/numpy/scipy; both now record git, versions and platform.
_MOVED = {"git_commit", "libraries", "harness_version", "harness", "python", "numpy", "scipy"}


def _doc(name: str) -> dict:
    return json.loads((V1 / name).read_text(encoding="utf-8"))


def _without_moved(obj: object) -> object:
    """The document without the provenance keys whose shape changed (and the ones that replace them)."""
    if isinstance(obj, dict):
        is_manifest = bool(_MOVED & set(obj)) or "git" in obj or "versions" in obj
        drop = (_MOVED | {"git", "versions", "platform"}) if is_manifest else set()
        return {k: _without_moved(v) for k, v in obj.items() if k not in drop}
    if isinstance(obj, list):
        return [_without_moved(v) for v in obj]
    return obj


def test_every_kind_has_a_v1_fixture() -> None:
    kinds = {kind_of(json.loads(p.read_text())) for p in FIXTURES}
    assert kinds == set(KINDS) - {"eval"}  # eval --json on several suites is a list of runs


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_v1_document_loads_matches_its_schema_and_round_trips(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    kind = kind_of(doc)
    assert kind is not None
    assert check_document(doc, where=str(path)) == kind
    model = document_model(kind).model_validate(doc)
    again = model.model_dump(mode="json", by_alias=True)
    check_document(again)
    if kind in ("validation", "agreement", "train"):
        assert again == doc  # unchanged shapes: the very same document
    else:
        # every old key keeps its value; keys added later (slices, per-slice rules) may appear
        assert _kept(_without_moved(doc), _without_moved(again))


def _kept(old: object, new: object) -> bool:
    """Whether every key of ``old`` is in ``new`` with the same value (recursively)."""
    if isinstance(old, dict):
        return isinstance(new, dict) and all(k in new and _kept(v, new[k]) for k, v in old.items())
    if isinstance(old, list):
        same_length = isinstance(new, list) and len(old) == len(new)
        return same_length and all(_kept(a, b) for a, b in zip(old, new, strict=True))
    return old == new


def test_old_run_manifest_provenance_loads_into_the_one_shape() -> None:
    doc = _doc("run.json")
    old = doc["manifest"]
    assert "git_commit" in old and "libraries" in old  # written before the change
    run = Run.model_validate(doc)
    assert run.manifest.git.commit == old["git_commit"] and run.manifest.git.dirty is None
    assert run.manifest.versions == {**old["libraries"], "harness": old["harness_version"]}
    assert run.manifest.platform == old["platform"]
    assert isinstance(run.manifest, Provenance)


def test_old_gate_manifest_versions_load_into_the_one_shape() -> None:
    old = _doc("comparison_gate.json")["manifest"]
    manifest = GateManifest.model_validate(old)
    assert manifest.versions == {k: old[k] for k in ("harness", "python", "numpy", "scipy")}
    assert manifest.suites == old["suites"] and manifest.command == old["command"]


def test_train_manifest_is_in_the_provenance_shape_already() -> None:
    doc = _doc("train_manifest.json")
    m = TrainManifest.model_validate(doc)
    assert m.git.commit == doc["git"]["commit"] and m.versions["torch"] == doc["versions"]["torch"]
    assert m.results is not None and m.results.global_step == 2
    assert m.model_dump(mode="json") == doc


def test_compare_reads_rubric_facts_from_an_old_run() -> None:
    run = load_run(V1 / "run_judge.json")
    assert run.suite.rubric is not None
    info = criteria_info(run)["correctness"]
    assert info.judge and info.scale.type == "levels" and len(info.scale.levels) == 5
    assert info.floor == 0.667 and info.scale.level_fraction(4) == 0.75
    tickets = criteria_info(load_run(V1 / "run.json"))
    assert {k: (v.binary, v.weight, v.scorer) for k, v in tickets.items()} == {
        "valid_json": (True, 1.0, "json_valid"),
        "schema": (True, 1.0, "json_schema"),
        "field_accuracy": (False, 2.0, "json_field"),
    }


def test_a_document_that_breaks_its_schema_is_refused_naming_the_field(tmp_path: Path) -> None:
    doc = _doc("run.json")
    doc["items"][1]["output"] = 3
    with pytest.raises(SchemaError) as err:
        check_document(doc, where="run.json")
    assert err.value.field == "items.1.output" and "is not of type 'string'" in str(err.value)
    # The writers check under HARNESS_CHECK_DOCUMENTS=1, which conftest sets for the whole suite.
    with pytest.raises(SchemaError):
        write_json(tmp_path / "run.json", doc)
    assert not (tmp_path / "run.json").exists()
    good = _doc("validation.json")
    write_json(tmp_path / "validation.json", good)
    log = Path(__import__("os").environ["HARNESS_CHECKED_LOG"]).read_text()
    assert f"harness.validation/v1\t{tmp_path / 'validation.json'}" in log


def test_not_a_harness_document_is_not_checked() -> None:
    assert kind_of({"schema": "other/v1"}) is None and check_document({"a": 1}) is None


@pytest.mark.parametrize("kind", list(KINDS))
def test_schemas_are_valid_json_schemas_with_their_id(kind: str) -> None:
    schema = json_schema(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == KINDS[kind].schema_id
    assert json_schema(KINDS[kind].schema_id) == schema


def test_harness_schema_cli_prints_the_schema_and_refuses_unknown_kinds() -> None:
    r = subprocess.run([sys.executable, "-m", "harness", "schema", "comparison"], capture_output=True, text=True,
                       cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == json_schema("comparison")
    r = subprocess.run([sys.executable, "-m", "harness", "schema", "comparision"], capture_output=True, text=True,
                       cwd=ROOT)
    assert r.returncode == 2 and "Did you mean 'comparison'" in r.stderr and "Traceback" not in r.stderr
    with pytest.raises(InputError):
        document_model("nope")


def test_provenance_is_one_shape_in_every_manifest(tmp_path: Path) -> None:
    p = collect_provenance()
    assert set(p.versions) == {"python", *LIBRARIES}
    assert p.versions["python"] == ".".join(map(str, sys.version_info[:3]))
    for manifest in (RunManifest, TrainManifest, GateManifest):
        assert issubclass(manifest, Provenance)
        assert {"git", "versions", "platform"} <= set(manifest.model_fields)
    outside = git_state(tmp_path)  # not a checkout
    assert (outside.commit, outside.dirty) == (None, None)
    inside = git_state(ROOT)
    if inside.commit is not None:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        assert inside.commit == head and isinstance(inside.dirty, bool)


def test_file_hash_is_blake2b_128_of_the_content(tmp_path: Path) -> None:
    f = tmp_path / "x.bin"
    data = bytes(range(256)) * 40_000  # more than one read chunk
    f.write_bytes(data)
    assert file_hash(f) == hashlib.blake2b(data, digest_size=16).hexdigest()
    assert file_hash(f, chunk=1000) == file_hash(f)


def test_the_calibration_floor_is_one_constant() -> None:
    assert DEFAULT_CALIBRATION_FLOOR is DEFAULT_MIN_ALPHA
    literals = []
    for path in (ROOT / "harness").rglob("*.py"):
        with path.open("rb") as fh:
            literals += [
                f"{path.relative_to(ROOT)}:{t.start[0]}"
                for t in tokenize.tokenize(fh.readline)
                if t.type == tokenize.NUMBER and t.string == "0.667"
            ]
    assert literals == ["harness/documents/constants.py:" + str(_line_of_constant())]


def _line_of_constant() -> int:
    lines = (ROOT / "harness/documents/constants.py").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith("DEFAULT_MIN_ALPHA = "))


def test_a_train_run_folder_is_read_through_its_manifest_model(tmp_path: Path) -> None:
    from harness.gate.run import train_data_of

    (tmp_path / "train.jsonl").write_text('{"prompt": "a", "completion": "b"}\n')
    doc = {**_doc("train_manifest.json"), "train_data": "train.jsonl"}  # one file, relative to the folder
    (tmp_path / "manifest.json").write_text(json.dumps(doc))
    assert train_data_of(str(tmp_path)) == [tmp_path / "train.jsonl"]
    (tmp_path / "manifest.json").write_text(json.dumps({**doc, "results": {"global_step": "many"}}))
    with pytest.raises(InputError) as err:
        train_data_of(str(tmp_path))
    assert err.value.field == "results.global_step" and err.value.file == str(tmp_path / "manifest.json")
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "something.else"}))
    assert train_data_of(str(tmp_path)) == []
