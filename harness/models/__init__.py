"""Model specs and generators. Importing this package does not import torch."""

from harness.models.base import (
    Completion,
    GenerationRequest,
    GenerationSettings,
    Generator,
    SupportsLevelProbabilities,
    make_generator,
)

__all__ = [
    "Completion",
    "GenerationRequest",
    "GenerationSettings",
    "Generator",
    "SupportsLevelProbabilities",
    "make_generator",
]
