"""Prediction on unlabeled inputs: live / attack decisions with scores.

Inputs (any mix):

- a video file (``.avi``, ``.mp4``, ...): one decision per video (EulerNet: mean over its
  non-overlapping 4-frame sequences; classifier: mean over sampled frames);
- a folder of images: the frames of one clip in natural name order (``f_2.png`` before
  ``f_10.png``; hidden and side files such as ``._*``, ``.DS_Store``, ``Thumbs.db`` are
  ignored; :func:`fasfast.data.video.frame_files`), a webcam-style frame directory; with
  ``per_image=True`` every image is decided on its own;
- a folder of videos: every video in it;
- an image file: a one-frame clip (EulerNet repeats the frame over the sequence: a still
  face without motion cues; one warning line counts such inputs).

Faces come from the landmark file beside the input (``<stem>.landmarks.npy``) or dlib's
detector. A sequence is scored when at least half of its frames have a face found in them;
its other frames are cropped with the box of the nearest frame that has one (as ``fasfast
label`` does), so one missed detection does not cost the sequence. Sequences with a face in
fewer than half their frames, and single frames without a face, are not scored; an input
with no scorable sequence gets the decision ``no-face`` (never a guess). An input that cannot be
read (a corrupt video, a damaged frame of a folder, a malformed landmark file) gets the
decision ``error`` with the reason in ``note``: its other sequences are not scored either,
and no other input's frames ever stand in for it.

Threshold: ``threshold``; or ``threshold_from`` = a ``summary.json`` / ``table7.json`` of
``fasfast eval``, a ``report.json`` of ``fasfast analyze`` / the report folder, with
``method`` (default "balance", the paper's choice); else the threshold stored in the
checkpoint (the dev ACER point of its best epoch); else 0.5.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from fasfast.data.video import IMAGE_EXTS, VIDEO_EXTS, is_frame_file, natural_key


@dataclass
class Prediction:
    input: str
    kind: str  # video | frames | image
    decision: str  # live | attack | no-face | error
    score: float | None
    threshold: float
    units: int  # sequences (EulerNet) / frames (classifier) scored
    skipped_no_face: int  # sequences / frames left out because a face was missing
    note: str = ""


def _dataset(meta, samples, interval, frames_per_video, cache_dir, detect):
    """The evaluation dataset of the checkpoint's model kind over ``samples``."""
    from fasfast.data import FrameDataset, SequenceDataset

    mc = meta["model_config"]
    tcfg = meta.get("train_config") or {}
    if meta["kind"] == "eulernet":
        return SequenceDataset(
            samples,
            length=int(mc["frames"]),
            interval=int(interval or tcfg.get("interval", 3)),
            image_size=int(mc["image_size"]),
            map_size=int(mc["image_size"]) // 8,
            label_kind="binary",
            train=False,
            cache_dir=cache_dir,
            detect=detect,
        )
    return FrameDataset(
        samples,
        image_size=int(mc["image_size"]),
        train=False,
        frames_per_video=frames_per_video,
        cache_dir=cache_dir,
        detect=detect,
    )


def collect_inputs(
    inputs, per_image: bool = False, problems: dict[str, Exception] | None = None
) -> list[tuple[str, str]]:
    """Expand the user's inputs into ``(path, kind)`` pairs. A missing path, an empty folder
    or an unsupported file raises (FileNotFoundError, ValueError); with ``problems`` (a dict)
    it is recorded there instead (``{path: error}``) as the pair ``(path, "bad")``."""
    out: list[tuple[str, str]] = []
    for item in inputs:
        try:
            out += _expand_input(Path(item), per_image)
        except (FileNotFoundError, ValueError) as e:
            if problems is None:
                raise
            problems[str(item)] = e
            out.append((str(item), "bad"))
    return out


def _expand_input(p: Path, per_image: bool) -> list[tuple[str, str]]:
    """The ``(path, kind)`` pairs of one input (see :func:`collect_inputs`)."""
    out: list[tuple[str, str]] = []
    if not p.exists():
        raise FileNotFoundError(f"input not found: {p}")
    if p.is_dir():
        # hidden / side files (macOS "._*", .DS_Store, Thumbs.db) are neither
        entries = sorted(
            (q for q in p.iterdir() if q.is_file() and not q.name.startswith(".")),
            key=lambda q: natural_key(q.name),
        )
        videos = [q for q in entries if q.suffix.lower() in VIDEO_EXTS]
        images = [q for q in entries if is_frame_file(q)]
        if videos:
            out += [(str(q), "video") for q in videos]
        if images:
            if per_image:
                out += [(str(q), "image") for q in images]
            elif not videos:
                out.append((str(p), "frames"))
        if not videos and not images:
            raise ValueError(f"folder {p} holds no videos or images")
    elif p.suffix.lower() in VIDEO_EXTS:
        out.append((str(p), "video"))
    elif p.suffix.lower() in IMAGE_EXTS:
        out.append((str(p), "image"))
    else:
        raise ValueError(
            f"unsupported input {p}: expected a video ({', '.join(VIDEO_EXTS)}),"
            f" an image or a folder"
        )
    return out


