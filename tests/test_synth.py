"""Synthetic data: the OULU-NPU reader reads it back, same seed -> same bytes, cues exist."""

import hashlib
import json
from types import SimpleNamespace

import numpy as np
import pytest

from fasfast.cli import main
from fasfast.data import oulu_npu, summarize
from fasfast.data.synth import SynthConfig, render_video, split_users
from fasfast.data.video import VideoReader
from fasfast.labels import load_landmarks

SMALL = ["--subjects", "3", "--seconds", "0.6", "--fps", "10", "--size", "48", "--no-progress"]


def _hashes(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "data"
    assert main(["synth", "--out", str(root), "--phones", "2", *SMALL]) == 0
    return root


def test_cli_tree_read_back_by_oulu_reader(tree):
    users = split_users(3)
    for split in ("train", "dev", "test"):
        s = oulu_npu(tree, "1", split)
        sessions = {3} if split == "test" else {1, 2}
        assert {x.meta["session"] for x in s} == sessions
        assert {x.meta["user"] for x in s} == set(users[split])
        summ = summarize(s)
        n = len(users[split]) * 2 * len(sessions)  # users x phones x sessions
        assert summ["types"] == {"live": n, "print": 2 * n, "replay": 2 * n, "digital": n}
        # the protocol files and the naming rules agree
        assert sorted(x.video_id for x in s) == sorted(
            x.video_id for x in oulu_npu(tree, "1", split, source="rules")
        )
    for proto in ("2", "3_1", "3_2", "4_1", "4_2"):
        for split in ("train", "test"):
            a = sorted(x.video_id for x in oulu_npu(tree, proto, split))
            b = sorted(x.video_id for x in oulu_npu(tree, proto, split, source="rules"))
            assert a == b and len(a) > 0
    # videos and landmark files agree
    for x in oulu_npu(tree, "1", "test"):
        r = VideoReader(x.path)
        lm = load_landmarks(x.path.replace(".avi", ".landmarks.npy"))
        assert r.num_frames == 6 and lm.shape == (6, 68, 2)
        assert np.all(lm > -5) and np.all(lm < 53)
        frames = r.read([0, 5])
        assert frames[0].shape == (48, 48, 3) and frames[0].dtype == np.uint8


def test_same_seed_same_bytes(tmp_path):
    few = [*SMALL, "--sessions", "1", "--files", "1,2,4,6"]
    roots = {}
    for name, seed in (("a", "0"), ("a2", "0"), ("b", "1")):
        roots[name] = tmp_path / name
        assert main(["synth", "--out", str(roots[name]), "--seed", seed, *few]) == 0
    ha, ha2, hb = (_hashes(roots[k]) for k in ("a", "a2", "b"))
    assert len([k for k in ha if k.endswith(".avi")]) == 3 * 4
    assert ha == ha2
    assert hb.keys() == ha.keys()
    videos = [k for k in ha if k.endswith(".avi")]
    assert all(ha[k] != hb[k] for k in videos)


def test_bad_arguments(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "x"), "--subjects", "2", "--no-progress"]) == 2
    assert "at least 3 subjects" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path / "x"), "--files", "1,9", "--no-progress"]) == 2
    with pytest.raises(ValueError, match="unknown file type"):
        render_video(SynthConfig(subjects=3, seconds=0.2, size=48), 1, 1, 1, 7)


