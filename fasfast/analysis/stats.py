"""Score-domain statistics of one class (Huang et al. 2024, eq. 1-7).

Paper: A visualization method for data domain changes in CNN networks and the
optimization method for selecting thresholds in classification tasks (Huang, Nie, Zhong,
2024) - https://arxiv.org/abs/2404.12602

For scores sorted ascending ``P_1 <= ... <= P_N``:

- ``mean``: ``sum(P)/N``, correctly rounded (the sum is exact, see ``_core.SortedScores``).
- ``median``: as ``numpy.median``.
- ``balance`` (eq. 3): the sample ``P_m`` minimising
  ``|sum_{n<m}(P_m-P_n) - sum_{n>m}(P_n-P_m)| = |N*P_m - sum(P)|``, i.e. the sample nearest
  the mean; ties go to the lower index. The comparison is exact (rational arithmetic on the
  exact sum), so the chosen sample is exact.
- ``weighted_balance`` (eq. 4): the sample minimising
  ``|g(m)| = |sum_{n<m}(P_m-P_n)^2 - sum_{n>m}(P_n-P_m)^2|`` (ties to the lower index).
  ``g`` is non-decreasing in ``m``: bisection with float64 prefix sums (snapshots every 256
  samples of ``P - P_mid`` and its square), and when the two candidates are within the
  float64 error bound of a tie, the decision is redone in exact rational arithmetic (exact
  sums of ``P`` and ``P^2``). The chosen sample is exact.
- Radius (eq. 5) ``max(c - min, max - c) / 2``; Normalize (eq. 6) ``(c - min) / (max - c)``,
  ``inf`` when ``max == c`` (also when every score is equal); Density (eq. 7)
  ``mean(|P - c|) / Radius``, 0 when Radius is 0 (float64 from the prefix sums, ~1e-12
  relative).

``convention="code"`` follows the authors' public code instead: Radius without the ``/2``,
and the weighted balance weights each distance by the score, ``sum_{n<m} P_n (P_m - P_n) =
sum_{n>m} P_n (P_n - P_m)``, whose minimiser is the sample nearest ``sum(P^2) / sum(P)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np

from fasfast.analysis._core import (
    BLOCK,
    CENTERS,
    FiniteScores,
    SortedScores,
    bins_to_int,
    check_center,
    check_convention,
    exact_range_sums,
    kernels,
    sort_scores,
    ss,
)

__all__ = ["CENTERS", "DomainStats", "domain_stats", "domain_stats_all"]


@dataclass(frozen=True)
class DomainStats:
    """One class's score domain: ``center``, ``radius``, ``normalize``, ``density`` (eq. 1-7),
    the extreme finite scores ``min``/``max``, their count ``n`` and the centre ``method``.
    ``n_left_out`` counts the class's infinite scores, left out of the domain."""

    center: float
    radius: float
    normalize: float
    density: float
    min: float
    max: float
    n: int
    method: str = "balance"
    n_left_out: int = 0  # infinite scores (valid scores, but they have no distance)

    def as_dict(self) -> dict:
        return asdict(self)


def _nearest_sample(p: np.ndarray, target: Fraction, lo_v: float, hi_v: float) -> float:
    """The sample of sorted ``p`` nearest the exact ``target`` (ties -> the smaller sample);
    ``target`` must lie in ``[lo_v, hi_v]``."""
    n = p.size
    i0 = ss(p, lo_v, "left") - 1
    i1 = ss(p, hi_v, "right")
    cand = set(np.unique(p[max(i0, 0) : min(i1, n - 1) + 1]).tolist())
    best_v, best_d = None, None
    for v in sorted(cand):
        d = abs(Fraction(v) - target)
        if best_d is None or d < best_d:
            best_v, best_d = v, d
    return float(best_v)


def _exact_sums(p: np.ndarray, m: int):
    """Exact (sum p[:m], sum p[:m]**2, sum p[m:], sum p[m:]**2) of sorted ``p`` as Fractions."""
    out = []
    for lo, hi in ((0, m), (m, p.size)):
        bins = exact_range_sums(p, lo, hi)
        out += [Fraction(bins_to_int(bins[r : r + 2]), 1 << 1074) for r in (0, 2)]
    return tuple(out)


def _weighted_balance_exact(p: np.ndarray, m: int) -> float:
    """Exact eq. 4 minimiser, walking from a float64 estimate ``m`` (rational arithmetic)."""
    n = p.size
    m = min(max(m, 0), n - 1)
    s_lt, q_lt, s_ge, q_ge = _exact_sums(p, m)
    s_all, q_all = s_lt + s_ge, q_lt + q_ge

    def g(k, sl, ql):
        x = Fraction(float(p[k]))
        sr, qr = s_all - sl - x, q_all - ql - x * x
        return k * x * x - 2 * x * sl + ql - (qr - 2 * x * sr + (n - 1 - k) * x * x)

    cur = g(m, s_lt, q_lt)
    if cur >= 0:
        while m > 0:
            x = Fraction(float(p[m - 1]))
            prev = g(m - 1, s_lt - x, q_lt - x * x)
            if prev < 0:
                break
            m, s_lt, q_lt, cur = m - 1, s_lt - x, q_lt - x * x, prev
    else:
        while m < n - 1 and cur < 0:
            x = Fraction(float(p[m]))
            m, s_lt, q_lt = m + 1, s_lt + x, q_lt + x * x
            cur = g(m, s_lt, q_lt)
    if cur < 0 or m == 0:
        return float(p[m])
    x = Fraction(float(p[m - 1]))
    prev = g(m - 1, s_lt - x, q_lt - x * x)
    return float(p[m - 1] if abs(prev) <= abs(cur) else p[m])


