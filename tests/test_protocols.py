"""Protocol readers on small trees made here."""

import itertools

import numpy as np
import pytest

from fasfast.data import (
    hyspefas,
    load_hyperspectral,
    oulu_npu,
    parse_oulu_name,
    path_label_list,
    uniattack,
)

USERS = {"train": [1, 2], "dev": [3], "test": [4]}


def _oulu_tree(root, with_protocols=False):
    names = {}
    for split, users in USERS.items():
        d = root / f"{split.capitalize()}_files"
        d.mkdir(parents=True)
        names[split] = []
        for p, s, u, f in itertools.product([1, 2, 3], [1, 2, 3], users, [1, 2, 3, 4, 5]):
            n = f"{p}_{s}_{u:02d}_{f}"
            (d / f"{n}.avi").write_bytes(b"")
            names[split].append(n)
    if with_protocols:
        pdir = root / "Protocols" / "Protocol_1"
        pdir.mkdir(parents=True)
        lab = {1: "+1", 2: "-1", 3: "-1", 4: "-2", 5: "-2"}
        for split in USERS:
            sess = (3,) if split == "test" else (1, 2)
            lines = [
                f"{lab[parse_oulu_name(n)['file']]},{n}"
                for n in names[split]
                if parse_oulu_name(n)["session"] in sess
            ]
            (pdir / f"{split.capitalize()}.txt").write_text("\n".join(lines) + "\n")
        p3 = root / "Protocols" / "Protocol_3"
        p3.mkdir()
        (p3 / "Test_2.txt").write_text("+1,2_1_04_1\n-1,2_1_04_2\n\n")
    return names


def test_oulu_protocol_files(tmp_path):
    _oulu_tree(tmp_path, with_protocols=True)
    tr = oulu_npu(tmp_path, "1", "train")
    assert len(tr) == 3 * 2 * 2 * 5
    assert all(s.meta["session"] in (1, 2) for s in tr)
    for s in tr:
        f = s.meta["file"]
        assert s.label == (1 if f == 1 else 0)
        assert s.attack_type == {1: "live", 2: "print", 3: "print", 4: "replay", 5: "replay"}[f]
        assert s.split == "train" and s.path.endswith(s.video_id + ".avi")
    test = oulu_npu(tmp_path, "Protocol_1", "test")
    assert {s.meta["session"] for s in test} == {3} and len(test) == 3 * 1 * 5
    t32 = oulu_npu(tmp_path, "3_2", "test")
    assert [(s.video_id, s.label) for s in t32] == [("2_1_04_1", 1), ("2_1_04_2", 0)]
    with pytest.raises(FileNotFoundError, match=r"Protocol_2.*Train\.txt"):
        oulu_npu(tmp_path, "2", "train")


def test_oulu_rules_match_brute_force(tmp_path):
    names = _oulu_tree(tmp_path)

    def expect(proto, split):  # oracle written from the OULU-NPU paper's table
        out = []
        for n in names[split]:
            p, s, u, f = (int(x) for x in n.split("_"))
            train = split != "test"
            ok = {
                "1": s in ((1, 2) if train else (3,)),
                "2": f in ((1, 2, 4) if train else (1, 3, 5)),
                "3_1": (p != 1) if train else (p == 1),
                "4_3": (s in (1, 2) and f in (1, 2, 4) and p != 3)
                if train
                else (s == 3 and f in (1, 3, 5) and p == 3),
            }[proto]
            if ok:
                out.append(n)
        return sorted(out)

    for proto, split in itertools.product(["1", "2", "3_1", "4_3"], ["train", "dev", "test"]):
        got = sorted(s.video_id for s in oulu_npu(tmp_path, proto, split))
        assert got == expect(proto, split), (proto, split)


def test_oulu_digital_file_and_errors(tmp_path):
    d = tmp_path / "Test_files"
    d.mkdir()
    (d / "1_3_01_6.avi").write_bytes(b"")
    (d / "1_3_01_1.avi").write_bytes(b"")
    s = {x.video_id: x for x in oulu_npu(tmp_path, "2", "test")}
    assert s["1_3_01_6"].attack_type == "digital" and s["1_3_01_6"].label == 0
    with pytest.raises(ValueError, match="unknown OULU-NPU protocol"):
        oulu_npu(tmp_path, "5", "test")
    with pytest.raises(ValueError, match="unknown split"):
        oulu_npu(tmp_path, "1", "holdout")
    with pytest.raises(FileNotFoundError, match="split folder not found"):
        oulu_npu(tmp_path, "1", "train")
    with pytest.raises(FileNotFoundError, match="root not found"):
        oulu_npu(tmp_path / "nope", "1", "train")
    pdir = tmp_path / "Protocols" / "Protocol_1"
    pdir.mkdir(parents=True)
    (pdir / "Test.txt").write_text("+1,1_3_01_1\n-1,1_3_01_2\n")
    with pytest.raises(FileNotFoundError, match="1_3_01_2"):
        oulu_npu(tmp_path, "1", "test")
    assert [x.video_id for x in oulu_npu(tmp_path, "1", "test", missing="skip")] == ["1_3_01_1"]
    (pdir / "Test.txt").write_text("garbage line\n")
    with pytest.raises(ValueError, match="Test.txt:1"):
        oulu_npu(tmp_path, "1", "test")


