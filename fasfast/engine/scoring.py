"""Score a data set with a model: frame, sequence and video rows, sharded over ranks.

Rows are plain tuples ``(id, video, label, attack_type, score)`` (label 1 = live,
higher score = live) so they gather cheaply over ranks and convert to the analysis
module's :class:`~fasfast.analysis.ScoreSet`.

EulerNet items are (video, window) sequences: the sequence score is the mean of its T
maps, a frame's score the mean of its own map, a video's score the mean over its
non-overlapping sequences (Cong et al. 2022, IV-A). Classifier items are frames: a frame's
score is softmax(logits)[:, 1]; its video's score the mean over frames (no sequence
level).

No substitutes: an item the dataset could not read (a failed item, ``error`` set; see
:mod:`fasfast.data.dataset`) is not scored, and its whole video is left out: none of its
rows is scored (a partial video would re-weight the metrics), every level gets one row
``(video, video, label, attack_type, nan)`` for it instead, and :attr:`Scores.left_out`
lists it with the reason. NaN scores are the ISO/IEC 30107-3 non-responses (APNRR /
BPNRR), so a read failure can never improve a result.
"""

from __future__ import annotations

import contextlib
import math
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset

from fasfast.engine import distributed as du

Row = tuple  # (id, video, label, attack_type, score)
LEVELS = {"eulernet": ("frame", "sequence", "video"), "classifier": ("frame", "video")}


@dataclass
class Scores:
    """Score rows at each level, plus the mean loss over the scored items."""

    frame: list[Row] = field(default_factory=list)
    sequence: list[Row] = field(default_factory=list)
    video: list[Row] = field(default_factory=list)
    loss: float = float("nan")
    items: int = 0
    skipped: list[str] = field(default_factory=list)  # files that could not be scored
    # videos left out: dicts video, label, attack_type, reason (+ path, added by the caller)
    left_out: list[dict] = field(default_factory=list)
    # the levels the model scores (a classifier has no sequence level)
    kinds: tuple[str, ...] = ("frame", "sequence", "video")

    def levels(self) -> dict[str, list[Row]]:
        out = {"frame": self.frame, "sequence": self.sequence, "video": self.video}
        return {k: v for k, v in out.items() if v and k in self.kinds}

    @property
    def scored_videos(self) -> int:
        """Videos with a score (the video rows that are not NaN non-responses)."""
        return sum(1 for r in self.video if not math.isnan(r[4]))


def left_out_row(video: str, label: int, attack_type: str) -> Row:
    """The row of a video that was left out: score NaN (an ISO non-response)."""
    return (video, video, int(label), attack_type, float("nan"))


def autocast_context(device: torch.device, amp: bool, amp_dtype: str = "bf16"):
    if amp and device.type == "cuda":
        dtype = torch.bfloat16 if amp_dtype == "bf16" else torch.float16
        return torch.autocast(device_type="cuda", dtype=dtype)
    return contextlib.nullcontext()


def _str(v) -> str:
    return v if isinstance(v, str) else str(v)


@torch.no_grad()
def score_dataset(
    model: torch.nn.Module,
    dataset,
    *,
    kind: str,
    batch_size: int = 16,
    workers: int = 0,
    device: torch.device | str = "cpu",
    amp: bool = False,
    amp_dtype: str = "bf16",
    progress: bool = False,
    desc: str = "score",
    compute_loss: bool = True,
    shard: bool = True,
) -> Scores:
    """Score every item of ``dataset`` once (this rank's share when distributed), gather
    the rows on every rank and aggregate to video level.

    kind: "eulernet" (items: frames [T,3,S,S], target [T,M,M], label, video, attack_type,
    window) or "classifier" (items: image [3,S,S], label, video, attack_type).
    """
    device = torch.device(device)
    n = len(dataset)
    if n == 0:
        raise ValueError(f"{desc}: the data set is empty, nothing to score")
    indices = du.shard_indices(n) if shard else list(range(n))
    subset = Subset(dataset, indices)
    loader = DataLoader(
        subset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
    )
    was_training = model.training
    model.eval()
    local = []  # (index, video, label, attack_type, window, seq_score, frame_scores)
    loss_sum, loss_n = 0.0, 0
    bar = loader
    if progress and du.is_main():
        from tqdm.auto import tqdm

        bar = tqdm(loader, desc=desc, leave=False, dynamic_ncols=True)
    pos = 0
    for batch in bar:
        b = len(batch["video"])
        errors = batch.get("error") or [""] * b
        ok = [i for i in range(b) if not errors[i]]
        for i in range(b):
            if errors[i]:  # a failed item: recorded, not scored
                local.append(
                    (
                        indices[pos + i],
                        _str(batch["video"][i]),
                        int(batch["label"][i]),
                        _str(batch["attack_type"][i]),
                        None,
                        None,
                        None,
                        errors[i],
                    )
                )
        if len(ok) < b:
            batch = _select(batch, ok)
        if not ok:
            pos += b
            continue
        with autocast_context(device, amp, amp_dtype):
            seq_scores, frame_scores, batch_loss, batch_n = _forward(
                model, batch, kind, device, compute_loss
            )
        loss_sum += batch_loss
        loss_n += batch_n
        windows = batch.get("window", batch.get("frame", None))
        frame_idx = batch.get("frame_index")
        for i, k in enumerate(ok):
            idx = indices[pos + k]
            window = int(windows[i]) if windows is not None else idx
            local.append(
                (
                    idx,
                    _str(batch["video"][i]),
                    int(batch["label"][i]),
                    _str(batch["attack_type"][i]),
                    window,
                    float(seq_scores[i]),
                    [float(v) for v in frame_scores[i]],
                    [int(v) for v in frame_idx[i]] if frame_idx is not None else None,
                )
            )
        pos += b
    if was_training:
        model.train()

    gathered = du.all_gather_objects(local)
    losses = du.all_gather_objects((loss_sum, loss_n))
    items = sorted((r for part in gathered for r in part), key=lambda r: r[0])
    seen = [r[0] for r in items]
    if seen != list(range(n)):
        raise RuntimeError(
            f"{desc}: gathered {len(seen)} scored items for a data set of {n} "
            f"({len(set(seen))} distinct): sharding lost or duplicated samples"
        )
    total_loss = sum(v[0] for v in losses)
    total_n = sum(v[1] for v in losses)
    return _aggregate(items, kind, total_loss / total_n if total_n else float("nan"))


