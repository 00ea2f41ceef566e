"""numba kernels of the binned bootstrap (see :mod:`fasfast.analysis.bootstrap`).

Layout: ``C`` strata (0 = bona fide, ``1..S`` = PAI species), each sorted ascending. The
merged order is cut at the values ``cuts[0] < ... < cuts[K-1]`` (``cuts[0]`` the smallest
score): bin ``b`` holds the scores in ``[cuts[b], cuts[b+1])``, stratum ``c`` at local
indices ``bstart[b, c]:bend[b, c]``.

A replicate draws, per stratum, how many of its presentations land in each bin (one
binomial per bin: a multinomial), then resolves a bin to single presentations only when a
decision needs it (:func:`_expand`: the bin's draws are placed uniformly on its
presentations, the multinomial's conditional law). Every count is a count of resampled
presentations; every decision compares exact integer fractions.

The state travels in two flat arrays (a call passing many arrays costs tens of ns per
array): ``F`` float64 ``[vals (n) | cuts (K) | allv (n) | attv (M)]`` and ``Z`` int64, a
header of sizes and offsets followed by the strata offsets, counts, the expanded flags
and their list, the bin table (``bstart | bend | W | cum`` per bin row), where each bin
starts in ``allv``, with one attack stratum ``#(attack < s)`` per bona fide score ``s``,
then the per-presentation scratch (the draws ``wt``, their running sums
``cw``, the given counts), which a replicate writes before it reads it, so a thread's copy
of ``Z`` copies only what comes before ``wt``. Every search runs first over the bin
boundaries (counts known without resolving a bin), then inside the one bin that holds the
answer. The binomial draws are this file's own (:func:`_btrd`, :func:`_binv`) on a
per-replicate xorshift64* state, seeded from numba's generator after ``seed + r``.

One file on purpose (about 2.5 times the project's file length): these are the steps of one
replicate, compiled into one kernel, and numba's on-disk cache (``cache=True``) checks only
a function's own source file, so a kernel calling helpers in another file keeps running their
stale compiled code after only that file changes (numba's caching notes, "Cache
invalidation"). Split it only together with a cache-busting scheme.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from fasfast.analysis._kernels_pai import frac_cmp

_NB = dict(cache=True, nogil=True, fastmath=False)

# statistic slots of a replicate
EER, MIN_ACER, AUC, FAKE, LIVE, ACER, ACER_LEFT, ACER_MID, ACER_RIGHT = range(9)
N_FIXED = 9

# header of Z
(
    H_K,
    H_C,
    H_N,
    H_M,
    H_NEXP,
    H_GIVEN,
    H_SOFF,
    H_NC,
    H_EXP,
    H_EXPL,
    H_TAB,
    H_WT,
    H_CW,
    H_G,
    H_ABIN,
    H_RNG,
) = range(16)
HEADER = 16


def pack(vals, soff, cuts, allv, attv, bstart, bend, given_n: int, att_below=None):
    """``(F, Z)`` for :func:`binned_replicates` (``given_n``: room for given counts;
    ``att_below``: with one attack stratum, ``#(attack < s)`` per bona fide score ``s``)."""
    if att_below is None:
        att_below = np.zeros(0, np.int64)
    n, k, c = vals.size, cuts.size, soff.size - 1
    m = attv.size
    F = np.concatenate([vals, cuts, allv, attv]).astype(np.float64, copy=False)
    off_soff = HEADER
    off_nc = off_soff + c + 1
    off_exp = off_nc + c
    off_expl = off_exp + k
    off_tab = off_expl + k
    off_abin = off_tab + (k + 1) * 4 * c
    off_below = off_abin + k + 1
    off_wt = off_below + att_below.size  # from here on: scratch, written before read
    off_cw = off_wt + n
    off_g = off_cw + n
    Z = np.zeros(off_g + given_n, np.int64)
    Z[:HEADER] = (
        k,
        c,
        n,
        m,
        0,
        int(given_n > 0),
        off_soff,
        off_nc,
        off_exp,
        off_expl,
        off_tab,
        off_wt,
        off_cw,
        off_g,
        off_abin,
        0,
    )
    Z[off_abin : off_abin + k] = np.searchsorted(allv, cuts, side="left")
    Z[off_abin + k] = n
    Z[off_below:off_wt] = att_below
    Z[off_soff:off_nc] = soff
    Z[off_nc:off_exp] = np.diff(soff)
    tab = Z[off_tab:off_abin].reshape(k + 1, 4 * c)
    tab[:k, :c] = bstart
    tab[:k, c : 2 * c] = bend
    return F, Z


@njit(inline="always", **_NB)
def _tab(Z, b, j):
    """Index of column ``j`` of bin row ``b`` (bstart 0..C-1, bend C.., W 2C.., cum 3C..)."""
    return Z[H_TAB] + b * 4 * Z[H_C] + j


@njit(**_NB)
def _bsearch_right(a, lo, hi, x):
    """First index in ``[lo, hi)`` with ``a[k] > x``."""
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(**_NB)
def _bsearch_left(a, lo, hi, x):
    """First index in ``[lo, hi)`` with ``a[k] >= x``."""
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] >= x:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(**_NB)
def _expand(F, Z, b):
    """Place bin ``b``'s draws on its presentations (or copy the given per-presentation
    counts); ``cw`` = inclusive running sums of the draws within each stratum's slice."""
    if Z[Z[H_EXP] + b]:
        return
    C = Z[H_C]
    wt = Z[H_WT]
    cw = Z[H_CW]
    g = Z[H_G]
    for c in range(C):
        s0 = Z[Z[H_SOFF] + c] + Z[_tab(Z, b, c)]
        rr = Z[_tab(Z, b, C + c)] - Z[_tab(Z, b, c)]
        if rr == 0:
            continue
        for i in range(rr):
            Z[wt + s0 + i] = 0
        w = Z[_tab(Z, b, 2 * C + c)]
        if Z[H_GIVEN]:
            for i in range(rr):
                Z[wt + s0 + i] = Z[g + s0 + i]
        elif w > 0:
            if rr == 1:
                Z[wt + s0] = w
            else:  # w uniform picks among rr presentations (xorshift64*, seeded per bin)
                x = np.uint64(np.random.randint(1, 2**62))
                urr = np.uint64(rr)
                for _ in range(w):
                    x ^= x >> np.uint64(12)
                    x ^= x << np.uint64(25)
                    x ^= x >> np.uint64(27)
                    v = (x * np.uint64(2685821657736338717)) >> np.uint64(11)  # 53 bits
                    Z[wt + s0 + np.int64((v * urr) >> np.uint64(53))] += 1
        acc = 0
        for i in range(rr):
            acc += Z[wt + s0 + i]
            Z[cw + s0 + i] = acc
    Z[Z[H_EXP] + b] = 1
    Z[Z[H_EXPL] + Z[H_NEXP]] = b
    Z[H_NEXP] += 1