def test_uniattack(tmp_path):
    p = tmp_path / "p2.1"
    for sub in ("train", "dev", "test"):
        (p / sub).mkdir(parents=True)
        for i in range(3):
            (p / sub / f"{i:06d}.jpg").write_bytes(b"x")
    (p / "train_label.txt").write_text(
        "p2.1/train/000000.jpg 0\np2.1/train/000001.jpg 1\np2.1/train/000002.jpg 1\n"
    )
    (p / "dev.txt").write_text("p2.1/dev/000000.jpg\np2.1/dev/000001.jpg\n")
    (p / "test.txt").write_text("p2.1/test/000002.jpg\n")
    tr = uniattack(tmp_path, "p2.1", "train")
    assert [s.label for s in tr] == [1, 0, 0]  # live=0 on disk -> 1 inside
    assert [s.attack_type for s in tr] == ["live", "attack", "attack"]
    dev = uniattack(tmp_path, "p2.1", "dev")
    assert [s.label for s in dev] == [-1, -1]
    (p / "dev_label.txt").write_text("p2.1/dev/000000.jpg 1\n")
    assert [s.label for s in uniattack(tmp_path, "p2.1", "dev")] == [0]
    assert uniattack(tmp_path, "p2.1", "test")[0].path.endswith("000002.jpg")
    with pytest.raises(FileNotFoundError, match=r"p1"):
        uniattack(tmp_path, "p1", "train")
    with pytest.raises(ValueError, match="unknown UniAttackData protocol"):
        uniattack(tmp_path, "p3", "train")
    (p / "train_label.txt").write_text("p2.1/train/000000.jpg 7\n")
    with pytest.raises(ValueError, match="0 \\(live\\) or 1"):
        uniattack(tmp_path, "p2.1", "train")
    (p / "train_label.txt").write_text("p2.1/train/missing.jpg 0\n")
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        uniattack(tmp_path, "p2.1", "train")


def _write_v73(path, arr):
    """A MATLAB v7.3 file: HDF5 with a 512-byte MAT header, arrays stored transposed."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("var", data=np.ascontiguousarray(arr.T))
    head = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 ."
    head = head.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as f:
        f.write(head)


def test_hyspefas_mat_and_png(tmp_path, rng):
    import cv2
    from scipy.io import savemat

    cube = rng.uniform(0, 1, (12, 10, 30)).astype(np.float32)
    savemat(tmp_path / "a.mat", {"var": cube})
    _write_v73(tmp_path / "b.mat", cube * 2)
    png = rng.integers(0, 255, (12, 10, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), png[..., ::-1])
    (tmp_path / "train.txt").write_text("a.mat 1\nb.mat 0\n")
    s = hyspefas(tmp_path / "train.txt")
    assert [x.label for x in s] == [1, 0] and s[0].meta["png"].endswith("a.png")
    np.testing.assert_array_equal(load_hyperspectral(s[0].path), cube)
    np.testing.assert_allclose(load_hyperspectral(s[1].path), cube * 2)
    np.testing.assert_array_equal(load_hyperspectral(s[0].path, prefer="png"), png)
    assert [x.label for x in hyspefas(tmp_path / "train.txt", live_label=0)] == [0, 1]
    savemat(tmp_path / "c.mat", {"other": cube})
    with pytest.raises(KeyError, match="no variable 'var'"):
        load_hyperspectral(tmp_path / "c.mat")
    (tmp_path / "bad.txt").write_text("zzz.mat 1\n")
    with pytest.raises(FileNotFoundError, match="zzz.mat"):
        hyspefas(tmp_path / "bad.txt")


def test_generic_list_polarity(tmp_path):
    for n in ("a.png", "b.png", "c.png"):
        (tmp_path / n).write_bytes(b"x")
    (tmp_path / "list.txt").write_text("a.png 0\nb.png 1 replay\nc.png 1\n")
    s = path_label_list(tmp_path / "list.txt", live_label=0)
    assert [x.label for x in s] == [1, 0, 0]
    assert [x.attack_type for x in s] == ["live", "replay", "attack"]
    s = path_label_list(tmp_path / "list.txt", live_label=1)
    assert [x.label for x in s] == [0, 1, 1]
    with pytest.raises(FileNotFoundError, match="list file not found"):
        path_label_list(tmp_path / "none.txt")
    (tmp_path / "bad.txt").write_text("a.png\n")
    with pytest.raises(ValueError, match="expected 'path label'"):
        path_label_list(tmp_path / "bad.txt")