def _forward(model, batch: dict, kind: str, device, compute_loss: bool):
    """One batch through the model: ``(sequence scores [B], frame scores [B, T], summed
    loss, items in the loss)``; the loss is 0 over 0 items without labels / targets."""
    if kind == "eulernet":
        x = batch["frames"].to(device, non_blocking=True)
        maps = model(x).float()  # [B, T, M, M]
        frame_scores = maps.mean(dim=(2, 3))  # [B, T]
        loss, n = 0.0, 0
        if compute_loss and "target" in batch:
            tgt = batch["target"].to(device).float()
            loss = float(F.mse_loss(maps, tgt, reduction="sum")) / maps[0].numel()
            n = maps.shape[0]
        return frame_scores.mean(dim=1), frame_scores, loss, n
    x = batch["image"].to(device, non_blocking=True)
    logits = model(x).float()
    seq_scores = torch.softmax(logits, dim=1)[:, 1]
    loss, n = 0.0, 0
    if compute_loss:
        y = batch["label"].to(device).long()
        loss = float(F.cross_entropy(logits, y, reduction="sum"))
        n = logits.shape[0]
    return seq_scores, seq_scores[:, None], loss, n


def _select(batch: dict, keep: list[int]) -> dict:
    """The items ``keep`` of a collated batch (tensors indexed, lists filtered)."""
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor):
            out[k] = v[keep]
        elif isinstance(v, (list, tuple)):
            out[k] = [v[i] for i in keep]
        else:
            out[k] = v
    return out


def _aggregate(items: list, kind: str, loss: float) -> Scores:
    failed: dict[str, tuple[int, str, str]] = OrderedDict()
    for _idx, video, label, attack, _w, seq, _f, reason in items:
        if seq is None:
            failed.setdefault(video, (label, attack, reason))
    out = Scores(
        loss=loss,
        items=sum(1 for r in items if r[5] is not None and r[1] not in failed),
        kinds=LEVELS[kind],
    )
    per_video: dict[str, list[float]] = OrderedDict()
    meta: dict[str, tuple[int, str]] = {}
    window_count: dict[tuple[str, int], int] = defaultdict(int)
    for _idx, video, label, attack, window, seq, frames, fidx in items:
        if video in failed:
            per_video.setdefault(video, [])
            meta.setdefault(video, (label, attack))
            continue
        meta.setdefault(video, (label, attack))
        per_video.setdefault(video, []).append(seq)
        key = (video, window)
        k = window_count[key]
        window_count[key] += 1
        suffix = f"#{k}" if k else ""
        if kind == "eulernet":
            out.sequence.append((f"{video}/w{window}{suffix}", video, label, attack, seq))
            for t, s in enumerate(frames):
                fid = f"f{fidx[t]}" if fidx is not None else f"t{t}"
                out.frame.append((f"{video}/w{window}{suffix}/{fid}", video, label, attack, s))
        else:
            out.frame.append((f"{video}/f{window}{suffix}", video, label, attack, seq))
    for video, vals in per_video.items():
        label, attack = meta[video]
        if video in failed:
            out.video.append(left_out_row(video, label, attack))
            out.left_out.append(
                {
                    "video": video,
                    "label": int(label),
                    "attack_type": attack,
                    "reason": failed[video][2],
                }
            )
        else:
            out.video.append((video, video, label, attack, float(sum(vals) / len(vals))))
    add_left_out_rows(out)
    return out


def add_left_out_rows(scores: Scores, extra: list[dict] = ()) -> Scores:
    """Add the videos ``extra`` (dicts video, label, attack_type, reason, path) to
    ``scores.left_out`` and give every left-out video one NaN row at the frame and sequence
    levels (the video level has its row already, or gets one here)."""
    have = {d["video"] for d in scores.left_out}
    for d in extra:
        if d["video"] not in have:
            scores.left_out.append(dict(d))
            scores.video.append(left_out_row(d["video"], d["label"], d["attack_type"]))
            have.add(d["video"])
    for level in scores.kinds:
        if level == "video":
            continue
        rows = getattr(scores, level)
        present = {r[0] for r in rows if math.isnan(r[4])}
        for d in scores.left_out:
            if d["video"] not in present:
                rows.append(left_out_row(d["video"], d["label"], d["attack_type"]))
    return scores


def to_scoreset(rows: list[Row]):
    """Rows -> :class:`fasfast.analysis.ScoreSet`."""
    from fasfast.engine.results import make_scoreset

    return make_scoreset(rows)
