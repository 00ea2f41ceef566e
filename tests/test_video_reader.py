"""The sequential frame source: one open and one front-to-back pass per file (decodes
counted), truncated and broken videos, images with alpha or 16 bits."""

import os
import shutil
import warnings

import numpy as np
import pytest
from _video_files import count_decodes, frame_number, truncate, write_numbered

from fasfast.data.video import (
    DataWarning,
    TruncatedVideoWarning,
    VideoReader,
    VideoReadError,
    prefetched,
    read_image,
)


@pytest.fixture(scope="module")
def video40(tmp_path_factory):
    return write_numbered(tmp_path_factory.mktemp("v") / "v40.avi", 40)


@pytest.fixture
def truncated(video40, tmp_path):
    """40-frame MJPG cut to 55 % of its bytes: header 40, about 13 decodable."""
    p = tmp_path / "cut.avi"
    shutil.copy(video40, p)
    return truncate(p, 0.55)


def test_read_any_order_and_repeats(video40):
    r = VideoReader(video40)
    assert r.num_frames == 40 and r.fps == pytest.approx(10.0)
    got = r.read([7, 3, 7, 39, 0])
    assert [frame_number(f) for f in got] == [7, 3, 7, 39, 0]
    assert got[0].dtype == np.uint8 and got[0].shape == (48, 64, 3)
    red, blue = int(got[0][0, 0, 0]), int(got[0][0, 0, 2])  # RGB order: a red stripe
    assert abs(red - (255 - 4 * 7)) <= 4 and abs(blue - (10 + 4 * 7)) <= 4
    with pytest.raises(IndexError, match="frame 40 out of range"):
        r.read([40])


@pytest.mark.parametrize("wanted", [None, [39], [0, 39], list(range(0, 40, 3)), [5, 6, 7]])
def test_one_open_and_linear_decodes(video40, monkeypatch, wanted):
    counter = count_decodes(monkeypatch)
    r = VideoReader(video40)
    counter.reset()
    got = list(r.frames(wanted))
    want = list(range(40)) if wanted is None else sorted(set(wanted))
    assert [i for i, _ in got] == want
    assert [frame_number(f) for _, f in got] == want
    # one open, each frame up to the last wanted grabbed once, only wanted ones retrieved
    assert counter.opens == 1
    assert counter.grabs == max(want) + 1
    assert counter.retrieves == len(want)
    assert counter.reads == 0


def test_decodes_are_linear_in_the_video_length(tmp_path, monkeypatch):
    """Reading every frame of videos of n and 3n frames: 3x the decodes (the old reader
    reopened the file per call and grew as n(n+1)/2 when called per frame)."""
    counter = count_decodes(monkeypatch)
    counts = []
    for n in (20, 60):
        r = VideoReader(write_numbered(tmp_path / f"{n}.avi", n))
        counter.reset()
        assert len(r.read()) == n
        counts.append(counter.grabs)
    assert counts == [20, 60]


def test_truncated_video_gives_last_decodable_frame_reported_once(truncated):
    r = VideoReader(truncated)
    assert r.num_frames == 40
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = r.read([39])
        b = r.read([0, 39])
        c = r.read([12])
    k = r.decoded
    assert r.short and 5 <= k < 40
    last = VideoReader(truncated).read([k - 1])[0]
    np.testing.assert_array_equal(a[0], last)
    np.testing.assert_array_equal(b[1], last)
    assert frame_number(b[0]) == 0
    np.testing.assert_array_equal(c[0], VideoReader(truncated).read([min(12, k - 1)])[0])
    msgs = [str(w.message) for w in caught if issubclass(w.category, TruncatedVideoWarning)]
    assert len(msgs) == 1  # reported once per file, never silently
    assert "cut.avi" in msgs[0] and "promises 40 frames" in msgs[0]
    assert f"{k} are decodable" in msgs[0]


def test_truncated_video_every_index_of_a_stride(truncated):
    r = VideoReader(truncated)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = list(r.frames(range(0, 40, 4)))
    assert [i for i, _ in got] == list(range(0, 40, 4))  # all 10, none lost
    k = r.decoded
    last = VideoReader(truncated).read([k - 1])[0]
    for i, f in got:
        if i < k - 1:
            assert frame_number(f) == i
        else:  # the last decodable frame (the cut may have damaged its bottom rows)
            np.testing.assert_array_equal(f, last)


