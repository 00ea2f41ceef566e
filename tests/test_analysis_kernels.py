"""The numba kernels under the analysis: the blockwise class pass and the segmented sweep.

The public functions are held to brute force in the other analysis tests; these tests hit
the paths that only large inputs take there (two-thread sweep, whole-block integer sums).
"""

import math
import zlib
from fractions import Fraction

import numpy as np
import pytest
from _analysis_oracle import thresholds_oracle

from fasfast.analysis import _classes as classes_mod
from fasfast.analysis import _kernels as K
from fasfast.analysis import select_thresholds
from fasfast.analysis._core import BLOCK, bins_to_int


def _padded(x):
    return np.r_[np.sort(np.asarray(x, np.float64)), np.inf]


def _cases(rng):
    for _ in range(40):
        n, m = (int(v) for v in rng.integers(1, 60, 2))
        kind = rng.integers(0, 4)
        if kind == 0:  # heavy ties
            yield rng.integers(0, 6, n) / 8.0, rng.integers(0, 6, m) / 8.0
        elif kind == 1:
            yield rng.normal(0.6, 0.2, n), rng.normal(0.4, 0.2, m)
        elif kind == 2:  # one class far below the other
            yield rng.uniform(0.5, 1.0, n), rng.uniform(-1.0, 0.0, m)
        else:  # long same-class runs with ties inside and across the classes
            yield (
                np.repeat(rng.integers(0, 12, 8), rng.integers(1, 9, 8)) / 4.0,
                np.repeat(rng.integers(0, 12, 8), rng.integers(1, 9, 8)) / 4.0
                + 0.125 * (rng.random() < 0.5),
            )


RUN_MINS = (1, 2, 3, 8, 10**9)  # 10**9: never in bulk (the plain one-by-one merge)


def _boundaries(live, attack):
    """Every tie-group boundary (i, j) of the merged order except (0, 0)."""
    vals = np.unique(np.r_[live[:-1], attack[:-1]])
    for v in vals[1:]:
        yield int(np.searchsorted(live[:-1], v)), int(np.searchsorted(attack[:-1], v))


@pytest.mark.parametrize("run_min", RUN_MINS)
def test_sweep_segments_combine_to_the_whole(run_min):
    rng = np.random.default_rng(11)
    for live, attack in _cases(rng):
        L, A = _padded(live), _padded(attack)
        n, m = L.size - 1, A.size - 1
        whole = K.sweep(L, A, run_min=10**9)
        assert K.sweep(L, A, run_min=run_min) == whole
        assert K.sweep(L, A, lambda fn, a, b: (fn(*a), fn(*b)), run_min=run_min) == whole
        for i, j in _boundaries(L, A):
            left = K.sweep_segment(L, A, 0, 0, i, j, True, run_min)
            right = K.sweep_segment(L, A, i, j, n, m, False, run_min)
            assert K.finish_sweep(K.combine_sweeps(left, right)) == whole, (i, j)


@pytest.mark.parametrize("run_min", RUN_MINS)
def test_sweep_segment_bulk_runs_change_nothing(run_min):
    """Every field of a segment, the crossing records included, equals the plain merge's."""
    rng = np.random.default_rng(16)

    def same(u, v):
        return all((a == b) or (a != a and b != b) for a, b in zip(u, v, strict=True))

    for live, attack in _cases(rng):
        L, A = _padded(live), _padded(attack)
        n, m = L.size - 1, A.size - 1
        for i, j in [(0, 0), *_boundaries(L, A)]:
            for lo, hi in (((0, 0), (i, j)), ((i, j), (n, m))):
                args = (L, A, *lo, *hi, lo == (0, 0))
                got = K.sweep_segment(*args, run_min)
                want = K.sweep_segment(*args, 10**9)
                assert same(got, want), (lo, hi, got, want)


@pytest.mark.parametrize("run_min", RUN_MINS)
def test_sweep_auc_and_eer_brute_force(run_min):
    rng = np.random.default_rng(12)
    for live, attack in _cases(rng):
        L, A = _padded(live), _padded(attack)
        acer_lo, acer_hi, best, eer_lo, eer_hi, auc2 = K.sweep(L, A, run_min=run_min)
        want_auc2 = int(
            2 * (live[:, None] > attack[None, :]).sum() + (live[:, None] == attack[None, :]).sum()
        )
        assert auc2 == want_auc2
        # |a*N - b*M| over every distinct interval, by brute force
        n, m = live.size, attack.size
        u = np.unique(np.r_[live, attack])
        ends = np.r_[u, np.inf]
        starts = np.r_[-np.inf, u]
        gaps = [abs(int((attack >= t).sum()) * n - int((live < t).sum()) * m) for t in ends]
        k = [i for i, g in enumerate(gaps) if g == min(gaps)]
        assert (eer_lo, eer_hi) == (starts[k[0]], ends[k[-1]])
        costs = [int((attack >= t).sum()) * n + int((live < t).sum()) * m for t in ends]
        k = [i for i, c in enumerate(costs) if c == min(costs)]
        assert (acer_lo, acer_hi, best) == (starts[k[0]], ends[k[-1]], min(costs))


