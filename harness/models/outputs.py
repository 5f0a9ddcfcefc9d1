"""Replay pre-generated outputs: ``outputs:<file.jsonl>`` with rows ``{"id", "output"}``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from harness.errors import InputError, ModelError
from harness.models.base import Completion, GenerationRequest, GenerationSettings
from harness.models.weights import file_hash
from harness.records import read_rows


class OutputsGenerator:
    """Replays outputs by item id; several rows with one id are the attempts of ``--repeats``.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "o.jsonl"
        >>> _ = p.write_text('{"id": "a", "output": "4"}\\n')
        >>> g = OutputsGenerator(p)
        >>> [c.text for _, c in g.generate([GenerationRequest("a", "2+2?")], GenerationSettings())]
        ['4']
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.rows: dict[str, list[str]] = {}
        for row in read_rows(self.path):
            if row.problem is not None:
                raise InputError(row.problem.message, file=self.path, line=row.line, field=row.problem.field)
            assert row.data is not None
            rid, out = row.data.get("id"), row.data.get("output")
            if rid is None or isinstance(rid, (dict, list)):
                raise InputError("each row needs an 'id'", file=self.path, line=row.line, field="id")
            if not isinstance(out, str):
                raise InputError("each row needs an 'output' string", file=self.path, line=row.line, field="output")
            self.rows.setdefault(str(rid), []).append(out)
        self._hash = file_hash(self.path)

    @property
    def fingerprint(self) -> str:
        """The file's content hash."""
        return f"outputs:{self._hash}"

    @property
    def cacheable(self) -> bool:
        """Replayed outputs are not cached: the file is the record."""
        return False

    def describe(self) -> dict[str, Any]:
        """Spec, kind, file and its hash."""
        return {
            "spec": f"outputs:{self.path}",
            "kind": "outputs",
            "path": str(self.path),
            "fingerprint": self.fingerprint,
            "outputs_hash": self._hash,
        }

    def generate(
        self, requests: Sequence[GenerationRequest], settings: GenerationSettings
    ) -> Iterator[tuple[int, Completion]]:
        """Yield the stored output of each request's item (attempt k takes the k-th row of that id)."""
        for i, req in enumerate(requests):
            outs = self.rows.get(req.item_id)
            if not outs:
                raise ModelError(f"no output for item {req.item_id!r}", file=self.path, field="id")
            if len(outs) == 1:
                text = outs[0]
            elif req.attempt < len(outs):
                text = outs[req.attempt]
            else:
                raise ModelError(
                    f"item {req.item_id!r} has {len(outs)} outputs, fewer than attempt {req.attempt + 1}",
                    file=self.path,
                )
            yield i, Completion(text, None, None)