def test_broken_videos_raise_naming_the_file(tmp_path, video40):
    corrupt = tmp_path / "corrupt.avi"
    corrupt.write_bytes(b"RIFF not a video at all" * 20)
    with pytest.raises(VideoReadError, match="corrupt.avi"):
        VideoReader(corrupt)
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    with pytest.raises(VideoReadError, match="empty.avi"):
        VideoReader(empty)
    headeronly = tmp_path / "zero.avi"
    shutil.copy(video40, headeronly)
    truncate(headeronly, 0.02)  # the header survives, no frame does
    with pytest.raises(VideoReadError, match="zero.avi"):
        VideoReader(headeronly).read([0])
    import cv2

    frameless = tmp_path / "frameless.avi"  # a container holding no frame at all
    cv2.VideoWriter(str(frameless), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48)).release()
    with pytest.raises(VideoReadError, match="no decodable frames: .*frameless.avi"):
        VideoReader(frameless)
    with pytest.raises(VideoReadError, match="not found: .*missing.avi"):
        VideoReader(tmp_path / "missing.avi")


def test_images_with_alpha_or_16_bits(tmp_path):
    import cv2

    rgb = np.zeros((8, 10, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    bgra = np.dstack([rgb[..., ::-1], np.full((8, 10), 7, np.uint8)])
    cv2.imwrite(str(tmp_path / "alpha.png"), bgra)
    cv2.imwrite(str(tmp_path / "deep.png"), rgb[..., ::-1].astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "grey.png"), rgb[..., 1])
    with pytest.warns(DataWarning, match=r"alpha.png: alpha channel dropped"):
        np.testing.assert_array_equal(read_image(tmp_path / "alpha.png"), rgb)
    with pytest.warns(DataWarning, match=r"deep.png: 16 bits per channel, scaled to 8"):
        np.testing.assert_array_equal(read_image(tmp_path / "deep.png"), rgb)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a plain grey image is no problem
        assert read_image(tmp_path / "grey.png").shape == (8, 10, 3)


def test_image_folder_skips_unreadable_images_when_asked(tmp_path):
    import cv2

    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((6, 6, 3), 40 * i, np.uint8))
    (tmp_path / "001.png").write_bytes(b"\x89PNG broken")
    r = VideoReader(tmp_path)
    with pytest.raises(VideoReadError, match="001.png"):
        r.read()
    with pytest.warns(DataWarning, match="001.png"):
        got = list(r.frames(skip_unreadable=True))
    assert [i for i, _ in got] == [0, 2] and r.skipped == [str(tmp_path / "001.png")]


def test_prefetched_keeps_order_errors_and_stops_early(video40):
    r = VideoReader(video40)
    got = [i for i, _ in prefetched(r.frames(range(0, 40, 5)), depth=2)]
    assert got == list(range(0, 40, 5))

    def boom():
        yield 1
        raise VideoReadError("bad frame in x.avi")

    it = prefetched(boom())
    assert next(it) == 1
    with pytest.raises(VideoReadError, match="x.avi"):
        next(it)
    it = prefetched(r.frames())  # closing early stops the thread
    next(it)
    it.close()


def _decoder_threads() -> int:
    """Threads of this process that FFmpeg's decoders started (named ``av:<codec>:...``)."""
    from pathlib import Path

    names = [p.read_text().strip() for p in Path("/proc/self/task").glob("*/comm")]
    return sum(n.startswith("av:") for n in names)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_decode_threads_one_keeps_a_reader_on_one_core(tmp_path):
    """``fasfast prepare`` opens videos with one FFmpeg decoding thread (a worker = one core);
    the frames are the same as with FFmpeg's own thread count."""
    from fasfast.data.video import decode_threads

    path = write_numbered(tmp_path / "ffv1.avi", 12, codec="FFV1")
    with decode_threads(1):
        r = VideoReader(path)
        it = r.frames()
        one = [next(it)[1]]
        during = _decoder_threads()
        one += [f for _, f in it]
    assert during == 0
    it = VideoReader(path).frames()
    auto = [next(it)[1]]
    during_auto = _decoder_threads()
    auto += [f for _, f in it]
    if (os.cpu_count() or 1) > 1:  # FFmpeg's own choice starts frame threads on a multi-core
        assert during_auto >= 1
    assert len(one) == len(auto) == 12
    assert all(np.array_equal(a, b) for a, b in zip(one, auto))
