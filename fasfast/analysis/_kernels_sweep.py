"""The merge sweep over the two sorted classes (numba, ``cache=True``): the least-ACER
interval, the APCER/BPCER crossing records and the AUC pair counts in one pass
(:func:`sweep_segment`, two halves on two threads), and the ROC points.

Inputs are 1-D C-contiguous arrays sorted ascending in the classes' dtype (float32 or
float64), each padded with one trailing ``+inf``; every decision is on exact integer counts.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

_NB = dict(cache=True, nogil=True, fastmath=False)

_NO_COST = np.iinfo(np.int64).max


RUN_MIN = 8  # a same-class run at least this long is consumed in bulk


@njit(**_NB)
def _first_gt(p, lo, hi, x):
    """First index in ``[lo, hi)`` with ``p[k] > x`` (``hi`` if none); ``p`` sorted."""
    while lo < hi:
        mid = (lo + hi) // 2
        if p[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(**_NB)
def _first_ge(p, lo, hi, x):
    """First index in ``[lo, hi)`` with ``p[k] >= x`` (``hi`` if none); ``p`` sorted."""
    while lo < hi:
        mid = (lo + hi) // 2
        if p[mid] >= x:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(**_NB)
def _gallop_gt(p, lo, hi, x):
    """:func:`_first_gt` searched from ``lo`` outwards (1, 2, 4, ... steps, then a binary
    search in the last step): O(log d) for an answer ``d`` places on, where a plain binary
    search over a long ``[lo, hi)`` costs O(log(hi - lo)) cache misses."""
    prev = lo
    k = lo
    step = 1
    while k < hi and p[k] <= x:
        prev = k + 1
        k += step
        step *= 2
    return _first_gt(p, prev, min(k, hi), x)


@njit(**_NB)
def _gallop_ge(p, lo, hi, x):
    """:func:`_first_ge` searched from ``lo`` outwards (see :func:`_gallop_gt`)."""
    prev = lo
    k = lo
    step = 1
    while k < hi and p[k] < x:
        prev = k + 1
        k += step
        step *= 2
    return _first_ge(p, prev, min(k, hi), x)


@njit(inline="always", **_NB)
def _run_crossing(p, s, e, cx):
    """Group ends of a bulk run ``p[s:e]`` of one class around the zero crossing of ``x``.

    The run's group ends are the counts ``c`` in ``(s, e]`` with ``p[c - 1] != p[c]`` (``e``
    always is one) and ``x > 0`` exactly for ``c < cx``. Returns ``(last c < cx, first
    c >= cx)``, ``-1`` where there is none.
    """
    last_pos = np.int64(-1)
    if cx > e:
        last_pos = np.int64(e)
    elif cx - 1 >= s:
        c = _first_ge(p, s, e, p[cx - 1])  # the start of the group holding score cx - 1
        if c > s:
            last_pos = c
    first_neg = np.int64(-1)
    if cx <= e:
        first_neg = _first_gt(p, s, e, p[max(cx, s + 1) - 1])
    return last_pos, first_neg


@njit(inline="always", **_NB)
def _run_records(p, s, e, x0, step, pos, neg):
    """The crossing records ``pos`` / ``neg`` = ``(x, lo, hi)`` (see :func:`sweep_segment`)
    after a bulk run ``p[s:e]`` of one class, whose measure at group end ``c`` is
    ``x0 - c * step`` (``x0 >= 0``, ``step > 0``): the run's last positive group end
    replaces ``pos``, its first non-positive one ``neg`` unless ``neg`` is already set."""
    cp, cn = _run_crossing(p, s, e, (x0 + step - 1) // step)  # x > 0  <=>  c < ceil(x0/step)
    if cp >= 0:
        pos = (x0 - cp * step, p[cp - 1], p[cp])
    if neg[0] > 0 and cn >= 0:
        neg = (x0 - cn * step, p[cn - 1], p[cn])
    return pos, neg


class SweepRecords(NamedTuple):
    """What :func:`sweep_segment` records over a segment of the merged order (scores in the
    classes' dtype as float64, counts as int64)."""

    acer_lo: float  # inf of the thresholds with the least ACER cost
    acer_hi: float  # sup of those thresholds
    best: int  # that cost, a*N + b*M
    pos_x: int  # x = a*N - b*M on the last interval with x > 0 (0: none)
    pos_lo: float  # that interval (lo, hi]
    pos_hi: float
    neg_x: int  # x on the first interval with x <= 0 (1: none)
    neg_lo: float  # that interval (lo, hi]
    neg_hi: float
    strict: int  # #pairs(live > attack) over the segment's live scores
    ties: int  # #pairs(live == attack) over the segment's live scores


class Sweep(NamedTuple):
    """The whole merge pass, finished (:func:`finish_sweep`)."""

    acer_lo: float  # inf / sup of the least-ACER thresholds
    acer_hi: float
    best_cost: int  # the least ACER cost a*N + b*M
    eer_lo: float  # the EER interval (lo, hi]: least |APCER - BPCER|
    eer_hi: float
    auc2: int  # 2 * #pairs(live > attack) + #pairs(live == attack)


@njit(**_NB)
def sweep_segment(live, attack, i, j, i_end, j_end, first, run_min):
    """The merge pass over the sorted classes (each padded with one trailing ``+inf``) from
    ``(i, j)`` to ``(i_end, j_end)``; both must be tie-group boundaries (every score before
    is smaller than every score after). All decisions on exact integer counts.

    Thresholds ``t`` are grouped in the intervals ``(u_{k-1}, u_k]`` between consecutive
    distinct observed scores (``u_0 = -inf``, last interval ``(u_K, +inf)``); on each, with
    ``a = #{attack >= t}`` and ``b = #{live < t}``, the ACER cost is ``a*N + b*M`` and the
    crossing measure ``x = a*N - b*M`` (non-increasing in ``t``). The first segment
    (``first``) also covers ``(-inf, u_1]``; a segment covers the interval that ends at the
    score after its last one.

    Scores are merged one by one (live first within a tie), except that a run of at least
    ``run_min`` scores of one class is taken in bulk, up to the start of its last tie
    group: within it the cost moves one way (up on live, down on attack scores) and ``x``
    falls, so a live run's least cost is at its first group end, an attack run's at its
    last group (merged one by one), and the zero crossing of ``x`` is found by bisection.

    Returns a :class:`SweepRecords`: the inf/sup of the thresholds with minimum cost and that
    cost; the last interval with ``x > 0`` (``pos_x = 0`` if none) and the first with
    ``x <= 0`` (``neg_x = 1`` if none); ``#pairs(live > attack)`` and ``#pairs(live == attack)``
    over the live scores of the segment. Combine with :func:`combine_sweeps`, finish with
    :func:`finish_sweep`.
    """
    n = live.size - 1
    m = attack.size - 1
    nn = np.int64(n)
    mm = np.int64(m)
    i = np.int64(i)
    j = np.int64(j)
    if first:  # the interval (-inf, u_1]: everything accepted, a = M, b = 0
        best = mm * nn
        acer_lo = -np.inf
        acer_hi = min(live[0], attack[0])
        pos_x = mm * nn
        pos_lo = -np.inf
        pos_hi = acer_hi
    else:
        best = _NO_COST
        acer_lo = np.nan
        acer_hi = np.nan
        pos_x = np.int64(0)
        pos_lo = np.nan
        pos_hi = np.nan
    neg_x = np.int64(1)
    neg_lo = np.nan
    neg_hi = np.nan
    gi = i  # indices at the start of the current tie group
    gj = j
    strict = np.int64(0)  # sum over live of #{attack < live}
    ties = np.int64(0)
    while i < i_end or j < j_end:
        xl = live[i]
        xa = attack[j]
        if xl <= xa and i + run_min < i_end and live[i + run_min] <= xa:
            # a live run: live[i:e] <= xa, bulk up to the start of its last tie group
            e = _gallop_gt(live, i + run_min, i_end, xa)
            e = _first_ge(live, i, e, live[e - 1])
            if e > i:
                strict += j * (e - i)  # j - gj = 0 in a live run: no ties
                # the cost rises through the run: its least is at its first group end
                c = _first_gt(live, i, e, xl)
                cost = (mm - j) * nn + c * mm
                if cost < best:
                    best = cost
                    acer_lo = live[c - 1]
                    acer_hi = live[c]
                elif cost == best:
                    acer_hi = live[c]
                # x = (mm - j)*nn - c*mm
                (pos_x, pos_lo, pos_hi), (neg_x, neg_lo, neg_hi) = _run_records(
                    live, i, e, (mm - j) * nn, mm, (pos_x, pos_lo, pos_hi), (neg_x, neg_lo, neg_hi)
                )
                i = e
                gi = e
                gj = j
                continue
        elif xa < xl and j + run_min < j_end and attack[j + run_min] < xl:
            # an attack run: attack[j:e] < xl, bulk up to the start of its last tie group
            e = _gallop_ge(attack, j + run_min, j_end, xl)
            e = _first_ge(attack, j, e, attack[e - 1])
            if e > j:
                c = _first_gt(attack, j, e, xa)  # the first group end may close a tie
                ties += (i - gi) * (c - gj)
                # the cost falls through the run: its least is at the run's last group,
                # which is left to the one-by-one merge
                # x = (mm - c)*nn - i*mm = (mm*nn - i*mm) - c*nn
                (pos_x, pos_lo, pos_hi), (neg_x, neg_lo, neg_hi) = _run_records(
                    attack,
                    j,
                    e,
                    mm * nn - i * mm,
                    nn,
                    (pos_x, pos_lo, pos_hi),
                    (neg_x, neg_lo, neg_hi),
                )
                j = e
                gi = i
                gj = e
                continue
        tl = np.int64(xl <= xa)  # live first within a tie: j counts only smaller attacks
        v = min(xl, xa)
        strict += j * tl
        i += tl
        j += 1 - tl
        nxt = min(live[i], attack[j])
        if nxt != v:  # end of a tie group: the next interval is (v, nxt]
            ties += (i - gi) * (j - gj)
            gi = i
            gj = j
            a = mm - j
            cost = a * nn + i * mm
            if cost < best:
                best = cost
                acer_lo = v
                acer_hi = nxt
            elif cost == best:
                acer_hi = nxt
            x = a * nn - i * mm
            if x > 0:  # x only falls: record until it crosses zero, then once
                pos_x = x
                pos_lo = v
                pos_hi = nxt
            elif neg_x > 0:
                neg_x = x
                neg_lo = v
                neg_hi = nxt
    return SweepRecords(
        acer_lo, acer_hi, best, pos_x, pos_lo, pos_hi, neg_x, neg_lo, neg_hi, strict, ties
    )


@njit(**_NB)
def merge_split(live, attack):
    """``(i, j)``: a tie-group boundary near the middle of the merged order of two padded
    sorted classes (``live[:i]`` and ``attack[:j]`` are the scores below ``v``, the merged
    median); ``(0, 0)`` when there is none."""
    n = live.size - 1
    m = attack.size - 1
    k = (n + m) // 2
    lo = max(0, k - m)
    hi = min(k, n)
    while lo < hi:  # i live and k - i attack scores are the k smallest
        i = (lo + hi) // 2
        if live[i] < attack[k - i - 1]:
            lo = i + 1
        else:
            hi = i
    v = min(live[lo], attack[k - lo])
    return np.searchsorted(live[:n], v), np.searchsorted(attack[:m], v)


def combine_sweeps(left: SweepRecords, right: SweepRecords) -> SweepRecords:
    """One :func:`sweep_segment` result for two adjacent segments (``left`` before
    ``right``): the least cost of either (ties: the interval spans both), the last positive
    crossing record and the first non-positive one, the pair counts summed."""
    if right.best < left.best:
        acer = (right.acer_lo, right.acer_hi, right.best)
    elif right.best == left.best:
        acer = (left.acer_lo, right.acer_hi, left.best)
    else:
        acer = (left.acer_lo, left.acer_hi, left.best)
    pos = right if right.pos_x > 0 else left
    neg = left if left.neg_x <= 0 else right
    return SweepRecords(
        *acer,
        pos.pos_x,
        pos.pos_lo,
        pos.pos_hi,
        neg.neg_x,
        neg.neg_lo,
        neg.neg_hi,
        int(left.strict) + int(right.strict),
        int(left.ties) + int(right.ties),
    )


def finish_sweep(res: SweepRecords) -> Sweep:
    """The :class:`Sweep` of a whole-range result: the EER intervals are those with minimum
    ``|x|``, the last positive or the first non-positive ``x`` or both;
    ``auc2 = 2 * #pairs(live > attack) + #pairs(live == attack)``.
    """
    if res.pos_x < -res.neg_x:
        eer = (res.pos_lo, res.pos_hi)
    elif res.pos_x == -res.neg_x:
        eer = (res.pos_lo, res.neg_hi)
    else:
        eer = (res.neg_lo, res.neg_hi)
    return Sweep(
        res.acer_lo,
        res.acer_hi,
        int(res.best),
        float(eer[0]),
        float(eer[1]),
        2 * int(res.strict) + int(res.ties),
    )


def sweep_records(live, attack, run_pair=None, run_min=RUN_MIN) -> SweepRecords:
    """The whole merge pass as one :func:`sweep_segment` result (crossing records kept).
    With ``run_pair`` (a ``(fn, args_a, args_b)`` runner, e.g. on two threads) the merged
    order is cut at its median and the halves run concurrently."""
    n = live.size - 1
    m = attack.size - 1
    if run_pair is not None:
        i, j = merge_split(live, attack)
        if i + j > 0:
            left, right = run_pair(
                sweep_segment,
                (live, attack, 0, 0, i, j, True, run_min),
                (live, attack, i, j, n, m, False, run_min),
            )
            return combine_sweeps(left, right)
    return sweep_segment(live, attack, 0, 0, n, m, True, run_min)


def sweep(live, attack, run_pair=None, run_min=RUN_MIN) -> Sweep:
    """The whole merge pass (see :func:`sweep_segment`) as a :class:`Sweep`."""
    return finish_sweep(sweep_records(live, attack, run_pair, run_min))


@njit(**_NB)
def roc_points(live, attack):
    """ROC over the distinct scores, highest first, with a leading ``(0, 0, +inf)`` point.

    Returns ``(n_accepted_attack int64[K+1], n_accepted_live int64[K+1], thresholds[K+1])``
    for the rule "live iff score >= threshold" (``sklearn.metrics.roc_curve`` with
    ``drop_intermediate=False``).
    """
    n = live.size
    m = attack.size
    out_t = np.empty(n + m + 1)
    out_a = np.empty(n + m + 1, np.int64)
    out_l = np.empty(n + m + 1, np.int64)
    out_t[0] = np.inf
    out_a[0] = 0
    out_l[0] = 0
    i = n - 1
    j = m - 1
    k = 1
    while i >= 0 or j >= 0:
        if i >= 0 and j >= 0:
            t = max(live[i], attack[j])
        elif i >= 0:
            t = live[i]
        else:
            t = attack[j]
        while i >= 0 and live[i] == t:
            i -= 1
        while j >= 0 and attack[j] == t:
            j -= 1
        out_t[k] = t
        out_a[k] = m - 1 - j
        out_l[k] = n - 1 - i
        k += 1
    return out_a[:k].copy(), out_l[:k].copy(), out_t[:k].copy()
