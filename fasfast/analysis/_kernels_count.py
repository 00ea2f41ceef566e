"""Counts at one threshold over unsorted scores (numba): what ``pad_metrics`` reads, in one
pass, on all threads for large inputs."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_NB = dict(cache=True, nogil=True, fastmath=False)


@njit(**_NB)
def _count_pooled(scores, live, t, higher_is_live, lo, hi, n_resp, n_acc, n_nan):
    """:func:`_count_chunk` without species (slots 0 bona fide, 1 attack), branch-free so
    that it vectorises: totals and the bona fide share of each count, attacks by difference."""
    n_l = np.int64(0)
    acc = np.int64(0)
    acc_l = np.int64(0)
    nan = np.int64(0)
    nan_l = np.int64(0)
    for i in range(lo, hi):
        s = np.float64(scores[i])
        lv = np.int64(live[i])
        a = np.int64(s >= t) if higher_is_live else np.int64(s <= t)
        nn = np.int64(s != s)
        n_l += lv
        acc += a
        acc_l += lv & a
        nan += nn
        nan_l += lv & nn
    n_a = (hi - lo) - n_l
    n_nan[0] += nan_l
    n_nan[1] += nan - nan_l
    n_resp[0] += n_l - nan_l
    n_resp[1] += n_a - (nan - nan_l)
    n_acc[0] += acc_l
    n_acc[1] += acc - acc_l


@njit(**_NB)
def _count_chunk(scores, live, types, n_types, t, higher_is_live, lo, hi, n_resp, n_acc, n_nan):
    typed = types.size > 0
    if not typed:
        _count_pooled(scores, live, t, higher_is_live, lo, hi, n_resp, n_acc, n_nan)
        return
    for i in range(lo, hi):
        s = np.float64(scores[i])
        slot = 0
        if not live[i]:
            slot = 1 + types[i] if typed else 1
        if s != s:
            n_nan[slot] += 1
            continue
        n_resp[slot] += 1
        if higher_is_live:
            if s >= t:
                n_acc[slot] += 1
        elif s <= t:
            n_acc[slot] += 1


@njit(**_NB)
def count_at_serial(scores, live, types, n_types, t, higher_is_live):
    """:func:`count_at` on one thread (below a few million scores the thread hand-off costs
    more than it saves)."""
    k = 1 + n_types
    n_resp = np.zeros(k, np.int64)
    n_acc = np.zeros(k, np.int64)
    n_nan = np.zeros(k, np.int64)
    _count_chunk(
        scores, live, types, n_types, t, higher_is_live, 0, scores.size, n_resp, n_acc, n_nan
    )
    return n_resp, n_acc, n_nan


@njit(parallel=True, cache=True)
def count_at(scores, live, types, n_types, t, higher_is_live):
    """Counts at one threshold over unsorted scores, in one pass (chunks on all threads).

    ``live``: bool [N]; ``types``: int32 [N] species codes of the attack rows (length 0: one
    species). Returns ``(n_resp, n_acc, n_nan)`` int64 arrays of length ``1 + n_types``: slot
    0 is bona fide (``n_acc`` = accepted), slot ``1 + code`` a species. Accepted iff
    ``score >= t`` (``<= t`` when ``higher_is_live`` is False), compared in float64.
    """
    k = 1 + n_types
    n = scores.size
    chunks = max(1, min(16, n // 262144))
    parts = np.zeros((chunks, 3, k), np.int64)
    per = (n + chunks - 1) // chunks
    for ch in prange(chunks):
        _count_chunk(
            scores,
            live,
            types,
            n_types,
            t,
            higher_is_live,
            ch * per,
            min(n, (ch + 1) * per),
            parts[ch, 0],
            parts[ch, 1],
            parts[ch, 2],
        )
    tot = parts.sum(axis=0)
    return tot[0].copy(), tot[1].copy(), tot[2].copy()
