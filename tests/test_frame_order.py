"""Image folders are read in time order: natural (numeric) order of the frame names, hidden
and side files ignored, named landmark rows matched by name (issue 15, item 2)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from _video_files import frame_number, numbered_frames
from engine_support import IMAGE, WIDTHS, tiny_data

from fasfast.data.video import VideoReader, frame_files, is_frame_file, natural_key


def _write_pngs(folder, frames, names):
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for f, name in zip(frames, names):
        cv2.imwrite(str(folder / name), f[..., ::-1])


def _side_files(folder):
    """What macOS / Windows leave beside the frames: AppleDouble ``._*`` files (with an
    image extension), .DS_Store, Thumbs.db, a text file."""
    for name in ("._f_1.png", "._f_10.png", ".DS_Store", "Thumbs.db", "notes.txt", ".hidden.png"):
        (folder / name).write_bytes(b"\x00\x05\x16\x07 Mac OS X        " * 3)


def test_natural_key_orders_digit_runs_by_value():
    names = [f"f_{i}.png" for i in range(1, 22)]
    shuffled = list(np.random.default_rng(0).permutation(names))
    assert sorted(shuffled, key=natural_key) == names
    assert sorted(names)[:3] == ["f_1.png", "f_10.png", "f_11.png"]  # what plain order gives
    assert sorted(["img2_b.png", "img10_a.png", "IMG2_a.png"], key=natural_key) == [
        "IMG2_a.png",
        "img2_b.png",
        "img10_a.png",
    ]
    assert sorted(["0010.jpg", "0002.jpg", "0001.jpg"], key=natural_key) == [
        "0001.jpg",
        "0002.jpg",
        "0010.jpg",
    ]


def test_side_files_are_not_frames(tmp_path):
    assert is_frame_file("f_1.png") and is_frame_file("X.JPG")
    for name in (
        "._f_1.png",
        ".DS_Store",
        "Thumbs.db",
        "thumbs.db",
        "notes.txt",
        ".a.png",
        "desktop.ini",
        "landmarks.npy",
    ):
        assert not is_frame_file(name), name
    frames = numbered_frames(21)
    names = [f"f_{i + 1}.png" for i in range(21)]
    _write_pngs(tmp_path / "clip", frames, names)
    _side_files(tmp_path / "clip")
    assert [p.name for p in frame_files(tmp_path / "clip")] == names
    r = VideoReader(tmp_path / "clip")
    assert r.num_frames == 21 and r.frame_names == names
    # frame i is the (i+1)-th frame in time, not the i-th name in plain order
    assert [frame_number(f) for _, f in r.frames()] == list(range(21))


def test_named_landmark_rows_are_matched_by_name(tmp_path):
    """A .json landmark file naming its frames: rows matched to frame files by name, in
    whatever order the file lists them; frames it does not name are left to the detector."""
    from fasfast.data.faces import LandmarkFileError, file_landmarks

    names = [f"f_{i + 1}.png" for i in range(12)]
    _write_pngs(tmp_path / "clip", numbered_frames(12), names)
    lms = np.random.default_rng(1).uniform(0, 40, (12, 68, 2)).astype(np.float32)
    order = list(range(11, -1, -1))[:-1]  # reversed, and frame 0 not named
    (tmp_path / "clip.landmarks.json").write_text(
        json.dumps(
            {
                "scheme": "68",
                "frames": {names[i].removesuffix(".png"): lms[i].tolist() for i in order},
            }
        )
    )
    got = file_landmarks(tmp_path / "clip", VideoReader(tmp_path / "clip").frame_names)
    assert sorted(got) == list(range(1, 12))
    for i in range(1, 12):
        np.testing.assert_allclose(got[i], lms[i], rtol=0, atol=1e-4)
    # the "names" list form, with paths
    (tmp_path / "clip.landmarks.json").write_text(
        json.dumps(
            {
                "names": [f"clip/{names[i]}" for i in order],
                "frames": [lms[i].tolist() for i in order],
            }
        )
    )
    got = file_landmarks(tmp_path / "clip", VideoReader(tmp_path / "clip").frame_names)
    np.testing.assert_allclose(got[5], lms[5], rtol=0, atol=1e-4)
    # names that match no frame: one error naming the file
    (tmp_path / "clip.landmarks.json").write_text(
        json.dumps({"names": ["a.png"], "frames": [lms[0].tolist()]})
    )
    with pytest.raises(LandmarkFileError, match="clip.landmarks.json: its frame names"):
        file_landmarks(tmp_path / "clip", VideoReader(tmp_path / "clip").frame_names)


# ------------------------------------------------------------------ predict on frame folders
@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tiny_data(tmp_path_factory)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    from fasfast.engine import checkpoint as ck
    from fasfast.models import EulerNet, EulerNetConfig

    torch.manual_seed(3)
    m = EulerNet(EulerNetConfig.preset("tiny", image_size=IMAGE, widths=WIDTHS))
    path = tmp_path_factory.mktemp("orderck") / "m.pt"
    ck.save_checkpoint(
        path,
        {
            "kind": "eulernet",
            "model_config": m.config.to_dict(),
            "model": m.state_dict(),
            "epoch": 1,
        },
    )
    return path


def _frames_folder(video, folder, names, side_files=False):
    """The frames of ``video`` as PNGs named ``names`` (in time order) and its landmark file
    as ``<folder>.landmarks.npy`` (rows in time order)."""
    r = VideoReader(video)
    _write_pngs(folder, [f for _, f in r.frames()], names)
    shutil.copy(str(video).rsplit(".", 1)[0] + ".landmarks.npy", str(folder) + ".landmarks.npy")
    if side_files:
        _side_files(folder)
    return folder


def test_predict_frame_folder_in_time_order_with_side_files(root, ckpt, tmp_path):
    """The issue's cases: frames f_1..f_21 (plain order would feed f_1, f_10, f_11, ...)
    and the same folder with macOS ``._*`` side files (which gave the decision "error")
    score exactly as the video they were cut from."""
    from fasfast.data import oulu_npu
    from fasfast.engine.predict import predict

    video = oulu_npu(root, "1", "test")[0].path
    n = VideoReader(video).num_frames
    assert n >= 12
    names = [f"f_{i + 1}.png" for i in range(n)]
    clean = _frames_folder(video, tmp_path / "clean", names)
    side = _frames_folder(video, tmp_path / "side", names, side_files=True)
    padded = _frames_folder(video, tmp_path / "padded", [f"{i:04d}.png" for i in range(n)])
    preds = predict(
        [video, str(clean), str(side), str(padded)], ckpt, threshold=0.5, workers=0, progress=False
    )
    assert [p.decision for p in preds].count("error") == 0, preds
    ref = preds[0].score
    assert ref is not None and preds[0].units >= 1
    for p in preds[1:]:
        assert p.kind == "frames" and p.units == preds[0].units
        assert p.score == pytest.approx(ref, abs=1e-6), p.input
    # and order matters: the frames fed in plain name order give another score
    shuffled = tmp_path / "plain"
    plain = sorted(names)
    r = VideoReader(video)
    by_time = [f for _, f in r.frames()]
    _write_pngs(
        shuffled, [by_time[names.index(nm)] for nm in plain], [f"{k:04d}.png" for k in range(n)]
    )
    lm = np.load(str(video).rsplit(".", 1)[0] + ".landmarks.npy")
    np.save(str(shuffled) + ".landmarks.npy", lm[[names.index(nm) for nm in plain]])
    other = predict([str(shuffled)], ckpt, threshold=0.5, workers=0, progress=False)[0]
    assert other.score != pytest.approx(ref, abs=1e-6)


def test_predict_scores_a_sequence_with_a_face_in_most_frames(root, ckpt, tmp_path):
    """One frame without a face does not cost its sequence (it is cropped with the nearest
    face's box, as ``label`` does); a sequence with a face in fewer than half its frames is
    not scored, and an input with no such sequence is ``no-face``."""
    from fasfast.data import oulu_npu
    from fasfast.engine.predict import predict

    video = oulu_npu(root, "1", "test")[0].path
    lm = np.load(str(video).rsplit(".", 1)[0] + ".landmarks.npy")
    names = [f"{i:04d}.png" for i in range(len(lm))]
    clean = _frames_folder(video, tmp_path / "clean", names)
    one = _frames_folder(video, tmp_path / "one_missing", names)
    most = _frames_folder(video, tmp_path / "most_missing", names)
    missing_one = lm.copy()
    missing_one[0] = np.nan
    np.save(str(one) + ".landmarks.npy", missing_one)
    missing_most = np.full_like(lm, np.nan)
    missing_most[0] = lm[0]
    np.save(str(most) + ".landmarks.npy", missing_most)
    p_clean, p_one, p_most = predict(
        [str(clean), str(one), str(most)], ckpt, threshold=0.5, workers=0, progress=False
    )
    assert p_clean.units >= 1 and p_clean.skipped_no_face == 0
    assert (p_one.units, p_one.skipped_no_face) == (p_clean.units, 0)
    assert p_one.decision in ("live", "attack")
    assert p_most.decision == "no-face" and p_most.units == 0
    assert p_most.skipped_no_face == p_clean.units
