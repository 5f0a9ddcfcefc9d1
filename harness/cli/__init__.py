"""The ``harness`` command line: one thin module per group of verbs, one function per verb.

Verbs that only read data (``validate``, ``agreement``) import neither torch nor transformers.
Every :class:`~harness.errors.HarnessError` becomes a one-line message and exit code 2; pass
``--debug`` for the traceback.
"""

from __future__ import annotations

import errno
import importlib
import sys
from typing import Any

import typer

from harness.allocator import keep_freed_memory
from harness.cli.app import command, console
from harness.errors import HarnessError

# Importing harness.cli.app bound the submodule to the name ``app`` here; ``harness.cli.app`` is
# the Typer app with every verb registered, handed out by ``__getattr__`` below.
del globals()["app"]

#: Every module that registers verbs, in the order of ``harness --help``.
VERB_MODULES = (
    "bundle",
    "data",
    "evaluation",
    "gating",
    "history",
    "monitor",
    "plugins",
    "rankings",
    "redteam",
    "reward",
    "schema",
    "suites",
    "training",
)
#: Verbs that need only their own module: ``harness agreement ...`` loads neither the evaluation
#: nor the training verbs (their imports cost more than a whole agreement run on 140,000 ratings).
_LIGHT_VERBS = {"agreement": "data", "validate": "data"}
_ROOT_FLAGS = ("--debug", "--quiet", "-q")


def register_verbs(modules: tuple[str, ...] = VERB_MODULES) -> None:
    """Import the modules that register verbs on the app (each import happens once)."""
    for name in modules:
        importlib.import_module(f"harness.cli.{name}")


def _modules_for(args: list[str]) -> tuple[str, ...]:
    """The verb modules a command line needs: its verb's alone for a light verb, else all."""
    rest = [a for a in args if a not in _ROOT_FLAGS]
    if rest and rest[0] in _LIGHT_VERBS and "--help" not in args[: args.index(rest[0])]:
        return (_LIGHT_VERBS[rest[0]],)
    return VERB_MODULES


def __getattr__(name: str) -> Any:
    """``harness.cli.app``: the app with every verb registered."""
    if name == "app":
        register_verbs()
        from harness.cli.app import app

        return app
    raise AttributeError(name)


__all__ = ["app", "main"]

_FILE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR,
                          errno.EISDIR, errno.ENOENT, errno.EEXIST})  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning harness errors into exit code 2 without a traceback."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    keep_freed_memory()  # batch loops reuse freed arrays instead of faulting pages in again
    register_verbs(_modules_for(args))
    try:
        rc = command().main(args=args, prog_name="harness", standalone_mode=False)
    except HarnessError as exc:
        if debug:
            console.print_exception()
        console.print(f"error: {exc}", style="bold red", highlight=False, markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        console.print("aborted", style="red")
        sys.exit(130)
    except Exception as exc:  # click's usage errors (typer bundles its own click) and anything unexpected
        exit_code = getattr(exc, "exit_code", None)
        if hasattr(exc, "show") and isinstance(exit_code, int):
            exc.show()
            sys.exit(exit_code)  # 2 for every usage error
        if debug:
            console.print_exception()
        elif isinstance(exc, OSError) and exc.errno in _FILE_ERRNOS:  # a write no harness writer wrapped
            where = f"{exc.filename}: " if exc.filename else ""
            console.print(f"error: {where}cannot write or read: {exc.strerror or exc}", style="bold red",
                          highlight=False, markup=False, soft_wrap=True)  # fmt: skip
        else:
            console.print(f"internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback)",
                          style="bold red", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    sys.exit(rc if isinstance(rc, int) else 0)
