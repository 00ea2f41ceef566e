"""LSD radix sort of float32 / float64 scores (numba), for :func:`fasfast.analysis._core.sort_scores`.

Each score's bits become an order-preserving unsigned key (sign bit set for non-negative
values, every bit flipped for negative ones), so that unsigned order is the float order:
``-inf < ... < -0.0 < +0.0 < ... < +inf``. Every NaN (any sign, any payload) becomes the
largest key, so NaNs sort last as with ``np.sort``; they come back as one canonical NaN.
``-0.0`` sorts just before ``+0.0`` (they compare equal, so this is a valid ascending order).

The keys are sorted with 11-bit digits (float32: 3 passes, float64: 6 passes), all digit
histograms counted in the one pass that builds the keys; a digit that is the same for every
key (e.g. the top bits of scores in one binade) costs no pass. Exact: it only moves values.

Which sort is faster depends on the machine: on the 2-core AMD EPYC guest it was 2-4x faster
than ``np.sort`` (float32 and float64, 5e6-1e7 scores), on a Sapphire Rapids Xeon, whose
``np.sort`` uses AVX-512 (x86-simd-sort), 3-4x slower (``benchmarks/results/analysis.md``).
:func:`use_radix` therefore times both once per process and dtype on a sample and picks the
faster; ``FASFAST_SORT=radix`` or ``=numpy`` forces one. Both give the same sorted values.
"""

from __future__ import annotations

import os
import time

import numpy as np
from numba import njit

_NB = dict(cache=True, nogil=True, fastmath=False)

_B = 11
_MASK32 = np.uint32((1 << _B) - 1)
_MASK64 = np.uint64((1 << _B) - 1)


@njit(**_NB)
def _prefix(h, n):
    """Exclusive prefix sums of ``h`` in place; False when one bucket holds all ``n``
    (the pass can be skipped)."""
    s = 0
    skip = False
    for b in range(h.size):
        c = h[b]
        if c == n:
            skip = True
        h[b] = s
        s += c
    return not skip


@njit(**_NB)
def radix_sort32(x, out, negate):
    """Sort float32 ``x`` (negated first when ``negate``) ascending into ``out`` (same size;
    may be ``x`` itself). NaNs last. Returns the number of NaNs."""
    n = x.size
    u = x.view(np.uint32)
    a = np.empty(n, np.uint32)
    o = out.view(np.uint32)
    hist = np.zeros((3, 1 << _B), np.int64)
    flip = np.uint32(0x80000000) if negate else np.uint32(0)
    n_nan = 0
    for i in range(n):
        v = u[i] ^ flip
        if (v & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000):  # NaN
            v = np.uint32(0xFFFFFFFF)
            n_nan += 1
        elif v & np.uint32(0x80000000):
            v = v ^ np.uint32(0xFFFFFFFF)  # (numba widens ``~`` on uint32)
        else:
            v = v | np.uint32(0x80000000)
        a[i] = v
        hist[0, v & _MASK32] += 1
        hist[1, (v >> np.uint32(_B)) & _MASK32] += 1
        hist[2, v >> np.uint32(2 * _B)] += 1
    in_a = True  # the keys are in ``a`` (else in ``o``)
    for p in range(3):
        h = hist[p]
        if not _prefix(h, n):
            continue
        sh = np.uint32(p * _B)
        src = a if in_a else o
        dst = o if in_a else a
        for i in range(n):
            v = src[i]
            d = (v >> sh) & _MASK32
            dst[h[d]] = v
            h[d] += 1
        in_a = not in_a
    src = a if in_a else o
    for i in range(n):  # back to float bits (in place when the keys are in ``o``)
        v = src[i]
        if v & np.uint32(0x80000000):
            o[i] = v & np.uint32(0x7FFFFFFF)
        else:
            o[i] = v ^ np.uint32(0xFFFFFFFF)
    return n_nan


@njit(**_NB)
def radix_sort64(x, out, negate):
    """:func:`radix_sort32` for float64 (6 passes of 11 bits)."""
    n = x.size
    u = x.view(np.uint64)
    a = np.empty(n, np.uint64)
    o = out.view(np.uint64)
    hist = np.zeros((6, 1 << _B), np.int64)
    sign = np.uint64(1) << np.uint64(63)
    flip = sign if negate else np.uint64(0)
    absmask = ~sign
    inf_bits = np.uint64(0x7FF0000000000000)
    n_nan = 0
    for i in range(n):
        v = u[i] ^ flip
        if (v & absmask) > inf_bits:  # NaN
            v = ~np.uint64(0)
            n_nan += 1
        elif v & sign:
            v = ~v
        else:
            v = v | sign
        a[i] = v
        for p in range(6):
            hist[p, (v >> np.uint64(p * _B)) & _MASK64] += 1
    in_a = True
    for p in range(6):
        h = hist[p]
        if not _prefix(h, n):
            continue
        sh = np.uint64(p * _B)
        src = a if in_a else o
        dst = o if in_a else a
        for i in range(n):
            v = src[i]
            d = (v >> sh) & _MASK64
            dst[h[d]] = v
            h[d] += 1
        in_a = not in_a
    src = a if in_a else o
    for i in range(n):
        v = src[i]
        if v & sign:
            o[i] = v & absmask
        else:
            o[i] = ~v
    return n_nan


SORT_ENV = "FASFAST_SORT"  # "radix", "numpy", or "auto" (the default: timed)
_SAMPLE = 1 << 18
_CHOICE: dict[str, bool] = {}


def _best_time(fn, *args, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t)
    return best


def use_radix(dtype) -> bool:
    """True when the radix sort should sort ``dtype`` (float32 / float64) scores here: forced
    by ``FASFAST_SORT=radix|numpy``, else timed once per process against ``np.sort`` on
    ``2**18`` normal scores (best of 3 each; the radix sort must be 10% faster)."""
    env = os.environ.get(SORT_ENV, "auto").strip().lower()
    if env in ("radix", "numpy"):
        return env == "radix"
    key = np.dtype(dtype).str
    if key not in _CHOICE:
        x = np.random.default_rng(0).normal(0.5, 0.1, _SAMPLE).astype(dtype)
        out = np.empty_like(x)
        fn = radix_sort32 if x.dtype == np.float32 else radix_sort64
        fn(x[:16], out[:16], False)  # compile or load from the cache outside the timing
        _CHOICE[key] = _best_time(fn, x, out, False) < 0.9 * _best_time(np.sort, x)
    return _CHOICE[key]