@njit(**_NB)
def _lt(F, Z, c, t):
    """Resampled presentations of stratum ``c`` with score ``< t``."""
    K = Z[H_K]
    C = Z[H_C]
    if t == np.inf:
        return Z[_tab(Z, K, 3 * C + c)]
    n = Z[H_N]
    b = _bsearch_right(F, n, n + K, t) - n - 1
    if b < 0:
        return 0
    base = Z[_tab(Z, b, 3 * C + c)]
    if t == F[n + b]:
        return base
    lo = Z[_tab(Z, b, c)]
    rr = Z[_tab(Z, b, C + c)] - lo
    if rr == 0 or Z[_tab(Z, b, 2 * C + c)] == 0:
        return base
    _expand(F, Z, b)
    s0 = Z[Z[H_SOFF] + c] + lo
    j = _bsearch_left(F, s0, s0 + rr, t)
    if j == s0:
        return base
    return base + Z[Z[H_CW] + j - 1]


@njit(inline="always", **_NB)
def _nc(Z, c):
    return Z[Z[H_NC] + c]


@njit(inline="always", **_NB)
def _u01(Z):
    """A uniform double in [0, 1): xorshift64* (Vigna 2016) on the replicate's state
    ``Z[H_RNG]`` (seeded from numba's generator per replicate), 53 high bits."""
    x = np.uint64(Z[H_RNG])
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    Z[H_RNG] = np.int64(x)
    return np.float64((x * np.uint64(2685821657736338717)) >> np.uint64(11)) * (
        1.0 / 9007199254740992.0
    )


_FC = np.array(
    [
        0.08106146679532726,
        0.04134069595540929,
        0.02767792568499834,
        0.02079067210376509,
        0.01664469118982119,
        0.01387612882307075,
        0.01189670994589177,
        0.01041126526197209,
        0.009255462182712733,
        0.008330563433362871,
    ]
)


@njit(**_NB)
def _fc(k):
    """Stirling's correction ``log(k!) - [(k + 1/2) log(k + 1) - (k + 1) + log(2 pi)/2]``."""
    if k < 10:
        return _FC[k]
    r = 1.0 / (k + 1.0)
    r2 = r * r
    return (1.0 / 12.0 - (1.0 / 360.0 - 1.0 / 1260.0 * r2) * r2) * r


@njit(**_NB)
def _btrd(Z, n, p):
    """Binomial(n, p) for ``p <= 1/2`` and ``n p >= 10``: transformed rejection with
    decomposition (Hoermann 1993, "The generation of binomial random variates", J. Statist.
    Comput. Simul. 46, algorithm BTRD). Exact; about 1.2 uniforms a draw and a few flops,
    the rest of the set-up only when the box rejects (numba's BTPE builds all its tables on
    every call: ~75 ns against ~64 ns a draw in the bootstrap's sequence of bins)."""
    q = 1.0 - p
    npq = n * p * q
    spq = np.sqrt(npq)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    ib = 1.0 / b
    vr = 0.92 - 4.2 * ib
    urvr = 0.86 * vr
    m = np.int64(-1)  # the rest of the set-up only when the box rejects (about 1 in 7)
    r = nr = alpha = 0.0
    while True:
        v = _u01(Z)
        if v <= urvr:  # the box: accepted at once
            u = v / vr - 0.43
            return np.int64(np.floor((2.0 * a / (0.5 - abs(u)) + b) * u + c))
        if m < 0:
            m = np.int64(np.floor((n + 1) * p))
            r = p / q
            nr = (n + 1) * r
            alpha = (2.83 + 5.1 * ib) * spq
        if v >= vr:
            u = _u01(Z) - 0.5
        else:
            u = v / vr - 0.93
            u = (0.5 if u >= 0 else -0.5) - u
            v = _u01(Z) * vr
        us = 0.5 - abs(u)
        kf = np.floor((2.0 * a / us + b) * u + c)
        if kf < 0 or kf > n:
            continue
        k = np.int64(kf)
        v = v * alpha / (a / (us * us) + b)
        km = abs(k - m)
        if km <= 15:  # f(k) / f(m) by the recursion
            f = 1.0
            if m < k:
                for i in range(m + 1, k + 1):
                    f *= nr / i - r
            elif m > k:
                for i in range(k + 1, m + 1):
                    v *= nr / i - r
            if v <= f:
                return k
            continue
        v = np.log(v)  # squeeze, then the exact log-ratio
        rho = (km / npq) * (((km / 3.0 + 0.625) * km + 1.0 / 6.0) / npq + 0.5)
        t = -km * km / (2.0 * npq)
        if v < t - rho:
            return k
        if v > t + rho:
            continue
        nm = n - m + 1
        h = (m + 0.5) * np.log((m + 1) / (r * nm)) + _fc(m) + _fc(n - m)
        nk = n - k + 1
        if v <= h + (n + 1) * np.log(nm / nk) + (k + 0.5) * np.log(nk * r / (k + 1)) - _fc(k) - _fc(
            n - k
        ):
            return k


