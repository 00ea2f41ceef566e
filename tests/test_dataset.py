"""SequenceDataset / FrameDataset on synthetic data; cache; bad input is skipped and counted."""

import shutil

import numpy as np
import pytest
import torch

from fasfast.data import FrameDataset, Sample, SequenceDataset, oulu_npu, path_label_list
from fasfast.data.synth import generate
from fasfast.data.video import VideoReader, VideoReadError, read_image


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("ds") / "data"
    generate(
        r, subjects=3, seconds=1.4, fps=10, size=64, sessions=1, files=(1, 2, 4, 6), progress=False
    )
    return r


def test_sequence_dataset_eval_items(root):
    samples = oulu_npu(root, "1", "train")
    ds = SequenceDataset(samples, image_size=48, map_size=12)
    # 14 frames, length 4 interval 3 (span 10): one window per video
    assert len(ds) == len(samples) == 4
    seen = set()
    for i in range(len(ds)):
        it = ds[i]
        assert it["frames"].shape == (4, 3, 48, 48) and it["frames"].dtype == torch.float32
        assert 0 <= it["frames"].min() and it["frames"].max() <= 1
        assert it["target"].shape == (4, 12, 12) and it["target"].dtype == torch.float32
        assert it["label"].dtype == torch.long and it["label"].shape == ()
        assert it["frame_index"].tolist() == [0, 3, 6, 9] and it["window"] == 0
        if it["label"] == 1:
            t = it["target"]
            assert t.max() == 1 and t[:, 0, :].max() < 0.5 and 0.2 < t.mean() < 0.8
        else:
            assert it["target"].abs().sum() == 0
        seen.add(it["attack_type"])
    assert seen == {"live", "print", "replay", "digital"}
    assert ds.stats["no_face_frames"] == 0 and ds.stats["replaced"] == 0
    for kind in ("binary", "depth"):
        it = SequenceDataset(samples[:1], image_size=48, map_size=12, label_kind=kind)[0]
        assert it["target"].max() == 1


def test_windows_follow_sample_sequences(root):
    s = oulu_npu(root, "1", "train")[:1]
    ds = SequenceDataset(s, image_size=32, map_size=8, length=2, interval=2)
    assert [ds[i]["frame_index"].tolist() for i in range(len(ds))] == [
        [0, 2],
        [3, 5],
        [6, 8],
        [9, 11],
    ]


def test_train_mode_random_windows_per_epoch(root):
    s = oulu_npu(root, "1", "train")
    ds = SequenceDataset(s, image_size=32, map_size=8, train=True, seed=3)
    assert len(ds) == len(s)
    a = [ds[i]["frame_index"][0].item() for i in range(len(ds))]
    assert a == [ds[i]["frame_index"][0].item() for i in range(len(ds))]
    starts = set(a)
    for e in range(1, 6):
        ds.set_epoch(e)
        starts |= {ds[i]["frame_index"][0].item() for i in range(len(ds))}
    assert len(starts) > 2 and max(starts) <= 14 - 10


def test_augment_is_applied_with_landmarks(root):
    from fasfast.data.augment import HorizontalFlip

    s = [x for x in oulu_npu(root, "1", "train") if x.label == 1]
    plain = SequenceDataset(s, image_size=48, map_size=12)[0]
    flipped = SequenceDataset(s, image_size=48, map_size=12, augment=HorizontalFlip(p=1.0))[0]
    torch.testing.assert_close(flipped["frames"], plain["frames"].flip(-1), atol=1 / 255, rtol=0)
    torch.testing.assert_close(flipped["target"], plain["target"].flip(-1), atol=0.1, rtol=0)


def test_cache_second_epoch_decodes_nothing(root, tmp_path):
    s = oulu_npu(root, "1", "train")
    plain = SequenceDataset(s, image_size=40, map_size=10)
    ds = SequenceDataset(s, image_size=40, map_size=10, cache_dir=tmp_path / "c")
    first = [ds[i] for i in range(len(ds))]
    read = ds.stats["frames_read"]
    assert read == 4 * 14 and ds.source.cache.misses == 4
    second = [ds[i] for i in range(len(ds))]
    assert ds.stats["frames_read"] == read and ds.source.cache.hits == 4
    for a, b, c in zip(first, second, (plain[i] for i in range(len(plain)))):
        torch.testing.assert_close(a["frames"], b["frames"])
        torch.testing.assert_close(a["frames"], c["frames"])
        torch.testing.assert_close(a["target"], c["target"])
    # other settings -> other entries
    ds2 = SequenceDataset(s, image_size=32, map_size=8, cache_dir=tmp_path / "c")
    ds2[0]
    assert ds2.source.cache.misses == 1


