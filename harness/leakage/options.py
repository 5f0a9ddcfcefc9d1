"""Leakage scan options: one validated model shared by the check, ``scan_leakage`` and the CLI."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import InputError, RegistryError, did_you_mean
from harness.leakage.methods import LEAKAGE, method_names


class LeakageOptions(BaseModel):
    """How training text is compared with holdout text.

    Defaults and why (measurements in README.md and benchmarks/RESULTS.md):

    - ``n = 13``: word 13-grams after lower-casing and stripping punctuation, as in the GPT-3
      contamination analysis (Brown et al. 2020, appendix C); any shared 13-gram flags a leak.
    - ``min_words = 5``: holdout prompts (their non-template part) shorter than this are not
      matched; answers (``reference``, ``completion``) need ``n`` words: a label, a number or a
      short JSON answer that a training example shares is no evidence that the item leaked.
    - ``template_n = 8``, ``template_min_items = 3`` and ``template_min_share = 0.05``: a word
      8-gram found in at least max(3, 5% of the items) of one holdout is template (an instruction
      the items repeat); template words are left out of n-gram, near-duplicate and paraphrase
      matching, so training data that shares the template but not the item is clean. The share
      keeps a family of near-identical items (the documentation of ``Logger.info``,
      ``.warning`` and ``.error``) from being taken for a template: their shared sentences are
      the items' content, and a leak of one of them must still be found. A template is
      boilerplate repeated across a holdout; a family is a handful of items.
    - MinHash over word ``shingle = 2``-grams, ``num_perm = 128`` values, ``bands = 42`` x
      ``rows = 3`` find candidates, flagged at exact Jaccard >= ``threshold = 0.4``, measured on the
      planted-leak set (``benchmarks/leakage_threshold.py``): with one word in eight replaced a
      leak keeps Jaccard >= 0.50 (median 0.62), clean rows stay <= 0.36 (look-alikes <= 0.26);
      42 x 3 bands make a pair at 0.5 a candidate with probability 0.996.
    - ``paraphrase_threshold = 0.8``: cosine of all-MiniLM-L6-v2 sentence embeddings.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    methods: tuple[str, ...] = Field(default_factory=method_names, description="methods to run (harness list leakage)")
    n: int = Field(default=13, ge=2, le=64, description="word n-gram length for containment")
    min_words: int = Field(default=5, ge=1, description="shortest holdout prompt (in words) that is matched")
    template_n: int = Field(default=8, ge=2, le=64, description="n-gram length that detects holdout templates")
    template_min_items: int = Field(default=3, ge=2, description="items of one holdout sharing a template n-gram")
    template_min_share: float = Field(
        default=0.05, ge=0.0, le=1.0, description="share of a holdout's items sharing a template n-gram"
    )
    shingle: int = Field(default=2, ge=1, le=16, description="word shingle length for MinHash")
    num_perm: int = Field(default=128, ge=8, le=1024, description="MinHash signature length")
    bands: int = Field(default=42, ge=1, description="LSH bands")
    rows: int = Field(default=3, ge=1, description="MinHash values per LSH band")
    threshold: float = Field(
        default=0.4, gt=0.0, le=1.0, description="near-duplicate Jaccard (exact, of LSH candidates)"
    )
    paraphrase: bool | None = Field(default=None, description="None: on when the 'embed' extra is installed")
    paraphrase_threshold: float = Field(default=0.8, gt=0.0, le=1.0, description="cosine similarity")
    paraphrase_window: int = Field(default=128, ge=8, description="words per embedded window of a long text")
    near_threshold: float = Field(default=0.8, gt=0.0, le=1.0, description="within-train duplicates.near Jaccard")
    near_bands: int = Field(default=21, ge=1, description="LSH bands for within-train near duplicates")
    near_rows: int = Field(default=6, ge=1, description="rows per band for within-train near duplicates")
    severity: Literal["error", "warning", "info"] = Field(default="error", description="severity of a leak")
    workers: int | None = Field(default=None, ge=1, description="worker processes; None: one per CPU core")
    chunk_size: int = Field(default=1024, ge=1, description="training examples per batch")

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, methods: tuple[str, ...]) -> tuple[str, ...]:
        for name in methods:
            try:
                LEAKAGE.entry(name)
            except RegistryError as exc:
                raise ValueError(exc.message) from None
        return methods

    @model_validator(mode="after")
    def _check_bands(self) -> LeakageOptions:
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows ({self.bands} x {self.rows}) must not exceed num_perm ({self.num_perm})")
        if self.near_bands * self.near_rows > self.num_perm:
            raise ValueError(
                f"near_bands x near_rows ({self.near_bands} x {self.near_rows}) must not exceed num_perm "
                f"({self.num_perm})"
            )
        return self

    def n_workers(self) -> int:
        """Worker processes to use: ``workers``, else one per available CPU core (at most 8)."""
        if self.workers is not None:
            return self.workers
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cores = os.cpu_count() or 1
        return max(1, min(cores, 8))


def make_options(options: LeakageOptions | None = None, **overrides: Any) -> LeakageOptions:
    """Validate options, with the project's message shape for unknown names and bad values.

    >>> make_options(n=8).n
    8
    """
    base = options.model_dump() if options is not None else {}
    known = set(LeakageOptions.model_fields)
    for key in overrides:
        if key not in known:
            raise InputError(f"unknown leakage option {key!r}.{did_you_mean(key, known)}")
    try:
        return LeakageOptions(**{**base, **overrides})
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        raise InputError(f"invalid leakage option: {err['msg']}", field=field) from exc