@njit(**_NB)
def _binv(Z, n, p):
    """Binomial(n, p) for ``p <= 1/2`` and ``n p < 30`` by inversion (Kachitvichyanukul &
    Schmeiser 1988, BINV): walk up the pmf from ``P(0) = q^n`` with ``P(x) / P(x - 1) =
    (n + 1) p / (q x) - p / q``; ``q^n`` as ``exp(n log1p(-p))`` (numba's raises to the
    power ``n`` by repeated products)."""
    s = p / (1.0 - p)
    a = (n + 1) * s
    qn = np.exp(n * np.log1p(-p))
    bound = min(n, n * p + 10.0 * np.sqrt(n * p * (1.0 - p) + 1.0))
    while True:
        u = _u01(Z)
        px = qn
        x = 0
        while u > px:
            x += 1
            if x > bound:
                break
            u -= px
            px *= a / x - s
        if x <= bound:
            return np.int64(x)


@njit(**_NB)
def _binomial(Z, n, p):
    """Binomial(n, p): inversion (:func:`_binv`) for a mean under 30, else :func:`_btrd`."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    flip = p > 0.5
    pp = 1.0 - p if flip else p
    k = _binv(Z, n, pp) if n * pp < 30.0 else _btrd(Z, n, pp)
    return n - k if flip else k


@njit(**_NB)
def _apcer(F, Z, t, per_pai):
    """APCER at ``t`` as ``(num, den)``: the worst species or pooled."""
    C = Z[H_C]
    if per_pai:
        bn = np.int64(0)
        bd = np.int64(1)
        for c in range(1, C):
            nc = _nc(Z, c)
            if nc == 0:
                continue
            k = nc - _lt(F, Z, c, t)
            if k * bd > bn * nc:
                bn = k
                bd = nc
        return bn, bd
    num = np.int64(0)
    den = np.int64(0)
    for c in range(1, C):
        num += _nc(Z, c) - _lt(F, Z, c, t)
        den += _nc(Z, c)
    return num, den


@njit(**_NB)
def _x(F, Z, t, per_pai):
    """``APCER - BPCER`` at ``t`` as ``(sign, |num|, den)``."""
    an, ad = _apcer(F, Z, t, per_pai)
    b = _lt(F, Z, 0, t)
    n = _nc(Z, 0)
    num = an * n - b * ad
    den = ad * n
    if num > 0:
        return 1, num, den
    if num < 0:
        return -1, -num, den
    return 0, np.int64(0), den


@njit(**_NB)
def _x_cmp(F, Z, t, per_pai, sgn, xn, xd):
    """Sign of ``x(t) - x_ref`` for the reference ``x_ref = sgn * xn / xd``."""
    s, n, d = _x(F, Z, t, per_pai)
    if s != sgn:
        return 1 if s > sgn else -1
    if s == 0:
        return 0
    r = frac_cmp(n, d, xn, xd)
    return r if s > 0 else -r


@njit(**_NB)
def _cost(F, Z, t, per_pai):
    """``APCER + BPCER`` at ``t`` as ``(num, den)``."""
    an, ad = _apcer(F, Z, t, per_pai)
    b = _lt(F, Z, 0, t)
    n = _nc(Z, 0)
    return an * n + b * ad, ad * n


@njit(**_NB)
def _count_lt(F, Z, c0, c1, t):
    """Resampled presentations of strata ``c0..c1-1`` with score ``< t``."""
    s = 0
    for c in range(c0, c1):
        s += _lt(F, Z, c, t)
    return s


@njit(inline="always", **_NB)
def _cum_range(Z, b, c0, c1):
    """Resampled presentations of strata ``c0..c1-1`` below bin boundary ``b``."""
    C = Z[H_C]
    s = 0
    for c in range(c0, c1):
        s += Z[_tab(Z, b, 3 * C + c)]
    return s


@njit(inline="always", **_NB)
def _bin_w(Z, b, c0, c1):
    """Resampled presentations of strata ``c0..c1-1`` in bin ``b``."""
    C = Z[H_C]
    s = 0
    for c in range(c0, c1):
        s += Z[_tab(Z, b, 2 * C + c)]
    return s


@njit(**_NB)
def _bin_of(F, Z, t):
    """The bin holding value ``t`` (``-1`` below the first cut)."""
    n = Z[H_N]
    if t == np.inf:
        return Z[H_K] - 1
    return _bsearch_right(F, n, n + Z[H_K], t) - n - 1


@njit(**_NB)
def _abin(F, Z, b):
    """``[lo, hi)``: bin ``b``'s scores in ``F`` (inside allv)."""
    a0 = Z[H_N] + Z[H_K]
    return a0 + Z[Z[H_ABIN] + b], a0 + Z[Z[H_ABIN] + b + 1]


