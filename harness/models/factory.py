"""The model factory: a parsed spec in, a :class:`~harness.models.base.Generator` out.

Each spec kind has a backend registered in :data:`MODELS` (``harness list models``): local
weights (``hf``, ``gguf``, ``adapter``, ``run``) load with transformers, ``openai`` talks to an
OpenAI-compatible server, ``outputs`` replays pre-generated rows. A new backend registers a
builder ``(spec, options) -> Generator`` under the kind its spec parses to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.errors import ModelError
from harness.models.base import BatchSize, Generator
from harness.models.hf import HFGenerator
from harness.models.openai import OpenAIGenerator
from harness.models.outputs import OutputsGenerator
from harness.models.spec import ModelSpec, parse_spec
from harness.registry import Registry

__all__ = ["MODELS", "GeneratorOptions", "make_generator"]


@dataclass(frozen=True)
class GeneratorOptions:
    """How a generator is built, beyond its spec (each backend reads the options it has).

    Attributes:
        batch_size: prompts per batch of a local model, or "auto".
        allow_noop_adapter: evaluate an adapter even when it does not change the logits.
        allow_pickle: allow ``.bin`` weights.
        serving: serving options of a server model (keys of
            :class:`~harness.models.serving.ServingOptions`: timeout, concurrency, max_retries,
            backoff, request parameters), over those of its model file.
    """

    batch_size: BatchSize = "auto"
    allow_noop_adapter: bool = False
    allow_pickle: bool = False
    serving: Mapping[str, Any] = field(default_factory=dict)


Backend = Callable[[ModelSpec, GeneratorOptions], Generator]
MODELS: Registry[Backend] = Registry("models", noun="model kind")


def _local(spec: ModelSpec, options: GeneratorOptions) -> Generator:
    """Local weights, loaded with transformers."""
    from harness.progress import step

    with step(f"loading {spec.label}"):  # imports torch and transformers, reads the weights, hashes them
        return HFGenerator(
            spec,
            batch_size=options.batch_size,
            allow_noop_adapter=options.allow_noop_adapter,
            allow_pickle=options.allow_pickle,
        )


for _kind, _summary, _spec in (
    ("hf", "a local Hugging Face model folder (config.json + safetensors)", "FOLDER"),
    ("gguf", "a .gguf file, or a built-in alias such as smollm2-135m", "FILE.gguf | ALIAS"),
    ("adapter", "a PEFT adapter folder; its base read from adapter_config.json", "FOLDER"),
    ("run", "a harness train run folder; its base read from manifest.json", "FOLDER"),
):
    MODELS.register(_kind, summary=_summary, spec=_spec, options=("batch_size", "allow_noop_adapter", "allow_pickle"))(
        _local
    )


@MODELS.register("openai", spec="openai:MODEL --endpoint URL | MODEL.yaml", options=("serving",))
def _openai(spec: ModelSpec, options: GeneratorOptions) -> Generator:
    """A model behind an OpenAI-compatible server (chat completions); its name is checked against /models."""
    from harness.models.serving import ServingOptions

    if not spec.endpoint:
        raise ModelError(f"{spec.raw!r} needs --endpoint URL (an OpenAI-compatible server, e.g. http://host:8000/v1)")
    assert spec.name is not None
    file = ServingOptions.build(spec.serving or {}, where="the model file", file=spec.raw)
    serving = file.merged(options.serving, where="the serving options")
    gen = OpenAIGenerator(spec.name, endpoint=spec.endpoint, options=serving)
    gen.check_model()
    if (warning := gen.check_slots()) is not None:
        from harness.progress import note

        note(f"warning: {warning}", style="yellow")
    return gen


@MODELS.register("outputs", spec="outputs:FILE.jsonl", options=())
def _outputs(spec: ModelSpec, options: GeneratorOptions) -> Generator:
    """Pre-generated {"id", "output"} rows, replayed by item id."""
    assert spec.path is not None
    return OutputsGenerator(spec.path)


def make_generator(
    spec: ModelSpec | str,
    *,
    endpoint: str | None = None,
    allow_noop_adapter: bool = False,
    batch_size: BatchSize = "auto",
    allow_pickle: bool = False,
    concurrency: int | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    serving: Mapping[str, Any] | None = None,
) -> Generator:
    """Build the generator for a model spec (parsed here when given as a string).

    Local specs (alias, Hugging Face folder, GGUF, adapter, run folder) load with transformers;
    ``openai:<model>`` needs ``endpoint``; ``outputs:<file>`` replays rows. ``serving`` (or
    ``concurrency``, ``timeout``, ``max_retries`` alone) set a server model's serving options
    over those of its model file; local models ignore them.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "o.jsonl"
        >>> _ = p.write_text('{"id": "a", "output": "hi"}\\n')
        >>> make_generator(f"outputs:{p}").describe()["kind"]
        'outputs'
    """
    if isinstance(spec, str):
        spec = parse_spec(spec, endpoint=endpoint)
    elif endpoint is not None and endpoint != spec.endpoint:
        raise ModelError(f"the endpoint of {spec.raw!r} is part of its parsed spec; pass it to parse_spec")
    given = {"concurrency": concurrency, "timeout": timeout, "max_retries": max_retries}
    merged = {**{k: v for k, v in given.items() if v is not None}, **(serving or {})}
    options = GeneratorOptions(batch_size, allow_noop_adapter, allow_pickle, merged)
    return MODELS.get(spec.kind)(spec, options)