def _aligned_residual(frames, lms):
    """Std of what is left inside the face after aligning every frame to the first with
    the similarity transform of its landmarks: non-rigid motion, fresh noise, pulse."""
    import cv2

    from fasfast.labels import face_location_map
    from fasfast.labels.landmarks import similarity_transform

    size = frames[0].shape[0]
    mask = face_location_map(lms[0], size=size, crop_size=size) > 0.99
    mask = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    ref = frames[0].astype(np.float64)
    res = []
    for k in range(1, len(frames)):
        m = similarity_transform(lms[k].astype(np.float64), lms[0].astype(np.float64))
        w = cv2.warpAffine(
            frames[k].astype(np.float32),
            m,
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        res.append((w - ref)[mask])
    return float(np.std(np.concatenate(res)))


def test_attack_cues_are_present():
    """Live frames change (fresh noise, motion); a print's content is one still with
    fixed printed noise; replays repeat frames (judder); digital edits lose detail."""
    cfg = SynthConfig(subjects=3, seconds=1.0, fps=15, size=96)
    live, llm = render_video(cfg, 1, 1, 1, 1)
    prt, plm = render_video(cfg, 1, 1, 1, 2)
    rep, rlm = render_video(cfg, 1, 1, 1, 4)
    dig, dlm = render_video(cfg, 1, 1, 1, 6)
    for lm in (llm, plm, rlm, dlm):
        assert lm.shape == (15, 68, 2) and np.all(np.isfinite(lm))
    assert _aligned_residual(prt, plm) < 0.8 * _aligned_residual(live, llm)
    # print landmarks move rigidly: pairwise distances keep their ratios
    d0 = np.linalg.norm(plm[0, 36] - plm[0, 45])
    d1 = np.linalg.norm(plm[7, 36] - plm[7, 45])
    r0 = np.linalg.norm(plm[0, 8] - plm[0, 27]) / d0
    r1 = np.linalg.norm(plm[7, 8] - plm[7, 27]) / d1
    assert abs(r0 - r1) < 1e-3
    # replay judder: the screen shows repeated source frames -> repeated landmark shapes
    shape = rlm - rlm.mean(1, keepdims=True)
    same = [
        np.allclose(
            np.linalg.norm(shape[k], axis=1), np.linalg.norm(shape[k + 1], axis=1), atol=0.05
        )
        for k in range(14)
    ]
    assert any(same)
    # live faces blink: the eye opening of some frame is much smaller than the median
    open_ = np.linalg.norm(llm[:, 37] - llm[:, 41], axis=1)
    assert open_.min() < 0.5 * np.median(open_) or len(open_) < 15


def test_faces_from_photos(tmp_path):
    skimage_data = pytest.importorskip("skimage.data")
    import cv2

    faces = tmp_path / "faces"
    faces.mkdir()
    cv2.imwrite(str(faces / "a.png"), skimage_data.astronaut()[::2, ::2, ::-1])
    (faces / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    assert (
        main(
            [
                "synth",
                "--out",
                str(out),
                "--faces",
                str(faces),
                *SMALL,
                "--size",
                "64",
                "--sessions",
                "1",
                "--files",
                "1,2,4,6",
            ]
        )
        == 0
    )
    s = oulu_npu(out, "2", "train", source="rules")
    assert {x.attack_type for x in s} == {"live", "print", "replay"}
    lm = load_landmarks(s[0].path.replace(".avi", ".landmarks.npy"))
    assert lm.shape == (6, 68, 2) and np.all((lm > 0) & (lm < 64))
    empty = tmp_path / "empty"
    empty.mkdir()
    cv2.imwrite(str(empty / "grey.png"), np.full((40, 40, 3), 127, np.uint8))
    assert main(["synth", "--out", str(tmp_path / "o2"), "--faces", str(empty), *SMALL]) == 2


def _through_camera_and_crop(pattern, box, size=64):
    """A multiplicative pattern [S,S] or [S,S,3] after the strongest camera blur (sigma 0.9
    px) and the face crop resampling: (modulation kept, dominant period in crop pixels)."""
    import cv2

    from fasfast.data.crop import crop_image

    p3 = np.repeat(pattern[..., None], 3, 2) if pattern.ndim == 2 else pattern
    crop = crop_image(cv2.GaussianBlur(p3, (0, 0), 0.9), box, size)[..., 0].astype(np.float64)
    kept = crop.std() / p3[..., 0].astype(np.float64).std()
    power = np.abs(np.fft.fft2(crop - crop.mean())) ** 2
    f = np.fft.fftfreq(size)
    radius = np.hypot(f[:, None], f[None])
    return kept, 1 / radius[np.unravel_index(np.argmax(power), power.shape)]


@pytest.mark.parametrize("size", [112, 160])
def test_artefacts_survive_the_face_crop(size):
    """The print halftone and the screen grid keep a good part of their modulation, at a
    period of >= 3.5 px, through the camera blur and the 64 px face crop (the demo's input);
    a 2.5 px grid (too fine) does not (control)."""
    from fasfast.data.crop import landmark_box, square_box
    from fasfast.data.synth.printed import _halftone
    from fasfast.data.synth.replay import _screen_grid

    _, lm = render_video(SynthConfig(subjects=3, seconds=0.2, size=size), 1, 1, 1, 1)
    box = square_box(landmark_box(lm[0]), 1.3)
    for k in range(4):
        rng = np.random.default_rng([k, size])
        for pattern in (_halftone(size, rng, 2), _halftone(size, rng, 3), _screen_grid(size, rng)):
            assert pattern.min() > 0.5 and pattern.max() <= 1.0
            kept, period = _through_camera_and_crop(pattern, box)
            assert kept > 0.3 and period >= 3.5, (kept, period)
    xx = np.mgrid[0:size, 0:size][1].astype(np.float32)
    fine = (1 - 0.1 * (0.5 + 0.5 * np.cos(2 * np.pi * xx / 2.5))).astype(np.float32)
    assert _through_camera_and_crop(fine, box)[0] < 0.15


def test_artefact_knob_scales_the_attack_cues(tmp_path, capsys):
    """``artefacts`` (the difficulty knob) leaves live videos and every landmark as they are
    and moves the attacks' appearance toward no cue: monotone in the strength, exactly the
    default at 1, the halftone / screen-grid modulation proportional to it."""
    from fasfast.data.synth.printed import _halftone
    from fasfast.data.synth.replay import _screen_grid

    base = dict(subjects=3, seconds=0.4, fps=10, size=64)
    for file in (1, 2, 4, 6):
        ref, ref_lm = render_video(SynthConfig(**base), 1, 1, 3, file)
        one, _ = render_video(SynthConfig(**base, artefacts=1.0), 1, 1, 3, file)
        assert all(np.array_equal(x, y) for x, y in zip(ref, one))
        frames = {}
        for k in (0.0, 0.5, 1.5):
            frames[k], lm = render_video(SynthConfig(**base, artefacts=k), 1, 1, 3, file)
            np.testing.assert_array_equal(lm, ref_lm)  # appearance only
        frames[1.0] = ref
        if file == 1:
            assert all(np.array_equal(frames[k][0], ref[0]) for k in frames)
            continue
        d = {k: np.abs(frames[k][0].astype(float) - frames[0.0][0]).mean() for k in frames}
        assert 0 < d[0.5] < d[1.0] < d[1.5], (file, d)
    for fn in (_halftone, _screen_grid):
        cue = {k: 1 - fn(64, np.random.default_rng(5), strength=k) for k in (0.0, 0.5, 1.0)}
        assert np.abs(cue[0.0]).max() < 1e-6
        np.testing.assert_allclose(cue[0.5], 0.5 * cue[1.0], atol=1e-6)
    out = tmp_path / "x"
    assert main(["synth", "--out", str(out), *SMALL, "--artefacts", "3"]) == 2
    assert "artefacts must be between 0 and 2" in capsys.readouterr().err
    assert (
        main(
            [
                "synth",
                "--out",
                str(out),
                *SMALL,
                "--sessions",
                "1",
                "--files",
                "1,2",
                "--artefacts",
                "0.4",
            ]
        )
        == 0
    )
    assert json.loads((out / "synth.json").read_text())["artefacts"] == 0.4


def _detail(img: np.ndarray, lm: np.ndarray) -> float:
    """Variance of the Laplacian of the grey inner face (eyes to chin) of a uint8 frame."""
    import cv2

    g = img.astype(np.float32).mean(2) / 255
    x0, y0 = np.floor(lm[17:68].min(0)).astype(int)
    x1, y1 = np.ceil(lm[17:68].max(0)).astype(int)
    return float(cv2.Laplacian(g[y0:y1, x0:x1], cv2.CV_32F).var())


def test_recapture_knob_low_passes_the_attack_media(tmp_path, capsys):
    """``recapture`` (the detail an attack's media lost: a print's / replay's source
    capture, a digital edit's re-encoding) leaves live videos and every landmark byte for
    byte as they are, is the default at 0, and lowers the inner-face detail of every
    attack type monotonically (against the same video at 0; detail measured independently
    by a Laplacian)."""
    from fasfast.data.synth.live import source_loss

    base = dict(subjects=3, seconds=0.4, fps=10, size=96, artefacts=0.0)
    for file in (1, 2, 4, 6):
        ref, ref_lm = render_video(SynthConfig(**base), 1, 1, 1, file)
        zero, _ = render_video(SynthConfig(**base, recapture=0.0), 1, 1, 1, file)
        assert all(np.array_equal(x, y) for x, y in zip(ref, zero))
        detail = {0.0: np.mean([_detail(f, m) for f, m in zip(ref, ref_lm)])}
        for r in (0.5, 2.0):
            frames, lm = render_video(SynthConfig(**base, recapture=r), 1, 1, 1, file)
            np.testing.assert_array_equal(lm, ref_lm)
            if file == 1:
                assert all(np.array_equal(x, y) for x, y in zip(ref, frames)), r
            detail[r] = np.mean([_detail(f, m) for f, m in zip(frames, lm)])
        if file != 1:
            assert detail[2.0] < detail[0.5] < detail[0.0], (file, detail)
            assert detail[2.0] < 0.6 * detail[0.0], (file, detail)
    # source_loss on its own: identity and no draw at 0; a 1-px checkerboard is erased
    ctx = SimpleNamespace(recapture=0.0, size=32, source_rng=np.random.default_rng(3))
    board = np.repeat((np.indices((32, 32)).sum(0) % 2)[..., None], 3, 2).astype(np.float32)
    assert source_loss(ctx)(board) is board
    assert ctx.source_rng.uniform() == np.random.default_rng(3).uniform()
    ctx.recapture = 1.0
    out = source_loss(ctx)(board)
    assert out.shape == board.shape and np.abs(out - 0.5).max() < 0.05
    out_dir = tmp_path / "x"
    assert main(["synth", "--out", str(out_dir), *SMALL, "--recapture", "-1"]) == 2
    assert "recapture must be between 0 and 2" in capsys.readouterr().err
    args = ["synth", "--out", str(out_dir), *SMALL, "--sessions", "1", "--files", "1,2"]
    assert main([*args, "--recapture", "1.5"]) == 0
    assert json.loads((out_dir / "synth.json").read_text())["recapture"] == 1.5


def test_synth_warns_when_a_protocol_split_is_empty(tmp_path, capsys):
    """One session gives no Protocol 1 test videos (session 3): one warning naming the fix."""
    args = ["synth", "--out", str(tmp_path / "s"), "--subjects", "3", "--seconds", "0.3"]
    args += ["--fps", "10", "--size", "96", "--phones", "1", "--no-progress"]
    assert main(args + ["--sessions", "1"]) == 0
    err = capsys.readouterr().err
    assert "no test videos" in err and "--sessions 3" in err
    assert main(args + ["--out", str(tmp_path / "t"), "--sessions", "3"]) == 0
    assert "warning" not in capsys.readouterr().err
