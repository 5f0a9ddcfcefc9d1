"""Errors raised by the harness.

Every error the user can cause is a :class:`HarnessError`; the CLI turns one into a message that
names the file, line and field, and exit code 2, without a traceback (``--debug`` shows it).

::

    HarnessError (Exception)
    ├── InputError (HarnessError, ValueError)      bad data or arguments: file, line, field
    │   ├── SchemaError                            a record does not match its contract
    │   └── ConfigError                            a YAML config (suite, rubric, policy, train)
    ├── InputFileError (HarnessError, OSError)     a path that does not exist, is a directory...
    ├── OutputError (HarnessError, OSError)        an output that cannot be written: option or file named
    ├── RegistryError (HarnessError, KeyError)     unknown scorer/alias, with "did you mean ...?"
    └── ModelError (HarnessError, RuntimeError)    a model cannot be loaded or behaves wrongly
        └── ServiceError                           a server unreachable or failing after retries: exit 4
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        super().__init__(self.__str__())

    def location(self) -> str:
        """Return ``file:line: field`` (the parts that are known)."""
        parts = []
        if self.file:
            parts.append(self.file + (f":{self.line}" if self.line is not None else ""))
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.field:
            parts.append(f"field '{self.field}'")
        return ", ".join(parts)

    def __str__(self) -> str:
        loc = self.location()
        return f"{loc}: {self.message}" if loc else self.message


class InputError(HarnessError, ValueError):
    """Bad data or bad arguments."""


class SchemaError(InputError):
    """A record that does not match its contract."""


class ConfigError(InputError):
    """A configuration file (suite, rubric, policy, training config) that is invalid."""


class InputFileError(HarnessError, OSError):
    """A path that cannot be read: missing, a directory, unreadable."""


class OutputError(HarnessError, OSError):
    """An output location that cannot be written: a file where a folder is needed, no permission,
    a read-only or full file system. Names the option (``--out``) or the file."""


class RegistryError(HarnessError, KeyError):
    """A name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return HarnessError.__str__(self)


class ModelError(HarnessError, RuntimeError):
    """A model that cannot be loaded or used."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f" Did you mean '{close[0]}'?" if close else ""


def check_choice(value: str, choices: Iterable[str], *, param: str, func: str) -> str:
    """Validate a string parameter against a set of choices, with the project's message shape.

    >>> check_choice("nominal", {"nominal", "interval"}, param="level", func="krippendorff_alpha")
    'nominal'
    """
    options = sorted(choices)
    if value not in options:
        raise InputError(
            f"The '{param}' parameter of {func} must be one of {{{', '.join(repr(o) for o in options)}}}; "
            f"got {value!r}.{did_you_mean(str(value), options)}"
        )
    return value


class ServiceError(ModelError):
    """Infrastructure, not input: a model server unreachable or still failing after every retry.

    Exit code 4 ("could not run"): CI may retry it, where exit 2 asks a person.
    """

    exit_code = 4
