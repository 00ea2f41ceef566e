"""The one-pass face pipeline: streaming crops (bounded memory), landmark sources."""

import numpy as np
import pytest
from _video_files import write_numbered

from fasfast.data.crop import FaceCropper, _fallback_landmarks, crop_faces
from fasfast.data.faces import LandmarkFileError, file_landmarks, video_faces
from fasfast.labels.landmarks import save_landmarks, template_68


def _face(rng, shape=(48, 64), scale=12.0):
    h, w = shape
    t = template_68()
    return (t * scale + [w / 2, h / 2] + rng.normal(0, 0.5, (68, 2))).astype(np.float32)


def test_streaming_cropper_matches_crop_faces(rng):
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(7)]
    lms = [None, None, _face(rng), None, _face(rng), np.full((68, 2), np.nan), _face(rng)]
    ref = crop_faces(frames, lms, size=24)
    cropper = FaceCropper(24, max_pending=None)
    got = []
    for i, (f, lm) in enumerate(zip(frames, lms)):
        got += cropper.add(i, f, lm)
    got += cropper.finish()
    got.sort(key=lambda x: x[0])
    assert [g[0] for g in got] == list(range(7))
    np.testing.assert_array_equal(np.stack([g[1] for g in got]), ref.crops)
    np.testing.assert_array_equal(np.stack([g[2] for g in got]), ref.landmarks)
    np.testing.assert_array_equal(np.array([g[3] for g in got]), ref.found)
    assert ref.found.tolist() == [False, False, True, False, True, False, True]
    # frames before the first face took the first face's box, later ones the last face's
    np.testing.assert_array_equal(ref.boxes[0], ref.boxes[2])
    np.testing.assert_array_equal(ref.boxes[3], ref.boxes[2])


def test_streaming_cropper_bounds_the_frames_it_holds(rng):
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(5)]
    cropper = FaceCropper(16, max_pending=2)
    out = []
    for i in range(3):  # no face yet: the third frame overflows the limit
        out += cropper.add(i, frames[i], None)
    assert [o[0] for o in out] == [0, 1, 2] and cropper._pending == []
    fb = FaceCropper(16)._one(0, frames[0], _fallback_landmarks(frames[0].shape), False)
    np.testing.assert_array_equal(out[0][4], fb[4])  # the fallback box
    out = cropper.add(3, frames[3], _face(rng))
    assert [o[0] for o in out] == [3] and out[0][3]
    assert cropper.finish() == []


@pytest.fixture
def video(tmp_path):
    return write_numbered(tmp_path / "v.avi", 12)


def test_landmark_sources(video, rng):
    lms = np.stack([_face(rng) for _ in range(12)])
    lms[4] = np.nan
    save_landmarks(video.with_suffix(".landmarks.npy"), lms)
    res = video_faces(video, size=16)
    assert res.stats["file"] == 12 and res.stats["detected"] == 0
    assert res.found.tolist() == [i != 4 for i in range(12)]
    np.testing.assert_allclose(res.frame_landmarks[0], lms[0])
    assert np.isnan(res.frame_landmarks[4]).all()
    # a mapping for some frames: the others are detected (here: no face in these frames)
    res = video_faces(video, [0, 5, 9], size=16, landmarks={0: lms[0], 9: None})
    assert res.indices.tolist() == [0, 5, 9] and res.stats["detected"] == 1
    assert res.found.tolist() == [True, False, False]
    # an array shorter than the video: frames past its end are detected
    res = video_faces(video, size=16, landmarks=lms[:3])
    assert res.stats["file"] == 3 and res.stats["detected"] == 9


def test_malformed_landmark_file_names_the_file(video):
    bad = video.with_suffix(".landmarks.json")
    bad.write_text("{not json")
    with pytest.raises(LandmarkFileError, match=r"v.landmarks.json: malformed landmark file"):
        file_landmarks(video)
    bad.write_text('{"frames": [[[1, 2]]]}')  # wrong shape
    with pytest.raises(LandmarkFileError, match="v.landmarks.json"):
        video_faces(video, size=16)
