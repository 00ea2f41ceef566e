"""The OULU-NPU-shaped tree: file names, the user split, one video per
(phone, session, user, file), the protocol lists and synth.json.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fasfast.data.synth.capture import render_background, sample_camera, sample_light
from fasfast.data.synth.digital import video_digital
from fasfast.data.synth.face import Placement, sample_appearance
from fasfast.data.synth.live import ARTEFACTS_MAX, Context, video_live
from fasfast.data.synth.photos import Photo, load_photos
from fasfast.data.synth.printed import video_print
from fasfast.data.synth.replay import video_replay

ATTACK_FILES = {1: "live", 2: "print", 3: "print", 4: "replay", 5: "replay", 6: "digital"}


_PROTOCOL_LABEL = {"live": "+1", "print": "-1", "replay": "-2", "digital": "-3"}


@dataclass
class SynthConfig:
    """Settings of :func:`generate` (written to ``synth.json``)."""

    subjects: int = 6
    seed: int = 0
    seconds: float = 2.0
    fps: float = 15.0
    size: int = 160
    phones: int = 1
    sessions: int = 3
    files: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    faces: str | None = None
    codec: str = "FFV1"
    artefacts: float = 1.0  # the difficulty knob: strength of the attacks' appearance cues
    recapture: float = 0.0  # detail lost by the attacks' media before presentation


def split_users(subjects: int) -> dict[str, list[int]]:
    """Users 1..N over train / dev / test in the ratio 3 : 1 : 2 (each at least 1)."""
    if subjects < 3:
        raise ValueError(f"need at least 3 subjects (train, dev, test), got {subjects}")
    n_dev = max(1, int(round(subjects / 6)))
    n_test = max(1, int(round(subjects / 3)))
    n_train = subjects - n_dev - n_test
    users = list(range(1, subjects + 1))
    return {
        "train": users[:n_train],
        "dev": users[n_train : n_train + n_dev],
        "test": users[n_train + n_dev :],
    }


def render_video(
    cfg: SynthConfig, user: int, phone: int, session: int, file: int, photos=None
) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames (RGB uint8 [S,S,3]) and landmarks [F,68,2] of one synthetic video."""
    seed = int(cfg.seed)
    n = max(1, int(round(cfg.seconds * cfg.fps)))
    app = sample_appearance(np.random.default_rng([seed, user, 1]))
    donor_user = (user % cfg.subjects) + 1
    donor = sample_appearance(np.random.default_rng([seed, donor_user, 1, 7]))
    cam = sample_camera(np.random.default_rng([seed, phone, 2]))
    light = sample_light(np.random.default_rng([seed, user, session, 3]), session)
    rng = np.random.default_rng([seed, user, phone, session, file])
    size = int(cfg.size)
    place = Placement(
        centre=np.array([0.5, 0.47]) * size + rng.uniform(-0.04, 0.04, 2) * size,
        half_width=rng.uniform(0.21, 0.26) * size,
    )
    photo = donor_photo = None
    if photos:
        img, lm = photos[(user - 1) % len(photos)]
        photo = Photo(img, lm, app)
        img, lm = photos[user % len(photos)]
        donor_photo = Photo(img, lm, donor)
    bg = render_background(app, size)
    ctx = Context(
        app,
        donor,
        bg,
        place,
        cam,
        light,
        n,
        float(cfg.fps),
        size,
        photo,
        donor_photo,
        float(cfg.artefacts),
        float(cfg.recapture),
        np.random.default_rng([seed, user, phone, session, file, 11]),
    )
    kind = ATTACK_FILES.get(file)
    if kind == "live":
        frames, lms = video_live(ctx, rng)
    elif kind == "print":
        frames, lms = video_print(ctx, rng, printer=file - 1)
    elif kind == "replay":
        frames, lms = video_replay(ctx, rng, display=file - 3)
    elif kind == "digital":
        frames, lms = video_digital(ctx, rng)
    else:
        raise ValueError(f"unknown file type {file}; expected one of {sorted(ATTACK_FILES)}")
    return frames, lms.astype(np.float32)


