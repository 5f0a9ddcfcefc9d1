"""The one plug-in registry: scorers, model kinds, checks, leakage methods, losses, strategies...

Every kind of plug-in is a :class:`Registry`, registered with the same decorator shape::

    from harness.train.losses import LOSSES

    @LOSSES.register("hinge", reference="SLiC-HF, Zhao et al. (2023)", options=("beta",))
    def hinge_loss(ratios, beta, label_smoothing):
        '''max(0, 1 - β·h): the hinge loss on the log-ratio margin h.'''
        return (1 - beta * (ratios.chosen - ratios.rejected)).clamp(min=0)

A registry records, for each name, the object, a one-line summary (the docstring's first line
unless given) and any keyword arguments given at registration (``recorded``), so a listing and a
run document can say exactly what was used. A miss raises :class:`~harness.errors.RegistryError`
with "did you mean ...?", never returns None. Built-in plug-ins live in modules that a registry
imports lazily the first time it is asked (``builtins``), so ``harness --help`` imports nothing
heavy.

``harness list KIND`` prints :func:`registry` ``(KIND).entries()``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from harness.errors import RegistryError, did_you_mean

__all__ = ["Entry", "Registry", "kinds", "registry"]

T = TypeVar("T")
ObjT = TypeVar("ObjT")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered plug-in: its name, the object, a summary and the arguments it was registered with."""

    kind: str
    name: str
    obj: T
    summary: str
    recorded: dict[str, Any] = field(default_factory=dict)


def _first_line(obj: object) -> str:
    doc = getattr(obj, "__doc__", None) or ""
    return doc.strip().splitlines()[0].strip() if doc.strip() else ""


class Registry(Generic[T]):
    """Named plug-ins of one kind.

    Args:
        kind: the plural noun used by ``harness list`` (``"scorers"``).
        builtins: modules imported on first use; importing them registers the built-in plug-ins.
        noun: what one plug-in is called in messages (``"scorer"``; default: ``kind``).

    Example:
        >>> losses = Registry("examples")
        >>> @losses.register("sigmoid", beta_default=0.1)
        ... def sigmoid_loss():
        ...     '''The logistic loss of DPO.'''
        >>> losses.get("sigmoid") is sigmoid_loss
        True
        >>> losses.entry("sigmoid").recorded
        {'beta_default': 0.1}
        >>> losses.get("sigmod")
        Traceback (most recent call last):
        ...
        harness.errors.RegistryError: unknown examples 'sigmod'; known: sigmoid. Did you mean 'sigmoid'?
    """

    def __init__(self, kind: str, *, builtins: tuple[str, ...] = (), noun: str | None = None) -> None:
        self.kind = kind
        self.noun = noun or kind
        self._builtins = builtins
        self._loaded = not builtins
        self._entries: dict[str, Entry[T]] = {}
        _ALL[kind] = self

    def register(self, name: str, *, summary: str | None = None, **recorded: Any) -> Callable[[ObjT], ObjT]:
        """Decorator registering an object under ``name``; ``recorded`` is kept with the entry."""

        def add(obj: ObjT) -> ObjT:
            old = self._entries.get(name)
            if old is not None and old.obj is not obj:
                raise RegistryError(f"{self.noun} {name!r} is already registered by {old.obj!r}")
            self._entries[name] = Entry(self.kind, name, obj, summary or _first_line(obj), dict(recorded))  # type: ignore[arg-type]
            return obj

        return add

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self._builtins:
                importlib.import_module(module)

    def entry(self, name: str) -> Entry[T]:
        """The entry registered under ``name``; a miss raises with "did you mean ...?"."""
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            known = sorted(self._entries)
            raise RegistryError(
                f"unknown {self.noun} {name!r}; known: {', '.join(known)}.{did_you_mean(str(name), known)}"
            ) from None

    def get(self, name: str) -> T:
        """The object registered under ``name``."""
        return self.entry(name).obj

    def names(self) -> list[str]:
        """Registered names, sorted."""
        self._load()
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        """Every entry, sorted by name."""
        self._load()
        return [self._entries[n] for n in sorted(self._entries)]

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


_ALL: dict[str, Registry[Any]] = {}

# Where each kind's built-in plug-ins are registered; registries are created by the modules that
# own the plug-in's Protocol, and this table lets ``harness list`` find them without importing
# everything up front.
_HOMES: dict[str, str] = {
    "scorers": "harness.eval.scorers",
    "models": "harness.models.factory",
    "checks": "harness.validate.checks",
    "leakage": "harness.leakage.methods",
    "losses": "harness.train.losses",
    "strategies": "harness.redteam.strategies",
    "rewards": "harness.eval.rewards",
}


def add_home(kind: str, module: str) -> None:
    """Declare the module that creates registry ``kind`` (for plug-in kinds added later)."""
    _HOMES[kind] = module


def kinds() -> list[str]:
    """Every plug-in kind ``harness list`` knows."""
    return sorted(set(_HOMES) | set(_ALL))


def registry(kind: str) -> Registry[Any]:
    """The registry of one kind, importing its home module if needed."""
    if kind not in _ALL and kind in _HOMES:
        importlib.import_module(_HOMES[kind])
    try:
        return _ALL[kind]
    except KeyError:
        raise RegistryError(
            f"unknown plug-in kind {kind!r}; known: {', '.join(kinds())}.{did_you_mean(kind, kinds())}"
        ) from None
