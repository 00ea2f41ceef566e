"""Augmentations on images or sequences (numpy, HWC), with landmarks and maps kept in step.

Paper: A visualization method for data domain changes in CNN networks and the
optimization method for selecting thresholds in classification tasks (Huang, Nie, Zhong,
2024) - https://arxiv.org/abs/2404.12602 (the class-specific
down-sampling and blur presets)

Every transform is a callable
``t(images, landmarks=None, maps=None, *, label=None, attack_type=None, rng=None)``:

- ``images``: ``[H, W, C]`` or a sequence ``[T, H, W, C]``, uint8 or float (kept);
- ``landmarks``: ``[68, 2]`` / ``[T, 68, 2]`` pixels of ``images`` (or None);
- ``maps``: ``[h, w]`` / ``[T, h, w]`` label maps covering the same region (or None);
- ``label`` (1 live, 0 attack) and ``attack_type`` select class-specific transforms;
- ``rng``: a ``numpy.random.Generator`` or seed.

It returns ``images`` alone when called with images only, else the tuple
``(images, landmarks, maps)``. Random parameters are drawn once per call, so every
frame of a sequence gets the same blur, factor, colour change and flip.

Presets (:func:`preset`) follow Huang et al. 2024 (sections 4.2, 4.4):
``"p2.1"`` 2x down-sampling of live samples (p = 0.5) + Gaussian blur on all;
``"p2.2"`` 2x/4x/8x down-sampling of (physical) attacks (p = 0.5);
``"ssi"`` 2x down-sampling of attacks with p = 0.5, colour jitter, horizontal flip and
Gaussian blur on all; ``"p1"``: flip + colour jitter only. (The paper gives no
probability for p2.1 / p2.2; 0.5 keeps the original domain in the training data.)
CutMix + label smoothing for the classifier: :func:`make_mixup` (timm's ``Mixup``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from fasfast.labels.landmarks import FLIP_68


def _as_seq(images):
    arr = np.asarray(images)
    if arr.ndim == 3:
        return arr[None], True
    if arr.ndim == 4:
        return arr, False
    raise ValueError(f"images must be [H, W, C] or [T, H, W, C], got shape {arr.shape}")


def _restore(arr, single: bool, dtype):
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        arr = np.clip(np.rint(arr), info.min, info.max)
    return (arr[0] if single else arr).astype(dtype, copy=False)


class Augment:
    """Base class: subclasses implement ``apply(seq [T,H,W,C], lms, maps, rng, label,
    attack_type) -> (seq, lms, maps)`` on sequences."""

    p: float = 1.0

    def __call__(self, images, landmarks=None, maps=None, *, label=None, attack_type=None,
                 rng=None):
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        seq, single = _as_seq(images)
        dtype = seq.dtype
        lms = None if landmarks is None else np.asarray(landmarks, np.float32).reshape(
            seq.shape[0], 68, 2).copy()
        mp = None if maps is None else np.asarray(maps).reshape(seq.shape[0], *np.shape(maps)[-2:])
        if rng.uniform() < self.p:
            seq, lms, mp = self.apply(seq, lms, mp, rng, label, attack_type)
        out = _restore(np.asarray(seq), single, dtype)
        if landmarks is None and maps is None:
            return out
        if lms is not None and single:
            lms = lms[0]
        if mp is not None and single:
            mp = mp[0]
        return out, lms, mp

    def apply(self, seq, lms, maps, rng, label, attack_type):  # pragma: no cover
        raise NotImplementedError


def _per_frame(seq, fn):
    return np.stack([fn(f) for f in seq])


class Downsample(Augment):
    """Resize down by a factor drawn from ``factors`` (area), then back up (``interp``)."""

    def __init__(self, factors=(2, 4, 8), p: float = 1.0, interp: str = "linear"):
        factors = tuple(int(f) for f in factors)
        if not factors or min(factors) < 1:
            raise ValueError(f"factors must be integers >= 1, got {factors}")
        self.factors, self.p, self.interp = factors, float(p), interp

    def apply(self, seq, lms, maps, rng, label, attack_type):
        import cv2

        f = int(rng.choice(self.factors))
        if f == 1:
            return seq, lms, maps
        h, w = seq.shape[1:3]
        up = {"linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST,
              "cubic": cv2.INTER_CUBIC}[self.interp]
        src = seq.astype(np.float32)

        def one(img):
            small = cv2.resize(img, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
            out = cv2.resize(small, (w, h), interpolation=up)
            return out.reshape(img.shape)

        return _per_frame(src, one), lms, maps


class GaussianBlur(Augment):
    """Gaussian blur with a ``kernel`` = (width, height) window (default 5 x 9) and
    ``sigma`` drawn uniformly from the given range (same for x and y)."""

    def __init__(self, kernel=(5, 9), sigma=(0.1, 2.0), p: float = 1.0):
        kw, kh = (int(k) for k in kernel)
        if kw % 2 == 0 or kh % 2 == 0 or kw < 1 or kh < 1:
            raise ValueError(f"kernel sizes must be odd and positive, got {kernel}")
        self.kernel, self.sigma, self.p = (kw, kh), tuple(float(s) for s in sigma), float(p)

    def apply(self, seq, lms, maps, rng, label, attack_type):
        import cv2

        s = float(rng.uniform(*self.sigma))
        src = seq.astype(np.float32)
        return _per_frame(src, lambda im: cv2.GaussianBlur(im, self.kernel, s, sigmaY=s).reshape(
            im.shape)), lms, maps


class ColorJitter(Augment):
    """Brightness, contrast, saturation (multiplicative, each ``1 +- x``) and hue (rotation
    of the chroma plane in YIQ by ``+- hue`` turns) with one draw per call."""

    def __init__(self, brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02, p: float = 1.0):
        self.b, self.c, self.s, self.h, self.p = brightness, contrast, saturation, hue, float(p)

    def apply(self, seq, lms, maps, rng, label, attack_type):
        x = seq.astype(np.float32)
        scale = 255.0 if np.issubdtype(seq.dtype, np.integer) else 1.0
        b = rng.uniform(1 - self.b, 1 + self.b)
        c = rng.uniform(1 - self.c, 1 + self.c)
        s = rng.uniform(1 - self.s, 1 + self.s)
        h = rng.uniform(-self.h, self.h) * 2 * np.pi
        x = x * b
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        x = mean + (x - mean) * c
        if x.shape[-1] == 3:
            to_yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                               [0.211, -0.523, 0.312]], np.float32)
            rot = np.array([[1, 0, 0], [0, np.cos(h) * s, -np.sin(h) * s],
                            [0, np.sin(h) * s, np.cos(h) * s]], np.float32)
            m = np.linalg.inv(to_yiq) @ rot @ to_yiq
            x = x @ m.T.astype(np.float32)
        return np.clip(x, 0, scale), lms, maps


class HorizontalFlip(Augment):
    """Mirror left-right; landmarks x -> W - x with the 68-point left/right permutation,
    maps mirrored too."""

    def __init__(self, p: float = 0.5):
        self.p = float(p)

    def apply(self, seq, lms, maps, rng, label, attack_type):
        w = seq.shape[2]
        seq = seq[:, :, ::-1]
        if lms is not None:
            lms = lms[:, FLIP_68].copy()
            lms[..., 0] = w - lms[..., 0]
        if maps is not None:
            maps = maps[:, :, ::-1].copy()
        return np.ascontiguousarray(seq), lms, maps


class Compose(Augment):
    """Apply transforms in order (each with its own probability)."""

    def __init__(self, transforms: Sequence):
        self.transforms, self.p = list(transforms), 1.0

    def apply(self, seq, lms, maps, rng, label, attack_type):
        for t in self.transforms:
            if rng.uniform() < t.p:
                seq, lms, maps = t.apply(seq, lms, maps, rng, label, attack_type)
        return seq, lms, maps


class ClassSpecific(Augment):
    """Pick a transform by class: keys are attack types ("print", "replay", "digital",
    ...), "live" / "attack" (by ``label``), the label itself (1 / 0) or "*" (default)."""

    def __init__(self, transforms: Mapping):
        self.transforms, self.p = dict(transforms), 1.0

    def select(self, label, attack_type):
        if label == 1 or attack_type == "live":
            keys = ["live", 1]
        else:
            keys = [attack_type, "attack", 0]
        for k in keys + ["*"]:
            if k is not None and k in self.transforms:
                return self.transforms[k]
        return None

    def apply(self, seq, lms, maps, rng, label, attack_type):
        t = self.select(label, attack_type)
        if t is not None and rng.uniform() < t.p:
            seq, lms, maps = t.apply(seq, lms, maps, rng, label, attack_type)
        return seq, lms, maps


PRESETS = ("none", "p1", "p2.1", "p2.2", "ssi", "eulernet")


def preset(name: str) -> Augment:
    """A named augmentation pipeline (module doc); "eulernet": flip + mild colour jitter."""
    flip, jitter = HorizontalFlip(0.5), ColorJitter(0.2, 0.2, 0.2, 0.02, p=0.8)
    if name == "none":
        return Compose([])
    if name == "p1":
        return Compose([flip, jitter])
    if name == "p2.1":
        return Compose([ClassSpecific({"live": Downsample((2,), p=0.5)}), flip, jitter,
                        GaussianBlur()])
    if name == "p2.2":
        return Compose([ClassSpecific({"attack": Downsample((2, 4, 8), p=0.5),
                                       "digital": Compose([])}), flip, jitter])
    if name == "ssi":
        return Compose([ClassSpecific({"attack": Downsample((2,), p=0.5)}), jitter, flip,
                        GaussianBlur()])
    if name == "eulernet":
        return Compose([flip, ColorJitter(0.1, 0.1, 0.1, 0.0, p=0.5)])
    raise ValueError(f"unknown augmentation preset {name!r}; expected one of {PRESETS}")


def make_mixup(cutmix_alpha: float = 1.0, mixup_alpha: float = 0.0, label_smoothing: float = 0.1,
               num_classes: int = 2, prob: float = 1.0, switch_prob: float = 0.5,
               mode: str = "batch"):
    """timm ``Mixup`` doing CutMix (and/or MixUp) with label smoothing.

    ``mixup(x [B,3,H,W], target int64 [B]) -> (x, soft targets [B, num_classes])``;
    train with ``timm.loss.SoftTargetCrossEntropy`` (see :func:`mixup_loss`). The batch
    size must be even. Class index 1 = live.
    """
    from fasfast._compat import import_timm

    import_timm()
    from timm.data import Mixup

    return Mixup(mixup_alpha=mixup_alpha, cutmix_alpha=cutmix_alpha, prob=prob,
                 switch_prob=switch_prob, mode=mode, label_smoothing=label_smoothing,
                 num_classes=num_classes)


def mixup_loss():
    """The loss for soft (mixed) targets: ``timm.loss.SoftTargetCrossEntropy()``."""
    from fasfast._compat import import_timm

    import_timm()
    from timm.loss import SoftTargetCrossEntropy

    return SoftTargetCrossEntropy()
