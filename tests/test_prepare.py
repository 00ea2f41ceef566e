"""``fasfast prepare``: the cache the datasets read, idempotence, resume after kill -9,
sharding, bad input."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _video_files import truncate

from fasfast.cli import main
from fasfast.data import oulu_npu
from fasfast.data.cache import CropCache

SYNTH = dict(subjects=3, seed=0, seconds=0.8, fps=10.0, size=48, files=(1, 2, 4))


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    from fasfast.data.synth import generate

    return generate(tmp_path_factory.mktemp("prep") / "oulu", progress=False, **SYNTH)


def _prepare(root, cache, *extra):
    return main(
        [
            "prepare",
            "--data-root",
            str(root),
            "--cache-dir",
            str(cache),
            "--size",
            "32",
            "--no-progress",
            *extra,
        ]
    )


def _entries(cache) -> dict[str, Path]:
    return {p.name: p for p in Path(cache).glob("*/*.npz")}


def _load_all(cache) -> dict[str, dict]:
    out = {}
    for name, p in _entries(cache).items():
        with np.load(p, allow_pickle=False) as z:
            out[name] = {k: z[k] for k in z.files}
    return out


def test_prepared_cache_is_what_the_datasets_read(root, tmp_path, capsys):
    from fasfast.data import SequenceDataset

    cache = tmp_path / "cache"
    assert _prepare(root, cache) == 0
    out = capsys.readouterr().out
    videos = {s.path for sp in ("train", "dev", "test") for s in oulu_npu(root, "1", sp)}
    assert f"prepared {len(videos)} of {len(videos)} videos" in out
    assert len(_entries(cache)) == len(videos)  # landmark files: crop entries only
    samples = oulu_npu(root, "1", "train")
    ds = SequenceDataset(samples, image_size=32, map_size=4, cache_dir=cache)
    items = [ds[i] for i in range(len(ds))]
    assert ds.stats["frames_read"] == 0 and ds.source.cache.misses == 0  # nothing decoded
    plain = SequenceDataset(samples, image_size=32, map_size=4)
    for a, b in zip(items, (plain[i] for i in range(len(plain)))):
        np.testing.assert_array_equal(a["frames"].numpy(), b["frames"].numpy())


def test_second_run_does_no_work(root, tmp_path, capsys, monkeypatch):
    cache = tmp_path / "cache"
    assert _prepare(root, cache) == 0
    capsys.readouterr()
    times = {n: p.stat().st_mtime_ns for n, p in _entries(cache).items()}

    def no_work(*a, **k):
        raise AssertionError("a second run must not process any video")

    monkeypatch.setattr("fasfast.data.prepare.prepare_video", no_work)
    assert _prepare(root, cache) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert {n: p.stat().st_mtime_ns for n, p in _entries(cache).items()} == times


_SLOW_RUN = """
import sys, time
import fasfast.data.prepare as P
real = P.prepare_video
def slow(*a, **k):
    out = real(*a, **k)
    time.sleep(0.15)
    return out
