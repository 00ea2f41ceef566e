"""PyTorch datasets: face-crop sequences for EulerNet, single frames for the classifier.

Frames become crops through :mod:`fasfast.data.faces` (one front-to-back pass per video):
per-frame landmarks from the landmark file beside the video (``<stem>.landmarks.npy`` /
``.json``, e.g. synthetic data) when present, else from dlib with ``detect`` (default:
tracked detection, :class:`~fasfast.labels.tracking.DetectSettings`); faces cropped with
margin 1.3, square.

Unreadable samples (never a silent substitute in evaluation):

- a video that cannot be listed (unreadable when the dataset is built) is left out, listed
  in :attr:`left_out` as ``(sample, reason)`` and counted in ``stats["unreadable"]``; one
  warning line per file, emitted only when some other sample is readable (when none is,
  :class:`NoReadableSamples` is raised, its message the reason when there was one sample);
- an evaluation item (``train=False``) whose file fails while it is read (a corrupt frame,
  a malformed landmark file, a window that needs frames past the last decodable frame of a
  truncated video, which the reader would fill by repeating that frame: a frozen frame
  looks like a print to a temporal model) is returned as a *failed item*: zero tensors, its ``video``,
  ``label``, ``window``, and ``error`` = the reason (``""`` on good items). It is never
  replaced by another sample: the scorer leaves its video out and reports it
  (:func:`fasfast.engine.scoring.score_dataset`). This channel works with DataLoader
  workers, whose ``stats`` the main process never sees;
- a training item (``train=True``) whose file fails is replaced by the next readable one
  (so an epoch never crashes on a bad file); the item says so: ``skipped`` (failed tries
  before it) and ``skipped_files`` (their paths, one per line), which the training loop
  sums per epoch. :class:`NoReadableSamples` is raised when every sample fails.

Frames without a face are counted in ``stats["no_face_frames"]``. ``stats`` is per process
(with DataLoader workers each worker counts its own; a warning is emitted once per bad
file).

Randomness (training windows, augmentation) is drawn from
``numpy.random.default_rng([seed, epoch, index])``; call :meth:`set_epoch` every epoch.

With ``cache_dir`` every frame of a video is decoded, landmarked, cropped and cached once
(:class:`~fasfast.data.cache.CropCache`, the cache ``fasfast prepare`` fills); later epochs
decode nothing. Without it, an evaluation dataset (``train=False``) processes each video
once for all of its windows (kept in memory while its items are read), and a training
item reads only the frames of its window. Faces are tracked over the frames read: every
frame with a cache, only the windows' frames without one, so the two can differ by a few
percent of the inter-ocular distance.

Length: over the project's ~450-line guide once ruff-formatted, because both datasets share
the face source and the leave-out / skip rules (``_SkippingDataset``); ``_FaceSource`` is
the part to move next to :mod:`fasfast.data.faces`.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch.utils.data import Dataset

from fasfast.data.cache import CropCache, crops_key, landmarks_key
from fasfast.data.crop import crop_image
from fasfast.data.faces import LandmarkFileError, compute_entry
from fasfast.data.protocols import Sample
from fasfast.data.sequences import random_sequence, sample_sequences, window_span
from fasfast.data.video import DataWarning, VideoReader, VideoReadError, hyperspectral_to_rgb
from fasfast.labels.landmarks import landmark_file_for
from fasfast.labels.maps import KINDS, make_label_map
from fasfast.labels.tracking import DetectSettings

_READ_ERRORS = (VideoReadError, LandmarkFileError, OSError, ValueError, IndexError)


class TruncatedWindowError(VideoReadError):
    """An evaluation window needs frames past the last decodable frame of a truncated
    video (:class:`~fasfast.data.video.TruncatedVideoWarning`); evaluation never scores the
    repeated frames the reader puts there."""


class NoReadableSamples(VideoReadError):
    """Every sample of a dataset failed to read (nothing can be processed). ``errors``:
    ``[(path, reason)]`` of every sample, in order."""

    def __init__(self, message: str, errors: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.errors = list(errors or [])


class _FaceSource:
    """Frames, landmarks and crops of samples (shared by both datasets)."""

    def __init__(
        self,
        image_size: int,
        margin: float,
        cache_dir,
        detector=None,
        crop: bool = True,
        detect: DetectSettings | None = None,
    ):
        if int(image_size) < 8:
            raise ValueError(f"image_size must be >= 8, got {image_size}")
        self.image_size = int(image_size)
        self.margin = float(margin)
        self.crop = bool(crop)
        self.cache = CropCache(cache_dir) if cache_dir is not None else None
        if detect is None and cache_dir is not None:  # what fasfast prepare used
            from fasfast.data.prepare import cache_detect_settings

            detect = cache_detect_settings(cache_dir)
        self.detect = detect or DetectSettings()
        self._detector = detector
        self.strict = False  # evaluation: refuse windows past a truncated video's end
        self.stats = {
            "unreadable": 0,
            "replaced": 0,
            "failed_items": 0,
            "bad_files": [],
            "no_face_frames": 0,
            "frames_read": 0,
            "detected_frames": 0,
        }
        self._warned: set[str] = set()
        self.plan: dict[str, list[int]] = {}  # path -> every index the dataset will ask for
        # path -> {frame index: landmarks or None} found beforehand (a background pass)
        self.known_landmarks: dict[str, dict] = {}
        # path -> entry of compute_entry (crops of this source's size and margin) made
        # beforehand (a background pass); used for the windows whose frames it holds
        self.known_entries: dict[str, dict] = {}
        self._memo: tuple[str, dict] | None = None
        self._readers: dict[str, VideoReader] = {}

    def num_frames(self, sample: Sample) -> int:
        reader = VideoReader(sample.path)
        self._readers[sample.path] = reader  # its header is not read again
        return reader.num_frames

    def _compute(self, path, indices, landmarks) -> dict:
        """Face crops of ``indices`` (all frames when None) of the video at ``path``:
        ``{"indices", "crops", "landmarks", "found", "frame_landmarks", "num_frames",
        "decoded"}``, in one pass (landmarks: "file" or a cached array)."""
        if isinstance(landmarks, str) and path in self.known_landmarks:
            landmarks = self.known_landmarks[path]  # (not set for videos with a file)
        entry, st = compute_entry(
            self._readers.get(path, path),
            indices,
            size=self.image_size,
            margin=self.margin,
            crop=self.crop,
            detect=self.detect,
            detector=self._detector,
            landmarks=landmarks,
        )
        self.stats["frames_read"] += st["frames"]
        self.stats["detected_frames"] += st["detected"]
        return entry

    def cached(self, path: str) -> dict:
        """The crop entry of every frame of ``path`` from the cache, filled when missing
        (from the cached landmark entry when there is one: nothing is detected twice)."""
        lmf = landmark_file_for(path)
        dkey = self.detect.key()
        key = crops_key(
            path,
            size=self.image_size,
            margin=self.margin,
            crop=self.crop,
            detect_key=dkey,
            landmark_file=lmf,
        )
        entry = self.cache.get(key)
        if entry is not None:
            return entry
        lkey = None if lmf is not None else landmarks_key(path, dkey)
        known = self.cache.get(lkey) if lkey is not None else None
        entry = self._compute(path, None, known["frame_landmarks"] if known else "file")
        if lkey is not None and known is None:
            self.cache.put(lkey, frame_landmarks=entry["frame_landmarks"])
        self.cache.put(key, **entry)
        return entry

    def load(self, sample: Sample, indices) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Crops uint8 [T,S,S,3], crop landmarks float32 [T,68,2], face found bool [T]."""
        indices = [int(i) for i in indices]
        if self.cache is not None:
            entry = self.cached(sample.path)
            pos = np.minimum(np.asarray(indices), len(entry["crops"]) - 1)
        else:
            entry = self._memo[1] if self._memo and self._memo[0] == sample.path else None
            known = self.known_entries.get(sample.path)
            if (
                (entry is None or not set(indices) <= set(entry["indices"].tolist()))
                and known is not None
                and set(indices) <= set(known["indices"].tolist())
            ):
                entry = known
            if entry is None or not set(indices) <= set(entry["indices"].tolist()):
                plan = self.plan.get(sample.path)
                want = plan if plan is not None and set(indices) <= set(plan) else indices
                entry = self._compute(sample.path, want, "file")
                if plan is not None:
                    self._memo = (sample.path, entry)
            pos = np.searchsorted(entry["indices"], indices)
        if self.strict:
            _check_decodable(sample.path, entry, indices)
        crops, lms, found = entry["crops"][pos], entry["landmarks"][pos], entry["found"][pos]
        self.stats["no_face_frames"] += int((~found).sum())
        return crops, lms, found

    def _bad(self, sample: Sample, err: Exception, what: str = "skipping") -> None:
        """Record a sample that failed to read: listed once in ``bad_files`` with one
        warning line ``<what> unreadable sample <path>: <reason>``."""
        if sample.path not in self._warned:
            self._warned.add(sample.path)
            self.stats["bad_files"].append(sample.path)
            warnings.warn(
                f"{what} unreadable sample {sample.path}: {_reason(err)}", DataWarning, stacklevel=3
            )


