"""Provenance: what a result depends on besides its inputs, in one shape for every document.

:class:`Provenance` (``git``, ``versions``, ``platform``) is what the run manifest
(``harness.run/v1``), the train manifest (``harness.train/v1``) and the gate manifest
(``harness.comparison/v1``) record about the code that produced them; each of those manifests
extends it. Hashes of files, folders of model files and JSON data are BLAKE2b-128 hex digests,
computed here and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "LIBRARIES",
    "GitState",
    "Provenance",
    "collect_provenance",
    "content_hash",
    "file_hash",
    "git_state",
    "hash_files",
    "library_versions",
    "model_hashes",
]

#: The libraries whose versions every document records (with Python's), in one list.
LIBRARIES = (
    "harness",
    "torch",
    "transformers",
    "peft",
    "accelerate",
    "numpy",
    "scipy",
    "safetensors",
    "tokenizers",
    "sacrebleu",
    "jsonschema",
    "httpx",
)


class GitState(BaseModel):
    """The harness source checkout's commit and whether tracked files differ from it (None outside one)."""

    model_config = ConfigDict(extra="forbid")
    commit: str | None = None
    dirty: bool | None = None


class Provenance(BaseModel):
    """The code a result was produced by: git state, library versions, platform.

    Example:
        >>> p = Provenance(git=GitState(commit="abc", dirty=False), versions={"python": "3.12.1"}, platform="Linux")
        >>> p.model_dump()["git"]
        {'commit': 'abc', 'dirty': False}
    """

    git: GitState = Field(default_factory=GitState, description="commit and dirty flag of the harness checkout")
    versions: dict[str, str | None] = Field(
        default_factory=dict, description="python and each of LIBRARIES (None: not installed)"
    )
    platform: str | None = Field(default=None, description="platform.platform() of the machine")


def library_versions(names: Iterable[str] = LIBRARIES) -> dict[str, str | None]:
    """Installed versions of Python and of the libraries a result depends on (without importing them)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state(start: Path | None = None) -> GitState:
    """The commit of the harness source checkout and whether tracked files differ from it."""
    here = start or Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return GitState()
    return GitState(commit=head or None, dirty=bool(dirty))


def collect_provenance() -> Provenance:
    """The provenance of this process: git state, library versions and platform."""
    return Provenance(git=git_state(), versions=library_versions(), platform=platform.platform())


def file_hash(path: str | Path, *, chunk: int = 1 << 22) -> str:
    """BLAKE2b-128 hex digest of a file's content."""
    h = hashlib.blake2b(digest_size=16)
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def hash_files(paths: Iterable[str | Path]) -> dict[str, str]:
    """``{path: blake2b-128}`` of each file."""
    return {str(p): file_hash(Path(p)) for p in paths}


def model_hashes(folder: Path, source: Path | None = None) -> dict[str, str]:
    """Hashes of a model's config and weight files (and of the GGUF it was converted from)."""
    files = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".json") and p.is_file())
    out = {p.name: file_hash(p) for p in files}
    if source is not None and source.is_file():
        out[f"source:{source.name}"] = file_hash(source)
    return out


def content_hash(obj: Any) -> str:
    """BLAKE2b-128 of an object's canonical JSON (sorted keys).

    >>> content_hash({"b": 1, "a": [1, 2]}) == content_hash({"a": [1, 2], "b": 1})
    True
    """
    return hashlib.blake2b(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode(), digest_size=16).hexdigest()
