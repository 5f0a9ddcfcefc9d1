"""Inter-rater agreement coefficients as pure functions.

Every function takes ratings as a 2-D array ``data`` of shape ``(n_items, n_raters)`` with
``np.nan`` for a missing rating (numeric codes; :func:`encode_labels` codes string labels), and
returns a float that is ``nan`` when the coefficient is undefined for the data (one category, no
pairable item, one rater): undefined is never reported as 0.

Definitions (and the published values the tests reproduce):

- :func:`percent_agreement`: share of agreeing rater pairs, averaged over items with two or more
  ratings.
- :func:`cohen_kappa`: two raters; unweighted, linear or quadratic agreement weights on the
  *positions* of the categories in the ordered category set (Cohen 1968; as scikit-learn,
  statsmodels and SAS). These are not Krippendorff's ordinal metric.
- :func:`fleiss_kappa`: Fleiss (1971), generalised to items with different numbers of ratings
  (Gwet 2014): observed agreement over items with 2+ ratings, category shares over items with 1+.
- :func:`krippendorff_alpha`: nominal, ordinal, interval or ratio metric, any missing pattern;
  single-rating items are unpairable and ignored.
- :func:`gwet_ac1`, :func:`gwet_ac2`: Gwet (2008, 2014); AC2 weights are computed from the
  category *values* (linear, quadratic, ratio), as in Gwet's handbook and ``irrCAC``.
- :func:`icc`: Shrout & Fleiss (1979) forms icc1, icc2, icc3 and their k-rater means icc1k,
  icc2k, icc3k, from the items rated by every rater.

Weighted kappa, AC1 and AC2 depend on the category set: pass ``labels`` with the full scale
(unused categories included) to state it; by default it is the set of observed values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from harness.agreement import intraclass
from harness.agreement import suffstats as ss
from harness.agreement.intraclass import ICC_FORMS
from harness.agreement.suffstats import ItemStat
from harness.arrays import distinct
from harness.errors import InputError, check_choice

__all__ = [
    "AC2_WEIGHTS",
    "ICC_FORMS",
    "KAPPA_WEIGHTS",
    "LEVELS",
    "EncodedLabels",
    "cohen_kappa",
    "encode_labels",
    "fleiss_kappa",
    "gwet_ac1",
    "gwet_ac2",
    "gwet_weights",
    "icc",
    "krippendorff_alpha",
    "percent_agreement",
]

LEVELS = ("nominal", "ordinal", "interval", "ratio")
KAPPA_WEIGHTS = ("linear", "quadratic")
AC2_WEIGHTS = ("linear", "quadratic", "ratio")
_MISSING_TEXT = frozenset({"", "nan", "na", "n/a", "null", "none"})


# ---------------------------------------------------------------------------- input handling
def as_ratings(data: Any, *, func: str, name: str = "data", ndim: int = 2) -> np.ndarray:
    """Validate ratings as a float array (NaN missing) of ``ndim`` dimensions."""
    try:
        arr = np.asarray(data, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"The '{name}' parameter of {func} must hold numbers with NaN for missing; "
            "code string labels with harness.agreement.encode_labels() first."
        ) from exc
    if arr.ndim != ndim:
        shape = "(n_items, n_raters)" if ndim == 2 else "(n_items,)"
        raise InputError(f"The '{name}' parameter of {func} must be a {ndim}-D array {shape}; got shape {arr.shape}.")
    if np.isinf(arr).any():
        raise InputError(f"The '{name}' parameter of {func} holds an infinite value; use NaN for missing.")
    return arr


def as_labels(labels: Sequence[float] | np.ndarray | None, *, func: str) -> np.ndarray | None:
    """Validate a category set: finite, distinct numbers, returned sorted."""
    if labels is None:
        return None
    arr = as_ratings(labels, func=func, name="labels", ndim=1)
    if np.isnan(arr).any():
        raise InputError(f"The 'labels' parameter of {func} must not contain NaN (a missing value is not a category).")
    uniq = distinct(arr)
    if len(uniq) != len(arr):
        raise InputError(f"The 'labels' parameter of {func} must not repeat a category.")
    return uniq


class EncodedLabels(NamedTuple):
    """String ratings coded as numbers: ``data`` holds indices into ``categories`` (NaN missing)."""

    data: np.ndarray
    categories: list[Any]


def encode_labels(values: Any, *, categories: Sequence[Any] | None = None) -> EncodedLabels:
    """Code labels (strings or numbers) as category indices, keeping missing values missing.

    ``None``, NaN and empty / ``NA`` / ``null`` text are missing, never a category.

    Args:
        values: a 1-D or 2-D array-like of labels.
        categories: the ordered category set (gives the order used by ordinal and weighted
            coefficients, and admits unused categories); default: the sorted observed labels.

    Returns:
        The coded array (same shape, float, NaN missing) and the category list.

    Raises:
        InputError: a label that is not in ``categories``.

    Example:
        >>> enc = encode_labels([["low", "high"], ["mid", None]], categories=["low", "mid", "high"])
        >>> enc.data.tolist(), enc.categories
        ([[0.0, 2.0], [1.0, nan]], ['low', 'mid', 'high'])
    """
    arr = np.asarray(values, dtype=object)
    flat = arr.reshape(-1)
    missing = np.array([_is_missing_label(v) for v in flat], dtype=bool)
    if categories is None:
        present = {v for v, miss in zip(flat, missing, strict=True) if not miss}
        cats = sorted(present, key=lambda v: (isinstance(v, str), v))
    else:
        cats = list(categories)
        if len(set(cats)) != len(cats):
            raise InputError("The 'categories' parameter of encode_labels must not repeat a category.")
    index = {c: i for i, c in enumerate(cats)}
    out = np.full(flat.shape, np.nan)
    for pos, (v, miss) in enumerate(zip(flat, missing, strict=True)):
        if miss:
            continue
        if v not in index:
            raise InputError(f"label {v!r} is not one of the categories {cats}")
        out[pos] = index[v]
    return EncodedLabels(out.reshape(arr.shape), cats)


def _is_missing_label(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and np.isnan(v):
        return True
    return isinstance(v, str) and v.strip().lower() in _MISSING_TEXT


# ---------------------------------------------------------------------------- statistics builders
def _counts(data: Any, labels: Any, func: str) -> tuple[np.ndarray, np.ndarray]:
    x = as_ratings(data, func=func)
    coded = ss.code_categories(x, as_labels(labels, func=func))
    q = len(coded.categories)
    if q > ss.MAX_CATEGORIES:
        raise InputError(f"{func}: {q} distinct values; at most {ss.MAX_CATEGORIES} categories are supported.")
    return ss.count_matrix(coded.codes, max(q, 1)), coded.categories


def percent_agreement_stat(data: Any) -> ItemStat:
    """Sufficient statistics of :func:`percent_agreement` (for the bootstrap)."""
    counts, _ = _counts(data, None, "percent_agreement")
    return ss.percent_agreement_stat(counts)


def fleiss_kappa_stat(data: Any, *, labels: Any = None) -> ItemStat:
    """Sufficient statistics of :func:`fleiss_kappa`."""
    counts, _ = _counts(data, labels, "fleiss_kappa")
    return ss.fleiss_stat(counts)


def gwet_weights(categories: np.ndarray, weights: str | None) -> np.ndarray:
    """Gwet's agreement weights on category values: identity (None), linear, quadratic or ratio."""
    q = len(categories)
    if weights is None or q < 2:
        return np.eye(q)
    c, k = categories[:, None], categories[None, :]
    span = categories.max() - categories.min()
    if weights == "linear":
        return 1 - np.abs(c - k) / span
    if weights == "quadratic":
        return 1 - (c - k) ** 2 / span**2
    if categories.min() <= 0:
        raise InputError("ratio weights need positive category values (0 or a negative value is not a ratio scale)")
    return 1 - ((c - k) / (c + k)) ** 2 / (span / (categories.max() + categories.min())) ** 2


