"""The suites, rubrics and example data shipped with the harness, and suites by name.

In the wheel they are package data under ``harness/_data/`` (built from the repository's top-level
``suites/``, ``rubrics/`` and ``examples/`` folders, which stay the one copy in git); in a source
checkout they are those folders. Their layout is the same in both (``suites/tickets/suite.yaml``
names ``../../rubrics/tickets.yaml``), so relative paths inside them hold everywhere.

A suite is accepted by name wherever a suite folder is (``harness gate tickets general ...``,
``--holdout tickets``, a train config's ``holdouts``): an existing path wins; a bare name (no
path separator) that is not a path is looked up among the bundled suites.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["copy_examples", "data_dir", "resolve_suite", "suite_names", "suites_hint"]

KINDS = ("suites", "rubrics", "examples")
_PACKAGE = Path(__file__).resolve().parent


def data_dir(kind: str = "") -> Path:
    """The folder of the bundled ``suites``, ``rubrics`` or ``examples`` (or their parent for ``""``).

    Raises:
        FileNotFoundError: neither the package data nor a source checkout's folders are there
            (a broken installation).
    """
    if kind and kind not in KINDS:
        raise ValueError(f"The 'kind' parameter of data_dir must be one of {KINDS}; got {kind!r}.")
    for root in (_PACKAGE / "_data", _PACKAGE.parent):
        if all((root / k).is_dir() for k in KINDS):
            return root / kind if kind else root
    raise FileNotFoundError(f"the bundled suites, rubrics and examples are missing from {_PACKAGE / '_data'}")


def suite_names() -> list[str]:
    """Names of the bundled suites (their folder names), sorted."""
    root = data_dir("suites")
    return sorted(p.name for p in root.iterdir() if (p / "suite.yaml").is_file())


def resolve_suite(path: str | Path) -> Path:
    """A suite argument as a path: an existing path as it is, else a bundled suite's folder by name.

    A value that names neither comes back unchanged, so the caller's "no such file" error names
    what the user typed.

    Example:
        >>> resolve_suite("tickets").name, resolve_suite("tickets").joinpath("suite.yaml").is_file()
        ('tickets', True)
    """
    p = Path(path)
    if p.exists() or not _bare(path):
        return p
    return data_dir("suites") / str(path) if str(path) in suite_names() else p


def suites_hint(path: str | Path) -> str:
    """For an error message about a missing suite: the bundled names, when the value was a bare name."""
    if not _bare(path):
        return ""
    from harness.errors import did_you_mean

    names = suite_names()
    return f" (bundled suites: {', '.join(names)}).{did_you_mean(str(path), names)}"


def copy_examples(dest: Path) -> list[Path]:
    """Copy the bundled ``suites/``, ``rubrics/`` and ``examples/`` into ``dest`` (which must not hold them yet).

    Returns:
        The folders written.

    Raises:
        FileExistsError: one of them already exists in ``dest``.
    """
    targets = [dest / k for k in KINDS]
    taken = [t for t in targets if t.exists()]
    if taken:
        raise FileExistsError(f"{taken[0]} already exists")
    dest.mkdir(parents=True, exist_ok=True)
    for k, t in zip(KINDS, targets, strict=True):
        shutil.copytree(data_dir(k), t, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "make_*.py"))
    return targets


def _bare(path: str | Path) -> bool:
    s = str(path)
    return bool(s) and "/" not in s and "\\" not in s and s not in (".", "..") and not s.endswith((".yaml", ".jsonl"))
