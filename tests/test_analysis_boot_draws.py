"""The binned bootstrap's random draws follow the laws they stand for: the binomial sampler
(BTRD above a mean of 30, inversion below) against ``scipy.stats.binom``, and a
replicate's per-bin counts against the multinomial law of resampling with replacement."""

import itertools
import math

import numpy as np
import pytest
from numba import njit
from scipy import stats

from fasfast.analysis import _kernels_boot as kb
from fasfast.analysis._boot_binned import Layout
from fasfast.analysis.bootstrap import Strata


@njit(cache=False)
def _many_binomials(n, p, m, seed):
    np.random.seed(seed)
    Z = np.zeros(kb.HEADER, np.int64)
    Z[kb.H_RNG] = np.random.randint(1, 2**62)
    out = np.empty(m, np.int64)
    for i in range(m):
        out[i] = kb._binomial(Z, n, p)
    return out


def _chisquare_p(x, n, p):
    """Goodness of fit of the draws ``x`` to Binomial(n, p), cells with >= 5 expected."""
    lo, hi = (int(v) for v in stats.binom.ppf([1e-6, 1 - 1e-6], n, p))
    k = np.arange(lo, hi + 1)
    exp = stats.binom.pmf(k, n, p) * x.size
    exp[0] += stats.binom.cdf(lo - 1, n, p) * x.size
    exp[-1] += stats.binom.sf(hi, n, p) * x.size
    obs = np.bincount(np.clip(x, lo, hi) - lo, minlength=k.size).astype(float)
    o, e, ao, ae = [], [], 0.0, 0.0
    for oi, ei in zip(obs, exp):  # pool neighbouring cells up to 5 expected
        ao, ae = ao + oi, ae + ei
        if ae >= 5:
            o.append(ao)
            e.append(ae)
            ao = ae = 0.0
    o[-1] += ao
    e[-1] += ae
    e = np.array(e) * (sum(o) / sum(e))
    return stats.chisquare(o, e).pvalue


@pytest.mark.parametrize(
    "n,p",
    [
        (100, 0.4),  # BTRD, mode recursion (|k - m| <= 15) mostly
        (1000, 0.03),  # BTRD near its lower mean
        (5000, 0.5),  # BTRD, squeeze and log-ratio branches
        (500_000, 1 / 1024),  # the bootstrap's typical bin
        (10**6, 0.999),  # flipped p
        (37, 0.9),  # flipped, small mean: inversion
        (200, 0.05),  # inversion
        (500_000, 1e-5),  # inversion, a sparse bin of a large class
        (59, 0.5),  # inversion at the largest p
    ],
)
def test_binomial_sampler_matches_scipy(n, p):
    x = _many_binomials(n, p, 200_000, 7)
    assert x.min() >= 0 and x.max() <= n
    assert abs(x.mean() - n * p) < 5 * math.sqrt(n * p * (1 - p) / x.size)
    assert _chisquare_p(x, n, p) > 1e-3


def test_binomial_sampler_edges():
    assert (_many_binomials(0, 0.3, 10, 1) == 0).all()
    assert (_many_binomials(50, 0.0, 10, 1) == 0).all()
    assert (_many_binomials(50, 1.0, 10, 1) == 50).all()


@njit(cache=False)
def _bin_counts(F, Z, reps):
    K = Z[kb.H_K]
    C = Z[kb.H_C]
    out = np.empty((reps, C, K), np.int64)
    for r in range(reps):
        np.random.seed(r)
        Z[kb.H_RNG] = np.random.randint(1, 2**62)
        kb._draw_bins(F, Z)
        for c in range(C):
            for b in range(K):
                out[r, c, b] = Z[kb._tab(Z, b, 2 * C + c)]
    return out


def test_bin_counts_follow_the_multinomial_law():
    """A stratum of 12 presentations over 4 bins: the joint law of the bin counts (all 455
    outcomes) against the multinomial pmf; the other stratum's counts are independent."""
    live = np.array([0.1, 0.15, 0.2, 0.3, 0.35, 0.5, 0.55, 0.6, 0.62, 0.7, 0.9, 0.95])
    attack = np.array([0.05, 0.12, 0.4, 0.45, 0.66, 0.8, 0.85])
    lay = Layout(Strata(live, attack), 4)
    F, Z = kb.pack(lay.vals, lay.soff, lay.cuts, lay.allv, lay.attv, lay.bstart, lay.bend, 0)
    reps = 40_000
    w = _bin_counts(F, Z, reps)
    assert (w.sum(axis=2) == [[12, 7]]).all()
    rr = (lay.bend - lay.bstart)[:, 0]
    pv = rr / rr.sum()
    outcomes = [c for c in itertools.product(range(13), repeat=4) if sum(c) == 12]
    index = {c: i for i, c in enumerate(outcomes)}
    obs = np.bincount([index[tuple(v)] for v in w[:, 0, :]], minlength=len(outcomes))
    exp = np.array([stats.multinomial.pmf(c, 12, pv) for c in outcomes]) * reps
    keep = exp >= 5
    o = np.r_[obs[keep], obs[~keep].sum()]
    e = np.r_[exp[keep], exp[~keep].sum()]
    assert stats.chisquare(o, e * o.sum() / e.sum()).pvalue > 1e-3
    # independence of the strata: the live count of bin 0 against the attack count of bin 0
    assert abs(np.corrcoef(w[:, 0, 0], w[:, 1, 0])[0, 1]) < 4 / math.sqrt(reps)
