"""numba kernels over one sorted class: exact sums, prefix snapshots, the weighted balance
search (one signature per dtype, ``cache=True``); and the re-exports of the merge sweep
(:mod:`fasfast.analysis._kernels_sweep`) and of the counts over unsorted scores
(:mod:`fasfast.analysis._kernels_count`), so that ``_core.kernels()`` is one module.

The callers sort each class first (:func:`fasfast.analysis._core.sort_into`: a numba radix
sort, :mod:`fasfast.analysis._kernels_sort`). The kernels release the GIL so the two classes
can be processed concurrently.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_NB = dict(cache=True, nogil=True, fastmath=False)

_MANT = np.uint64((1 << 52) - 1)
_HIDDEN = np.uint64(1 << 52)
_LOW26 = np.uint64((1 << 26) - 1)


@njit(**_NB)
def _bins_add(bins, row, k):
    """Add the float64 with bits ``k`` to ``bins[row]`` (high mantissa part) and
    ``bins[row + 1]`` (low part) at its exponent; returns False (adding nothing) for inf/NaN.
    Exact sums are kept this way: ``sum = sum_e (bins[row, e] * 2**26 + bins[row + 1, e])
    * 2**(e - 1) * 2**-1074`` (no overflow below 2**36 samples).
    A finite float64 is ``m * 2**(e - 1) * 2**-1074`` with integer mantissa ``m < 2**53`` and
    biased exponent ``e = max(E, 1)``; ``m`` is split in a 27-bit high and a 26-bit low part.
    """
    e = np.int64((k >> np.uint64(52)) & np.uint64(0x7FF))
    if e == 0x7FF:
        return False
    m = k & _MANT
    if e == 0:
        e = 1
    else:
        m |= _HIDDEN
    hi = np.int64(m >> np.uint64(26))
    lo = np.int64(m & _LOW26)
    if k >> np.uint64(63):
        hi = -hi
        lo = -lo
    bins[row, e] += hi
    bins[row + 1, e] += lo
    return True


@njit(**_NB)
def _bins_add_mantissas(bins, row, top, acc_hi, acc_lo):
    """Add a block of float64s that share ``top`` (sign and a finite exponent, the top 12
    bits) to ``bins[row]``, ``bins[row + 1]`` (as :func:`_bins_add`), from the sums of their
    mantissas' high (``m >> 26``) and low (``m & (2**26 - 1)``) parts."""
    e = max(np.int64(top & np.uint64(0x7FF)), 1)
    if top >> np.uint64(11):
        bins[row, e] -= np.int64(acc_hi)
        bins[row + 1, e] -= np.int64(acc_lo)
    else:
        bins[row, e] += np.int64(acc_hi)
        bins[row + 1, e] += np.int64(acc_lo)


@njit(**_NB)
def _bins_add_int(bins, row, v, e):
    """Add the integer ``v`` (0 <= v < 2**62) times ``2**(e - 1075)`` to ``bins[row]``,
    ``bins[row + 1]`` at exponent slot ``e`` (1 <= e <= 2046)."""
    bins[row, e] += np.int64(v >> np.uint64(26))
    bins[row + 1, e] += np.int64(v & _LOW26)