@njit(**_NB)
def _max_present_below(F, Z, t, below, c0, c1, lo, hi):
    """The largest value ``v`` in ``F[lo:hi]`` (all ``< t``) with a resampled presentation of
    strata ``c0..c1-1`` in ``[v, t)``, given ``below`` = their count ``< t``."""
    hi -= 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if below - _count_lt(F, Z, c0, c1, F[mid]) >= 1:
            lo = mid
        else:
            hi = mid - 1
    return F[lo]


@njit(**_NB)
def _present_lt(F, Z, t, c0, c1):
    """The largest resampled score ``< t`` of strata ``c0..c1-1`` (``-inf`` when none)."""
    b = _bin_of(F, Z, t)
    if b < 0:
        return -np.inf
    below = _count_lt(F, Z, c0, c1, t)
    if below - _cum_range(Z, b, c0, c1) > 0:  # one in bin b, below t
        lo, hi = _abin(F, Z, b)
        hi = _bsearch_left(F, lo, hi, t)
        return _max_present_below(F, Z, t, below, c0, c1, lo, hi)
    for bb in range(b - 1, -1, -1):
        if _bin_w(Z, bb, c0, c1) > 0:
            lo, hi = _abin(F, Z, bb)
            t2 = F[Z[H_N] + bb + 1]
            return _max_present_below(F, Z, t2, _cum_range(Z, bb + 1, c0, c1), c0, c1, lo, hi)
    return -np.inf


@njit(**_NB)
def _min_present_above(F, Z, upto, c0, c1, lo, hi):
    """The smallest value ``v`` in ``F[lo:hi]`` with more than ``upto`` resampled
    presentations of strata ``c0..c1-1`` at or below it (one exists)."""
    hi -= 1
    while lo < hi:
        mid = (lo + hi) // 2
        if _count_lt(F, Z, c0, c1, np.nextafter(F[mid], np.inf)) > upto:
            hi = mid
        else:
            lo = mid + 1
    return F[lo]


@njit(**_NB)
def _present_gt(F, Z, x, c0, c1):
    """The smallest resampled score ``> x`` of strata ``c0..c1-1`` (``+inf`` when none)."""
    K = Z[H_K]
    xn = np.nextafter(x, np.inf)
    upto = _count_lt(F, Z, c0, c1, xn)
    b = _bin_of(F, Z, x)
    if b >= 0 and _cum_range(Z, b + 1, c0, c1) - upto > 0:  # one in bin b, above x
        lo, hi = _abin(F, Z, b)
        lo = _bsearch_right(F, lo, hi, x)
        return _min_present_above(F, Z, upto, c0, c1, lo, hi)
    for bb in range(b + 1, K):
        if _bin_w(Z, bb, c0, c1) > 0:
            lo, hi = _abin(F, Z, bb)
            return _min_present_above(F, Z, _cum_range(Z, bb, c0, c1), c0, c1, lo, hi)
    return np.inf


@njit(**_NB)
def _kth_largest(F, Z, c0, c1, k, lo, hi):
    """The ``(k+1)``-th largest resampled score of strata ``c0..c1-1``; ``F[lo:hi]`` holds
    their scores (sorted): the largest ``v`` with more than ``k`` presentations ``>= v``."""
    K = Z[H_K]
    n = Z[H_N]
    total = _cum_range(Z, K, c0, c1)
    b = 0
    hb = K - 1
    while b < hb:  # the last boundary with more than k at or above it
        mid = (b + hb + 1) // 2
        if total - _cum_range(Z, mid, c0, c1) >= k + 1:
            b = mid
        else:
            hb = mid - 1
    lo2 = _bsearch_left(F, lo, hi, F[n + b])
    hi2 = hi if b == K - 1 else _bsearch_left(F, lo, hi, F[n + b + 1])
    hi2 -= 1
    while lo2 < hi2:
        mid = (lo2 + hi2 + 1) // 2
        if total - _count_lt(F, Z, c0, c1, F[mid]) >= k + 1:
            lo2 = mid
        else:
            hi2 = mid - 1
    return F[lo2]


@njit(**_NB)
def _kth_smallest(F, Z, c0, c1, k, lo, hi):
    """The ``(k+1)``-th smallest resampled score of strata ``c0..c1-1`` (scores in
    ``F[lo:hi]``)."""
    K = Z[H_K]
    n = Z[H_N]
    b = 0
    hb = K - 1
    while b < hb:  # the first bin whose end holds more than k below it
        mid = (b + hb) // 2
        if _cum_range(Z, mid + 1, c0, c1) >= k + 1:
            hb = mid
        else:
            b = mid + 1
    lo2 = _bsearch_left(F, lo, hi, F[n + b])
    hi2 = hi if b == K - 1 else _bsearch_left(F, lo, hi, F[n + b + 1])
    return _min_present_above(F, Z, k, c0, c1, lo2, hi2)


