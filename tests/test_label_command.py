"""``fasfast label``: one pass per input (decodes counted), truncated videos, bad input."""

import json

import numpy as np
import pytest
from _video_files import count_decodes, truncate, write_numbered

from fasfast.cli import main


@pytest.fixture(scope="module")
def face_video(tmp_path_factory):
    """30 frames (1.2 s at 25 fps) of the astronaut clip at 480x270."""
    pytest.importorskip("skimage.data")
    from fasfast.data.clips import astronaut_clip

    return astronaut_clip(
        tmp_path_factory.mktemp("lab") / "astro.avi", seconds=1.2, fps=25.0, size=(480, 270)
    )


def _label(src, out, *extra):
    return main(
        [
            "label",
            *map(str, src if isinstance(src, list) else [src]),
            "--out",
            str(out),
            "--size",
            "32",
            "--map-size",
            "8",
            "--no-progress",
            *extra,
        ]
    )


def test_label_decodes_each_frame_once(face_video, tmp_path, monkeypatch, capsys):
    counter = count_decodes(monkeypatch)
    assert _label(face_video, tmp_path / "o") == 0
    # one probe open + one pass: 30 grabs, 30 retrieves (the old command: 31 opens, 465 grabs)
    assert counter.opens == 2 and counter.grabs == 30 and counter.retrieves == 30
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["frames"] == 30 and s["faces"] == 30 and s["detect"]["mode"] == "tracked"
    assert s["detections"] < 15
    assert len(list((tmp_path / "o" / "crops").glob("*.png"))) == 30
    assert len(list((tmp_path / "o" / "maps").glob("location_*.png"))) == 30
    counter.reset()
    assert _label(face_video, tmp_path / "e", "--every", "4", "--exact") == 0
    assert counter.grabs == 29 and counter.retrieves == 8  # up to frame 28, 8 frames wanted
    assert json.loads((tmp_path / "e" / "summary.json").read_text())["detect"]["mode"] == "exact"
    assert "frames/s" in capsys.readouterr().out


def test_truncated_video_is_labelled_to_the_end(tmp_path, capsys):
    v = write_numbered(tmp_path / "v.avi", 40)
    truncate(v, 0.55)
    assert _label(v, tmp_path / "o", "--every", "4") == 0
    cap = capsys.readouterr()
    lines = [x for x in cap.err.splitlines() if "v.avi" in x]
    assert len(lines) == 1 and "truncated video" in lines[0] and "promises 40" in lines[0]
    assert lines[0].startswith("fasfast label: warning: ")
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["frames"] == 10 and s["frame_indices"] == list(range(0, 40, 4))  # none lost
    assert len(list((tmp_path / "o" / "crops").glob("*.png"))) == 10


def test_bad_inputs_are_skipped_and_counted(face_video, tmp_path, capsys):
    import cv2

    corrupt = tmp_path / "corrupt.avi"
    corrupt.write_bytes(b"RIFF not a video" * 40)
    zero = tmp_path / "zero.avi"  # a container without frames
    cv2.VideoWriter(str(zero), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48)).release()
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "000.png"), np.full((40, 40, 3), 80, np.uint8))
    (folder / "001.png").write_bytes(b"\x89PNG broken")
    cv2.imwrite(str(folder / "002.png"), np.full((40, 40, 4), 80, np.uint16) * 250)
    missing = tmp_path / "missing.avi"
    out = tmp_path / "out"
    assert _label([face_video, corrupt, zero, folder, missing], out) == 0
    cap = capsys.readouterr()
    err = cap.err.splitlines()
    for name, problem in (
        ("corrupt.avi", "cannot open"),
        ("zero.avi", "no decodable frames"),
        ("001.png", "cannot decode image"),
        ("missing.avi", "not found"),
        ("002.png", "16 bits per channel, scaled to 8, alpha channel dropped"),
    ):
        lines = [x for x in err if name in x]
        assert len(lines) == 1 and problem in lines[0], (name, err)
        assert lines[0].startswith("fasfast label: ")
    assert "skipped 4 file(s)" in cap.out  # 3 inputs + 1 image of the folder
    s = json.loads((out / "003_frames" / "summary.json").read_text())
    assert s["frames"] == 2 and s["skipped_files"] == [str(folder / "001.png")]
    assert (out / "000_astro" / "summary.json").is_file()


def test_nothing_labelled_is_exit_2(tmp_path, capsys):
    corrupt = tmp_path / "corrupt.avi"
    corrupt.write_bytes(b"RIFF not a video" * 40)
    assert _label([corrupt, tmp_path / "missing.avi"], tmp_path / "o") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "fasfast label: error: nothing could be labelled (2 input(s), all skipped)"
    assert _label(corrupt, tmp_path / "o", "--detect-every", "0") == 2
    assert "every must be >= 1" in capsys.readouterr().err


def test_label_split_over_two_processes(face_video, tmp_path):
    """``--workers 2``: two contiguous parts in forked processes, each tracked on its own;
    every frame written once, landmarks as one process finds them (within the quality bar)."""
    from fasfast.labels.tracking import inter_ocular

    assert _label(face_video, tmp_path / "one", "--workers", "1") == 0
    assert _label(face_video, tmp_path / "two", "--workers", "2") == 0
    one = json.loads((tmp_path / "one" / "summary.json").read_text())
    two = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert one["workers"] == 1 and two["workers"] == 2
    assert two["frames"] == 30 and two["frame_indices"] == list(range(30))
    assert two["faces"] == one["faces"] == 30
    assert len(list((tmp_path / "two" / "crops").glob("*.png"))) == 30
    assert len(list((tmp_path / "two" / "maps").glob("depth_*.png"))) == 30
    a = np.load(tmp_path / "one" / "landmarks.npy")
    b = np.load(tmp_path / "two" / "landmarks.npy")
    np.testing.assert_array_equal(a[:15], b[:15])  # the first part is the same pass
    d = [np.linalg.norm(x - y, axis=1).mean() / inter_ocular(x) for x, y in zip(a, b)]
    assert np.median(d) <= 0.05 and max(d) <= 0.15
    assert _label(face_video, tmp_path / "bad", "--workers", "0") == 2