def test_merge_split_is_a_tie_boundary_near_the_middle():
    rng = np.random.default_rng(13)
    for live, attack in _cases(rng):
        L, A = _padded(live), _padded(attack)
        i, j = K.merge_split(L, A)
        if i + j == 0:
            continue
        v = min(L[i], A[j])
        assert L[:i].max(initial=-np.inf) < v and A[:j].max(initial=-np.inf) < v
        assert L[i] >= v and A[j] >= v


@pytest.mark.parametrize("kind", ["ties", "overlap", "separable"])
def test_thresholds_through_the_two_thread_path(monkeypatch, kind):
    monkeypatch.setattr(classes_mod, "parallel_enabled", lambda n: True)
    rng = np.random.default_rng(zlib.crc32(kind.encode()))
    for _ in range(15):
        n, m = (int(v) for v in rng.integers(1, 50, 2))
        if kind == "ties":
            live, attack = rng.integers(0, 9, n) / 16 + 0.25, rng.integers(0, 9, m) / 16
        elif kind == "overlap":
            live, attack = rng.normal(0.5, 0.2, n), rng.normal(0.45, 0.2, m)
        else:
            live, attack = rng.uniform(0.6, 1.0, n), rng.uniform(0.0, 0.4, m)
        got = select_thresholds(live, attack)
        want = thresholds_oracle(live, attack)
        for f in ("acer_point", "acer_left", "acer_right", "min_acer", "eer"):
            assert getattr(got, f) == want[f], (kind, f)