def threshold_from_file(path: str | Path, method: str = "balance") -> float:
    """The ``method`` threshold from an eval summary / table7 / analysis report."""
    p = _report_file(Path(path))
    try:
        data = json.loads(p.read_text())
    except ValueError as e:
        raise ValueError(f"{p} is not a JSON report: {e}") from e
    found = _thresholds_in(data)
    if not found:
        raise ValueError(f"{p} holds no thresholds (expected fasfast eval / analyze output)")
    from fasfast.analysis.thresholds import RENAMED_THRESHOLDS, threshold_name

    method = threshold_name(method)
    for old, new in RENAMED_THRESHOLDS.items():  # a file written before the rename
        if old in found:
            found.setdefault(new, found.pop(old))
    if method not in found:
        raise ValueError(f"{p} has no {method!r} threshold; it has: {', '.join(found)}")
    t = float(found[method])
    if not math.isfinite(t):
        raise ValueError(f"{p}: the {method!r} threshold is not finite ({t})")
    return t


def threshold_source_warning(path: str | Path, checkpoint: str | Path, meta: dict) -> str | None:
    """Why the thresholds of report ``path`` may not fit the model of ``checkpoint`` (its
    ``meta`` from :func:`~fasfast.engine.checkpoint.load_model`), or None when the report
    was made from this checkpoint. A threshold is a point on one model's score scale: an
    ``eval`` summary records its checkpoint, model config and epoch, and any difference is
    named; a report that records no checkpoint (``analyze`` of score files) cannot be
    checked, which is said too."""
    p = _report_file(Path(path))
    try:
        data = json.loads(p.read_text())
    except ValueError:
        return None  # threshold_from_file has said what is wrong with it
    made_from = data.get("checkpoint") if isinstance(data, dict) else None
    if not made_from:
        return (
            f"{p} records no checkpoint (an analysis of score files?): its thresholds are "
            f"used as they are; they fit only if its scores came from {checkpoint}"
        )
    differs = []
    ours = json.loads(json.dumps(meta.get("model_config"), default=str))  # as the JSON has it
    if data.get("model_config") is not None and data["model_config"] != ours:
        differs.append("another model config")
    if data.get("epoch") is not None and data.get("epoch") != meta.get("epoch"):
        differs.append(f"epoch {data['epoch']}, this checkpoint is epoch {meta.get('epoch')}")
    if not differs:
        return None
    return (
        f"{p} holds thresholds chosen for {made_from} ({'; '.join(differs)}), not for "
        f"{checkpoint}: a threshold is a point on one model's score scale; use the "
        f"`fasfast eval` output of {checkpoint}"
    )


def _report_file(p: Path) -> Path:
    """The JSON report ``p`` names: the file itself, or the first of the known names in a
    folder."""
    if p.is_dir():
        for cand in ("summary.json", "report.json", "report/report.json", "table7.json"):
            if (p / cand).is_file():
                return p / cand
        raise FileNotFoundError(f"no summary.json / report.json / table7.json in {p}")
    if not p.is_file():
        raise FileNotFoundError(f"threshold file not found: {p}")
    return p


def _thresholds_in(data) -> dict[str, float]:
    """Threshold name -> value of a report: its ``thresholds`` mapping, then the ``key`` /
    ``threshold`` of the rows of its Table 7 (a list, or under ``table7`` / ``table``)."""
    found: dict[str, float] = {}
    if isinstance(data, dict) and isinstance(data.get("thresholds"), dict):
        found.update({k: v for k, v in data["thresholds"].items() if isinstance(v, (int, float))})
    rows = data if isinstance(data, list) else (data.get("table7") or data.get("table") or [])
    for r in rows if isinstance(rows, list) else []:
        if isinstance(r, dict) and "key" in r and "threshold" in r:
            found.setdefault(r["key"], r["threshold"])
    return found