def _check_decodable(path: str, entry: dict, indices) -> None:
    """TruncatedWindowError when ``indices`` reach past the decodable frames of a truncated
    video (``entry``'s ``decoded`` below its ``num_frames``)."""
    decoded, promised = entry.get("decoded"), entry.get("num_frames")
    if decoded is None or promised is None or int(decoded) >= int(promised):
        return
    last = max(indices)
    if last >= int(decoded):
        raise TruncatedWindowError(
            f"truncated video: the header promises {int(promised)} frames, {int(decoded)} are "
            f"decodable, and this window needs frame {last}"
        )


def _reason(err: Exception) -> str:
    """An exception as one line (its message, else its type)."""
    return " ".join(str(err).split()) or type(err).__name__


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 [..., H, W, 3] -> float32 [..., 3, H, W] in [0, 1] (contiguous).

    In numpy: torch's uint8 -> float conversion of the permuted view took ~15 CPU-ms per
    4x64x64 sequence here (the same values in ~0.04 ms)."""
    f = np.ascontiguousarray(np.moveaxis(np.asarray(images), -1, -3), dtype=np.float32)
    f /= np.float32(255.0)
    return torch.from_numpy(f)


class _SkippingDataset(Dataset):
    """Shared item access of the datasets: a training item whose file fails to read is
    counted and replaced by the next readable one, an evaluation item comes back as a failed
    item (module doc); ``set_epoch`` re-draws windows and augmentations. Subclasses call
    ``_setup`` and ``_keep_readable``, set ``index`` and implement ``_item(idx, rng)`` and
    ``_failed_item(idx, reason)``."""

    def _setup(
        self, *, train, augment, seed, image_size, margin, cache_dir, detector, crop, detect=None
    ) -> None:
        """The state every dataset shares: split role, augmentation, seed, epoch and the
        face source (decode, crop, cache)."""
        self.train = bool(train)
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0
        self.source = _FaceSource(image_size, margin, cache_dir, detector, crop, detect)
        self.source.strict = not self.train
        self.image_size = self.source.image_size

    @property
    def stats(self) -> dict:
        return self.source.stats

    def set_epoch(self, epoch: int) -> None:
        """Change the random windows / augmentations drawn for the next epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.samples) if self.train else len(self.index)

    def _keep_readable(self, samples, count_frames) -> None:
        """Keep the samples whose frames can be counted (``self.samples``, ``self.num_frames``);
        unreadable files are left out, listed in ``self.left_out`` as ``(sample, reason)``,
        counted in ``stats`` and reported (one warning line each) once it is known that some
        sample is readable; when none is, :class:`NoReadableSamples` says why."""
        self.samples: list[Sample] = []
        self.num_frames: list[int] = []
        self.left_out: list[tuple[Sample, str]] = []
        errors = []
        for s in samples:
            try:
                n = count_frames(s)
            except _READ_ERRORS as e:
                errors.append((s, e))
                continue
            self.samples.append(s)
            self.num_frames.append(n)
        if not self.samples:
            s, e = errors[0]
            every = [(b.path, _reason(x)) for b, x in errors]
            if len(samples) == 1:
                raise NoReadableSamples(_reason(e), every) from e
            raise NoReadableSamples(
                f"none of the {len(samples)} samples could be read; first: {s.path}: {_reason(e)}",
                every,
            ) from e
        for s, e in errors:
            self.source.stats["unreadable"] += 1
            self.left_out.append((s, _reason(e)))
            self.source._bad(s, e, "left out")

    def __getitem__(self, idx: int) -> dict:
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(f"index {idx} out of range for {len(self)} items")
        if not self.train:
            return self._eval_item(idx)
        n = len(self)
        skipped: list[str] = []
        for k in range(n):
            j = (idx + k) % n
            rng = np.random.default_rng([self.seed, self.epoch, j])
            try:
                item = self._item(j, rng)
            except _READ_ERRORS as e:
                self.stats["replaced"] += 1
                self.source._bad(self.samples[j], e)
                skipped.append(self.samples[j].path)
                continue
            item["skipped"] = len(skipped)
            item["skipped_files"] = "\n".join(skipped)
            return item
        raise NoReadableSamples(
            f"every sample of the dataset failed to load ({n} tried); "
            f"bad files: {self.stats['bad_files'][:5]}"
        )

    def _eval_item(self, idx: int) -> dict:
        """Item ``idx`` of an evaluation dataset, or its failed item (never another one)."""
        rng = np.random.default_rng([self.seed, self.epoch, idx])
        try:
            item = self._item(idx, rng)
        except _READ_ERRORS as e:
            sample = self.samples[self.index[idx][0]]
            self.stats["failed_items"] += 1
            self.source._bad(sample, e, "left out")
            return self._failed_item(idx, _reason(e))
        item["error"] = ""
        return item