@njit(**_NB)
def _dt_next(x, is32):
    if is32:
        return np.float64(np.nextafter(np.float32(x), np.float32(np.inf)))
    return np.nextafter(x, np.inf)


@njit(**_NB)
def _dt_mid(lo, hi, is32):
    if is32:
        a = np.float32(lo)
        b = np.float32(hi)
        t = a + (b - a) / np.float32(2.0)
        if a < t <= b:
            return np.float64(t)
        return np.float64(b)
    t = lo + (hi - lo) / 2.0
    return t if lo < t <= hi else hi


@njit(**_NB)
def _above(F, Z, x, border_mid, is32):
    """Just above ``x`` by the border rule (next value, or halfway to the next score)."""
    if border_mid:
        nx = _present_gt(F, Z, x, 0, Z[H_C])
        if nx < np.inf:
            if is32:
                a = np.float32(x)
                t = a + (np.float32(nx) - a) / np.float32(2.0)
                if a < t <= np.float32(nx):
                    return np.float64(t)
            else:
                t = x + (nx - x) / 2.0
                if x < t <= nx:
                    return t
    return _dt_next(x, is32)


@njit(**_NB)
def _mid_or(lo, hi, only, is32):
    if np.isinf(lo) and np.isinf(hi):
        return only
    if np.isinf(lo):
        return hi
    if np.isinf(hi):
        return lo
    return _dt_mid(lo, hi, is32)


@njit(**_NB)
def _x_pred(F, Z, t, per_pai, sgn, xn, xd, mode):
    if mode == 0:
        s, _, _ = _x(F, Z, t, per_pai)
        return s > 0
    if mode == 1:
        return _x_cmp(F, Z, t, per_pai, sgn, xn, xd) <= 0
    return _x_cmp(F, Z, t, per_pai, sgn, xn, xd) >= 0


@njit(**_NB)
def _search_x(F, Z, per_pai, sgn, xn, xd, mode):
    """Binary searches over ``allv`` (extended by ``+inf``) on the non-increasing ``x(t)``.

    ``mode`` 0: the largest ``t`` with ``x(t) > 0``; 1: the smallest ``t`` with
    ``x(t) <= ref``; 2: the largest ``t`` with ``x(t) >= ref`` (``ref = sgn * xn / xd``).
    Returns the index into allv (``n`` for ``+inf``). First over the bin boundaries (exact
    counts without resolving bins), then inside one bin.
    """
    n = Z[H_N]
    K = Z[H_K]
    a0 = n + K
    if mode == 1:  # the first boundary (cut value, or +inf) where the predicate holds
        lo = 0
        hi = K
        while lo < hi:
            mid = (lo + hi) // 2
            if _x_pred(F, Z, F[n + mid], per_pai, sgn, xn, xd, 1):
                hi = mid
            else:
                lo = mid + 1
        b = lo
        if b == 0:
            return 0
        lo = Z[Z[H_ABIN] + b - 1] + 1  # the boundary before fails
        hi = Z[Z[H_ABIN] + b] if b < K else n
        while lo < hi:
            mid = (lo + hi) // 2
            if _x_pred(F, Z, F[a0 + mid], per_pai, sgn, xn, xd, 1):
                hi = mid
            else:
                lo = mid + 1
        return lo
    # modes 0 and 2: the last boundary where the predicate holds
    if mode == 2 and _x_pred(F, Z, np.inf, per_pai, sgn, xn, xd, 2):
        return n
    lo = 0
    hi = K - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _x_pred(F, Z, F[n + mid], per_pai, sgn, xn, xd, mode):
            lo = mid
        else:
            hi = mid - 1
    b = lo
    lo = Z[Z[H_ABIN] + b]
    hi = Z[Z[H_ABIN] + b + 1] - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _x_pred(F, Z, F[a0 + mid], per_pai, sgn, xn, xd, mode):
            lo = mid
        else:
            hi = mid - 1
    return lo


@njit(**_NB)
def _allv(F, Z, i):
    return F[Z[H_N] + Z[H_K] + i] if i < Z[H_N] else np.inf


@njit(**_NB)
def _draw_bins(F, Z):
    """Each stratum's draws per bin (a multinomial as successive binomials; or the sums of
    the given counts), their running sums, and a fresh scratch state."""
    K = Z[H_K]
    C = Z[H_C]
    g = Z[H_G]
    for c in range(C):
        rem = _nc(Z, c)
        remlen = _nc(Z, c)
        s_c = Z[Z[H_SOFF] + c]
        for b in range(K):
            lo = Z[_tab(Z, b, c)]
            rr = Z[_tab(Z, b, C + c)] - lo
            if rr == 0:
                w = 0
            elif Z[H_GIVEN]:
                w = 0
                for i in range(rr):
                    w += Z[g + s_c + lo + i]
            elif remlen == rr:
                w = rem
            else:
                w = _binomial(Z, rem, rr / remlen)
            Z[_tab(Z, b, 2 * C + c)] = w
            rem -= w
            remlen -= rr
    for c in range(C):
        Z[_tab(Z, 0, 3 * C + c)] = 0
        for b in range(K):
            Z[_tab(Z, b + 1, 3 * C + c)] = Z[_tab(Z, b, 3 * C + c)] + Z[_tab(Z, b, 2 * C + c)]
    for i in range(Z[H_NEXP]):
        Z[Z[H_EXP] + Z[Z[H_EXPL] + i]] = 0
    Z[H_NEXP] = 0