def gwet_stat(data: Any, *, weights: str | None = None, labels: Any = None, func: str = "gwet_ac1") -> ItemStat:
    """Sufficient statistics of :func:`gwet_ac1` (``weights=None``) or :func:`gwet_ac2`."""
    counts, cats = _counts(data, labels, func)
    agree = gwet_weights(cats, weights) if len(cats) else np.eye(1)  # no rating at all: one empty category
    return ss.gwet_stat(counts, agree)


def krippendorff_alpha_stat(data: Any, *, level: str) -> ItemStat:
    """Sufficient statistics of :func:`krippendorff_alpha`."""
    check_choice(level, LEVELS, param="level", func="krippendorff_alpha")
    return ss.alpha_stat(as_ratings(data, func="krippendorff_alpha"), level)


def code_rater_pair(a: Any, b: Any, *, weights: str | None, labels: Any, func: str) -> tuple[np.ndarray, int]:
    """Check two raters' ratings of the same items and code them as categories.

    Returns the ``(n, 2)`` category codes (-1 where missing) and the number of categories.
    """
    if weights is not None:
        check_choice(weights, KAPPA_WEIGHTS, param="weights", func=func)
    va = as_ratings(a, func=func, name="a", ndim=1)
    vb = as_ratings(b, func=func, name="b", ndim=1)
    if va.shape != vb.shape:
        raise InputError(f"{func}: 'a' and 'b' must rate the same items; got lengths {len(va)} and {len(vb)}.")
    coded = ss.code_categories(np.column_stack([va, vb]), as_labels(labels, func=func))
    return coded.codes, max(len(coded.categories), 1)


def cohen_kappa_stat(a: Any, b: Any, *, weights: str | None = None, labels: Any = None) -> ItemStat:
    """Sufficient statistics of :func:`cohen_kappa`."""
    codes, q = code_rater_pair(a, b, weights=weights, labels=labels, func="cohen_kappa")
    return ss.cohen_stat(codes[:, 0], codes[:, 1], q, ss.kappa_weights(q, weights))


def icc_stat(data: Any, *, form: str = "icc2") -> ItemStat:
    """Sufficient statistics of :func:`icc`."""
    check_choice(form, ICC_FORMS, param="form", func="icc")
    return intraclass.icc_stat(as_ratings(data, func="icc"), form)


