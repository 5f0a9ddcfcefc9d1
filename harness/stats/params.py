"""Parameter checks at the boundary of the statistics, with one message shape.

Every public statistic checks its arguments here, so a bad value reads the same wherever it is
passed, in scikit-learn's shape::

    The 'confidence' parameter of bootstrap_mean must be a float in the range (0, 1); got 1.5.

and raises :class:`~harness.errors.InputError` (a ``ValueError``), which the CLI turns into exit
code 2 without a traceback.

Example:
    >>> check_confidence(0.9, "bootstrap_mean")
    0.9
    >>> check_confidence(1.5, "bootstrap_mean")
    Traceback (most recent call last):
    ...
    harness.errors.InputError: The 'confidence' parameter of bootstrap_mean must be a float in the range (0, 1); ...
"""

from __future__ import annotations

import math
import numbers
from typing import Literal, NoReturn

import numpy as np

from harness.errors import InputError, check_choice

__all__ = [
    "check_choice",
    "check_confidence",
    "check_float",
    "check_int",
    "check_pairs",
    "check_resamples",
    "check_values",
]

Closed = Literal["neither", "left", "right", "both"]


def _range_text(low: float | None, high: float | None, closed: Closed) -> str:
    left = "[" if closed in ("left", "both") and low is not None else "("
    right = "]" if closed in ("right", "both") and high is not None else ")"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}{right}"


def _inside(value: float, low: float | None, high: float | None, closed: Closed) -> bool:
    if math.isnan(value):
        return False
    if low is not None and (value < low or (value == low and closed not in ("left", "both"))):
        return False
    return not (high is not None and (value > high or (value == high and closed not in ("right", "both"))))


def _fail(
    param: str, func: str, kind: str, low: float | None, high: float | None, closed: Closed, value: object
) -> NoReturn:
    where = _range_text(low, high, closed)
    raise InputError(f"The '{param}' parameter of {func} must be {kind} in the range {where}; got {value!r}.")


def check_float(
    value: object,
    *,
    param: str,
    func: str,
    low: float | None = None,
    high: float | None = None,
    closed: Closed = "both",
) -> float:
    """A real number in a range (``closed`` says which ends belong to it); NaN and booleans are refused.

    >>> check_float(0.0, param="margin", func="decide", low=0.0)
    0.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(param, func, "a float", low, high, closed, value)
    x = float(value)
    if not _inside(x, low, high, closed):
        _fail(param, func, "a float", low, high, closed, value)
    return x


def check_int(
    value: object, *, param: str, func: str, low: int | None = None, high: int | None = None
) -> int:
    """An integer in the closed range [low, high] (either end may be open-ended with None).

    >>> check_int(2000, param="resamples", func="bootstrap_mean", low=1)
    2000
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        _fail(param, func, "an int", low, high, "both", value)
    x = int(value)
    if not _inside(float(x), low, high, "both"):
        _fail(param, func, "an int", low, high, "both", value)
    return x


def check_confidence(value: object, func: str) -> float:
    """A two-sided confidence level, strictly between 0 and 1."""
    return check_float(value, param="confidence", func=func, low=0.0, high=1.0, closed="neither")


def check_resamples(value: object, func: str, *, param: str = "resamples") -> int:
    """A number of bootstrap resamples (>= 1)."""
    return check_int(value, param=param, func=func, low=1)


def check_values(values: object, *, param: str, func: str) -> np.ndarray:
    """A one-dimensional array of finite numbers (one per item)."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise InputError(f"The '{param}' parameter of {func} must be one-dimensional; got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"The '{param}' parameter of {func} must hold finite numbers only (drop unscored items).")
    return arr


def check_pairs(base: object, candidate: object, *, func: str) -> tuple[np.ndarray, np.ndarray]:
    """Base and candidate scores of the same items: each as :func:`check_values`, and of equal length."""
    x = check_values(base, param="base", func=func)
    y = check_values(candidate, param="candidate", func=func)
    if x.shape != y.shape:
        raise InputError(f"{func} needs as many base as candidate scores; got {x.size} and {y.size}.")
    return x, y