class SequenceDataset(_SkippingDataset):
    """Sequences of ``length`` face crops ``interval`` frames apart with per-frame label maps.

    ``train=False``: one item per (video, non-overlapping window); ``train=True``: one
    item per video with a random window. Item: ``frames`` float32 [T,3,S,S] in [0, 1],
    ``target`` float32 [T,M,M], ``label`` int64 [] (1 live), ``video`` str,
    ``attack_type`` str, ``window`` int (window number), ``frame_index`` int64 [T],
    ``no_face`` int (frames of the item without a detected face).
    ``augment``: a callable ``(frames uint8 [T,S,S,3], landmarks [T,68,2], None, label=,
    attack_type=, rng=) -> (frames, landmarks, maps)`` from :mod:`fasfast.data.augment`.
    """

    def __init__(
        self,
        samples,
        *,
        length: int = 4,
        interval: int = 3,
        image_size: int = 256,
        map_size: int = 32,
        label_kind: str = "location",
        train: bool = False,
        augment=None,
        cache_dir=None,
        seed: int = 0,
        margin: float = 1.3,
        detector=None,
        crop: bool = True,
        detect: DetectSettings | None = None,
    ):
        if label_kind not in KINDS:
            raise ValueError(f"unknown label_kind {label_kind!r}; expected one of {KINDS}")
        samples = list(samples)
        if not samples:
            raise ValueError("SequenceDataset needs at least one sample")
        self.length, self.interval = int(length), int(interval)
        window_span(self.length, self.interval)
        self.map_size = int(map_size)
        self.label_kind = label_kind
        self._setup(
            train=train,
            augment=augment,
            seed=seed,
            image_size=image_size,
            margin=margin,
            cache_dir=cache_dir,
            detector=detector,
            crop=crop,
            detect=detect,
        )
        self._keep_readable(samples, self.source.num_frames)
        self._check_span()
        self.index: list[tuple[int, int, list[int]]] = []
        if not self.train:
            for si, n in enumerate(self.num_frames):
                windows = sample_sequences(n, self.length, self.interval)
                for wi, w in enumerate(windows):
                    self.index.append((si, wi, w))
                self.source.plan[self.samples[si].path] = sorted({i for w in windows for i in w})

    def _check_span(self) -> None:
        """``length`` and ``interval`` against the videos' lengths: a window spans
        ``(length - 1) * interval + 1`` frames; a shorter video repeats its last frame
        (:mod:`fasfast.data.sequences`). For training, when every video (of more than one
        frame: a single image is repeated by design) is shorter, the setting is refused
        (ValueError: no window would show motion to learn from); otherwise shorter videos
        (evaluation, prediction: a short clip is scored as the model sees it) get one warning
        line saying how many."""
        span = window_span(self.length, self.interval)
        clips = [(s, n) for s, n in zip(self.samples, self.num_frames) if n > 1]
        short = [(s, n) for s, n in clips if n < span]
        setting = f"--interval {self.interval} with --length {self.length}"
        if self.train and clips and len(short) == len(clips):
            s, n = max(clips, key=lambda c: c[1])
            raise ValueError(
                f"{setting} needs {span} frames per window, but the longest of the "
                f"{len(clips)} videos has {n} ({s.path}); lower the interval or the "
                "length"
            )
        if short:
            s, n = short[0]
            warnings.warn(
                f"{len(short)} of {len(clips)} videos are shorter than one window of "
                f"{setting} ({span} frames), e.g. {s.path} ({n} frames): their "
                "windows repeat the last frame",
                DataWarning,
                stacklevel=3,
            )

    def _item(self, idx: int, rng) -> dict:
        if self.train:
            si = idx
            w = random_sequence(self.num_frames[si], self.length, self.interval, rng)
            wi = w[0] // window_span(self.length, self.interval)
        else:
            si, wi, w = self.index[idx]
        s = self.samples[si]
        crops, lms, found = self.source.load(s, w)
        live = s.label == 1
        if self.augment is not None:
            crops, lms, _ = self.augment(
                crops, lms, None, label=s.label, attack_type=s.attack_type, rng=rng
            )
        maps = np.stack(
            [
                make_label_map(
                    self.label_kind,
                    lm if np.all(np.isfinite(lm)) else None,
                    self.map_size,
                    live,
                    crop_size=self.image_size,
                )
                if self.label_kind == "binary" or np.all(np.isfinite(lm))
                else np.zeros((self.map_size, self.map_size), np.float32)
                for lm in lms
            ]
        )
        return {
            "frames": _to_tensor(crops),
            "target": torch.from_numpy(maps),
            "label": torch.tensor(int(s.label), dtype=torch.long),
            "video": s.video_id,
            "attack_type": s.attack_type,
            "window": int(wi),
            "frame_index": torch.tensor(w, dtype=torch.long),
            "no_face": int((~found).sum()),
        }

    def _failed_item(self, idx: int, reason: str) -> dict:
        si, wi, w = self.index[idx]
        s, size, m = self.samples[si], self.image_size, self.map_size
        return {
            "frames": torch.zeros(self.length, 3, size, size),
            "target": torch.zeros(self.length, m, m),
            "label": torch.tensor(int(s.label), dtype=torch.long),
            "video": s.video_id,
            "attack_type": s.attack_type,
            "window": int(wi),
            "frame_index": torch.tensor(w, dtype=torch.long),
            "no_face": 0,
            "error": reason,
        }


