"""Group balance of training data: how examples spread over the fields a holdout slices by.

A fine-tune learns the groups its data covers; a group the holdout measures and the training data
barely covers is where a regression hides behind a better mean (bias amplification). Per field
(``harness validate --by FIELD``, and the ``gate.slices`` of each ``--holdout`` suite) this check
reports counts and shares of the training examples, and with a holdout:

* the holdout's slices the training data barely covers (``balance.undercovered``, a warning):
  fewer than ``min_count`` examples, or a share below ``1 / ratio`` of the holdout's share;
* a test of whether training and holdout follow the same distribution over the slices: Pearson's
  chi-square test of homogeneity on the 2 × K table, or, when an expected count is below 5, its
  exact version by Monte Carlo (the table's margins fixed, ``resamples`` draws), with Cramér's V
  as the effect size (``balance.distribution``).

The slices are those of :func:`harness.slicing.item_slices` (tags count once per tag; rows
without the field are the ``(missing)`` slice), the same groups a comparison reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from scipy import stats as sps

from harness.configfile import load_yaml
from harness.errors import InputError
from harness.leakage.holdout import SUITE_FILES, items_file
from harness.records import Record, read_rows
from harness.slicing import MISSING, item_slices
from harness.stats.params import check_int
from harness.validate.findings import Finding

__all__ = ["GroupBalance", "HomogeneityTest", "holdout_slices", "homogeneity_test"]


class HomogeneityTest(NamedTuple):
    """Chi-square test that two samples share one distribution over K groups, with Cramér's V."""

    statistic: float
    dof: int
    p_value: float
    cramers_v: float
    method: str
    min_expected: float