def predict(
    inputs,
    checkpoint: str | Path,
    *,
    threshold: float | None = None,
    threshold_from: str | Path | None = None,
    method: str = "balance",
    per_image: bool = False,
    batch_size: int = 32,
    workers: int = 2,
    device: str = "auto",
    frames_per_video: int = 8,
    interval: int | None = None,
    progress: bool = True,
    model_name: str | None = None,
    image_size: int | None = None,
    cache_dir: str | Path | None = None,
    detect=None,
    landmarks=None,
) -> list[Prediction]:
    """Score ``inputs`` with the checkpoint's model; one :class:`Prediction` per input.

    Each input is decoded once, front to back, with tracked face detection
    (:mod:`fasfast.data.faces`; ``detect``: other
    :class:`~fasfast.labels.tracking.DetectSettings`, e.g. ``mode="exact"``); ``cache_dir``:
    read (and fill) the crop cache that ``fasfast prepare`` / ``train`` use; ``landmarks``:
    a :class:`~fasfast.data.background.BackgroundFaces` started before torch was
    imported (its landmarks and crops are used for the frames they cover)."""
    from fasfast.data import Sample
    from fasfast.data.dataset import NoReadableSamples
    from fasfast.data.video import DataWarning
    from fasfast.engine.checkpoint import load_model
    from fasfast.engine.distributed import pick_device

    if threshold is not None and threshold_from is not None:
        raise ValueError("give either threshold or threshold_from, not both")
    dev = pick_device(device)
    model, meta = load_model(checkpoint, dev, model=model_name, image_size=image_size)
    threshold, note = _choose_threshold(threshold, threshold_from, method, meta)
    if threshold_from is not None and (
        why := threshold_source_warning(threshold_from, checkpoint, meta)
    ):
        warnings.warn(why, UserWarning, stacklevel=2)

    problems: dict[str, Exception] = {}
    every = collect_inputs(inputs, per_image, problems)
    items = [(p, k) for p, k in every if k != "bad"]
    if not items:  # nothing to score: the one-line error of the first bad input
        raise next(iter(problems.values()))
    for path, e in problems.items():
        warnings.warn(f"left out input {path}: {e}", DataWarning, stacklevel=2)
    kinds = dict(items)
    samples = [Sample(path, -1, "unknown", path, "test", {"kind": k}) for path, k in items]
    try:
        ds = _dataset(meta, samples, interval, frames_per_video, cache_dir, detect)
    except NoReadableSamples as e:  # every input is unreadable: each gets its error row
        reasons = dict(e.errors)
        for path, reason in e.errors:
            warnings.warn(f"left out unreadable sample {path}: {reason}", DataWarning, stacklevel=2)
        out = [
            Prediction(path, kinds[path], "error", None, threshold, 0, 0, reasons.get(path, str(e)))
            for path, _ in items
        ]
        return _in_input_order(every, out, problems, threshold)
    if meta["kind"] == "eulernet":
        _warn_still_images(ds, int(meta["model_config"]["frames"]))
    if landmarks is not None and _use_background(ds, landmarks):
        workers = 0  # only the model is left to run: no loader processes to start
    loader = DataLoader(
        ds, batch_size=batch_size, shuffle=False, num_workers=workers, pin_memory=dev.type == "cuda"
    )
    bar = loader
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(loader, desc="predict", leave=False, dynamic_ncols=True)
    scores, skipped, errors = _score_batches(model, bar, meta["kind"], dev, items, ds.left_out)
    out = [
        _decide(path, kinds[path], vals, skipped[path], errors.get(path), threshold, note)
        for path, vals in scores.items()
    ]
    return _in_input_order(every, out, problems, threshold)


def _choose_threshold(threshold, threshold_from, method: str, meta: dict) -> tuple[float, str]:
    """(threshold, where it came from): the number given, the ``method`` threshold of the
    report ``threshold_from``, the dev threshold stored in the checkpoint, else 0.5."""
    note = ""
    if threshold is None and threshold_from is not None:
        threshold = threshold_from_file(threshold_from, method)
        from fasfast.analysis.thresholds import RENAMED_THRESHOLDS

        note = f"{RENAMED_THRESHOLDS.get(method, method)} threshold from {threshold_from}"
    if threshold is None:
        stored = (meta.get("best_metrics") or {}).get("dev_threshold")
        if stored is not None and math.isfinite(float(stored)):
            threshold, note = float(stored), "dev threshold stored in the checkpoint"
        else:
            threshold, note = 0.5, "default 0.5 (no threshold given or stored)"
    threshold = float(threshold)
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold}")
    return threshold, note