class FrameDataset(_SkippingDataset):
    """Single face crops for frame classifiers.

    ``train=True``: one item per video, a random frame; ``train=False``:
    ``frames_per_video`` evenly spaced frames per video. Item: ``image`` float32 [3,S,S]
    in [0, 1], ``label`` int64 [], ``video``, ``attack_type``, ``frame`` int.
    ``crop=False`` resizes whole images (e.g. HySpeFAS, already face crops); a HySpeFAS
    ``.mat`` sample is read through its PNG preview when present (else
    :func:`hyperspectral_to_rgb`). ``augment``: ``(image uint8 [S,S,3], landmarks,
    None, label=, attack_type=, rng=) -> (image, landmarks, maps)``.
    """

    def __init__(
        self,
        samples,
        *,
        image_size: int = 224,
        train: bool = False,
        frames_per_video: int = 4,
        augment=None,
        cache_dir=None,
        seed: int = 0,
        margin: float = 1.3,
        crop: bool = True,
        detector=None,
        detect: DetectSettings | None = None,
    ):
        samples = list(samples)
        if not samples:
            raise ValueError("FrameDataset needs at least one sample")
        if int(frames_per_video) < 1:
            raise ValueError(f"frames_per_video must be >= 1, got {frames_per_video}")
        self._setup(
            train=train,
            augment=augment,
            seed=seed,
            image_size=image_size,
            margin=margin,
            cache_dir=cache_dir,
            detector=detector,
            crop=crop,
            detect=detect,
        )
        self._keep_readable(samples, self.source.num_frames)
        self.index: list[tuple[int, int]] = []
        if not self.train:
            for si, n in enumerate(self.num_frames):
                k = min(int(frames_per_video), n)
                frames = np.unique(np.round(np.linspace(0, n - 1, k)).astype(int)).tolist()
                self.index += [(si, int(f)) for f in frames]
                self.source.plan[self.samples[si].path] = frames

    def _item(self, idx: int, rng) -> dict:
        if self.train:
            si = idx
            f = int(rng.integers(0, self.num_frames[si]))
        else:
            si, f = self.index[idx]
        s = self.samples[si]
        crops, lms, found = self.source.load(s, [f])
        img, lm = crops[0], lms[0]
        if self.augment is not None:
            img, lm, _ = self.augment(
                img, lm, None, label=s.label, attack_type=s.attack_type, rng=rng
            )
        return {
            "image": _to_tensor(img),
            "label": torch.tensor(int(s.label), dtype=torch.long),
            "video": s.video_id,
            "attack_type": s.attack_type,
            "frame": f,
            "no_face": int((~found).sum()),
        }

    def _failed_item(self, idx: int, reason: str) -> dict:
        si, f = self.index[idx]
        s, size = self.samples[si], self.image_size
        return {
            "image": torch.zeros(3, size, size),
            "label": torch.tensor(int(s.label), dtype=torch.long),
            "video": s.video_id,
            "attack_type": s.attack_type,
            "frame": int(f),
            "no_face": 0,
            "error": reason,
        }


__all__ = [
    "SequenceDataset",
    "FrameDataset",
    "NoReadableSamples",
    "hyperspectral_to_rgb",
    "crop_image",
]
