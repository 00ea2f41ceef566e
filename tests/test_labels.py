"""Landmarks (dlib), landmark files and label maps."""

import numpy as np
import pytest

from fasfast.labels import (
    FACE_CONTOUR,
    FLIP_68,
    WFLW98_TO_68,
    binary_mask,
    face_location_map,
    load_landmarks,
    make_label_map,
    predictor_path,
    pseudo_depth,
    save_landmarks,
    template_68,
    to_68,
)


@pytest.fixture(scope="module")
def astronaut_face():
    skimage_data = pytest.importorskip("skimage.data")
    from fasfast.labels import shared_detector

    img = skimage_data.astronaut()
    faces = shared_detector().detect(img)
    return img, faces


def _seg_dist(p, poly):
    """Distance of points p [N,2] to the closed polygon's edges (brute force)."""
    a = poly
    b = np.roll(poly, -1, axis=0)
    d = np.full(len(p), np.inf)
    for s, e in zip(a, b):
        v = e - s
        t = np.clip(((p - s) @ v) / max(v @ v, 1e-12), 0, 1)
        q = s + t[:, None] * v
        d = np.minimum(d, np.linalg.norm(p - q, axis=1))
    return d


def test_predictor_file_found_without_importing_package():
    import sys

    p = predictor_path()
    assert p.is_file() and p.name == "shape_predictor_68_face_landmarks.dat"
    assert "face_recognition_models" not in sys.modules


def test_detector_finds_astronaut_face(astronaut_face):
    from fasfast.data.crop import square_box

    img, faces = astronaut_face
    assert len(faces) == 1
    f = faces[0]
    assert f.landmarks.shape == (68, 2) and f.landmarks.dtype == np.float32
    x0, y0, x1, y1 = f.box
    jaw = f.landmarks[0:17]
    cx, cy = jaw.mean(0)
    assert x0 < cx < x1 and y0 < cy < y1
    sx0, sy0, sx1, sy1 = square_box(f.box, 1.3)
    assert np.all((jaw[:, 0] > sx0) & (jaw[:, 0] < sx1) & (jaw[:, 1] > sy0) & (jaw[:, 1] < sy1))
    # anatomy: chin below the nose tip, left eye left of right eye
    assert f.landmarks[8, 1] > f.landmarks[30, 1]
    assert f.landmarks[36:42, 0].mean() < f.landmarks[42:48, 0].mean()