def generate(
    out_dir,
    subjects: int = 6,
    seed: int = 0,
    seconds: float = 2.0,
    fps: float = 15.0,
    size: int = 160,
    faces=None,
    progress: bool = True,
    phones: int = 1,
    sessions: int = 3,
    files=(1, 2, 3, 4, 5, 6),
    codec: str = "FFV1",
    artefacts: float = 1.0,
    recapture: float = 0.0,
) -> Path:
    """Write a synthetic OULU-NPU-shaped data set to ``out_dir`` (see module doc) -> root.

    ``artefacts`` in [0, 2] is the difficulty knob: the strength of the attacks' appearance
    cues (1, the default: as drawn; lower: harder to tell from live faces; 0: only the
    motion cues are left). ``recapture`` in [0, 2]: the detail an attack's media lost
    before it is presented (a print's / replay's source capture, a digital edit's
    re-encoding: a blur and a down- / up-sampling,
    :func:`~fasfast.data.synth.live.source_loss`); 0, the default, leaves it out (and the
    bytes unchanged). Raises ValueError on an out-of-range setting."""
    from fasfast.data.protocols import oulu_protocol_includes
    from fasfast.data.video import write_video
    from fasfast.labels.landmarks import save_landmarks

    cfg = SynthConfig(
        subjects=int(subjects),
        seed=int(seed),
        seconds=float(seconds),
        fps=float(fps),
        size=int(size),
        phones=int(phones),
        sessions=int(sessions),
        files=tuple(int(f) for f in files),
        faces=None if faces is None else str(faces),
        codec=codec,
        artefacts=float(artefacts),
        recapture=float(recapture),
    )
    if not 0.0 <= cfg.recapture <= ARTEFACTS_MAX:
        raise ValueError(
            f"recapture must be between 0 and {ARTEFACTS_MAX:g} (0 = none), got {recapture}"
        )
    if not 0.0 <= cfg.artefacts <= ARTEFACTS_MAX:
        raise ValueError(
            f"artefacts must be between 0 and {ARTEFACTS_MAX:g} (1 = the default "
            f"strength), got {artefacts}"
        )
    if cfg.size < 32:
        raise ValueError(f"size must be >= 32, got {size}")
    if not (cfg.fps > 0 and cfg.seconds > 0) or cfg.fps * cfg.seconds < 1:
        raise ValueError(
            f"fps and seconds must be > 0 and give at least one frame, got fps "
            f"{fps}, seconds {seconds}"
        )
    if not 1 <= cfg.phones <= 9 or not 1 <= cfg.sessions <= 9:
        raise ValueError("phones and sessions must be between 1 and 9")
    bad = [f for f in cfg.files if f not in ATTACK_FILES]
    if bad or 1 not in cfg.files:
        raise ValueError(f"files must include 1 (live) and come from {sorted(ATTACK_FILES)}")
    users = split_users(cfg.subjects)
    photos = load_photos(faces) if faces is not None else None
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    jobs = [
        (split, u, p, s, f)
        for split, us in users.items()
        for u in us
        for p in range(1, cfg.phones + 1)
        for s in range(1, cfg.sessions + 1)
        for f in cfg.files
    ]
    try:
        from tqdm import tqdm

        it = tqdm(jobs, desc="synth", unit="video", disable=not progress)
    except ImportError:  # pragma: no cover
        it = jobs
    listing = {sp: [] for sp in users}
    for split, u, p, s, f in it:
        name = f"{p}_{s}_{u:02d}_{f}"
        frames, lms = render_video(cfg, u, p, s, f, photos)
        folder = root / f"{split.capitalize()}_files"
        write_video(folder / f"{name}.avi", frames, fps=cfg.fps, codec=cfg.codec)
        save_landmarks(folder / f"{name}.landmarks.npy", lms)
        listing[split].append((name, dict(phone=p, session=s, user=u, file=f)))
    # protocol files
    protocols = ["1", "2"]
    if cfg.phones >= 2:
        protocols += [f"3_{k}" for k in range(1, cfg.phones + 1)]
        if cfg.sessions >= 3:
            protocols += [f"4_{k}" for k in range(1, cfg.phones + 1)]
    for proto in protocols:
        major, _, fold = proto.partition("_")
        pdir = root / "Protocols" / f"Protocol_{major}"
        pdir.mkdir(parents=True, exist_ok=True)
        for split, items in listing.items():
            lines = [
                f"{_PROTOCOL_LABEL[ATTACK_FILES[info['file']]]},{name}"
                for name, info in items
                if oulu_protocol_includes(proto, split, info)
            ]
            fname = f"{split.capitalize()}{'_' + fold if fold else ''}.txt"
            (pdir / fname).write_text("\n".join(lines) + ("\n" if lines else ""))
    meta = asdict(cfg)
    meta.update(
        users=users,
        protocols=protocols,
        frames=max(1, int(round(cfg.seconds * cfg.fps))),
        attack_files={str(k): v for k, v in ATTACK_FILES.items()},
    )
    (root / "synth.json").write_text(json.dumps(meta, indent=1))
    return root