@njit(**_NB)
def exact_range_sums(p, lo, hi, block):
    """Exact ``sum p[lo:hi]`` (rows 0, 1) and ``sum p[lo:hi]**2`` (rows 2, 3) of sorted ``p``
    as integer bins ``int64[4, 2047]`` (as :func:`_bins_add`).

    Blockwise: a block whose scores share sign and exponent ``e`` (first and last, so all
    of them) sums mantissas ``m`` as integers, and ``m**2`` split as ``mh**2 * 2**54 +
    2*mh*ml * 2**27 + ml**2`` (``m = mh * 2**27 + ml``) for ``538 <= e <= 1533``; other
    blocks go score by score, squares split exactly into two floats (Dekker's product),
    exact for finite scores whose squares do not underflow (|p| > 1e-150).
    """
    bins = np.zeros((4, 2047), np.int64)
    buf = np.empty(3)
    ub = buf.view(np.uint64)
    u = p.view(np.uint64)
    low27 = np.uint64((1 << 27) - 1)
    for start in range(lo, hi, block):
        stop = min(start + block, hi)
        top = u[start] >> np.uint64(52)
        e = np.int64(top & np.uint64(0x7FF))
        if top == (u[stop - 1] >> np.uint64(52)) and 538 <= e <= 1533:
            s_hi = np.uint64(0)
            s_lo = np.uint64(0)
            q2 = np.uint64(0)
            q1 = np.uint64(0)
            q0 = np.uint64(0)
            for i in range(start, stop):
                m = (u[i] & _MANT) | _HIDDEN
                s_hi += m >> np.uint64(26)
                s_lo += m & _LOW26
                mh = m >> np.uint64(27)
                ml = m & low27
                q2 += mh * mh
                q1 += mh * ml
                q0 += ml * ml
            _bins_add_mantissas(bins, 0, top, s_hi, s_lo)
            e2 = 2 * e - 1075
            _bins_add_int(bins, 2, q0, e2)
            _bins_add_int(bins, 2, q1, e2 + 28)
            _bins_add_int(bins, 2, q2, e2 + 54)
        else:
            for i in range(start, stop):
                x = p[i]
                c = 134217729.0 * x
                xh = c - (c - x)
                xl = x - xh
                sq = x * x
                buf[0] = x
                buf[1] = sq
                buf[2] = ((xh * xh - sq) + 2.0 * xh * xl) + xl * xl
                _bins_add(bins, 0, ub[0])
                if buf[2] != 0.0:
                    _bins_add(bins, 2, ub[2])
                _bins_add(bins, 2, ub[1])
    return bins


@njit(**_NB)
def _neumaier(s, c, x):
    """Add ``x`` to the compensated sum ``(s, c)``."""
    t = s + x
    if abs(s) >= abs(x):
        c += (s - t) + x
    else:
        c += (x - t) + s
    return t, c


@njit(**_NB)
def class_pass(p, shift, block):
    """One pass over a sorted class: exact sum bins (as :func:`_bins_add`) and
    compensated running sums of ``y = p - shift`` and ``y**2`` with snapshots
    ``snap_s[k] = sum(y[:k*block])``, ``snap_q[k] = sum(y[:k*block]**2)``.

    Blockwise: in a block whose first and last scores share sign and exponent (so, sorted,
    all of its scores do) the mantissas are summed as integers in one vectorisable loop;
    within a block ``y`` and ``y**2`` are summed with four accumulators, and block sums are
    added to Neumaier-compensated totals. Returns
    ``(bins, n_nonfinite, snap_s, snap_q, sum_y, sum_y2)``.
    """
    n = p.size
    nb = n // block + 1
    snap_s = np.zeros(nb)
    snap_q = np.zeros(nb)
    bins = np.zeros((2, 2047), np.int64)
    bad = 0
    u = p.view(np.uint64)
    s = 0.0
    cs = 0.0
    q = 0.0
    cq = 0.0
    for b in range(nb):
        start = b * block
        snap_s[b] = s + cs
        snap_q[b] = q + cq
        stop = min(start + block, n)
        if stop <= start:
            break
        top = u[start] >> np.uint64(52)
        e = np.int64(top & np.uint64(0x7FF))
        if top == (u[stop - 1] >> np.uint64(52)) and e != 0x7FF:
            hidden = _HIDDEN if e != 0 else np.uint64(0)
            acc_hi = np.uint64(0)
            acc_lo = np.uint64(0)
            for i in range(start, stop):
                m = (u[i] & _MANT) | hidden
                acc_hi += m >> np.uint64(26)
                acc_lo += m & _LOW26
            _bins_add_mantissas(bins, 0, top, acc_hi, acc_lo)
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            s3 = 0.0
            q0 = 0.0
            q1 = 0.0
            q2 = 0.0
            q3 = 0.0
            i = start
            while i + 4 <= stop:
                y0 = p[i] - shift
                y1 = p[i + 1] - shift
                y2 = p[i + 2] - shift
                y3 = p[i + 3] - shift
                s0 += y0
                s1 += y1
                s2 += y2
                s3 += y3
                q0 += y0 * y0
                q1 += y1 * y1
                q2 += y2 * y2
                q3 += y3 * y3
                i += 4
            while i < stop:
                y0 = p[i] - shift
                s0 += y0
                q0 += y0 * y0
                i += 1
            bs = (s0 + s1) + (s2 + s3)
            bq = (q0 + q1) + (q2 + q3)
        else:  # sign or exponent changes inside the block, or inf/NaN: one by one
            bs = 0.0
            bq = 0.0
            for i in range(start, stop):
                if not _bins_add(bins, 0, u[i]):
                    bad += 1
                    continue
                y0 = p[i] - shift
                bs += y0
                bq += y0 * y0
        s, cs = _neumaier(s, cs, bs)
        q, cq = _neumaier(q, cq, bq)
    return bins, bad, snap_s, snap_q, s + cs, q + cq


