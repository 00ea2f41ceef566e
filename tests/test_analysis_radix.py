"""The radix sort behind ``sort_scores`` against ``np.sort`` (float32 / float64, negated,
NaN of either sign, infinities, signed zeros, subnormals, ties, non-contiguous input)."""

import numpy as np
import pytest

from fasfast.analysis import _core, _kernels_sort
from fasfast.analysis._kernels_sort import SORT_ENV, radix_sort32, radix_sort64, use_radix


def _awkward(rng, n, dtype):
    fi = np.finfo(dtype)
    x = rng.normal(0.5, 0.2, n).astype(dtype)
    x[rng.integers(0, n, n // 50)] = rng.choice(
        np.array(
            [
                0.0,
                -0.0,
                np.inf,
                -np.inf,
                np.nan,
                -np.nan,
                fi.max,
                -fi.max,
                fi.tiny,
                -fi.tiny,
                fi.smallest_subnormal,
                -fi.smallest_subnormal,
            ],
            dtype,
        ),
        n // 50,
    )
    with np.errstate(over="ignore"):  # rounding the largest values overflows: fine
        x[: n // 10] = np.round(x[: n // 10], 2)  # many ties
    return x


def _same(got, want):
    """Equal as sorted arrays; NaNs last in both; -0.0 before +0.0 allowed either way."""
    k = int(np.count_nonzero(~np.isnan(want)))
    assert np.isnan(got[k:]).all()
    assert np.array_equal(got[:k], want[:k])  # -0.0 == 0.0
    assert np.all(got[:k][1:] >= got[:k][:-1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("negate", [False, True])
@pytest.mark.parametrize("n", [0, 1, 2, 1000, 70_000])
def test_radix_matches_np_sort(dtype, negate, n):
    rng = np.random.default_rng(n + 7 * negate)
    x = _awkward(rng, n, dtype) if n >= 50 else rng.normal(size=n).astype(dtype)
    out = np.empty_like(x)
    fn = radix_sort32 if dtype == np.float32 else radix_sort64
    n_nan = fn(x, out, negate)
    want = np.sort(-x if negate else x)
    assert n_nan == int(np.isnan(x).sum())
    _same(out, want)
    # in place (the output may be the input)
    y = x.copy()
    fn(y, y, negate)
    _same(y, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_radix_one_digit_everywhere(dtype):
    """Keys that agree on whole digits (passes skipped) and keys that differ only in the
    lowest bit."""
    x = np.full(40_000, 0.75, dtype)
    x[::3] = np.nextafter(dtype(0.75), dtype(1))
    out = np.empty_like(x)
    (radix_sort32 if dtype == np.float32 else radix_sort64)(x, out, False)
    assert np.array_equal(out, np.sort(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.float16])
@pytest.mark.parametrize("negate", [False, True])
def test_sort_scores_large_equals_small_path(dtype, negate, monkeypatch):
    rng = np.random.default_rng(3)
    x = _awkward(rng, 50_000, np.float64) if dtype != np.int64 else rng.integers(-9, 9, 50_000)
    with np.errstate(over="ignore"):  # float16 overflows to inf: fine here
        x = np.asarray(x).astype(dtype)
    if dtype != np.int64:
        x = x[np.isfinite(x) | np.isnan(x)]  # +inf with the dtype's max is refused
    x = x[::2]  # not contiguous
    monkeypatch.setattr(_core, "RADIX_MIN", 1 << 10)
    monkeypatch.setenv(SORT_ENV, "radix")
    radix = _core.sort_scores(x, negate=negate)
    monkeypatch.setenv(SORT_ENV, "numpy")
    plain = _core.sort_scores(x, negate=negate)
    assert radix.p.dtype == plain.p.dtype
    assert (radix.n_nan, radix.n_neg_inf, radix.n_pos_inf) == (
        plain.n_nan,
        plain.n_neg_inf,
        plain.n_pos_inf,
    )
    assert np.array_equal(radix.p, plain.p)
    assert radix.padded[-1] == np.inf


def test_use_radix_forced_and_timed(monkeypatch):
    monkeypatch.setenv(SORT_ENV, "numpy")
    assert use_radix(np.float32) is False
    monkeypatch.setenv(SORT_ENV, "radix")
    assert use_radix(np.float64) is True
    monkeypatch.setenv(SORT_ENV, "auto")
    monkeypatch.setattr(_kernels_sort, "_CHOICE", {})
    first = use_radix(np.float32)
    assert isinstance(first, bool) and use_radix(np.float32) is first  # timed once, kept
