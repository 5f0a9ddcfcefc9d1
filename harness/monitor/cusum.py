"""A one-sided CUSUM on a quality criterion, with a threshold chosen for a stated in-control ARL.

Each tested window gives a standardised value ``z`` oriented so that positive is worse: for a share,
``(p̂ − p₀) / sqrt(p₀(1 − p₀)(1/n + 1/n_ref))`` with ``p₀`` the reference share (kept at least
``0.5/n_ref`` from 0 and 1); for a mean, ``(x̄ − μ₀) / (s₀ sqrt(1/n + 1/n_ref))`` with the
reference's mean and standard deviation; the sign is flipped for higher-is-better criteria. In
control each ``z`` is about N(0, 1), the reference's own sampling error included; but every window
shares that error, so the windows' values are correlated and the run length of a CUSUM on them is
far more spread out than Siegmund's formula assumes (see ``benchmarks/monitor_cusum.py``: a large
reference brings it close).
The tabular CUSUM (Page 1954) is ``C_t = max(0, C_{t−1} + z_t − k)`` and signals when
``C_t > h``; windows too small to test leave ``C`` unchanged.

``h`` is chosen so that the in-control average run length (windows until a false signal) is the
stated one, by Siegmund's approximation (Siegmund 1985; Montgomery, *Introduction to Statistical
Quality Control*, §9.1.8) for a one-sided CUSUM of N(0, 1) values::

    ARL = (exp(−2Δb) + 2Δb − 1) / (2Δ²),  Δ = μ − k,  b = h + 1.166

The normal approximation and the estimated reference make the real run length differ somewhat; the
benchmark measures it on simulated windows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["cusum_path", "cusum_threshold", "siegmund_arl", "standardised"]


def siegmund_arl(k: float, h: float, mu: float = 0.0) -> float:
    """Siegmund's approximation of a one-sided CUSUM's ARL for N(mu, 1) values.

    >>> round(siegmund_arl(0.5, 4.0))  # two-sided: 1/ARL = 2/338, Montgomery's 168 (Table 9.3)
    338
    """
    delta = mu - k
    b = h + 1.166
    if abs(delta) < 1e-12:
        return b * b
    return (math.exp(-2 * delta * b) + 2 * delta * b - 1) / (2 * delta * delta)


def cusum_threshold(arl0: float, k: float = 0.5) -> float:
    """The ``h`` whose in-control ARL (Siegmund) is ``arl0`` windows, by bisection.

    >>> round(cusum_threshold(338.1), 2)
    4.0
    """
    if arl0 <= 1:
        raise ValueError("the in-control ARL must be above 1 window")
    lo, hi = 0.0, 1.0
    while siegmund_arl(k, hi) < arl0:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if siegmund_arl(k, mid) < arl0 else (lo, mid)
    return (lo + hi) / 2


def standardised(
    value: float, n: int, reference: Sequence[float], *, kind: str, higher_better: bool
) -> float | None:
    """The window's standardised departure from the reference, positive when worse (None: undefined)."""
    n_ref = len(reference)
    if n < 1 or n_ref < 2:
        return None
    mean0 = sum(reference) / n_ref
    if kind == "rate":
        p0 = min(max(mean0, 0.5 / n_ref), 1 - 0.5 / n_ref)
        sd = math.sqrt(p0 * (1 - p0))
        mean0 = p0
    else:
        sd = math.sqrt(sum((x - mean0) ** 2 for x in reference) / (n_ref - 1))
        if sd == 0:
            return None
    z = (value - mean0) / (sd * math.sqrt(1 / n + 1 / n_ref))
    return -z if higher_better else z


def cusum_path(z: Sequence[float | None], k: float, h: float) -> list[tuple[float | None, bool]]:
    """``(C_t, C_t > h)`` for each value (None values leave C unchanged and give ``(None, False)``).

    >>> [round(c, 1) for c, _ in cusum_path([1.0, 2.0, -5.0, 3.0], 0.5, 2.0)]
    [0.5, 2.0, 0.0, 2.5]
    """
    out: list[tuple[float | None, bool]] = []
    c = 0.0
    for x in z:
        if x is None:
            out.append((None, False))
            continue
        c = max(0.0, c + x - k)
        out.append((c, c > h))
    return out