def test_bad_videos_are_skipped_and_counted(root, tmp_path):
    good = oulu_npu(root, "1", "train")
    corrupt = tmp_path / "1_1_01_9.avi"
    corrupt.write_bytes(b"RIFF garbage that is not a video" * 10)
    with pytest.raises(VideoReadError, match="1_1_01_9.avi"):
        VideoReader(corrupt)
    bad = Sample(str(corrupt), 0, "print", "bad", "train")
    with pytest.warns(UserWarning, match="unreadable"):
        ds = SequenceDataset([bad, *good], image_size=32, map_size=8)
    assert ds.stats["unreadable"] == 1 and len(ds) == len(good)
    assert [s.path for s, _ in ds.left_out] == [str(corrupt)]
    assert "cannot open video" in ds.left_out[0][1]
    # training: a file that disappears mid-epoch is replaced by the next sample, and the
    # item says so (the loop counts it per epoch)
    moved = tmp_path / "moved.avi"
    shutil.copy(good[0].path, moved)
    samples = [Sample(str(moved), 1, "live", "moved", "train"), *good]
    ds = SequenceDataset(samples, image_size=32, map_size=8, train=True)
    moved.unlink()
    with pytest.warns(UserWarning, match="moved.avi"):
        it = ds[0]
    assert it["video"] == good[0].video_id
    assert it["skipped"] == 1 and it["skipped_files"] == str(moved)
    assert ds[1]["skipped"] == 0 and ds[1]["skipped_files"] == ""
    assert ds.stats["replaced"] == 1 and ds.stats["bad_files"] == [str(moved)]
    # evaluation (issue 15): never another sample; the item fails and says why
    shutil.copy(good[0].path, moved)
    ev = SequenceDataset(samples, image_size=32, map_size=8)
    moved.unlink()
    with pytest.warns(UserWarning, match="left out unreadable sample .*moved.avi"):
        items = [ev[i] for i in range(len(ev))]
    assert [it["video"] for it in items] == [ev.samples[si].video_id for si, _, _ in ev.index]
    failed = [it for it in items if it["error"]]
    n_moved = sum(1 for si, _, _ in ev.index if si == 0)
    assert n_moved >= 1 and [it["video"] for it in failed] == ["moved"] * n_moved
    assert "moved.avi" in failed[0]["error"] and float(failed[0]["frames"].abs().sum()) == 0
    assert all(it["error"] == "" for it in items if it["video"] != "moved")
    assert ev.stats["replaced"] == 0 and ev.stats["failed_items"] == n_moved
    # nothing readable: one error, its message the reason (no warning line before it)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeError, match="cannot open video .*1_1_01_9.avi"):
            SequenceDataset([bad], image_size=32)
        with pytest.raises(RuntimeError, match="none of the 2 samples could be read; first: "):
            SequenceDataset([bad, bad], image_size=32)


def test_unreadable_image_and_frame_dataset(tmp_path, rng):
    import cv2

    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(VideoReadError, match="cannot decode image .*broken.png"):
        read_image(tmp_path / "broken.png")
    for i in range(3):
        img = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
        cv2.imwrite(str(tmp_path / f"img{i}.png"), img)
    (tmp_path / "list.txt").write_text("img0.png 1\nimg1.png 0\nbroken.png 0\nimg2.png 0\n")
    samples = path_label_list(tmp_path / "list.txt")
    with pytest.warns(UserWarning, match="broken.png"):
        fd = FrameDataset(samples, image_size=24, crop=False)
        items = [fd[i] for i in range(len(fd))]
    assert items[0]["image"].shape == (3, 24, 24) and items[0]["label"] == 1
    # evaluation never substitutes (issue 15): broken.png's item fails (the scorer leaves it
    # out), img2.png is read once
    assert len(items) == 4 and fd.stats["replaced"] == 0 and fd.stats["failed_items"] == 1
    assert [it["video"] for it in items] == ["img0.png", "img1.png", "broken.png", "img2.png"]
    assert "cannot decode image" in items[2]["error"] and items[3]["error"] == ""
    # training replaces it (and says so in the item)
    tr = FrameDataset(samples, image_size=24, crop=False, train=True)
    with pytest.warns(UserWarning, match="broken.png"):
        got = [tr[i] for i in range(len(tr))]
    assert [it["skipped"] for it in got] == [0, 0, 1, 0]
    assert got[2]["video"] == "img2.png" and got[2]["skipped_files"].endswith("broken.png")


def test_frame_dataset_with_detector_and_no_face(tmp_path):
    skimage_data = pytest.importorskip("skimage.data")
    import cv2

    cv2.imwrite(str(tmp_path / "face.png"), skimage_data.astronaut()[..., ::-1])
    cv2.imwrite(str(tmp_path / "blank.png"), np.full((64, 64, 3), 128, np.uint8))
    s = [
        Sample(str(tmp_path / "face.png"), 1, "live", "face", "test"),
        Sample(str(tmp_path / "blank.png"), 0, "print", "blank", "test"),
    ]
    fd = FrameDataset(s, image_size=64)
    a, b = fd[0], fd[1]
    assert a["no_face"] == 0 and b["no_face"] == 1 and fd.stats["no_face_frames"] == 1
    assert fd.stats["detected_frames"] == 2
    # the face crop is centred on the face: skin-coloured centre, much brighter than hair
    centre = a["image"][:, 24:40, 24:40].mean().item()
    assert centre > 0.4


def test_frame_dataset_on_synthetic_videos(root):
    s = oulu_npu(root, "1", "train")
    fd = FrameDataset(s, image_size=32, frames_per_video=3)
    assert len(fd) == 3 * len(s)
    assert [fd[i]["frame"] for i in range(3)] == [0, 6, 13]
    tr = FrameDataset(s, image_size=32, train=True)
    assert len(tr) == len(s) and tr[0]["image"].shape == (3, 32, 32)


def test_eval_dataset_reads_each_video_once(root, monkeypatch):
    """Every window of a video from one front-to-back pass (no cache): one probe and one
    pass per video, each frame grabbed once, only the windows' frames retrieved."""
    from _video_files import count_decodes

    s = oulu_npu(root, "1", "train")[:2]
    counter = count_decodes(monkeypatch)
    ds = SequenceDataset(s, image_size=32, map_size=8)
    items = [ds[i] for i in range(len(ds))]
    n = [VideoReader(x.path).num_frames for x in s]
    wanted = sum(
        len({i for it in items if it["video"] == x.video_id for i in it["frame_index"].tolist()})
        for x in s
    )
    assert counter.opens == 2 * len(s) + len(s)  # header at listing, the pass, header above
    assert counter.grabs <= sum(n) and counter.retrieves == wanted