def _mixed_scores(rng, n):
    """Random doubles over many exponents and both signs, with zeros and subnormals."""
    x = rng.normal(0, 1, n) * np.exp2(rng.integers(-60, 60, n))
    x[rng.random(n) < 0.05] = 0.0
    sub = rng.random(n) < 0.03
    x[sub] = rng.normal(0, 1, sub.sum()) * 5e-320
    # long runs in one binade so whole blocks take the integer path
    x[: n // 3] = rng.uniform(1.0, 2.0, n // 3)
    return np.sort(x)


def test_class_pass_exact_sum_and_snapshots():
    rng = np.random.default_rng(14)
    for n in (1, 3, BLOCK - 1, BLOCK, BLOCK + 1, 5 * BLOCK, 7 * BLOCK + 13):
        p = _mixed_scores(rng, n)
        shift = float(p[n // 2])
        bins, bad, snap_s, snap_q, sy, sq = K.class_pass(p, shift, BLOCK)
        assert bad == 0
        assert Fraction(bins_to_int(bins), 1 << 1074) == sum(Fraction(float(v)) for v in p)
        y = p - shift
        assert snap_s.size == n // BLOCK + 1
        for k in range(snap_s.size):
            part = y[: k * BLOCK]
            scale = np.abs(part).sum() + 1e-300
            assert abs(snap_s[k] - math.fsum(part)) <= 1e-13 * scale
            assert abs(snap_q[k] - math.fsum(part * part)) <= 1e-13 * ((part * part).sum() + 1e-300)
        assert abs(sy - math.fsum(y)) <= 1e-13 * (np.abs(y).sum() + 1e-300)
        assert abs(sq - math.fsum(y * y)) <= 1e-13 * ((y * y).sum() + 1e-300)


def test_class_pass_counts_non_finite():
    rng = np.random.default_rng(15)
    p = np.sort(np.r_[rng.uniform(1, 2, 3 * BLOCK), -np.inf, np.inf, np.inf, np.nan])
    bins, bad, *_ = K.class_pass(p, 1.5, BLOCK)
    assert bad == 4
    finite = p[np.isfinite(p)]
    assert Fraction(bins_to_int(bins), 1 << 1074) == sum(Fraction(float(v)) for v in finite)


def test_exact_range_sums_of_values_and_squares():
    rng = np.random.default_rng(17)
    for n in (1, BLOCK - 1, BLOCK + 5, 6 * BLOCK + 7):
        x = rng.normal(0, 1, n) * np.exp2(rng.integers(-40, 40, n))
        x[rng.random(n) < 0.05] = 0.0
        x[: n // 2] = rng.uniform(0.5, 1.0, n // 2)  # whole blocks in one binade
        x[n // 2 : n // 2 + n // 4] = -rng.uniform(2.0, 4.0, n // 4)
        p = np.sort(x)
        for lo, hi in ((0, n), (0, n // 3), (n // 3, n), (n // 5, n // 5 + BLOCK + 3)):
            hi = min(hi, n)
            bins = K.exact_range_sums(p, lo, hi, BLOCK)
            part = [Fraction(float(v)) for v in p[lo:hi]]
            assert Fraction(bins_to_int(bins[0:2]), 1 << 1074) == sum(part, Fraction(0))
            assert Fraction(bins_to_int(bins[2:4]), 1 << 1074) == sum(
                (f * f for f in part), Fraction(0)
            )


def _mixed32(rng, n):
    x = (rng.normal(0, 1, n) * np.exp2(rng.integers(-30, 30, n))).astype(np.float32)
    x[rng.random(n) < 0.05] = 0.0
    sub = rng.random(n) < 0.03
    x[sub] = np.float32(1e-45) * rng.integers(1, 50, sub.sum())  # subnormal float32
    x[: n // 3] = rng.uniform(1.0, 2.0, n // 3).astype(np.float32)  # whole blocks in a binade
    return np.sort(x)


def test_float32_class_pass_and_range_sums_are_exact():
    """float32 scores are read as float32 (never widened in memory) and summed exactly."""
    rng = np.random.default_rng(31)
    for n in (1, 3, BLOCK - 1, BLOCK, BLOCK + 1, 5 * BLOCK + 13):
        p = _mixed32(rng, n)
        shift = float(p[n // 2])
        bins, bad, snap_s, snap_q, sy, sq = K.class_pass32(p, shift, BLOCK)
        assert bad == 0
        assert Fraction(bins_to_int(bins), 1 << 1074) == sum(Fraction(float(v)) for v in p)
        y = p.astype(np.float64) - shift
        assert abs(sy - math.fsum(y)) <= 1e-13 * (np.abs(y).sum() + 1e-300)
        assert abs(sq - math.fsum(y * y)) <= 1e-13 * ((y * y).sum() + 1e-300)
        for k in range(snap_s.size):
            part = y[: k * BLOCK]
            assert abs(snap_s[k] - math.fsum(part)) <= 1e-13 * (np.abs(part).sum() + 1e-300)
        for lo, hi in ((0, n), (n // 3, n), (0, n // 2)):
            b = K.exact_range_sums32(p, lo, hi, BLOCK)
            part = [Fraction(float(v)) for v in p[lo:hi]]
            assert Fraction(bins_to_int(b[0:2]), 1 << 1074) == sum(part, Fraction(0))
            assert Fraction(bins_to_int(b[2:4]), 1 << 1074) == sum(
                (f * f for f in part), Fraction(0)
            )
    p = np.sort(np.r_[rng.uniform(1, 2, 3 * BLOCK), -np.inf, np.inf, np.nan]).astype(np.float32)
    assert K.class_pass32(p, 1.5, BLOCK)[1] == 3


def test_count_at_matches_numpy_on_every_chunking():
    rng = np.random.default_rng(32)
    for n in (5, 1000, 600_000):
        s = rng.random(n).astype(np.float32)
        s[rng.random(n) < 0.01] = np.nan
        live = rng.random(n) < 0.4
        types = rng.integers(0, 3, n).astype(np.int32)
        t = 0.5
        r, a, nan = K.count_at(s, live, types, 3, t, True)
        att = ~live
        assert r[0] == (live & ~np.isnan(s)).sum() and a[0] == (live & (s >= t)).sum()
        for k in range(3):
            m = att & (types == k)
            assert (r[k + 1], a[k + 1], nan[k + 1]) == (
                (m & ~np.isnan(s)).sum(),
                (m & (s >= t)).sum(),
                (m & np.isnan(s)).sum(),
            )
        r2, a2, _ = K.count_at(s, live, np.empty(0, np.int32), 1, t, False)
        assert a2[1] == (att & (s <= t)).sum()
        # without species (the branch-free pass), both rules, float32 and float64 scores
        for x in (s, s.astype(np.float64)):
            for hi_live in (True, False):
                acc = (x >= t) if hi_live else (x <= t)
                want = (
                    [(live & ~np.isnan(x)).sum(), (att & ~np.isnan(x)).sum()],
                    [(live & acc).sum(), (att & acc).sum()],
                    [(live & np.isnan(x)).sum(), (att & np.isnan(x)).sum()],
                )
                for fn in (K.count_at, K.count_at_serial):
                    got = fn(x, live, np.empty(0, np.int32), 1, t, hi_live)
                    assert [g.tolist() for g in got] == [[int(v) for v in w] for w in want]
        serial = K.count_at_serial(s, live, types, 3, t, True)
        assert all((x == y).all() for x, y in zip(serial, (r, a, nan)))


def test_searchsorted_float32_keys_are_exact():
    """A float64 threshold on float32 scores: the rounded key keeps every decision."""
    from fasfast.analysis._core import ss

    rng = np.random.default_rng(33)
    p = np.sort(rng.random(1000).astype(np.float32))
    for v in np.r_[
        p[:50].astype(np.float64),
        np.nextafter(p[:50].astype(np.float64), 2),
        np.nextafter(p[:50].astype(np.float64), -1),
        rng.random(50),
        -np.inf,
        np.inf,
    ]:
        assert ss(p, v, "left") == int((p.astype(np.float64) < v).sum())
        assert ss(p, v, "right") == int((p.astype(np.float64) <= v).sum())
