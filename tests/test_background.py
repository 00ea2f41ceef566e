"""``fasfast predict``'s background face pass: the checkpoint read without torch, the
windows split over forked trackers, their crops against a direct one-pass computation."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fasfast.data import background
from fasfast.data.faces import compute_entry
from fasfast.data.sequences import sample_sequences


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """40 frames (1.6 s at 25 fps) of the astronaut clip at 480x270."""
    pytest.importorskip("skimage.data")
    from fasfast.data.clips import astronaut_clip

    return astronaut_clip(
        tmp_path_factory.mktemp("bg") / "astro.avi", seconds=1.6, fps=25.0, size=(480, 270)
    )


def test_checkpoint_hint_reads_the_config_without_torch(tmp_path):
    torch = pytest.importorskip("torch")
    f = tmp_path / "m.pt"
    torch.save(
        {
            "kind": "eulernet",
            "model_config": {"frames": 5, "image_size": 48},
            "train_config": {"interval": 2},
            "model": {"w": torch.zeros(3, 4)},
        },
        f,
    )
    assert background.checkpoint_hint(f) == {
        "kind": "eulernet",
        "frames": 5,
        "interval": 2,
        "image_size": 48,
    }
    code = (
        "import sys; from fasfast.data.background import checkpoint_hint as h; "
        f"r = h({str(f)!r}); assert r['image_size'] == 48, r; "
        "assert 'torch' not in sys.modules; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr
    (tmp_path / "bad.pt").write_bytes(b"not a zip")
    assert background.checkpoint_hint(tmp_path / "bad.pt") is None
    assert background.checkpoint_hint(tmp_path / "missing.pt") is None


def test_windows_are_split_in_contiguous_parts():
    wins = sample_sequences(100, 4, 3)
    parts = background._windows_frames(100, 4, 3, 3)
    assert len(parts) == 3
    flat = [i for p in parts for i in p]
    assert flat == sorted({i for w in wins for i in w})  # all frames, in order, once
    assert background._windows_frames(5, 4, 3, 4) == [[0, 3, 4]]  # one window: one part


@pytest.mark.parametrize("workers", [1, 2])
def test_background_faces_equal_a_direct_pass(clip, workers):
    bg = background.BackgroundFaces([clip], length=4, interval=3, workers=workers, size=32)
    got = bg.results()[str(clip)]
    parts = background._windows_frames(40, 4, 3, workers)
    assert got["indices"].tolist() == [i for p in parts for i in p]
    for frames in parts:  # each part: one pass of its own (a cold detection at its start)
        ref, _ = compute_entry(clip, frames, size=32, landmarks=None)
        pos = np.searchsorted(got["indices"], ref["indices"])
        for k in ("crops", "landmarks", "found", "frame_landmarks"):
            np.testing.assert_array_equal(got[k][pos], ref[k])
    assert got["crops"].shape[1:] == (32, 32, 3) and got["found"].all()
    lms = bg.landmarks({str(clip): got})[str(clip)]
    assert sorted(lms) == got["indices"].tolist()


def test_unreadable_videos_are_left_to_the_normal_path(clip, tmp_path):
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"RIFF garbage" * 40)
    bg = background.BackgroundFaces([bad, clip], workers=2)
    got = bg.results()
    assert list(got) == [str(clip)] and "crops" not in got[str(clip)]  # no size: landmarks
    empty = background.BackgroundFaces([bad])
    assert empty.results() == {}
    empty.close()


def test_frames_to_float_match_torch():
    torch = pytest.importorskip("torch")
    from fasfast.data.dataset import _to_tensor

    x = np.random.default_rng(0).integers(0, 256, (2, 4, 9, 7, 3), dtype=np.uint8)
    ref = torch.from_numpy(x).movedim(-1, -3).float().div_(255.0)
    got = _to_tensor(x)
    assert got.dtype == torch.float32 and got.is_contiguous()
    assert torch.equal(got, ref)