_MANT32 = np.uint64((1 << 23) - 1)
_HIDDEN32 = np.uint64(1 << 23)


@njit(**_NB)
def class_pass32(p, shift, block):
    """:func:`class_pass` for float32 scores, read as float32 (never widened in memory).

    A finite float32 is ``m * 2**(e - 150)`` with integer mantissa ``m < 2**24`` and
    ``e = max(E, 1)``, i.e. ``m * 2**(e64 - 1) * 2**-1074`` with ``e64 = e + 925``: its
    mantissa is added to the low row of the float64 bins at ``e64``. Blocks whose scores
    share sign and exponent sum mantissas as integers; ``y = p - shift`` is summed in float64.
    """
    n = p.size
    nb = n // block + 1
    snap_s = np.zeros(nb)
    snap_q = np.zeros(nb)
    bins = np.zeros((2, 2047), np.int64)
    bad = 0
    u = p.view(np.uint32)
    s = 0.0
    cs = 0.0
    q = 0.0
    cq = 0.0
    for b in range(nb):
        start = b * block
        snap_s[b] = s + cs
        snap_q[b] = q + cq
        stop = min(start + block, n)
        if stop <= start:
            break
        top = np.uint64(u[start]) >> np.uint64(23)
        e = np.int64(top & np.uint64(0xFF))
        bs = 0.0
        bq = 0.0
        if top == (np.uint64(u[stop - 1]) >> np.uint64(23)) and e != 0xFF:
            hidden = _HIDDEN32 if e != 0 else np.uint64(0)
            acc = np.uint64(0)
            for i in range(start, stop):
                acc += (np.uint64(u[i]) & _MANT32) | hidden
                y0 = np.float64(p[i]) - shift
                bs += y0
                bq += y0 * y0
            slot = max(e, 1) + 925
            if top >> np.uint64(8):
                bins[1, slot] -= np.int64(acc)
            else:
                bins[1, slot] += np.int64(acc)
        else:
            for i in range(start, stop):
                k = np.uint64(u[i])
                ei = np.int64((k >> np.uint64(23)) & np.uint64(0xFF))
                if ei == 0xFF:
                    bad += 1
                    continue
                m = k & _MANT32
                if ei != 0:
                    m |= _HIDDEN32
                if k >> np.uint64(31):
                    bins[1, max(ei, 1) + 925] -= np.int64(m)
                else:
                    bins[1, max(ei, 1) + 925] += np.int64(m)
                y0 = np.float64(p[i]) - shift
                bs += y0
                bq += y0 * y0
        s, cs = _neumaier(s, cs, bs)
        q, cq = _neumaier(q, cq, bq)
    return bins, bad, snap_s, snap_q, s + cs, q + cq


