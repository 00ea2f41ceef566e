"""Frame sampling: non-overlapping windows and random windows."""

import numpy as np
import pytest

from fasfast.data import random_sequence, sample_sequences, window_span


def test_paper_example():
    assert sample_sequences(30) == [[0, 3, 6, 9], [10, 13, 16, 19], [20, 23, 26, 29]]


@pytest.mark.parametrize(
    "n,length,interval", [(10, 4, 3), (35, 4, 3), (7, 2, 5), (9, 1, 1), (100, 3, 2), (11, 4, 3)]
)
def test_windows_brute_force(n, length, interval):
    span = (length - 1) * interval + 1
    assert window_span(length, interval) == span
    expect, start = [], 0
    while start + span <= n:  # oracle: greedy tiling from frame 0
        expect.append(list(range(start, start + span, interval)))
        start += span
    got = sample_sequences(n, length, interval)
    assert got == expect
    used = [i for w in got for i in w]
    assert len(used) == len(set(used)) and max(used) < n


def test_short_video_clamps_to_last_frame():
    assert sample_sequences(5) == [[0, 3, 4, 4]]
    assert sample_sequences(1) == [[0, 0, 0, 0]]
    assert sample_sequences(9) == [[0, 3, 6, 8]]
    assert random_sequence(5, rng=0) == [0, 3, 4, 4]


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one frame"):
        sample_sequences(0)
    with pytest.raises(ValueError, match="length"):
        sample_sequences(10, length=0)
    with pytest.raises(ValueError, match="interval"):
        random_sequence(10, interval=0)


def test_random_sequence_range_and_determinism():
    starts = set()
    for seed in range(200):
        w = random_sequence(30, 4, 3, np.random.default_rng(seed))
        assert np.all(np.diff(w) == 3) and w[0] >= 0 and w[-1] <= 29
        starts.add(w[0])
    assert starts == set(range(0, 21))  # every start in [0, 30 - 10] is reachable
    assert random_sequence(30, rng=7) == random_sequence(30, rng=7)