def homogeneity_test(
    first: Sequence[int], second: Sequence[int], *, resamples: int = 20_000, seed: int = 0
) -> HomogeneityTest:
    """Pearson's chi-square test of homogeneity of two count vectors over the same groups.

    Exact (Monte Carlo, margins fixed) when an expected count is below 5; the effect size is
    Cramér's V = sqrt(chi2 / n) for a 2 × K table.

    Example:
        >>> t = homogeneity_test([30, 30, 40], [10, 30, 60])
        >>> t.method, t.dof, round(t.statistic, 3), round(t.cramers_v, 3)
        ('chi2', 2, 14.0, 0.265)
    """
    table = np.array([first, second], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or np.any(table.sum(axis=1) == 0):
        raise InputError("homogeneity_test needs two non-empty samples over at least 2 groups.")
    resamples = check_int(resamples, param="resamples", func="homogeneity_test", low=1)
    n = float(table.sum())
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    v = float(np.sqrt(chi2 / n))
    if expected.min() >= 5:
        return HomogeneityTest(chi2, dof, float(sps.chi2.sf(chi2, dof)), v, "chi2", float(expected.min()))
    # The first sample's counts given both margins are multivariate hypergeometric.
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_hypergeometric(table.sum(axis=0).astype(np.int64), int(table[0].sum()), size=resamples)
    sims = np.stack([draws, table.sum(axis=0) - draws], axis=1)
    stat = np.sum((sims - expected) ** 2 / expected, axis=(1, 2))
    p = float((1 + np.sum(stat >= chi2 - 1e-9)) / (resamples + 1))
    return HomogeneityTest(chi2, dof, p, v, "chi2_exact_monte_carlo", float(expected.min()))


def holdout_slices(path: str | Path) -> tuple[list[str], list[dict[str, Any]]]:
    """A holdout's ``gate.slices`` (suites only) and its items' rows."""
    path = Path(path)
    fields: list[str] = []
    suite_file = next((path / n for n in SUITE_FILES if (path / n).is_file()), None) if path.is_dir() else None
    if suite_file is not None:
        data = load_yaml(suite_file)
        gate = data.get("gate") if isinstance(data, dict) else None
        if isinstance(gate, dict) and isinstance(gate.get("slices"), list):
            fields = [str(f) for f in gate["slices"]]
    rows = [r.data for r in read_rows(items_file(path)) if r.data is not None]
    return fields, rows


class GroupBalance:
    """Counts of training examples per slice of each field, compared with the holdouts' slices."""

    name = "balance.groups"

    def __init__(
        self,
        fields: Iterable[str] = (),
        holdouts: Sequence[str | Path] = (),
        *,
        min_count: int = 5,
        ratio: float = 5.0,
        resamples: int = 20_000,
        seed: int = 0,
    ) -> None:
        self.holdouts: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}
        wanted = list(fields)
        for h in holdouts:
            slices, rows = holdout_slices(h)
            self.holdouts[str(h)] = (slices, rows)
            wanted += slices
        self.fields = list(dict.fromkeys(wanted))
        self.counts: dict[str, Counter[str]] = {f: Counter() for f in self.fields}
        self.n = 0
        self.min_count, self.ratio, self.resamples, self.seed = min_count, ratio, resamples, seed

    def observe(self, record: Record) -> Iterable[Finding]:
        """Count the record in its slice of every field."""
        self.n += 1
        extra = record.model_extra or {}
        for f in self.fields:
            self.counts[f].update(item_slices(extra, f))
        return ()

    def finish(self) -> Iterable[Finding]:
        """Counts and shares per field; per holdout, under-covered slices and the distribution test."""
        for f in self.fields:
            train = self.counts[f]
            if set(train) == {MISSING}:
                yield Finding(
                    check="balance.groups", severity="info",
                    message=f"no training example has the field '{f}': its balance cannot be checked",
                    data={"field": f, "n": self.n, "groups": {}},
                )
                continue
            yield Finding(
                check="balance.groups", severity="info",
                message=f"'{f}': {len(train)} groups over {self.n} examples: "
                        + ", ".join(f"{k} {c} ({c / max(self.n, 1):.0%})" for k, c in train.most_common(8)),
                data={"field": f, "n": self.n, "groups": _shares(train, self.n)},
            )
            for name, (_, rows) in self.holdouts.items():
                hold: Counter[str] = Counter()
                for row in rows:
                    hold.update(item_slices(row, f))
                if set(hold) == {MISSING}:
                    continue
                yield from self._compare(f, train, hold, name)

    def _compare(self, f: str, train: Counter[str], hold: Counter[str], name: str) -> Iterable[Finding]:
        n_hold = sum(hold.values())
        thin = [
            k for k in hold if k != MISSING
            and (train[k] < self.min_count or train[k] / max(self.n, 1) < hold[k] / n_hold / self.ratio)
        ]
        if thin:
            yield Finding(
                check="balance.undercovered", severity="warning", holdout=name,
                message=f"'{f}': the holdout measures {len(thin)} slice(s) the training data barely covers: "
                        + ", ".join(f"{k} ({train[k]} examples, {train[k] / max(self.n, 1):.1%} vs "
                                    f"{hold[k] / n_hold:.1%} of the holdout)" for k in thin),
                data={"field": f, "slices": thin},
            )
        keys = sorted(set(train) | set(hold))
        if self.n == 0 or len(keys) < 2:
            return
        test = homogeneity_test([train[k] for k in keys], [hold[k] for k in keys], resamples=self.resamples,
                                seed=self.seed)
        floor = test.method != "chi2" and test.p_value <= 1.0 / (self.resamples + 1)
        p = f"p <= {test.p_value:.2g}" if floor else f"p = {test.p_value:.3g}"
        yield Finding(
            check="balance.distribution", severity="info", holdout=name,
            message=f"'{f}': training vs holdout distribution: chi2 = {test.statistic:.3g} (dof {test.dof}), "
                    f"{p} ({test.method}), Cramér's V = {test.cramers_v:.3f}",
            data={"field": f, "train": _shares(train, self.n), "holdout": _shares(hold, n_hold),
                  "test": test._asdict()},
        )


def _shares(counts: Counter[str], n: int) -> dict[str, dict[str, float]]:
    return {k: {"count": c, "share": c / n if n else 0.0} for k, c in counts.most_common()}