def _weighted_balance(c: FiniteScores) -> float:
    p, n = c.p, c.n
    m0, gp, gm, err = kernels().weighted_balance_search(
        p, c.shift, c.snap_s, c.snap_q, BLOCK, c.sum_y, c.sum_y2
    )
    m0 = int(m0)
    certain = (m0 == 0 or abs(gp) > err) and (m0 == n or abs(gm) > err)
    if m0 == n:
        idx = n - 1
    elif m0 == 0:
        idx = 0
    else:
        certain = certain and abs(abs(gp) - abs(gm)) > 2 * err
        idx = m0 - 1 if abs(gp) <= abs(gm) else m0
    if not certain:  # a near-tie within float64 error: decide in exact arithmetic
        return _weighted_balance_exact(p, m0)
    return float(p[idx])


def center_value(c, method: str, convention: str = "paper") -> float:
    """The centre of one sorted class by ``method`` (see the module docstring); ``c`` is a
    :class:`SortedScores` (its finite scores are used) or :class:`FiniteScores`."""
    if isinstance(c, SortedScores):
        c = c.fin
    p, n = c.p, c.n
    key = ("center", method, convention)
    if key in c._cache:
        return c._cache[key]
    if method == "mean":
        v = c.mean()
    elif method == "median":
        v = float(p[n // 2]) if n % 2 else float((p[n // 2 - 1] + p[n // 2]) / 2)
    elif method == "balance":
        mu = c.mean()
        v = _nearest_sample(
            p, Fraction(c.total, n << 1074), np.nextafter(mu, -np.inf), np.nextafter(mu, np.inf)
        )
    elif method == "weighted_balance" and convention == "paper":
        v = _weighted_balance(c)
    elif method == "weighted_balance":
        s = c.exact_sum
        if s == 0:
            v = float(p[0])
        else:
            target = _exact_sums(p, 0)[3] / s
            target = min(max(target, Fraction(float(p[0]))), Fraction(float(p[-1])))
            tf = float(target)
            v = _nearest_sample(p, target, np.nextafter(tf, -np.inf), np.nextafter(tf, np.inf))
    else:
        check_center(method)
        raise AssertionError
    c._cache[key] = v
    return v


def _abs_dev_sum(c: FiniteScores, ctr: float) -> float:
    """``sum |p - ctr|`` from the prefix snapshots (float64)."""
    p, n = c.p, c.n
    k = ss(p, ctr, "left")
    sl, _ = kernels().prefix_sums(p, c.shift, c.snap_s, c.snap_q, BLOCK, k)
    cs = ctr - c.shift
    return (k * cs - sl) + ((c.sum_y - sl) - (n - k) * cs)


def stats_from_sorted(c, methods=("balance",), convention: str = "paper") -> dict[str, DomainStats]:
    """DomainStats of one sorted class for several centre methods (its finite scores; NaN
    fields when it has none)."""
    check_convention(convention)
    for m in methods:
        check_center(m)
    left_out = 0
    if isinstance(c, SortedScores):
        left_out = c.n_neg_inf + c.n_pos_inf
        c = c.fin
    p, n = c.p, c.n
    if n == 0:
        nan = float("nan")
        return {m: DomainStats(nan, nan, nan, nan, nan, nan, 0, m, left_out) for m in methods}
    lo, hi = float(p[0]), float(p[-1])
    out = {}
    for m in methods:
        ctr = center_value(c, m, convention)
        radius = max(ctr - lo, hi - ctr)
        if convention == "paper":
            radius /= 2
        normalize = (ctr - lo) / (hi - ctr) if hi != ctr else float("inf")
        density = _abs_dev_sum(c, ctr) / n / radius if radius > 0 else 0.0
        out[m] = DomainStats(ctr, radius, normalize, density, lo, hi, n, m, left_out)
    return out


def _sorted_domain(scores, nan_policy: str) -> SortedScores:
    from fasfast.analysis._core import as_scores

    as_scores(scores)  # the empty-input message
    c = sort_scores(scores, nan_policy=nan_policy)
    if c.n - c.n_neg_inf - c.n_pos_inf == 0:
        raise ValueError(
            f"scores hold no finite value ({c.n_nan} NaN, "
            f"{c.n_neg_inf + c.n_pos_inf} infinite); a domain needs distances"
        )
    return c


def domain_stats(
    scores, center: str = "balance", convention: str = "paper", nan_policy: str = "nonresponse"
) -> DomainStats:
    """Domain statistics of a 1-D array of scores.

    Args:
        scores: [N] scores (any float/int dtype; float32 stays float32, sums are exact).
            NaN scores are non-responses and infinite ones have no distance: both are left
            out (``nan_policy="error"`` refuses NaN).
        center: "mean" | "median" | "balance" | "weighted_balance".
        convention: "paper" (eq. 5 with the /2) or "code" (the authors' code, see module doc).
    Raises:
        ValueError: empty input, no finite score, or an unknown option.
    """
    check_center(center)
    check_convention(convention)
    return stats_from_sorted(_sorted_domain(scores, nan_policy), (center,), convention)[center]


def domain_stats_all(
    scores, centers=CENTERS, convention: str = "paper", nan_policy: str = "nonresponse"
) -> dict[str, DomainStats]:
    """``{center: DomainStats}`` for several centres with one sort."""
    for m in centers:
        check_center(m)
    check_convention(convention)
    return stats_from_sorted(_sorted_domain(scores, nan_policy), tuple(centers), convention)
