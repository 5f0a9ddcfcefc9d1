"""Import an lm-evaluation-harness multiple-choice task YAML into a suite, when its data is local.

Reads the task's ``dataset_path`` (``json``/``csv``/``parquet`` with local ``dataset_kwargs.data_files``,
or a local folder: files or a ``save_to_disk`` dataset), renders ``doc_to_text``,
``doc_to_choice`` and ``doc_to_target`` per document as lm-eval does (Jinja2 templates with
undefined fields an error, or column names), and writes ``suite.yaml`` + ``items.jsonl`` (and
``fewshot.jsonl`` for ``num_fewshot``) with ``method: multiple_choice`` and the task's
``target_delimiter``, ``fewshot_delimiter`` and ``description``. Nothing is downloaded: a task
whose data is on the Hub is refused. Python hooks (``!function``) cannot be imported.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import yaml

from harness.configfile import read_yaml_text
from harness.datasources import SourceSpec, read_source
from harness.errors import ConfigError, InputFileError, SchemaError
from harness.records import read_rows

__all__ = ["import_lm_eval_task"]

_BUILDERS = {"json": "jsonl", "csv": "csv", "parquet": "parquet"}


def _load_task(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputFileError("no such task file", file=path)
    try:
        data = yaml.safe_load(read_yaml_text(path, what="task file"))  # bounded, UTF-8 checked
    except yaml.constructor.ConstructorError as exc:
        raise ConfigError(
            f"the task uses a Python hook ({exc.problem}); only plain YAML can be imported", file=path
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=path) from exc
    if not isinstance(data, dict):
        raise ConfigError("an lm-eval task YAML is a mapping", file=path)
    if "include" in data:
        raise ConfigError("tasks that 'include' another YAML cannot be imported; inline it", file=path, field="include")
    if data.get("output_type") != "multiple_choice":
        got = data.get("output_type")
        raise ConfigError(f"only multiple_choice tasks can be imported; got {got!r}", file=path, field="output_type")
    for key in ("doc_to_text", "doc_to_choice", "doc_to_target"):
        if key not in data:
            raise ConfigError(f"the task has no {key!r}", file=path, field=key)
    return data


def _docs(task: dict[str, Any], split: str, path: Path) -> list[dict[str, Any]]:
    """The documents of one split, read from local files only."""
    ds_path = str(task.get("dataset_path", ""))
    files: Any = (task.get("dataset_kwargs") or {}).get("data_files")
    if ds_path in _BUILDERS:
        if isinstance(files, dict):
            if split not in files:
                raise ConfigError(f"data_files has no split {split!r}", file=path, field="dataset_kwargs.data_files")
            files = files[split]
        if files is None:
            raise ConfigError("dataset_kwargs.data_files is needed", file=path, field="dataset_kwargs.data_files")
        out = []
        for f in [files] if isinstance(files, str) else list(files):
            fp = path.parent / f
            if not fp.is_file() and Path(f).is_file():  # lm-eval itself resolves against the working folder
                fp = Path(f)
            if not fp.is_file():
                raise ConfigError(f"data file {str(fp)!r} is not local", file=path, field="dataset_kwargs.data_files")
            for row in read_rows(fp, format=_BUILDERS[ds_path]):
                if row.problem is not None:
                    raise SchemaError(row.problem.message, file=fp, line=row.line, field=row.problem.field)
                out.append(dict(row.data or {}))
        return out
    local = path.parent / ds_path
    if ds_path and local.exists():
        rows = read_source(SourceSpec(path=ds_path), base=path.parent, file=str(path), split=split)
        return [r.data for r in rows]
    raise ConfigError(
        f"dataset_path {ds_path!r} is not local data: nothing is downloaded (save it with save_to_disk, or give "
        "json/csv/parquet data_files)",
        file=path,
        field="dataset_path",
    )


class _Renderer:
    """lm-eval's doc_to_* rules over a sandboxed Jinja2 environment (undefined fields are errors)."""

    def __init__(self, task: dict[str, Any], path: Path) -> None:
        from jinja2 import StrictUndefined
        from jinja2.sandbox import SandboxedEnvironment

        self.task, self.path = task, path
        self.env = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)

    def _render(self, template: str, doc: dict[str, Any], key: str, n: int) -> str:
        from jinja2 import TemplateError

        try:
            return self.env.from_string(template).render(**doc)
        except TemplateError as exc:
            raise SchemaError(f"{key}: {exc}", file=self.path, line=n, field=key) from exc

    def text(self, doc: dict[str, Any], n: int) -> str:
        t = self.task["doc_to_text"]
        if isinstance(t, str) and t in doc:
            return str(doc[t])
        return self._render(str(t), doc, "doc_to_text", n)

    def choices(self, doc: dict[str, Any], n: int) -> list[str]:
        c = self.task["doc_to_choice"]
        if isinstance(c, str):
            value: Any = doc[c] if c in doc else ast.literal_eval(self._render(c, doc, "doc_to_choice", n))
        elif isinstance(c, dict):
            value = list(c.values())
        else:
            value = [self._render(str(x), doc, "doc_to_choice", n) for x in c]
        return [str(x) for x in value]

    def target(self, doc: dict[str, Any], n: int, choices: list[str]) -> int:
        t = self.task["doc_to_target"]
        if isinstance(t, int):
            value: Any = t
        elif str(t) in doc:
            value = doc[str(t)]
        else:
            value = self._render(str(t), doc, "doc_to_target", n)
            value = ast.literal_eval(value) if value.isdigit() else value
        if isinstance(value, str):
            if value not in choices:
                raise SchemaError(f"target {value!r} is not one of the choices", file=self.path, line=n, field="target")
            value = choices.index(value)
        return int(value)


def _items(task: dict[str, Any], split: str, path: Path) -> list[dict[str, Any]]:
    r = _Renderer(task, path)
    out = []
    for n, doc in enumerate(_docs(task, split, path), start=1):
        choices = r.choices(doc, n)
        out.append(
            {
                "id": f"{split}-{n - 1}",
                "prompt": r.text(doc, n),
                "choices": choices,
                "answer": r.target(doc, n, choices),
            }
        )
    return out


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def import_lm_eval_task(task_yaml: str | Path, out_dir: str | Path) -> Path:
    """Write a multiple-choice suite (``suite.yaml``, ``items.jsonl``) from an lm-eval task YAML.

    Returns:
        The suite folder.
    """
    path = Path(task_yaml)
    task = _load_task(path)
    split = task.get("test_split") or task.get("validation_split")
    if not split:
        raise ConfigError("the task names no test_split or validation_split", file=path, field="test_split")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_jsonl(out / "items.jsonl", _items(task, str(split), path))
    suite: dict[str, Any] = {
        "name": str(task.get("task") or path.stem),
        "description": f"Imported from the lm-eval task {path.name}",
        "method": "multiple_choice",
        "loglikelihood": {"target_delimiter": task.get("target_delimiter", " ")},
    }
    n = int(task.get("num_fewshot") or 0)
    if n:
        shot_split = task.get("fewshot_split") or task.get("training_split") or task.get("validation_split")
        if not shot_split:
            raise ConfigError("num_fewshot needs a fewshot_split, training_split or validation_split", file=path)
        _write_jsonl(out / "fewshot.jsonl", _items(task, str(shot_split), path))
        suite["fewshot"] = {
            "n": n,
            "file": "fewshot.jsonl",
            "delimiter": task.get("fewshot_delimiter", "\n\n"),
            "description": str(task.get("description", "")),
        }
    (out / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return out