def test_detector_rejects_bad_input():
    from fasfast.labels import shared_detector

    det = shared_detector()
    with pytest.raises(TypeError, match="uint8"):
        det.detect(np.zeros((32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        det.detect(np.zeros((32, 32, 4), np.uint8))
    assert det.detect(np.zeros((64, 64, 3), np.uint8)) == []


def test_location_map_of_astronaut_face(astronaut_face):
    from skimage.draw import polygon as sk_polygon

    from fasfast.data.crop import crop_faces

    img, faces = astronaut_face
    res = crop_faces([img], [faces[0].landmarks], size=128)
    lm = res.landmarks[0]
    size = 32
    m = face_location_map(lm, size=size, live=True, crop_size=128)
    assert m.shape == (size, size) and m.dtype == np.float32
    poly = lm[list(FACE_CONTOUR)] * size / 128
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    centres = np.stack([xx.ravel(), yy.ravel()], 1)
    from matplotlib.path import Path as MplPath

    inside = MplPath(poly).contains_points(centres)
    far = _seg_dist(centres, poly) > 0.75  # the whole pixel is on one side
    assert np.all(m.ravel()[inside & far] == 1.0)
    assert np.all(m.ravel()[~inside & far] == 0.0)
    assert (inside & far).sum() > 50 and (~inside & far).sum() > 50
    # independent oracle: skimage rasterisation 16x finer, area-averaged
    ss = 16
    fine = np.zeros((size * ss, size * ss))
    rr, cc = sk_polygon(poly[:, 1] * ss - 0.5, poly[:, 0] * ss - 0.5, fine.shape)
    fine[rr, cc] = 1
    oracle = fine.reshape(size, ss, size, ss).mean((1, 3))
    assert np.abs(m - oracle).max() < 0.2
    assert abs(m.sum() - oracle.sum()) / oracle.sum() < 0.02
    att = face_location_map(lm, size=size, live=False, crop_size=128)
    assert att.shape == (size, size) and np.all(att == 0)


def test_location_map_box_equals_crop_size(rng):
    lm = template_68() * 30 + 64 + rng.normal(0, 0.5, (68, 2))
    a = face_location_map(lm, 16, crop_size=128)
    b = face_location_map(lm + [10, 20], 16, box=(10, 20, 138, 148))
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_pseudo_depth_and_binary(rng):
    lm = template_68() * 40 + 64 + rng.normal(0, 0.3, (68, 2))
    d = pseudo_depth(lm, 32, True, crop_size=128)
    loc = face_location_map(lm, 32, True, crop_size=128, supersample=4)
    assert d.dtype == np.float32 and d.min() >= 0 and abs(d.max() - 1) < 1e-6
    assert np.all(d[loc == 0] == 0)
    iy, ix = np.unravel_index(np.argmax(d), d.shape)
    nose = lm[30] * 32 / 128
    assert np.hypot(ix + 0.5 - nose[0], iy + 0.5 - nose[1]) < 3.0
    assert np.all(pseudo_depth(lm, 32, False, crop_size=128) == 0)
    assert np.all(binary_mask(8, True) == 1) and np.all(binary_mask(8, False) == 0)
    for kind in ("location", "binary", "depth"):
        out = make_label_map(kind, lm, 16, True, crop_size=128)
        assert out.shape == (16, 16) and out.dtype == np.float32 and out.max() > 0


def test_label_map_bad_input():
    lm = template_68() * 10 + 16
    with pytest.raises(ValueError, match="unknown label kind"):
        make_label_map("edges", lm, 8, True)
    with pytest.raises(ValueError, match=r"\[\.\.\., 68, 2\]"):
        face_location_map(np.zeros((5, 2)), 8)
    bad = lm.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        face_location_map(bad, 8)
    with pytest.raises(ValueError, match="box"):
        face_location_map(lm, 8, box=(10, 0, 5, 5))


def test_flip_permutation():
    assert sorted(FLIP_68.tolist()) == list(range(68))
    np.testing.assert_array_equal(FLIP_68[FLIP_68], np.arange(68))
    t = template_68()
    mirrored = t[FLIP_68] * [-1, 1]
    np.testing.assert_allclose(mirrored, t, atol=1e-9)


def test_landmark_files_roundtrip(tmp_path, rng):
    arr = rng.uniform(0, 100, (5, 68, 2)).astype(np.float32)
    arr[2] = np.nan
    for suffix in (".npy", ".json"):
        p = save_landmarks(tmp_path / f"a{suffix}", arr)
        back = load_landmarks(p)
        assert back.shape == (5, 68, 2)
        assert np.all(np.isnan(back[2]))
        np.testing.assert_allclose(back[[0, 1, 3, 4]], arr[[0, 1, 3, 4]], atol=1e-3)
    with pytest.raises(ValueError, match=".npy or .json"):
        save_landmarks(tmp_path / "a.txt", arr)
    with pytest.raises(FileNotFoundError, match="landmark file not found"):
        load_landmarks(tmp_path / "missing.npy")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot read landmark file"):
        load_landmarks(tmp_path / "bad.json")


def test_other_schemes_to_68(rng):
    t = template_68()
    wflw = rng.uniform(0, 1, (98, 2))
    wflw[WFLW98_TO_68] = t
    np.testing.assert_allclose(to_68(wflw, "wflw98"), t)
    # a similarity-transformed face is recovered exactly from its 5 MTCNN points
    ang, s, off = 0.3, 40.0, np.array([50.0, 60.0])
    r = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]]) * s
    face = t @ r.T + off
    five = np.stack([face[36:42:3].mean(0), face[42:48:3].mean(0), face[30], face[48], face[54]])
    np.testing.assert_allclose(to_68(five, "mtcnn5"), face, atol=1e-6)
    with pytest.raises(ValueError, match="needs 5 points"):
        to_68(wflw, "mtcnn5")
    with pytest.raises(ValueError, match="unknown landmark scheme"):
        to_68(five, "abc")


def test_label_command_on_image_folder(tmp_path, capsys):
    skimage_data = pytest.importorskip("skimage.data")
    import json

    import cv2

    from fasfast.cli import main

    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "000.png"), skimage_data.astronaut()[::2, ::2, ::-1])
    cv2.imwrite(str(folder / "001.png"), np.full((64, 64, 3), 90, np.uint8))
    out = tmp_path / "out"
    assert (
        main(
            [
                "label",
                str(folder),
                "--out",
                str(out),
                "--size",
                "64",
                "--map-size",
                "16",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "no face in 1" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 2 and summary["faces"] == 1 and summary["no_face_frames"] == [1]
    lm = load_landmarks(out / "landmarks.json")
    assert lm.shape == (2, 68, 2) and np.all(np.isfinite(lm[0])) and np.all(np.isnan(lm[1]))
    m = cv2.imread(str(out / "maps" / "location_000000.png"), cv2.IMREAD_GRAYSCALE)
    assert m.shape == (16, 16) and m.max() == 255 and m[0].max() == 0
    assert cv2.imread(str(out / "crops" / "000001.png")).shape == (64, 64, 3)
    assert main(["label", str(tmp_path / "missing.avi"), "--out", str(out)]) == 2
    assert "not found" in capsys.readouterr().err