@njit(**_NB)
def _auc(F, Z, p2, rl, ra):
    """AUC from bin draws: pairs across bins exactly, pairs inside a bin at their mean."""
    K = Z[H_K]
    C = Z[H_C]
    auc2 = 0.0
    below = 0.0
    for b in range(K):
        wl = Z[_tab(Z, b, 2 * C)]
        wa = 0
        for c in range(1, C):
            wa += Z[_tab(Z, b, 2 * C + c)]
        auc2 += 2.0 * wl * below
        if rl[b] > 0 and ra[b] > 0:
            auc2 += p2[b] * (wl / rl[b]) * (wa / ra[b])
        below += wa
    n_att = 0
    for c in range(1, C):
        n_att += _nc(Z, c)
    return auc2 / (2.0 * _nc(Z, 0) * n_att)


@njit(**_NB)
def _boundary_cost(Z, ba, bb, per_pai):
    """``APCER + BPCER`` with the APCER at bin boundary ``ba`` and the BPCER at ``bb``, as
    ``(num, den)``, from the running sums alone."""
    C = Z[H_C]
    n_live = _nc(Z, 0)
    if per_pai:
        an = np.int64(0)
        ad = np.int64(1)
        for c in range(1, C):
            nc = _nc(Z, c)
            if nc == 0:
                continue
            k = nc - Z[_tab(Z, ba, 3 * C + c)]
            if k * ad > an * nc:
                an = k
                ad = nc
    else:
        an = np.int64(0)
        ad = np.int64(0)
        for c in range(1, C):
            an += _nc(Z, c) - Z[_tab(Z, ba, 3 * C + c)]
            ad += _nc(Z, c)
    return an * n_live + Z[_tab(Z, bb, 3 * C)] * ad, ad * n_live


@njit(**_NB)
def _scan_bin2(F, Z, b, best_n, first_u, last_u):
    """The inner scan of :func:`_least_acer` over expanded bin ``b`` for one bona fide and
    one attack stratum, pooled: every cost has the denominator ``M * N``, so the numerators
    ``(M - run_a) * N + run_l * M`` are compared as integers. Returns the updated
    ``(best_n, first_u, last_u)``.

    Only resampled bona fide scores are visited: passing a resampled attack lowers the cost
    strictly, so the interval ending at a score that holds attacks alone never reaches the
    least cost, nor ties it. At bona fide score ``u`` the resampled attacks below it are
    read from their running sums ``cw`` at ``#(attack < u)`` (fixed by the layout), the bona
    fide below it from theirs; the latter may hold earlier presentations equal to ``u``,
    but then ``u`` was met before with a cost lower by at least ``M``, so the later visit
    changes nothing."""
    wt = Z[H_WT]
    cw = Z[H_CW]
    n_live = _nc(Z, 0)
    n_att = _nc(Z, 1)
    s0 = Z[Z[H_SOFF]]
    s1 = Z[Z[H_SOFF] + 1]
    lo0 = Z[_tab(Z, b, 0)]
    e0 = Z[_tab(Z, b, 2)]
    lo1 = Z[_tab(Z, b, 1)]
    run0 = Z[_tab(Z, b, 6)]  # resampled bona fide below the bin
    run1 = Z[_tab(Z, b, 7)]  # resampled attacks below the bin
    below = Z[H_ABIN] + Z[H_K] + 1 - s0  # #(attack < live score), by live position
    for p in range(s0 + lo0, s0 + e0):
        w0 = Z[wt + p]
        if w0 == 0:
            continue
        j = Z[below + p] - lo1  # attacks of this bin below the score
        a = Z[cw + s1 + lo1 + j - 1] if j > 0 else 0
        cn = (n_att - run1 - a) * n_live + (run0 + Z[cw + p] - w0) * n_att
        if cn <= best_n:
            u = F[p]
            if cn < best_n:
                best_n = cn
                first_u = u
            elif first_u != first_u:
                first_u = u
            last_u = u
    return best_n, first_u, last_u


