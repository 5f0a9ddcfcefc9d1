"""Input drift of one window against the reference prompts: MMD on embeddings plus the shifts that explain it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.monitor.document import DriftExample, ShiftTest
from harness.monitor.features import dominant_script, has_pii, new_ngrams, word_count
from harness.monitor.logs import LogEntry
from harness.monitor.stats import TestResult, chi2_mix, fisher_rates, ks_shift, mmd_test

__all__ = ["Reference", "window_drift"]


@dataclass
class Reference:
    """The reference prompts (a seeded sample of at most ``max_rows``) and their embeddings."""

    texts: list[str]
    vectors: np.ndarray
    source: str
    n_total: int

    def near_share(self, threshold: float) -> tuple[int, int]:
        """How many reference prompts have another reference prompt at cosine >= threshold."""
        sims = self.vectors @ self.vectors.T
        np.fill_diagonal(sims, -1.0)
        return int((sims.max(axis=1) >= threshold).sum()), len(self.texts)


def _shift(name: str, r: TestResult, ref: float | None, win: float | None, n_ref: int, n_win: int) -> ShiftTest:
    return ShiftTest(
        test=name,
        statistic=r.statistic,
        statistic_name=r.statistic_name,
        p_value=r.p_value,
        effect=r.effect,
        effect_name=r.effect_name,
        reference=ref,
        window=win,
        n_reference=n_ref,
        n_window=n_win,
    )


def _univariate(ref: Reference, texts: list[str]) -> list[ShiftTest]:
    n_r, n_w = len(ref.texts), len(texts)
    out = []
    rl = [word_count(t) for t in ref.texts]
    wl = [word_count(t) for t in texts]
    out.append(_shift("length", ks_shift(rl, wl), float(np.mean(rl)), float(np.mean(wl)), n_r, n_w))
    rs = [dominant_script(t) for t in ref.texts]
    ws = [dominant_script(t) for t in texts]
    share = lambda xs: sum(1 for x in xs if x != "latin") / len(xs)  # noqa: E731
    out.append(_shift("script", chi2_mix(rs, ws), share(rs), share(ws), n_r, n_w))
    rp = sum(has_pii(t) for t in ref.texts)
    wp = sum(has_pii(t) for t in texts)
    out.append(_shift("pii", fisher_rates(rp, n_r, wp, n_w), rp / n_r, wp / n_w, n_r, n_w))
    return out


def window_drift(
    ref: Reference,
    entries: list[LogEntry],
    vectors: np.ndarray,
    *,
    permutations: int,
    seed: int,
    near_threshold: float,
    n_examples: int = 5,
) -> tuple[list[ShiftTest], list[DriftExample], list[tuple[str, int]]]:
    """The drift tests of one window (p-values not yet adjusted), its most novel prompts and new bigrams."""
    texts = [e.prompt for e in entries]
    mmd = mmd_test(ref.vectors, vectors, permutations=permutations, seed=seed)
    tests = [_shift("mmd", mmd, None, None, len(ref.texts), len(texts))]
    tests += _univariate(ref, texts)
    sims = vectors @ ref.vectors.T
    best = sims.max(axis=1)
    near_r, n_r = ref.near_share(near_threshold)
    near_w = int((best >= near_threshold).sum())
    near = fisher_rates(near_r, n_r, near_w, len(texts))
    tests.append(_shift("near_training", near, near_r / n_r, near_w / len(texts), n_r, len(texts)))
    order = np.argsort(best, kind="stable")[:n_examples]
    examples = [
        DriftExample(
            prompt=texts[i],
            file=entries[i].file,
            line=entries[i].line,
            similarity=float(best[i]),
            nearest_reference=ref.texts[int(sims[i].argmax())],
        )
        for i in order
    ]
    return tests, examples, new_ngrams(ref.texts, texts)
