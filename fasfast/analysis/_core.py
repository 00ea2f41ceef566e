"""Input checks, sorting and exact sums shared by the analysis modules."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

CENTERS = ("mean", "median", "balance", "weighted_balance")
CONVENTIONS = ("paper", "code")
_POOL: ThreadPoolExecutor | None = None
BLOCK = 256  # prefix-sum snapshot spacing (power of two)
_PARALLEL_MIN = 200_000  # below this many scores the thread hand-off costs more than it saves


def kernels():
    """The numba kernel module (imported on first use so ``import fasfast.analysis`` is fast)."""
    from fasfast.analysis import _kernels

    return _kernels


def check_center(center: str) -> str:
    if center not in CENTERS:
        raise ValueError(f"unknown center {center!r}; choose one of {', '.join(CENTERS)}")
    return center


def check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ValueError(
            f"unknown convention {convention!r}; choose one of {', '.join(CONVENTIONS)}"
        )
    return convention


def as_scores(x, name: str = "scores") -> np.ndarray:
    """Validate a 1-D array of real scores (any float/int dtype); returns it as an ndarray."""
    a = np.asarray(x)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise TypeError(f"{name} must be a real numeric array, got dtype {a.dtype}")
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (an empty class cannot be analysed)")
    return a


def _bins_to_int(bins: np.ndarray) -> int:
    total = 0
    for e in np.flatnonzero(bins[0] | bins[1]):
        total += ((int(bins[0, e]) << 26) + int(bins[1, e])) << (int(e) - 1)
    return total


@dataclass
class SortedScores:
    """One class's scores sorted ascending (float64) with their exact sum.

    ``total`` is the exact sum times ``2**1074`` (a Python int), so ``mean`` is the correctly
    rounded mean and every comparison against it is exact.
    """

    p: np.ndarray
    total: int
    shift: float = 0.0  # the middle sample; running sums below are of y = p - shift
    snap_s: np.ndarray | None = field(default=None, repr=False)
    snap_q: np.ndarray | None = field(default=None, repr=False)
    sum_y: float = 0.0
    sum_y2: float = 0.0
    padded: np.ndarray | None = field(default=None, repr=False)  # p + [inf]
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        return int(self.p.size)

    @property
    def exact_sum(self) -> Fraction:
        return Fraction(self.total, 1 << 1074)

    def mean(self) -> float:
        return float(Fraction(self.total, self.n << 1074))


def sort_scores(x, name: str = "scores", negate: bool = False) -> SortedScores:
    """Validate, (negate,) sort ascending and sum one class exactly."""
    a = as_scores(x, name)
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    if negate:
        a = -a
    # sort in the input precision (widening afterwards is exact) into a buffer with one
    # trailing +inf sentinel for the merge kernels
    buf = np.empty(a.size + 1, np.float64)
    buf[-1] = np.inf
    if a.dtype == np.float64:
        buf[:-1] = a
        buf[:-1].sort()
    else:
        buf[:-1] = np.sort(a)
    p = buf[:-1]
    shift = float(p[p.size // 2])
    bins, bad, snap_s, snap_q, sy, sq = kernels().class_pass(p, shift, BLOCK)
    if bad:
        n_nan = int(np.isnan(p).sum())
        n_inf = int(bad) - n_nan
        what = ", ".join(
            s for s in (f"{n_nan} NaN" if n_nan else "", f"{n_inf} infinite" if n_inf else "") if s
        )
        raise ValueError(f"{name} contain {what} value(s); scores must be finite")
    return SortedScores(p, _bins_to_int(bins), shift, snap_s, snap_q, float(sy), float(sq), buf)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="fasfast-analysis")
    return _POOL


def parallel_enabled(n: int) -> bool:
    return n >= _PARALLEL_MIN and (os.cpu_count() or 1) > 1


def run_pair(fn, a, b, n_total: int):
    """``(fn(*a), fn(*b))``, on two threads when the work is large (numpy sort and the
    numba kernels release the GIL)."""
    if parallel_enabled(n_total):
        fa = _pool().submit(fn, *a)
        rb = fn(*b)
        return fa.result(), rb
    return fn(*a), fn(*b)


def sort_pair(live, attack, negate: bool = False) -> tuple[SortedScores, SortedScores]:
    live_a = as_scores(live, "live scores")
    attack_a = as_scores(attack, "attack scores")
    return run_pair(
        sort_scores,
        (live_a, "live scores", negate),
        (attack_a, "attack scores", negate),
        live_a.size + attack_a.size,
    )


def count_ge(p: np.ndarray, t: float) -> int:
    """``#{p >= t}`` for sorted ``p``."""
    return int(p.size - np.searchsorted(p, t, side="left"))


def count_lt(p: np.ndarray, t: float) -> int:
    """``#{p < t}`` for sorted ``p``."""
    return int(np.searchsorted(p, t, side="left"))