@njit(**_NB)
def exact_range_sums32(p, lo, hi, block):
    """:func:`exact_range_sums` for float32 ``p``. A float32 is ``m * 2**(e - 150)``
    (``m < 2**24``) and its square ``m**2 * 2**(2e - 300)`` (``m**2 < 2**48``): a block whose
    scores share sign and exponent adds its integer sums of ``m`` and ``m**2`` at slots
    ``e + 925`` and ``2e + 775``; other blocks go score by score (exact float64 values and
    squares)."""
    bins = np.zeros((4, 2047), np.int64)
    buf = np.empty(2)
    ub = buf.view(np.uint64)
    u = p.view(np.uint32)
    for start in range(lo, hi, block):
        stop = min(start + block, hi)
        top = np.uint64(u[start]) >> np.uint64(23)
        e = np.int64(top & np.uint64(0xFF))
        if top == (np.uint64(u[stop - 1]) >> np.uint64(23)) and 0 < e < 0xFF:
            acc = np.uint64(0)
            acc2 = np.uint64(0)
            for i in range(start, stop):
                m = (np.uint64(u[i]) & _MANT32) | _HIDDEN32
                acc += m
                acc2 += m * m
            if top >> np.uint64(8):
                bins[1, e + 925] -= np.int64(acc)
            else:
                bins[1, e + 925] += np.int64(acc)
            _bins_add_int(bins, 2, acc2, 2 * e + 775)
        else:
            for i in range(start, stop):
                x = np.float64(p[i])
                buf[0] = x
                buf[1] = x * x
                _bins_add(bins, 0, ub[0])
                _bins_add(bins, 2, ub[1])
    return bins


@njit(**_NB)
def prefix_sums(p, shift, snap_s, snap_q, block, m):
    """``(sum(y[:m]), sum(y[:m]**2))`` for ``y = p - shift`` from the snapshots."""
    k = m // block
    s = snap_s[k]
    q = snap_q[k]
    for i in range(k * block, m):
        y = p[i] - shift
        s += y
        q += y * y
    return s, q


@njit(**_NB)
def _wb_g(p, shift, snap_s, snap_q, block, sy, qy, m):
    n = p.size
    sl, ql = prefix_sums(p, shift, snap_s, snap_q, block, m)
    y = p[m] - shift
    sr = sy - sl - y
    qr = qy - ql - y * y
    left = m * y * y - 2.0 * y * sl + ql
    right = qr - 2.0 * y * sr + (n - 1 - m) * y * y
    scale = m * y * y + abs(2.0 * y * sl) + ql + qr + abs(2.0 * y * sr) + (n - 1 - m) * y * y
    return left - right, scale


@njit(**_NB)
def weighted_balance_search(p, shift, snap_s, snap_q, block, sy, qy):
    """First index ``m0`` whose float64 ``g(m) = sum_{n<m}(p_m-p_n)^2 - sum_{n>m}(p_n-p_m)^2``
    is >= 0 (``g`` is non-decreasing in ``m``), by bisection on the prefix snapshots.

    Returns ``(m0, g(m0 - 1), g(m0), error_bound)`` (``g(-1) = -inf``; ``m0 = n`` when every
    ``g < 0``); ``error_bound`` generously bounds the float64 error of those two ``g``.
    """
    n = p.size
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) // 2
        g, _ = _wb_g(p, shift, snap_s, snap_q, block, sy, qy, mid)
        if g < 0:
            lo = mid + 1
        else:
            hi = mid
    m0 = lo
    gp = -np.inf
    gm = np.inf
    sc = 0.0
    if m0 > 0:
        gp, s1 = _wb_g(p, shift, snap_s, snap_q, block, sy, qy, m0 - 1)
        sc = max(sc, s1)
    if m0 < n:
        gm, s2 = _wb_g(p, shift, snap_s, snap_q, block, sy, qy, m0)
        sc = max(sc, s2)
    return m0, gp, gm, 16.0 * (n + block + 4) * 2.220446049250313e-16 * sc


# re-exported: the callers reach every kernel through ``_core.kernels()``
from fasfast.analysis._kernels_count import count_at, count_at_serial  # noqa: E402,F401
from fasfast.analysis._kernels_sweep import (  # noqa: E402,F401
    RUN_MIN,
    Sweep,
    SweepRecords,
    combine_sweeps,
    finish_sweep,
    merge_split,
    roc_points,
    sweep,
    sweep_records,
    sweep_segment,
)
