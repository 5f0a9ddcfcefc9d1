"""Model specs (parsed once), the Generator protocol and the factory. Importing this package does not import torch."""

from harness.models.base import (
    Completion,
    GenerationRequest,
    GenerationSettings,
    Generator,
    SupportsLevelProbabilities,
)
from harness.models.factory import MODELS, make_generator
from harness.models.spec import ModelSpec, parse_spec

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