# ---------------------------------------------------------------------------- public coefficients
def percent_agreement(data: Any) -> float:
    """Observed agreement: the share of agreeing rater pairs, averaged over pairable items.

    Args:
        data: ``(n_items, n_raters)`` ratings, NaN for missing.

    Returns:
        A value in [0, 1]; NaN when no item has two ratings.

    Example:
        >>> percent_agreement([[1, 1], [1, 2], [2, 2], [3, float("nan")]])
        0.6666666666666666
    """
    return percent_agreement_stat(data).value()


def cohen_kappa(a: Any, b: Any, *, weights: str | None = None, labels: Any = None) -> float:
    """Cohen's kappa between two raters (items missing either rating are left out).

    Args:
        a: ratings of the first rater, ``(n_items,)``, NaN for missing.
        b: ratings of the second rater.
        weights: None (unweighted), ``"linear"`` or ``"quadratic"`` agreement weights on the
            category positions ``1 - |i - j| / (q - 1)`` or ``1 - (i - j)**2 / (q - 1)**2``.
        labels: the ordered category set (default: values either rater used); weighted kappa
            depends on it.

    Returns:
        Kappa; NaN when no item has both ratings or both raters used a single category.

    Example:
        >>> round(cohen_kappa([1, 2, 3, 1, 2], [1, 2, 3, 2, 2]), 4)
        0.6875
    """
    return cohen_kappa_stat(a, b, weights=weights, labels=labels).value()


def fleiss_kappa(data: Any, *, labels: Any = None) -> float:
    """Fleiss' kappa for any number of raters, generalised to unequal ratings per item.

    Args:
        data: ``(n_items, n_raters)`` nominal ratings, NaN for missing.
        labels: the category set (unused categories do not change the value).

    Returns:
        Kappa; NaN when no item has two ratings or every rating is in one category.

    Example:
        >>> round(fleiss_kappa([[1, 1, 1], [1, 2, 2], [2, 2, 2], [3, 3, 1]]), 4)
        0.4667
    """
    return fleiss_kappa_stat(data, labels=labels).value()


def krippendorff_alpha(data: Any, *, level: str = "nominal") -> float:
    """Krippendorff's alpha at the given level of measurement, with missing ratings.

    Args:
        data: ``(n_items, n_raters)`` ratings, NaN for missing (single-rating items are ignored).
        level: ``"nominal"``, ``"ordinal"``, ``"interval"`` or ``"ratio"``.

    Returns:
        Alpha (1 perfect, 0 chance); NaN when no item is pairable or all pairable values are equal.

    Example:
        >>> data = [[1, 1, float("nan")], [2, 2, 3], [3, 3, 3], [4, 4, 4]]
        >>> round(krippendorff_alpha(data, level="nominal"), 4)
        0.7727
    """
    return krippendorff_alpha_stat(data, level=level).value()


def gwet_ac1(data: Any, *, labels: Any = None) -> float:
    """Gwet's first-order agreement coefficient AC1 (nominal), any number of raters.

    Args:
        data: ``(n_items, n_raters)`` ratings, NaN for missing.
        labels: the category set; AC1's chance agreement depends on the number of categories.

    Returns:
        AC1; NaN when no item has two ratings or the category set has one value.

    Example:
        >>> round(gwet_ac1([[1, 1], [1, 2], [2, 2], [1, 1]]), 4)
        0.5294
    """
    return gwet_stat(data, weights=None, labels=labels, func="gwet_ac1").value()


def gwet_ac2(data: Any, *, weights: str = "quadratic", labels: Any = None) -> float:
    """Gwet's AC2: AC1 with agreement weights for ordered categories.

    Args:
        data: ``(n_items, n_raters)`` numeric ratings, NaN for missing.
        weights: ``"linear"``, ``"quadratic"`` (default) or ``"ratio"``, on the category values.
        labels: the category set (the full scale, to count unused categories).

    Returns:
        AC2; NaN when no item has two ratings or the category set has one value.

    Example:
        >>> round(gwet_ac2([[1, 2], [2, 2], [3, 3], [4, 5], [5, 5]], weights="quadratic"), 4)
        0.913
    """
    check_choice(weights, AC2_WEIGHTS, param="weights", func="gwet_ac2")
    return gwet_stat(data, weights=weights, labels=labels, func="gwet_ac2").value()


def icc(data: Any, *, form: str = "icc2") -> float:
    """Intraclass correlation (Shrout & Fleiss 1979) for interval ratings.

    Args:
        data: ``(n_items, n_raters)`` ratings; items with a missing rating are left out.
        form: ``"icc1"`` (one-way random), ``"icc2"`` (two-way random, absolute agreement),
            ``"icc3"`` (two-way mixed, consistency), or ``"icc1k"``, ``"icc2k"``, ``"icc3k"``
            for the mean of the k raters.

    Returns:
        The ICC; NaN with fewer than two complete items, fewer than two raters or no variance.

    Example:
        >>> round(icc([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]],
        ...           form="icc3"), 2)
        0.71
    """
    return icc_stat(data, form=form).value()
