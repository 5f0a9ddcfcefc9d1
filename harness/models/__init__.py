"""Model specs (parsed once), the Generator protocol and the factory.

Names are imported on first use (PEP 562 module ``__getattr__``): importing a submodule such as
``harness.models.serving`` (the command line's serving options) does not load the backends,
their HTTP client or torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.models.base import (
        Completion,
        GenerationRequest,
        GenerationSettings,
        Generator,
        SupportsLevelProbabilities,
    )
    from harness.models.factory import MODELS, make_generator
    from harness.models.spec import ModelSpec, parse_spec

_WHERE = {
    "Completion": "base",
    "GenerationRequest": "base",
    "GenerationSettings": "base",
    "Generator": "base",
    "SupportsLevelProbabilities": "base",
    "MODELS": "factory",
    "make_generator": "factory",
    "ModelSpec": "spec",
    "parse_spec": "spec",
}

__all__ = [
    "MODELS",
    "Completion",
    "GenerationRequest",
    "GenerationSettings",
    "Generator",
    "ModelSpec",
    "SupportsLevelProbabilities",
    "make_generator",
    "parse_spec",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'harness.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"harness.models.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
