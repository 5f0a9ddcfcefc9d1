"""Inter-rater agreement: coefficients, bootstrap intervals, diagnostics, the agreement report.

Pure coefficient functions take a ``(n_items, n_raters)`` array with ``np.nan`` for missing
ratings (see :mod:`harness.agreement.coefficients`); :func:`agreement_report` reads a ratings file
and builds the ``harness.agreement/v1`` document that ``harness agreement`` prints.

Example:
    >>> import numpy as np
    >>> from harness.agreement import krippendorff_alpha
    >>> round(krippendorff_alpha(np.array([[1, 1], [2, 2], [3, 2], [4, 4]]), level="interval"), 4)
    0.9114
"""

from harness.agreement.analytic import CohenKappaSE, FleissKappaSE, cohen_kappa_se, fleiss_kappa_se
from harness.agreement.bootstrap import BootstrapCI, bootstrap_ci, bootstrap_values
from harness.agreement.coefficients import (
    EncodedLabels,
    cohen_kappa,
    encode_labels,
    fleiss_kappa,
    gwet_ac1,
    gwet_ac2,
    icc,
    krippendorff_alpha,
    percent_agreement,
)
from harness.agreement.concordance import KendallW, kendall_w
from harness.agreement.document import SCHEMA, agreement_report, gate_verdict
from harness.agreement.ratings import Rating, Ratings, Scale, load_ratings, parse_scale

__all__ = [
    "SCHEMA",
    "BootstrapCI",
    "CohenKappaSE",
    "EncodedLabels",
    "FleissKappaSE",
    "KendallW",
    "Rating",
    "Ratings",
    "Scale",
    "agreement_report",
    "bootstrap_ci",
    "bootstrap_values",
    "cohen_kappa",
    "cohen_kappa_se",
    "encode_labels",
    "fleiss_kappa",
    "fleiss_kappa_se",
    "gate_verdict",
    "gwet_ac1",
    "gwet_ac2",
    "icc",
    "kendall_w",
    "krippendorff_alpha",
    "load_ratings",
    "parse_scale",
    "percent_agreement",
]
