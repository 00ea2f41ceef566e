"""Readers for the protocol files of face anti-spoofing data sets.

Every reader returns a list of :class:`Sample` with an explicit polarity:
``label`` is 1 for live (bona fide), 0 for an attack, and -1 when the list carries no
label (e.g. UniAttackData's ``test.txt``).

OULU-NPU (:func:`oulu_npu`)
    Videos ``Phone_Session_User_File`` (``1_1_01_1.avi``) in ``Train_files/``,
    ``Dev_files/``, ``Test_files/``; File 1 live, 2-3 print (printers 1, 2), 4-5 replay
    (displays 1, 2). fasfast's synthetic data adds File 6 = digitally edited face
    ("digital"). The split lists come from ``Protocols/Protocol_N/{Train,Dev,Test}.txt``
    (``Train_k.txt`` ... for 3_k and 4_k), lines ``+1,1_1_01_1`` (sign: + live,
    - attack). Without a ``Protocols/`` folder the official rules are applied to the
    files found in the split's folder:

    ==========  ================================  =================================
    protocol    Train / Dev                       Test
    ==========  ================================  =================================
    1           sessions 1, 2                     session 3
    2           files 1, 2, 4 (print 1, disp. 1)  files 1, 3, 5, 6 (unseen attacks)
    3_k         phones != k                       phone k
    4_k         sessions 1, 2; files 1, 2, 4;     session 3; files 1, 3, 5, 6;
                phones != k                       phone k
    ==========  ================================  =================================

    (the digital File 6 counts as an unseen attack in protocols 2 and 4).

UniAttackData (:func:`uniattack`)
    ``<root>/<p1|p2.1|p2.2>/train_label.txt`` and ``dev_label.txt``: ``relpath label``
    with live = 0, spoof = 1 (converted: live -> 1); ``dev.txt`` / ``test.txt``: paths
    only (label -1). Paths are relative to ``root`` (or to the protocol folder).

HySpeFAS (:func:`hyspefas`)
    lists of ``<name>.mat <label>``; each ``.mat`` holds ``var`` = H x W x 30 spectral
    channels (MATLAB v5 via scipy, v7.3 via h5py), with a 3-channel PNG preview of the
    same stem beside it. :func:`load_hyperspectral` reads either.

Generic (:func:`path_label_list`)
    ``path label [attack_type]`` lines with the live label given explicitly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from fasfast.data.video import IMAGE_EXTS, VIDEO_EXTS
from fasfast.data.video import load_hyperspectral as load_hyperspectral  # moved; re-exported

SPLITS = ("train", "dev", "test")

OULU_FILE_TYPES = {1: "live", 2: "print", 3: "print", 4: "replay", 5: "replay", 6: "digital"}
OULU_PROTOCOLS = (
    ("1", "2") + tuple(f"3_{k}" for k in range(1, 7)) + tuple(f"4_{k}" for k in range(1, 7))
)
_OULU_NAME = re.compile(r"^(\d+)_(\d+)_(\d+)_(\d+)$")


@dataclass
class Sample:
    """One video / image. ``label``: 1 live, 0 attack, -1 unknown."""

    path: str
    label: int
    attack_type: str
    video_id: str
    split: str
    meta: dict = field(default_factory=dict)

    @property
    def is_live(self) -> bool:
        return self.label == 1


def _split_name(split: str) -> str:
    s = str(split).lower()
    if s in ("val", "valid", "validation", "devel"):
        s = "dev"
    if s not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    return s


def parse_oulu_name(name: str) -> dict:
    """``"1_2_03_4"`` -> dict(phone=1, session=2, user=3, file=4)."""
    m = _OULU_NAME.match(Path(name).name.split(".")[0])
    if not m:
        raise ValueError(f"not an OULU-NPU name Phone_Session_User_File: {name!r}")
    phone, session, user, file = (int(g) for g in m.groups())
    return dict(phone=phone, session=session, user=user, file=file)


def _index_media(folder: Path) -> dict[str, Path]:
    """name (no extension) -> path of videos / image folders / images in ``folder``."""
    out: dict[str, Path] = {}
    if not folder.is_dir():
        return out
    for p in sorted(folder.iterdir()):
        if p.is_dir():
            out.setdefault(p.name, p)
        elif p.suffix.lower() in VIDEO_EXTS + IMAGE_EXTS and ".landmarks" not in p.name:
            out.setdefault(p.stem, p)
    return out


def oulu_protocol_includes(protocol: str, split: str, info: dict) -> bool:
    """Whether OULU-NPU's naming rules (the module doc's table) put the video ``info``
    (:func:`parse_oulu_name`: phone, session, user, file) in ``split`` of ``protocol``
    ("1", "2", "3_k", "4_k"). Dev follows the Train rule."""
    train_like = split in ("train", "dev")
    major, _, fold = protocol.partition("_")
    k = int(fold) if fold else None
    ok = True
    if major in ("1", "4"):
        ok &= info["session"] in (1, 2) if train_like else info["session"] == 3
    if major in ("2", "4"):
        ok &= info["file"] in (1, 2, 4) if train_like else info["file"] in (1, 3, 5, 6)
    if major in ("3", "4"):
        ok &= info["phone"] != k if train_like else info["phone"] == k
    return bool(ok)


def oulu_npu(
    root, protocol: str = "1", split: str = "train", source: str = "auto", missing: str = "error"
) -> list[Sample]:
    """Samples of an OULU-NPU(-shaped) tree for ``protocol`` and ``split``.

    ``source``: "files" (``Protocols/`` lists), "rules" (naming rules, module doc) or
    "auto" (the files when ``<root>/Protocols`` exists, else the rules).
    ``missing``: a listed video not found -> "error" (default) or "skip".
    """
    root = Path(root)
    protocol = _oulu_protocol(protocol)
    split = _split_name(split)
    if not root.is_dir():
        raise FileNotFoundError(f"OULU-NPU root not found: {root}")
    folder = root / f"{split.capitalize()}_files"
    media = _index_media(folder)
    if source == "auto":
        source = "files" if (root / "Protocols").is_dir() else "rules"
    if source == "files":
        entries = _oulu_listed(root, protocol, split)
    elif source == "rules":
        if not folder.is_dir():
            raise FileNotFoundError(f"OULU-NPU split folder not found: {folder}")
        entries = _oulu_by_rule(media, protocol, split)
    else:
        raise ValueError(f"source must be 'auto', 'files' or 'rules', got {source!r}")
    samples, absent = [], []
    for name, lab in entries:
        info = parse_oulu_name(name)  # a bad name in a list fails here, listed or not
        if name in media:
            samples.append(_oulu_sample(media[name], name, info, lab, protocol, split))
        else:
            absent.append(name)
    if absent and missing == "error":
        raise FileNotFoundError(
            f"{len(absent)} OULU-NPU videos listed for protocol {protocol} / {split} are not in "
            f"{folder}: {', '.join(absent[:5])}{' ...' if len(absent) > 5 else ''}"
        )
    return samples


def _oulu_protocol(protocol) -> str:
    """``"1"``, ``"3_2"``, ... from ``protocol`` (``"Protocol_"`` prefix allowed), checked."""
    protocol = str(protocol)
    if protocol.startswith("Protocol_"):
        protocol = protocol[len("Protocol_") :]
    if protocol not in OULU_PROTOCOLS:
        raise ValueError(
            f"unknown OULU-NPU protocol {protocol!r}; expected one of {OULU_PROTOCOLS}"
        )
    return protocol


def _oulu_listed(root: Path, protocol: str, split: str) -> list[tuple[str, int | None]]:
    """(name, label) of every line of the protocol's list file ``Protocols/Protocol_P/...``."""
    major, _, fold = protocol.partition("_")
    fname = f"{split.capitalize()}{'_' + fold if fold else ''}.txt"
    pfile = root / "Protocols" / f"Protocol_{major}" / fname
    if not pfile.is_file():
        raise FileNotFoundError(f"OULU-NPU protocol file not found: {pfile}")
    entries: list[tuple[str, int | None]] = []
    for n, line in enumerate(pfile.read_text().splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 2:
            raise ValueError(f"{pfile}:{n}: expected '+1,Phone_Session_User_File', got {line!r}")
        try:
            val = int(parts[0])
        except ValueError as e:
            raise ValueError(f"{pfile}:{n}: bad label {parts[0]!r}") from e
        entries.append((parts[1], 1 if val > 0 else 0))
    return entries


def _oulu_by_rule(media: dict, protocol: str, split: str) -> list[tuple[str, int | None]]:
    """(name, None) of every video in the split folder the protocol's naming rule takes."""
    entries: list[tuple[str, int | None]] = []
    for name in media:
        try:
            info = parse_oulu_name(name)
        except ValueError:
            continue
        if oulu_protocol_includes(protocol, split, info):
            entries.append((name, None))
    return entries


def _oulu_sample(path, name: str, info: dict, lab: int | None, protocol: str, split: str):
    """The :class:`Sample` of video ``name`` (``info``: its parsed name): the label from the
    list (``lab``) or, without one, from the file number."""
    atype = OULU_FILE_TYPES.get(info["file"], "attack")
    label = (1 if info["file"] == 1 else 0) if lab is None else lab
    if label == 1:
        atype = "live"
    elif atype == "live":
        atype = "attack"
    return Sample(
        str(path), label, atype, name, split, dict(info, protocol=protocol, dataset="oulu-npu")
    )


def _read_list(path: Path, with_label: bool) -> list[tuple[str, int | None, list[str]]]:
    if not path.is_file():
        raise FileNotFoundError(f"list file not found: {path}")
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if with_label:
            if len(parts) < 2:
                raise ValueError(f"{path}:{n}: expected 'path label', got {line!r}")
            try:
                lab = int(float(parts[1]))
            except ValueError as e:
                raise ValueError(f"{path}:{n}: bad label {parts[1]!r}") from e
            out.append((parts[0], lab, parts[2:]))
        else:
            out.append((parts[0], None, parts[1:]))
    return out


def _resolve(rel: str, bases: list[Path]) -> Path:
    p = Path(rel)
    if p.is_absolute():
        return p
    for b in bases:
        if (b / p).exists():
            return b / p
    return bases[0] / p


UNIATTACK_PROTOCOLS = ("p1", "p2.1", "p2.2")


def uniattack(
    root, protocol: str = "p1", split: str = "train", check_files: bool = True
) -> list[Sample]:
    """UniAttackData samples: train/dev from ``*_label.txt`` (live=0, spoof=1 on disk),
    dev without labels from ``dev.txt`` when ``dev_label.txt`` is absent, test from
    ``test.txt`` (label -1)."""
    root = Path(root)
    if protocol not in UNIATTACK_PROTOCOLS:
        raise ValueError(
            f"unknown UniAttackData protocol {protocol!r}; expected one of {UNIATTACK_PROTOCOLS}"
        )
    split = _split_name(split)
    pdir = root / protocol
    if not pdir.is_dir():
        raise FileNotFoundError(f"UniAttackData protocol folder not found: {pdir}")
    labelled = pdir / f"{split}_label.txt"
    plain = pdir / f"{split}.txt"
    if labelled.is_file():
        rows = _read_list(labelled, True)
    elif split != "train" and plain.is_file():
        rows = _read_list(plain, False)
    else:
        raise FileNotFoundError(
            f"UniAttackData list not found: {labelled}"
            + ("" if split == "train" else f" (nor {plain})")
        )
    samples, absent = [], []
    for rel, lab, _ in rows:
        path = _resolve(rel, [root, pdir])
        if check_files and not path.exists():
            absent.append(rel)
            continue
        if lab is None:
            label, atype = -1, "unknown"
        elif lab in (0, 1):
            label, atype = (1, "live") if lab == 0 else (0, "attack")
        else:
            raise ValueError(
                f"UniAttackData label must be 0 (live) or 1 (spoof), got {lab} for {rel}"
            )
        samples.append(
            Sample(
                str(path), label, atype, rel, split, dict(protocol=protocol, dataset="uniattack")
            )
        )
    if absent:
        raise FileNotFoundError(
            f"{len(absent)} UniAttackData files listed in {protocol}/{split} "
            f"do not exist under {root}: {', '.join(absent[:5])}"
        )
    return samples


def hyspefas(
    list_file, root=None, split: str = "train", live_label: int = 1, check_files: bool = True
) -> list[Sample]:
    """HySpeFAS samples from a ``<name>.mat <label>`` list (label == ``live_label`` -> live).

    A line without a label gives label -1. ``meta["png"]`` is the preview beside the
    ``.mat`` when it exists.
    """
    list_file = Path(list_file)
    root = Path(root) if root is not None else list_file.parent
    if not list_file.is_file():
        raise FileNotFoundError(f"HySpeFAS list not found: {list_file}")
    rows = []
    for n, line in enumerate(list_file.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        lab = None
        if len(parts) >= 2:
            try:
                lab = int(float(parts[1]))
            except ValueError as e:
                raise ValueError(f"{list_file}:{n}: bad label {parts[1]!r}") from e
        rows.append((parts[0], lab))
    samples = []
    for rel, lab in rows:
        path = _resolve(rel, [root, list_file.parent])
        png = path.with_suffix(".png")
        if check_files and not path.exists() and not png.exists():
            raise FileNotFoundError(f"HySpeFAS file not found: {path} (nor {png.name})")
        label = -1 if lab is None else int(lab == live_label)
        atype = "unknown" if lab is None else ("live" if label else "attack")
        meta = dict(dataset="hyspefas")
        if png.exists():
            meta["png"] = str(png)
        samples.append(Sample(str(path), label, atype, Path(rel).stem, _split_name(split), meta))
    return samples


def path_label_list(
    file, root=None, live_label: int = 1, split: str = "train", check_files: bool = True
) -> list[Sample]:
    """Generic ``path label [attack_type]`` list; ``label == live_label`` -> live (1)."""
    file = Path(file)
    root = Path(root) if root is not None else file.parent
    samples = []
    for rel, lab, rest in _read_list(file, True):
        path = _resolve(rel, [root, file.parent])
        if check_files and not path.exists():
            raise FileNotFoundError(f"file listed in {file} not found: {path}")
        label = int(lab == live_label)
        atype = "live" if label else (rest[0] if rest else "attack")
        samples.append(
            Sample(str(path), label, atype, rel, _split_name(split), dict(dataset="list"))
        )
    return samples


def summarize(samples: list[Sample]) -> dict:
    """Counts per attack type and label."""
    out: dict = {"total": len(samples), "live": 0, "attack": 0, "unknown": 0, "types": {}}
    for s in samples:
        key = {1: "live", 0: "attack"}.get(s.label, "unknown")
        out[key] += 1
        out["types"][s.attack_type] = out["types"].get(s.attack_type, 0) + 1
    return out