P.prepare_video = slow
from fasfast.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc; [] elsewhere)."""
    out = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            ppid = next(x for x in status.read_text().splitlines() if x.startswith("PPid:"))
        except (OSError, StopIteration):
            continue
        if int(ppid.split()[1]) == pid:
            out.append(int(status.parent.name))
    return out


def test_resume_after_kill_9(root, tmp_path, capsys):
    cache = tmp_path / "cache"
    args = [
        "prepare",
        "--data-root",
        str(root),
        "--cache-dir",
        str(cache),
        "--size",
        "32",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_RUN, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while len(_entries(cache)) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    workers = _children(proc.pid)  # the default --workers: one process per core
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10  # the workers die with it (no orphan keeps writing)
    while any(os.path.exists(f"/proc/{w}") for w in workers) and time.time() < deadline:
        time.sleep(0.01)
    assert not any(os.path.exists(f"/proc/{w}") for w in workers), "a worker outlived kill -9"
    done_before = _load_all(cache)  # every entry there is whole and readable
    assert 3 <= len(done_before)
    # a temporary file of a killed writer (dead pid on this host) is cleaned up
    import socket

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = (
        next(iter(_entries(cache).values())).parent
        / f".deadbeef@{socket.gethostname()}@{dead.pid}.tmp"
    )
    stale.write_bytes(b"half an entry")
    capsys.readouterr()
    assert _prepare(root, cache) == 0
    out = capsys.readouterr().out
    n = len({s.path for sp in ("train", "dev", "test") for s in oulu_npu(root, "1", sp)})
    assert f"prepared {n - len(done_before)} of {n} videos" in out
    assert f"{len(done_before)} already in the cache" in out
    assert not stale.exists()
    # the same cache as an uninterrupted run
    ref = tmp_path / "ref"
    _prepare(root, ref)
    a, b = _load_all(cache), _load_all(ref)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k]["crops"], b[k]["crops"])


def test_union_of_shards_equals_one_run(root, tmp_path, capsys):
    sharded, whole = tmp_path / "sharded", tmp_path / "whole"
    counts = []
    for k in range(3):
        before = len(_entries(sharded))
        assert _prepare(root, sharded, "--shard", f"{k}/3") == 0
        counts.append(len(_entries(sharded)) - before)
    assert _prepare(root, whole) == 0
    assert min(counts) >= 1 and max(counts) - min(counts) <= 1  # dealt round-robin
    a, b = _load_all(sharded), _load_all(whole)
    assert a.keys() == b.keys()
    for k in a:
        for f in ("crops", "landmarks", "found"):
            np.testing.assert_array_equal(a[k][f], b[k][f])


def test_two_workers_write_the_same_entries(root, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert _prepare(root, one, "--splits", "train") == 0
    assert _prepare(root, two, "--splits", "train", "--workers", "2") == 0
    a, b = _load_all(one), _load_all(two)
    assert a.keys() == b.keys() and len(a) >= 2
    for k in a:
        np.testing.assert_array_equal(a[k]["crops"], b[k]["crops"])


@pytest.fixture
def bad_root(root, tmp_path):
    """A generic-list data set with one good video and one of each problem."""
    import cv2

    from fasfast.data.video import write_video

    d = tmp_path / "bad"
    d.mkdir()
    good = sorted((root / "Train_files").glob("*.avi"))[:2]
    for name, src in (("good.avi", good[0]), ("cut.avi", good[1]), ("badlm.avi", good[0])):
        shutil.copy(src, d / name)
        shutil.copy(src.with_suffix(".landmarks.npy"), d / Path(name).with_suffix(".landmarks.npy"))
    truncate(d / "cut.avi", 0.5)
    (d / "badlm.landmarks.npy").write_bytes(b"not a numpy file")
    (d / "corrupt.avi").write_bytes(b"RIFF garbage" * 50)
    shutil.copy(good[0], d / "zero.avi")
    truncate(d / "zero.avi", 0.02)
    write_video(d / "noface.avi", [np.full((48, 48, 3), 90, np.uint8)] * 4, fps=10.0)
    cv2.imwrite(str(d / "alpha.png"), np.full((48, 48, 4), 200, np.uint8))
    np.save(d / "alpha.landmarks.npy", np.load(good[0].with_suffix(".landmarks.npy"))[:1])
    names = [
        "good.avi",
        "cut.avi",
        "badlm.avi",
        "corrupt.avi",
        "zero.avi",
        "noface.avi",
        "alpha.png",
    ]
    (d / "train.txt").write_text("".join(f"{n} {i % 2}\n" for i, n in enumerate(names)))
    return d


def test_bad_files_are_reported_and_skipped(bad_root, tmp_path, capsys):
    rc = main(
        [
            "prepare",
            "--dataset",
            "list",
            "--data-root",
            str(bad_root),
            "--splits",
            "train",
            "--cache-dir",
            str(tmp_path / "c"),
            "--size",
            "32",
            "--no-progress",
        ]
    )
    cap = capsys.readouterr()
    assert rc == 0
    err = cap.err.splitlines()
    line = {
        n: [x for x in err if n in x]
        for n in ("corrupt.avi", "zero.avi", "badlm", "cut.avi", "noface.avi", "alpha.png")
    }
    for name, lines in line.items():
        assert len(lines) == 1, (name, err)  # one line per file
        assert lines[0].startswith("fasfast prepare: ")
    assert "skipped" in line["corrupt.avi"][0] and "cannot open" in line["corrupt.avi"][0]
    assert "skipped" in line["zero.avi"][0]
    assert "skipped" in line["badlm"][0] and "malformed landmark file" in line["badlm"][0]
    assert "truncated" in line["cut.avi"][0] and "promises" in line["cut.avi"][0]
    assert "no face found" in line["noface.avi"][0]
    assert "alpha channel dropped" in line["alpha.png"][0]
    assert "prepared 4 of 7 videos" in cap.out and "3 skipped" in cap.out
    assert "1 without any face" in cap.out


def test_nothing_to_prepare_is_an_error(bad_root, tmp_path, capsys):
    cache = str(tmp_path / "c")
    (bad_root / "train.txt").write_text("corrupt.avi 0\nzero.avi 1\n")
    assert (
        main(
            [
                "prepare",
                "--dataset",
                "list",
                "--data-root",
                str(bad_root),
                "--splits",
                "train",
                "--cache-dir",
                cache,
                "--no-progress",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("fasfast prepare: error: nothing could be prepared")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["prepare", "--data-root", str(empty), "--cache-dir", cache]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fasfast prepare: error: no videos found under")
    assert str(empty) in err[0]


@pytest.mark.parametrize("spec", ["3/2", "0/0", "2/2", "-1/2", "a/b", "1"])
def test_bad_shard_spec(root, tmp_path, capsys, spec):
    assert _prepare(root, tmp_path / "c", f"--shard={spec}") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"fasfast prepare: error: --shard {spec}:")
    assert not (tmp_path / "c").exists() or not _entries(tmp_path / "c")


def test_missing_landmark_file_when_required(bad_root, tmp_path, capsys):
    (bad_root / "train.txt").write_text("good.avi 1\nnoface.avi 0\n")
    assert (
        main(
            [
                "prepare",
                "--dataset",
                "list",
                "--data-root",
                str(bad_root),
                "--splits",
                "train",
                "--cache-dir",
                str(tmp_path / "c"),
                "--require-landmarks",
                "--no-progress",
            ]
        )
        == 0
    )
    cap = capsys.readouterr()
    lines = [x for x in cap.err.splitlines() if "noface.avi" in x]
    assert len(lines) == 1 and "no landmark file beside it" in lines[0]
    assert "1 skipped" in cap.out


def test_cache_keys_cover_detection_settings(bad_root, tmp_path, capsys):
    """Entries made with other detection settings are other entries (a video without a
    landmark file: the detector's settings are part of the key)."""
    (bad_root / "train.txt").write_text("noface.avi 0\n")
    base = [
        "prepare",
        "--dataset",
        "list",
        "--data-root",
        str(bad_root),
        "--splits",
        "train",
        "--cache-dir",
        str(tmp_path / "c"),
        "--size",
        "32",
        "--no-progress",
    ]
    assert main(base) == 0
    n = len(_entries(tmp_path / "c"))
    assert main(base + ["--detect-every", "3"]) == 0
    assert "prepared 1 of 1" in capsys.readouterr().out
    assert len(_entries(tmp_path / "c")) == 2 * n
    cache = CropCache(tmp_path / "c")
    assert cache.clean_stale() == 0


def test_hyspefas_whole_images(tmp_path, capsys):
    """HySpeFAS samples (PNG previews of the .mat cubes, already face crops): resized
    whole, nothing detected; FrameDataset(crop=False) reads the entries."""
    import cv2

    from fasfast.data import FrameDataset
    from fasfast.data.protocols import hyspefas

    d = tmp_path / "hys"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(d / f"s{i}.png"), rng.integers(0, 255, (40, 30, 3), dtype=np.uint8))
    (d / "train.txt").write_text("s0.mat 1\ns1.mat 0\ns2.mat 0\n")
    cache = tmp_path / "c"
    assert (
        main(
            [
                "prepare",
                "--dataset",
                "hyspefas",
                "--data-root",
                str(d),
                "--splits",
                "train",
                "--cache-dir",
                str(cache),
                "--size",
                "24",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "prepared 3 of 3" in capsys.readouterr().out
    samples = hyspefas(d / "train.txt", check_files=False)
    fd = FrameDataset(samples, image_size=24, crop=False, cache_dir=cache)
    items = [fd[i] for i in range(len(fd))]
    assert fd.stats["frames_read"] == 0 and fd.stats["detected_frames"] == 0
    want = cv2.resize(
        cv2.imread(str(d / "s1.png"))[..., ::-1], (24, 24), interpolation=cv2.INTER_AREA
    )
    np.testing.assert_allclose(items[1]["image"].permute(1, 2, 0).numpy() * 255, want, atol=0.5)


def test_another_crop_size_reuses_the_detected_landmarks(tmp_path, capsys):
    """A video without a landmark file: prepare stores its landmarks apart from the crops,
    so a model with another input size re-crops without detecting again."""
    pytest.importorskip("skimage.data")
    from fasfast.data import FrameDataset, path_label_list
    from fasfast.data.clips import astronaut_clip

    d = tmp_path / "set"
    astronaut_clip(d / "astro.avi", seconds=0.6, fps=25.0, size=(480, 270))
    (d / "train.txt").write_text("astro.avi 1\n")
    cache = tmp_path / "c"
    assert (
        main(
            [
                "prepare",
                "--dataset",
                "list",
                "--data-root",
                str(d),
                "--splits",
                "train",
                "--cache-dir",
                str(cache),
                "--size",
                "32",
                "--no-progress",
            ]
        )
        == 0
    )
    assert len(_entries(cache)) == 2  # landmarks + crops
    samples = path_label_list(d / "train.txt", root=d)
    fd = FrameDataset(samples, image_size=24, cache_dir=cache, frames_per_video=3)
    items = [fd[i] for i in range(len(fd))]
    assert len(items) == 3 and fd.stats["detected_frames"] == 0
    assert fd.stats["frames_read"] == 15 and all(it["no_face"] == 0 for it in items)
    assert len(_entries(cache)) == 3


def test_uniattack_layout_and_missing_files(root, tmp_path, capsys):
    """UniAttackData lists (live = 0 on disk); a listed file that does not exist is one
    skipped line, a split without a list one note; the rest is prepared."""
    d = tmp_path / "uni"
    (d / "p1").mkdir(parents=True)
    vids = sorted((root / "Train_files").glob("*.avi"))[:2]
    for v in vids:
        shutil.copy(v, d / v.name)
        shutil.copy(v.with_suffix(".landmarks.npy"), d / v.with_suffix(".landmarks.npy").name)
    (d / "p1" / "train_label.txt").write_text(f"{vids[0].name} 0\n{vids[1].name} 1\ngone.avi 1\n")
    assert (
        main(
            [
                "prepare",
                "--dataset",
                "uniattack",
                "--protocol",
                "p1",
                "--data-root",
                str(d),
                "--splits",
                "train,dev",
                "--cache-dir",
                str(tmp_path / "c"),
                "--size",
                "32",
                "--no-progress",
            ]
        )
        == 0
    )
    cap = capsys.readouterr()
    gone = [x for x in cap.err.splitlines() if "gone.avi" in x]
    assert len(gone) == 1 and "not found" in gone[0]
    assert any("note:" in x and "dev" in x for x in cap.err.splitlines())
    assert "prepared 2 of 3 videos" in cap.out and "1 skipped" in cap.out


def test_oulu_listed_videos_missing_are_noted(root, tmp_path, capsys):
    tree = tmp_path / "tree"
    shutil.copytree(root, tree)
    first = sorted((tree / "Train_files").glob("*.avi"))[0]
    first.unlink()
    assert _prepare(tree, tmp_path / "c", "--splits", "train") == 0
    cap = capsys.readouterr()
    lines = [x for x in cap.err.splitlines() if first.stem in x]
    assert len(lines) == 1 and "not in" in lines[0] and lines[0].startswith("fasfast prepare: ")


def test_unwritable_cache_folder(root, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    assert _prepare(root, blocker / "cache") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        "fasfast prepare: error: cannot write to the cache folder"
    )