@njit(**_NB)
def _least_acer(F, Z, per_pai):
    """``(best_num, best_den, first_u, last_u)``: the least ``APCER + BPCER`` and the upper
    ends of the first and last intervals reaching it (``+inf``: the last interval)."""
    K = Z[H_K]
    C = Z[H_C]
    n_live = _nc(Z, 0)
    best_n = np.int64(-1)
    best_d = np.int64(1)
    # pooled, every cost has the denominator M * N: the numerators compare as integers
    for b in range(K + 1):  # at the bin boundaries: the counts are the running sums
        cn, cd = _boundary_cost(Z, b, b, per_pai)
        if best_n < 0 or (frac_cmp(cn, cd, best_n, best_d) < 0 if per_pai else cn < best_n):
            best_n, best_d = cn, cd
    first_u = np.nan
    last_u = np.nan
    best_f = best_n / best_d
    for b in range(K):
        any_w = False
        for c in range(C):
            if Z[_tab(Z, b, 2 * C + c)] > 0:
                any_w = True
        if not any_w:
            continue
        # inside bin b the cost is at least APCER at its end plus BPCER at its start
        lbn, lbd = _boundary_cost(Z, b + 1, b, per_pai)
        if frac_cmp(lbn, lbd, best_n, best_d) > 0 if per_pai else lbn > best_n:
            continue
        _expand(F, Z, b)
        if C == 2 and not per_pai:  # one pooled attack stratum: one denominator, a merge
            best_n, first_u, last_u = _scan_bin2(F, Z, b, best_n, first_u, last_u)
            best_f = best_n / best_d
            continue
        wt = Z[H_WT]
        ptr = np.empty(C, np.int64)
        run = np.empty(C, np.int64)  # resampled presentations of each stratum below u
        for c in range(C):
            ptr[c] = Z[Z[H_SOFF] + c] + Z[_tab(Z, b, c)]
            run[c] = Z[_tab(Z, b, 3 * C + c)]
        # every resampled score u of the bin, ascending: the interval that ends at u
        while True:
            u = np.inf
            for c in range(C):
                e = Z[Z[H_SOFF] + c] + Z[_tab(Z, b, C + c)]
                while ptr[c] < e and Z[wt + ptr[c]] == 0:
                    ptr[c] += 1
                if ptr[c] < e and F[ptr[c]] < u:
                    u = F[ptr[c]]
            if u == np.inf:
                break
            if per_pai:
                an = np.int64(0)
                ad = np.int64(1)
                for c in range(1, C):
                    nc = _nc(Z, c)
                    if nc == 0:
                        continue
                    k = nc - run[c]
                    if k * ad > an * nc:
                        an = k
                        ad = nc
            else:
                an = np.int64(0)
                ad = np.int64(0)
                for c in range(1, C):
                    an += _nc(Z, c) - run[c]
                    ad += _nc(Z, c)
            cn = an * n_live + run[0] * ad
            cd = ad * n_live
            # a float pre-check (relative error < 1e-15) spares most exact comparisons
            fc = cn / cd
            if fc > best_f * (1.0 + 1e-12) + 1e-300:
                cr = 1
            else:
                cr = frac_cmp(cn, cd, best_n, best_d)
            if cr < 0:
                best_n, best_d = cn, cd
                best_f = best_n / best_d
                first_u = u
                last_u = u
            elif cr == 0:
                if first_u != first_u:
                    first_u = u
                last_u = u
            for c in range(C):
                e = Z[Z[H_SOFF] + c] + Z[_tab(Z, b, C + c)]
                while ptr[c] < e and F[ptr[c]] == u:
                    run[c] += Z[wt + ptr[c]]
                    ptr[c] += 1
    fn_, fd_ = _cost(F, Z, np.inf, per_pai)  # the last interval: everything rejected
    cr = frac_cmp(fn_, fd_, best_n, best_d)
    if cr < 0 or (cr == 0 and first_u != first_u):
        first_u = np.inf
    if cr <= 0:
        last_u = np.inf
    return best_n, best_d, first_u, last_u


