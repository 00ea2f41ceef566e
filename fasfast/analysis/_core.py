"""Input checks, sorting and exact sums shared by the analysis modules.

Scores keep their precision: float32 input is sorted and swept as float32 (every decision
is a comparison between observed scores, exact in any precision); integers and mixed inputs
become float64. NaN scores are non-responses: the sort (a numba radix sort, ``np.sort`` for
small classes) puts them last, so they are cut off the sorted array and counted without
another pass. Infinite scores are valid scores: a ``+inf`` is stored as the largest finite value of the dtype (the merge kernels pad each class
with one ``+inf`` sentinel), which keeps every order and tie; thresholds are mapped back.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

CENTERS = ("mean", "median", "balance", "weighted_balance")
CONVENTIONS = ("paper", "code")
NAN_POLICIES = ("nonresponse", "error")
RESAMPLE = ("auto", "presentations", "videos", "subjects")  # bootstrap resampling units
_POOL: ThreadPoolExecutor | None = None
BLOCK = 256  # prefix-sum snapshot spacing (power of two)
_PARALLEL_MIN = 200_000  # below this many scores the thread hand-off costs more than it saves
RADIX_MIN = 1 << 17  # from this many scores a class may be radix sorted (sort_into)


def kernels():
    """The numba kernel module (imported on first use so ``import fasfast.analysis`` is fast)."""
    from fasfast.analysis import _kernels

    return _kernels


def check_choice(value: str, choices, what: str) -> str:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")
    return value


def check_center(center: str) -> str:
    return check_choice(center, CENTERS, "center")


def check_convention(convention: str) -> str:
    return check_choice(convention, CONVENTIONS, "convention")


def as_scores(x, name: str = "scores", allow_empty: bool = False) -> np.ndarray:
    """Validate a 1-D array of real scores (any float/int dtype); returns it as an ndarray."""
    a = np.asarray(x)
    if a.dtype == object or a.dtype.kind in "USb":
        raise TypeError(f"{name} must be a real numeric array, got dtype {a.dtype}")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise TypeError(f"{name} must be a real numeric array, got dtype {a.dtype}")
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.size == 0 and not allow_empty:
        raise ValueError(f"{name} is empty (an empty class cannot be analysed)")
    return a


def as_live_mask(x, name: str = "is_live") -> np.ndarray:
    """A bool [N] from booleans or the numbers 0 / 1 (1 = bona fide). Any other value (a
    label 2, -1, 0.5) is an error rather than read as "not zero"."""
    a = np.asarray(x)
    if a.dtype == bool:
        return a
    if a.dtype == object or a.dtype.kind in "USb":
        raise TypeError(f"{name} must hold booleans or 0/1, got dtype {a.dtype}")
    bad = np.flatnonzero((a != 0) & (a != 1))
    if bad.size:
        raise ValueError(
            f"{name} must hold booleans or 0/1 (1 = bona fide), got "
            f"{a.flat[bad[0]].item()!r} at index {int(bad[0])}"
        )
    return a.astype(bool)


def score_dtype(*arrays) -> type:
    """float32 when every input is float32 (or narrower float), else float64."""
    for a in arrays:
        if a is None:
            continue
        dt = np.asarray(a).dtype
        if not (dt.kind == "f" and dt.itemsize <= 4):
            return np.float64
    return np.float32


def bins_to_int(bins: np.ndarray) -> int:
    total = 0
    for e in np.flatnonzero(bins[0] | bins[1]):
        total += ((int(bins[0, e]) << 26) + int(bins[1, e])) << (int(e) - 1)
    return total


@dataclass
class FiniteScores:
    """The finite scores of one class, sorted ascending, with their exact sum.

    ``total`` is the exact sum times ``2**1074`` (a Python int), so ``mean`` is the correctly
    rounded mean and every comparison against it is exact. ``p`` keeps the input dtype.
    """

    p: np.ndarray
    total: int
    shift: float = 0.0  # the middle sample; running sums below are of y = p - shift
    snap_s: np.ndarray | None = field(default=None, repr=False)
    snap_q: np.ndarray | None = field(default=None, repr=False)
    sum_y: float = 0.0
    sum_y2: float = 0.0
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        return int(self.p.size)

    @property
    def exact_sum(self) -> Fraction:
        return Fraction(self.total, 1 << 1074)

    def mean(self) -> float:
        return float(Fraction(self.total, self.n << 1074))


def finite_pass(p: np.ndarray) -> FiniteScores:
    """Exact sum and prefix snapshots of sorted finite scores (one blockwise pass)."""
    if p.size == 0:
        return FiniteScores(p, 0, 0.0, np.zeros(1), np.zeros(1), 0.0, 0.0)
    k = kernels()
    shift = float(p[p.size // 2])
    fn = k.class_pass32 if p.dtype == np.float32 else k.class_pass
    bins, bad, snap_s, snap_q, sy, sq = fn(p, shift, BLOCK)
    if bad:  # callers pass finite slices only
        raise AssertionError("non-finite score in a finite slice")
    return FiniteScores(p, bins_to_int(bins), shift, snap_s, snap_q, float(sy), float(sq))


@dataclass
class SortedScores:
    """One class's responses sorted ascending in their own dtype (float32 or float64).

    ``padded`` is ``p`` followed by one ``+inf`` sentinel (the merge kernels read it).
    ``n_nan`` counts the NaN scores cut off (non-responses); ``n_neg_inf`` / ``n_pos_inf``
    the infinite ones, which stay in ``p`` (``+inf`` stored as :attr:`big`, the largest
    finite value of the dtype). :attr:`fin` holds the finite scores with exact sums.
    """

    p: np.ndarray
    padded: np.ndarray = field(repr=False)
    n_nan: int = 0
    n_neg_inf: int = 0
    n_pos_inf: int = 0
    _fin: FiniteScores | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return int(self.p.size)

    @property
    def dtype(self):
        return self.p.dtype

    @property
    def big(self) -> float:
        return float(np.finfo(self.p.dtype).max)

    @property
    def fin(self) -> FiniteScores:
        if self._fin is None:
            self._fin = finite_pass(self.p[self.n_neg_inf : self.n - self.n_pos_inf])
        return self._fin

    # the domain statistics and the balance point read these through ``fin``
    @property
    def exact_sum(self) -> Fraction:
        return self.fin.exact_sum

    def mean(self) -> float:
        return self.fin.mean()


def from_sorted(p: np.ndarray) -> SortedScores:
    """:class:`SortedScores` of an already sorted array without NaN (``+inf`` already stored
    as the dtype's largest value), e.g. a bootstrap resample of a sorted class."""
    buf = np.empty(p.size + 1, p.dtype)
    buf[:-1] = p
    buf[-1] = np.inf
    big = np.finfo(p.dtype).max
    # keys in the array's dtype: a Python float key makes numpy copy a float32 array to
    # float64 first (10 ms at 5e6 scores)
    n_neg = int(np.searchsorted(buf[:-1], p.dtype.type(-np.inf), side="right"))
    n_pos = int(p.size - np.searchsorted(buf[:-1], big, side="left"))
    return SortedScores(buf[:-1], buf, 0, n_neg, n_pos)


def sort_into(a: np.ndarray, out: np.ndarray, negate: bool) -> None:
    """``out[:] = sort(-a if negate else a)`` in ``out``'s dtype, NaNs last: from
    :data:`RADIX_MIN` scores with a numba radix sort where it beats ``np.sort`` on this
    machine (:func:`fasfast.analysis._kernels_sort.use_radix`), else with ``np.sort``."""
    from fasfast.analysis import _kernels_sort as ks

    if a.size >= RADIX_MIN and ks.use_radix(out.dtype):
        src = a
        if a.dtype != out.dtype or not a.flags.c_contiguous:
            out[:] = a  # converted in place, then sorted in place
            src = out
        fn = ks.radix_sort32 if out.dtype == np.float32 else ks.radix_sort64
        fn(src, out, negate)
        return
    if negate:
        np.negative(a, out=out, casting="unsafe")
    else:
        out[:] = a
    out.sort()


def sort_scores(
    x, name: str = "scores", negate: bool = False, dtype=None, nan_policy: str = "nonresponse"
) -> SortedScores:
    """Validate, (negate,) sort ascending in ``dtype``; NaNs become non-responses.

    Raises ValueError for NaN with ``nan_policy="error"`` and when ``+inf`` and the largest
    finite value of the dtype both occur (they would tie as stored).
    """
    check_choice(nan_policy, NAN_POLICIES, "nan_policy")
    a = as_scores(x, name, allow_empty=True)
    dtype = np.dtype(dtype or score_dtype(a))
    buf = np.empty(a.size + 1, dtype)
    sort_into(a, buf[:-1], negate)
    key = dtype.type  # searched with keys of the array's dtype (see from_sorted)
    k = int(np.searchsorted(buf[:-1], key(np.nan)))  # NaNs sort last
    n_nan = a.size - k
    if n_nan and nan_policy == "error":
        raise ValueError(
            f"{name} contain {n_nan} NaN value(s) (non-responses); nan_policy='error' refuses them"
        )
    buf[k] = np.inf
    p = buf[:k]
    n_neg = int(np.searchsorted(p, key(-np.inf), side="right"))
    j = int(np.searchsorted(p, key(np.inf), side="left"))
    n_pos = k - j
    if n_pos:
        big = np.finfo(dtype).max
        if j > 0 and p[j - 1] == big:
            raise ValueError(
                f"{name} hold both +inf and the largest finite {dtype} value; "
                "they cannot be told apart in the merge"
            )
        p[j:] = big
    return SortedScores(p, buf[: k + 1], n_nan, n_neg, n_pos)


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


def run_many(fn, args: list, n_total: int) -> list:
    """``[fn(*a) for a in args]``, spread over two threads when the work is large."""
    if len(args) < 2 or not parallel_enabled(n_total):
        return [fn(*a) for a in args]
    futures = [_pool().submit(fn, *a) for a in args[1:]]
    first = fn(*args[0])
    return [first] + [f.result() for f in futures]


def exact_range_sums(p: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Exact bins of ``sum p[lo:hi]`` (rows 0, 1) and of the squares (rows 2, 3)."""
    k = kernels()
    fn = k.exact_range_sums32 if p.dtype == np.float32 else k.exact_range_sums
    return fn(p, lo, hi, BLOCK)


def ss(p: np.ndarray, v: float, side: str = "left") -> int:
    """``np.searchsorted(p, v, side)`` with exact float64 semantics for any ``p`` dtype.

    A float32 ``p`` searched with a float64 key would be copied to float64 by numpy (10 ms
    at 5e6 scores); the key is rounded instead, exactly: ``p < v`` iff ``p < ceil32(v)``
    (side "left") and ``p <= v`` iff ``p <= floor32(v)`` (side "right") for float32 ``p``.
    """
    if p.dtype == np.float32:
        v = float(v)
        k = np.float32(v)
        if v == v and float(k) != v:
            up = side == "left"
            if (float(k) < v) == up:
                k = np.nextafter(k, np.float32(np.inf if up else -np.inf))
        return int(np.searchsorted(p, k, side=side))
    return int(np.searchsorted(p, v, side=side))


def count_ge(p: np.ndarray, t: float) -> int:
    """``#{p >= t}`` for sorted ``p``."""
    return int(p.size - ss(p, t, "left"))


def count_lt(p: np.ndarray, t: float) -> int:
    """``#{p < t}`` for sorted ``p``."""
    return ss(p, t, "left")


def units_of(ss, resample: str = "auto"):
    """``(unit ids or None, what)`` for resampling ``ss``: with "auto", whole videos when it
    has several rows per video, else whole subjects when it names subjects with several
    presentations each, else single presentations."""
    check_choice(resample, RESAMPLE, "resample unit")
    videos = getattr(ss, "videos", None)
    subjects = getattr(ss, "subjects", None)
    if resample == "presentations":
        return None, "presentations"
    if resample == "subjects":
        if subjects is None or not np.any(subjects != ""):
            raise ValueError(
                f"{ss.name or 'scores'}: --resample subjects needs subject ids "
                "(a 'subject' / 'claimed_id' column)"
            )
        return subjects, "subjects"
    if resample == "videos":
        if videos is None:
            raise ValueError(f"{ss.name or 'scores'}: --resample videos needs video ids")
        return videos, "videos"
    if videos is not None and np.unique(videos).size < len(ss):
        return videos, "videos"
    if subjects is not None and np.any(subjects != "") and np.unique(subjects).size < len(ss):
        return subjects, "subjects"
    return None, "presentations"
