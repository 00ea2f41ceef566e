"""Tracked face detection against the exact path on a real face (scikit-image's astronaut
moved, scaled, rotated, with a jump half-way), small enough for CI."""

import numpy as np
import pytest

from fasfast.labels.tracking import DetectSettings, FaceTracker, inter_ocular, similarity

pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def clip():
    """2 s at 25 fps, 480x270: 50 frames, the jump (a scene cut of the motion) at 1 s."""
    from fasfast.data.clips import astronaut_frames

    return list(astronaut_frames(seconds=2.0, fps=25.0, size=(480, 270)))


@pytest.fixture(scope="module")
def exact(clip):
    tr = FaceTracker(DetectSettings(mode="exact"))
    return [tr(f) for f in clip]


def _quality(tracked, exact):
    found_t = sum(x is not None for x in tracked)
    found_e = sum(x is not None for x in exact)
    d = [
        np.linalg.norm(t - e, axis=1).mean() / inter_ocular(e)
        for t, e in zip(tracked, exact)
        if t is not None and e is not None
    ]
    return found_t, found_e, np.median(d), np.percentile(d, 90)


def test_tracked_path_meets_the_quality_bar(clip, exact):
    tr = FaceTracker(DetectSettings())
    tracked = [tr(f) for f in clip]
    found_t, found_e, med, p90 = _quality(tracked, exact)
    assert found_e >= 40  # the exact path sees the face almost everywhere
    assert found_t >= 0.98 * found_e
    assert med <= 0.05 and p90 <= 0.15
    # far fewer detections than frames; the jump at 1 s is noticed (a second cold start)
    assert tr.stats["detections"] <= len(clip) // 3
    assert tr.stats["cold"] == 2 and tr.stats["lost"] >= 1
    assert all(x is None or (x.dtype == np.float32 and x.shape == (68, 2)) for x in tracked)


def test_without_the_loss_test_the_jump_is_missed(clip, exact):
    """The appearance test matters: without it the tracker follows the old place after
    the jump until the next periodic detection."""
    tr = FaceTracker(DetectSettings(min_ncc=-1, cut=0, every=1000))
    tracked = [tr(f) for f in clip]
    jump = 25
    d = [
        np.linalg.norm(tracked[i] - exact[i], axis=1).mean() / inter_ocular(exact[i])
        for i in range(jump, jump + 5)
        if tracked[i] is not None and exact[i] is not None
    ]
    assert d and max(d) > 0.5


def test_exact_mode_is_the_detector_every_frame(clip):
    from fasfast.labels.landmarks import shared_detector

    tr = FaceTracker(DetectSettings(mode="exact"))
    for f in clip[:3]:
        want = shared_detector().landmarks(f)
        np.testing.assert_array_equal(tr(f), want)


def test_scene_cut_and_new_video_start_over(clip):
    tr = FaceTracker(DetectSettings())
    for f in clip[:5]:
        tr(f)
    cold = tr.stats["cold"]
    grey = np.full_like(clip[0], 127)
    assert tr(grey) is None  # a cut to an empty scene: a cold detection finds nothing
    assert tr.stats["cuts"] == 1 and tr.stats["cold"] == cold + 1
    small = clip[0][::2, ::2].copy()  # another frame size (image folder): starts over
    tr(small)
    assert tr.stats["cold"] == cold + 2


def test_settings_are_checked_and_keyed():
    with pytest.raises(ValueError, match="mode"):
        DetectSettings(mode="fast")
    with pytest.raises(ValueError, match="detect_size"):
        DetectSettings(detect_size=40)
    with pytest.raises(ValueError, match="every"):
        DetectSettings(every=0)
    assert DetectSettings().key() != DetectSettings(every=3).key()
    assert DetectSettings(mode="exact").key() == DetectSettings(mode="exact", every=3).key()
    with pytest.raises(ValueError, match="uint8"):
        FaceTracker(DetectSettings())(np.zeros((8, 8, 3), np.float32))


def test_similarity_recovers_a_known_transform(rng):
    src = rng.normal(size=(20, 2))
    a = 1.7 * np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    dst = src @ a.T + [3.0, -2.0]
    rot, t = similarity(src, dst)
    np.testing.assert_allclose(rot, a, atol=1e-12)
    np.testing.assert_allclose(t, [3.0, -2.0], atol=1e-12)