def _warn_still_images(ds, frames: int) -> None:
    """One warning line when inputs of a temporal model hold a single frame (an image file,
    a one-image folder): each window repeats it ``frames`` times, a still face without the
    motion cues EulerNet judges by (a too-short clip gets the dataset's own line)."""
    still = [s.path for s, n in zip(ds.samples, ds.num_frames) if n == 1]
    if still and frames > 1:
        from fasfast.data.video import DataWarning

        warnings.warn(
            f"{len(still)} of {len(ds.samples)} inputs are still images (one frame), e.g. "
            f"{still[0]}: each window repeats the image {frames} times, so the temporal "
            "model sees no motion cue",
            DataWarning,
            stacklevel=3,
        )


def _use_background(ds, landmarks) -> bool:
    """Hand the landmarks (and, when made at the dataset's size and margin, the crops) of
    the background process to ``ds``; True when every sample's crops are there."""
    found = landmarks.results()
    if (
        getattr(landmarks, "size", None) == ds.source.image_size
        and ds.source.crop
        and getattr(landmarks, "margin", None) == ds.source.margin
    ):
        ds.source.known_entries.update(found)  # crops made in the background
    ds.source.known_landmarks.update(landmarks.landmarks(found))
    return all(s.path in ds.source.known_entries for s in ds.samples)


def _score_batches(model, batches, kind: str, dev, items, left_out):
    """Run the model over ``batches``: per input path its scores, the number of sequences
    skipped for a face in fewer than half their frames, and its error (if any)."""
    scores: dict[str, list[float]] = OrderedDict((p, []) for p, _ in items)
    skipped: dict[str, int] = {p: 0 for p, _ in items}
    errors: dict[str, str] = {s.path: reason for s, reason in left_out}
    with torch.no_grad():
        for batch in batches:
            ok = [i for i, e in enumerate(batch["error"]) if not e]
            for i, e in enumerate(batch["error"]):
                if e:  # a failed item: its input is an error, nothing stands in for it
                    errors.setdefault(batch["video"][i], e)
            if not ok:
                continue
            x = batch["frames" if kind == "eulernet" else "image"][ok].to(dev)
            s = model.score(x).float().cpu()
            frames = x.shape[1] if kind == "eulernet" else 1
            for k, i in enumerate(ok):
                vid = batch["video"][i]
                if 2 * int(batch["no_face"][i]) > frames:  # a face in fewer than half
                    skipped[vid] += 1
                else:
                    scores[vid].append(float(s[k]))
    return scores, skipped, errors


def _decide(path, kind, vals, skipped: int, error, threshold: float, note: str) -> Prediction:
    """The prediction of one input from its sequence scores ``vals`` (their mean against
    ``threshold``), or its error / no-face row."""
    if error is not None:
        return Prediction(path, kind, "error", None, threshold, 0, skipped, error)
    if not vals:
        reason = "no face found" + (" in any sequence" if skipped else "")
        return Prediction(path, kind, "no-face", None, threshold, 0, skipped, reason)
    score = sum(vals) / len(vals)
    decision = "live" if score >= threshold else "attack"
    return Prediction(path, kind, decision, score, threshold, len(vals), skipped, note)


def _in_input_order(every, out, problems, threshold) -> list[Prediction]:
    """The predictions of the scored inputs (``out``, in order) with an ``error`` row for
    each bad input (``problems``) at its place among ``every`` input."""
    done = iter(out)
    return [
        Prediction(p, "unknown", "error", None, threshold, 0, 0, str(problems[p]))
        if k == "bad"
        else next(done)
        for p, k in every
    ]


def write_predictions(path: str | Path, preds: list[Prediction]) -> Path:
    """CSV (or JSON when the name ends in .json) of the predictions."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [asdict(p) for p in preds]
    if path.suffix == ".json":
        path.write_text(json.dumps(rows, indent=2))
        return path
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["input"])
        w.writeheader()
        for r in rows:
            r = dict(r, score="" if r["score"] is None else repr(r["score"]))
            w.writerow(r)
    return path


def format_predictions(preds: list[Prediction]) -> str:
    head = ["decision", "score", "threshold", "units", "no-face", "input"]
    body = [
        [
            p.decision,
            "-" if p.score is None else f"{p.score:.4f}",
            f"{p.threshold:.4f}",
            str(p.units),
            str(p.skipped_no_face),
            p.input,
        ]
        for p in preds
    ]
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head] + body]
    return "\n".join(lines)
