"""ROC and DET curves, AUC and EER of two score classes (attacks pooled for ROC, DET and
AUC; the EER under an APCER definition, ISO/IEC 30107-3, and an EER rule).

Convention: accepted as live iff ``score >= t`` (``<= t`` with ``higher_is_live=False``);
NaN scores are non-responses and left out. The curves equal scikit-learn's
(``sklearn.metrics.roc_curve(..., drop_intermediate=False)``).
"""

from __future__ import annotations

import numpy as np

from fasfast.analysis._classes import Classes
from fasfast.analysis._core import kernels
from fasfast.analysis.conventions import Conventions
from fasfast.analysis.eer import eer_choice

__all__ = ["auc", "det_curve", "eer", "roc_curve"]


def _classes(live, attack, higher_is_live, nan_policy="nonresponse"):
    return Classes(live, attack, higher_is_live, nan_policy=nan_policy)


def roc_curve(live, attack, higher_is_live: bool = True):
    """ROC over every distinct score: ``(fpr [K+1], tpr [K+1], thresholds [K+1])``.

    Thresholds go from ``+inf`` (nothing accepted) down through the distinct scores (from
    ``-inf`` up when ``higher_is_live=False``); equals ``sklearn.metrics.roc_curve(...,
    drop_intermediate=False)``. NaN scores (non-responses) are left out; attacks pooled.
    """
    c = _classes(live, attack, higher_is_live)
    na, nl, thr = kernels().roc_points(c.L.p, c.A.p)
    return na / c.A.n, nl / c.L.n, _user_thresholds(c, thr)


def _user_thresholds(c: Classes, thr: np.ndarray) -> np.ndarray:
    thr = np.asarray(thr, np.float64)
    if c.L.n_pos_inf or c.A.n_pos_inf:
        thr = np.where(thr >= np.finfo(c.dtype).max, np.inf, thr)
    return c.sign * thr


def det_curve(live, attack, higher_is_live: bool = True):
    """DET points ``(apcer [K+1], bpcer [K+1], thresholds [K+1])`` (APCER = FPR,
    BPCER = 1 - TPR), same order as :func:`roc_curve`."""
    c = _classes(live, attack, higher_is_live)
    na, nl, thr = kernels().roc_points(c.L.p, c.A.p)
    return na / c.A.n, (c.L.n - nl) / c.L.n, _user_thresholds(c, thr)


def auc(live, attack, higher_is_live: bool = True) -> float:
    """Area under the ROC: P(live > attack) + P(live == attack)/2, from exact pair counts
    (responses only; attacks pooled)."""
    return _classes(live, attack, higher_is_live).auc()


def eer(
    live,
    attack,
    higher_is_live: bool = True,
    *,
    attack_types=None,
    apcer: str = "max",
    eer_rule: str = "bob",
) -> float:
    """Equal error rate under ``eer_rule`` ("bob", "fvc2000", "rocch") and the APCER
    definition ``apcer`` (see :mod:`fasfast.analysis.conventions`)."""
    conv = Conventions(apcer=apcer, eer_rule=eer_rule)
    c = Classes(live, attack, higher_is_live, attack_types)
    return eer_choice(c, conv.apcer, conv.eer_rule, c.records(conv.apcer))[2]
