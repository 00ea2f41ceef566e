"""Data sets for the engine: protocol readers -> Sequence/Frame datasets."""

from __future__ import annotations

from pathlib import Path

from fasfast.engine.config import TrainConfig, parse_downsample


class EmptySplitError(ValueError):
    """A split of a data set lists no samples (a data root without videos)."""


def read_split(dataset: str, root: str | Path, protocol: str, split: str, limit: int = 0):
    """Samples of one split: ``dataset`` is oulu | uniattack | list.

    For "list", ``root`` is a folder with ``train.txt`` / ``dev.txt`` / ``test.txt``
    (``path label [attack_type]`` lines, label 1 = live), or ``protocol`` names the list
    files' prefix (``<root>/<protocol>_<split>.txt``).
    ``limit`` > 0 keeps at most that many videos, balanced over live and attack.
    """
    from fasfast import data

    root = Path(root)
    if not str(root) or not root.exists():
        raise FileNotFoundError(f"data root not found: {root!s} (give --data-root)")
    if dataset == "oulu":
        samples = data.oulu_npu(root, protocol=protocol, split=split)
    elif dataset == "uniattack":
        samples = data.uniattack(root, protocol=protocol, split=split)
    elif dataset == "list":
        candidates = [root / f"{split}.txt", root / f"{protocol}_{split}.txt"]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise FileNotFoundError(
                f"no list file for split {split!r}: looked for "
                + ", ".join(str(c) for c in candidates)
            )
        samples = data.path_label_list(found, root=root, split=split)
    else:
        raise ValueError(f"unknown dataset kind {dataset!r}")
    if not samples:
        raise EmptySplitError(
            f"{dataset} protocol {protocol} split {split!r} under {root} has no samples"
        )
    if limit and limit < len(samples):
        samples = _balanced_subset(samples, limit)
    return samples


def _balanced_subset(samples, limit: int):
    """At most ``limit`` samples, alternating live / attack (deterministic)."""
    live = [s for s in samples if s.label == 1]
    other = [s for s in samples if s.label != 1]
    out = []
    while len(out) < limit and (live or other):
        for pool in (live, other):
            if pool and len(out) < limit:
                out.append(pool.pop(0))
    order = {id(s): i for i, s in enumerate(samples)}
    return sorted(out, key=lambda s: order[id(s)])


def balance_classes(samples):
    """Repeat the minority class (usually live) so both classes have about as many entries
    per epoch (each repeat gets its own random window / augmentation)."""
    live = [s for s in samples if s.label == 1]
    attack = [s for s in samples if s.label == 0]
    if not live or not attack:
        return list(samples)
    small, big = (live, attack) if len(live) < len(attack) else (attack, live)
    k = max(1, round(len(big) / len(small)))
    return list(samples) + small * (k - 1)


def labelled_only(samples, split: str):
    """Drop samples without a label (-1), warning when that happens."""
    kept = [s for s in samples if s.label in (0, 1)]
    if len(kept) < len(samples):
        import warnings

        warnings.warn(
            f"split {split!r}: {len(samples) - len(kept)} samples have no label and are "
            "scored but left out of the metrics",
            stacklevel=2,
        )
    return kept


def build_augment(cfg: TrainConfig, train: bool):
    """The augmentation pipeline for training (None for evaluation)."""
    if not train:
        return None
    return make_augment(cfg)


def make_augment(cfg: TrainConfig):
    """Training augmentation from the config switches (:mod:`fasfast.data.augment`):
    class-specific down-sampling first (Huang et al. 2024: it changes a class's domain), then
    flip, colour jitter and Gaussian blur. None when every switch is off."""
    from fasfast.data import augment as A

    parts = []
    for cls_name, factors in parse_downsample(cfg.downsample):
        ds = A.Downsample(factors=factors, p=cfg.downsample_p)
        parts.append(ds if cls_name in ("all", "*") else A.ClassSpecific({cls_name: ds}))
    if cfg.hflip:
        parts.append(A.HorizontalFlip(p=0.5))
    if cfg.color_jitter > 0:
        j = float(cfg.color_jitter)
        parts.append(A.ColorJitter(j, j, j, min(0.02, j / 10), p=0.8))
    if cfg.blur > 0:
        parts.append(A.GaussianBlur(p=float(cfg.blur)))
    return A.Compose(parts) if parts else None


def make_dataset(cfg: TrainConfig, samples, *, train: bool, model_config=None, seed: int = 0):
    """SequenceDataset (EulerNet) or FrameDataset (classifier) for ``samples``."""
    from fasfast.data import FrameDataset, SequenceDataset

    augment = build_augment(cfg, train)
    if cfg.is_eulernet:
        return SequenceDataset(
            samples,
            length=model_config.frames,
            interval=cfg.interval,
            image_size=model_config.image_size,
            map_size=model_config.map_size,
            label_kind=model_config.label,
            train=train,
            augment=augment,
            cache_dir=cfg.cache_dir,
            seed=seed,
        )
    return FrameDataset(
        samples,
        image_size=model_config.image_size,
        train=train,
        augment=augment,
        cache_dir=cfg.cache_dir,
        seed=seed,
    )