@njit(**_NB)
def _one_replicate(
    out, r, F, Z, p2, rl, ra, per_pai, eer_rule, placement, border_mid, is32, t_kind, t_rate
):
    C = Z[H_C]
    n = Z[H_N]
    K = Z[H_K]
    _draw_bins(F, Z)
    out[r, AUC] = _auc(F, Z, p2, rl, ra)
    n_live = _nc(Z, 0)
    n_att = np.int64(0)
    for c in range(1, C):
        n_att += _nc(Z, c)
    att0 = 2 * n + K  # attv in F
    fake = _kth_largest(F, Z, 1, C, 0, att0, att0 + Z[H_M])
    # the APCER/BPCER crossing: runs of equal x on either side of zero
    i1 = _search_x(F, Z, per_pai, 0, 0, 1, 0)
    t1 = _allv(F, Z, i1)
    ps, pn, pd = _x(F, Z, t1, per_pai)
    t0 = _allv(F, Z, _search_x(F, Z, per_pai, ps, pn, pd, 1))
    pos_lo = _present_lt(F, Z, t0, 0, C)
    pos_hi = t1
    t2 = _allv(F, Z, i1 + 1)
    ns_, nn_, nd_ = _x(F, Z, t2, per_pai)
    t3 = _allv(F, Z, _search_x(F, Z, per_pai, ns_, nn_, nd_, 2))
    neg_lo = t1
    neg_hi = t3
    if eer_rule == 1:  # fvc2000
        if ns_ == 0:
            lo1 = _present_lt(F, Z, t3, 0, C)
            hi1 = t3
        else:
            lo1 = pos_lo
            hi1 = pos_hi
        s1n, s1d = _cost(F, Z, hi1, per_pai)
        s2n, s2d = _cost(F, Z, neg_hi, per_pai)
        if frac_cmp(s1n, s1d, s2n, s2d) <= 0:
            lo, hi, en, ed = lo1, hi1, s1n, s1d
        else:
            lo, hi, en, ed = neg_lo, neg_hi, s2n, s2d
        out[r, EER] = en / (2.0 * ed)
        out[r, ACER] = _mid_or(lo, hi, fake, is32)
    else:
        c_ = frac_cmp(pn, pd, nn_, nd_)
        if c_ < 0:
            lo, hi = pos_lo, pos_hi
        elif c_ == 0:
            lo, hi = pos_lo, neg_hi
        else:
            lo, hi = neg_lo, neg_hi
        t = _mid_or(lo, hi, fake, is32)
        en, ed = _cost(F, Z, t, per_pai)
        out[r, EER] = en / (2.0 * ed) if eer_rule == 0 else np.nan
        out[r, ACER] = t
    # the least ACER and its interval
    best_n, best_d, first_u, last_u = _least_acer(F, Z, per_pai)
    out[r, MIN_ACER] = best_n / (2.0 * best_d)
    acer_lo = _present_lt(F, Z, first_u, 0, C) if first_u == first_u else np.nan
    acer_hi = last_u
    left = -np.inf if acer_lo == -np.inf else _above(F, Z, acer_lo, border_mid, is32)
    out[r, ACER_LEFT] = left
    out[r, ACER_RIGHT] = acer_hi
    if np.isinf(acer_lo) or np.isinf(acer_hi):
        out[r, ACER_MID] = acer_hi if not np.isinf(acer_hi) else left
    else:
        out[r, ACER_MID] = _dt_mid(acer_lo, acer_hi, is32)
    # borders
    out[r, FAKE] = _above(F, Z, fake, border_mid, is32)
    s_live = Z[Z[H_SOFF]]
    out[r, LIVE] = _kth_smallest(F, Z, 0, 1, 0, s_live, s_live + n_live)
    # target-rate rows
    for q in range(t_kind.size):
        rate = t_rate[q]
        if t_kind[q] == 0:  # BPCER at APCER (and TPR at FPR)
            a_star = -np.inf
            if per_pai:
                for c in range(1, C):
                    nc = _nc(Z, c)
                    if nc == 0:
                        continue
                    k = np.int64(np.floor(rate * nc + 1e-9))
                    if k < nc:
                        s0 = Z[Z[H_SOFF] + c]
                        v = _kth_largest(F, Z, c, c + 1, k, s0, s0 + nc)
                        if v > a_star:
                            a_star = v
            else:
                k = np.int64(np.floor(rate * n_att + 1e-9))
                if k < n_att:
                    a_star = _kth_largest(F, Z, 1, C, k, att0, att0 + Z[H_M])
            xa = np.nextafter(a_star, np.inf)
            if per_pai:  # the same-APCER interval's top: the worst species' next score
                vn = np.int64(0)
                vd = np.int64(1)
                for c in range(1, C):
                    nc = _nc(Z, c)
                    if nc == 0:
                        continue
                    k = nc - _lt(F, Z, c, xa)
                    if k * vd > vn * nc:
                        vn = k
                        vd = nc
                h = np.inf
                if vn > 0:
                    h = -np.inf
                    for c in range(1, C):
                        nc = _nc(Z, c)
                        if nc == 0:
                            continue
                        k = nc - _lt(F, Z, c, xa)
                        if k * vd == vn * nc:
                            v = _present_gt(F, Z, a_star, c, c + 1)
                            if v > h:
                                h = v
            else:
                h = _present_gt(F, Z, a_star, 1, C)
            lo, hi, best_end = a_star, h, 0
        else:  # APCER at BPCER
            k = np.int64(np.floor(rate * n_live + 1e-9))
            if k >= n_live:
                top = _kth_largest(F, Z, 0, C, 0, n + K, 2 * n + K)
                out[r, N_FIXED + q] = _above(F, Z, top, border_mid, is32)
                continue
            hi = _kth_smallest(F, Z, 0, 1, k, s_live, s_live + n_live)
            lo = _present_lt(F, Z, hi, 0, 1)
            best_end = 1
        where = placement if placement >= 0 else best_end  # 0 low, 1 high, 2 midpoint
        if where == 1 and np.isinf(hi):
            where = 0
        if where == 2 and (np.isinf(hi) or np.isinf(lo)):
            where = 0 if np.isinf(hi) else 1
        if where == 1:
            t = hi
        elif where == 2:
            t = _dt_mid(lo, hi, is32)
        elif np.isinf(lo):
            t = _kth_smallest(F, Z, 0, C, 0, n + K, 2 * n + K)
        else:
            t = _above(F, Z, lo, border_mid, is32)
        out[r, N_FIXED + q] = t


@njit(parallel=True, cache=True)
def binned_replicates(
    F,
    Z,
    p2,
    rl,
    ra,
    per_pai,
    eer_rule,
    placement,
    border_mid,
    is32,
    t_kind,
    t_rate,
    reps,
    seed,
    n_chunks,
    given,
):
    """``reps`` replicates: an array ``[reps, 9 + n_targets]`` of the statistics (slots
    ``EER .. ACER_RIGHT``, then the target rows), internal frame. Replicate ``r`` draws from
    numba's generator seeded with ``seed + r`` (reproducible under any thread count).
    ``given`` ``[reps, N]`` (or ``[0, 0]``): per-presentation counts used instead of random
    draws (the tests hold the kernel to the analysis of the same resamples)."""
    out = np.empty((reps, N_FIXED + t_kind.size))
    per = (reps + n_chunks - 1) // n_chunks
    n = Z[H_N]
    for ch in prange(n_chunks):
        Zc = np.empty_like(Z)  # the scratch after H_WT needs no copy (written before read)
        Zc[: Z[H_WT]] = Z[: Z[H_WT]]
        for r in range(ch * per, min(reps, (ch + 1) * per)):
            np.random.seed(seed + r)
            Zc[H_RNG] = np.random.randint(1, 2**62)
            if Zc[H_GIVEN]:
                g0 = Zc[H_G]
                for i in range(n):
                    Zc[g0 + i] = given[r, i]
            _one_replicate(
                out,
                r,
                F,
                Zc,
                p2,
                rl,
                ra,
                per_pai,
                eer_rule,
                placement,
                border_mid,
                is32,
                t_kind,
                t_rate,
            )
    return out
