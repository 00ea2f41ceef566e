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

    def __call__(
        self, images, landmarks=None, maps=None, *, label=None, attack_type=None, rng=None
    ):
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        seq, single = _as_seq(images)
        dtype = seq.dtype
        lms = (
            None
            if landmarks is None
            else np.asarray(landmarks, np.float32).reshape(seq.shape[0], 68, 2).copy()
        )
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


def _probability(p, name: str = "p") -> float:
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}") from None
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
    return p


class Downsample(Augment):
    """Resize down by a factor drawn from ``factors`` (area), then back up (``interp``).
    ``factors``: integers >= 1 (1 = unchanged); ``p`` in [0, 1]."""

    INTERP = ("linear", "nearest", "cubic")

    def __init__(self, factors=(2, 4, 8), p: float = 1.0, interp: str = "linear"):
        try:
            raw = tuple(factors) if not isinstance(factors, (int, float)) else (factors,)
            ok = bool(raw) and all(float(f) == int(f) and int(f) >= 1 for f in raw)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"down-sampling factors must be integers >= 1, got {factors!r}")
        if interp not in self.INTERP:
            raise ValueError(f"down-sampling interp must be one of {self.INTERP}, got {interp!r}")
        self.factors = tuple(int(f) for f in raw)
        self.p, self.interp = _probability(p, "down-sampling p"), interp

    def apply(self, seq, lms, maps, rng, label, attack_type):
        import cv2

        f = int(rng.choice(self.factors))
        if f == 1:
            return seq, lms, maps
        h, w = seq.shape[1:3]
        up = {"linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST, "cubic": cv2.INTER_CUBIC}[
            self.interp
        ]
        src = seq.astype(np.float32)

        def one(img):
            small = cv2.resize(img, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
            out = cv2.resize(small, (w, h), interpolation=up)
            return out.reshape(img.shape)

        return _per_frame(src, one), lms, maps


class GaussianBlur(Augment):
    """Gaussian blur with a ``kernel`` = (width, height) window (default 5 x 9) and
    ``sigma`` drawn uniformly from the range ``(lo, hi)``, ``0 < lo <= hi`` (a single number:
    that sigma), the same for x and y. (OpenCV reads a sigma of 0 as "from the kernel size"
    and a negative one likewise: both are refused.)"""

    def __init__(self, kernel=(5, 9), sigma=(0.1, 2.0), p: float = 1.0):
        kw, kh = (int(k) for k in kernel)
        if kw % 2 == 0 or kh % 2 == 0 or kw < 1 or kh < 1:
            raise ValueError(f"kernel sizes must be odd and positive, got {kernel}")
        try:
            lo, hi = (
                (float(sigma),) * 2
                if isinstance(sigma, (int, float))
                else tuple(float(v) for v in sigma)
            )
        except (TypeError, ValueError):
            raise ValueError(
                f"blur sigma must be a number or a (lo, hi) range, got {sigma!r}"
            ) from None
        if not (0.0 < lo <= hi and np.isfinite(hi)):
            raise ValueError(f"blur sigma range must satisfy 0 < lo <= hi (finite), got {sigma!r}")
        self.kernel, self.sigma, self.p = (kw, kh), (lo, hi), _probability(p, "blur p")

    def apply(self, seq, lms, maps, rng, label, attack_type):
        import cv2

        s = float(rng.uniform(*self.sigma))
        src = seq.astype(np.float32)
        return (
            _per_frame(
                src, lambda im: cv2.GaussianBlur(im, self.kernel, s, sigmaY=s).reshape(im.shape)
            ),
            lms,
            maps,
        )


class ColorJitter(Augment):
    """Brightness, contrast, saturation (multiplicative factors) and hue (rotation of the
    chroma plane in YIQ by up to ``hue`` turns) with one draw per call.

    As torchvision's ``ColorJitter``: a strength ``x >= 0`` draws its factor uniformly from
    ``[max(0, 1 - x), 1 + x]``, so a strength above 1 is clamped at factor 0 (never a
    negative factor, which would invert the image or flip its hues); ``hue`` lies in
    [0, 0.5]. A negative strength or a hue outside [0, 0.5] is a ValueError naming it."""

    def __init__(self, brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02, p: float = 1.0):
        for name, v in (
            ("brightness", brightness),
            ("contrast", contrast),
            ("saturation", saturation),
        ):
            if not (np.isfinite(float(v)) and float(v) >= 0):
                raise ValueError(f"colour jitter {name} must be a finite strength >= 0, got {v!r}")
        if not 0.0 <= float(hue) <= 0.5:
            raise ValueError(f"colour jitter hue must lie in [0, 0.5] (turns), got {hue!r}")
        self.b, self.c, self.s = float(brightness), float(contrast), float(saturation)
        self.h, self.p = float(hue), _probability(p, "colour jitter p")

    @staticmethod
    def _range(x: float) -> tuple[float, float]:
        return max(0.0, 1.0 - x), 1.0 + x

    def factors(self, rng) -> tuple[float, float, float, float]:
        """One draw: (brightness, contrast, saturation) factors >= 0 and the hue angle in
        radians."""
        b = rng.uniform(*self._range(self.b))
        c = rng.uniform(*self._range(self.c))
        s = rng.uniform(*self._range(self.s))
        h = rng.uniform(-self.h, self.h) * 2 * np.pi
        return float(b), float(c), float(s), float(h)

    def apply(self, seq, lms, maps, rng, label, attack_type):
        x = seq.astype(np.float32)
        scale = 255.0 if np.issubdtype(seq.dtype, np.integer) else 1.0
        b, c, s, h = self.factors(rng)
        x = x * b
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        x = mean + (x - mean) * c
        if x.shape[-1] == 3:
            to_yiq = np.array(
                [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32
            )
            rot = np.array(
                [[1, 0, 0], [0, np.cos(h) * s, -np.sin(h) * s], [0, np.sin(h) * s, np.cos(h) * s]],
                np.float32,
            )
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
        return Compose(
            [ClassSpecific({"live": Downsample((2,), p=0.5)}), flip, jitter, GaussianBlur()]
        )
    if name == "p2.2":
        return Compose(
            [
                ClassSpecific({"attack": Downsample((2, 4, 8), p=0.5), "digital": Compose([])}),
                flip,
                jitter,
            ]
        )
    if name == "ssi":
        return Compose(
            [ClassSpecific({"attack": Downsample((2,), p=0.5)}), jitter, flip, GaussianBlur()]
        )
    if name == "eulernet":
        return Compose([flip, ColorJitter(0.1, 0.1, 0.1, 0.0, p=0.5)])
    raise ValueError(f"unknown augmentation preset {name!r}; expected one of {PRESETS}")


def make_mixup(
    cutmix_alpha: float = 1.0,
    mixup_alpha: float = 0.0,
    label_smoothing: float = 0.1,
    num_classes: int = 2,
    prob: float = 1.0,
    switch_prob: float = 0.5,
    mode: str = "batch",
):
    """CutMix (and/or MixUp) with label smoothing: timm's ``Mixup`` in a
    :class:`BatchMixup` that also takes odd batches.

    ``mixup(x [B,3,H,W], target int64 [B]) -> (x, soft targets [B, num_classes])``;
    train with ``timm.loss.SoftTargetCrossEntropy`` (see :func:`mixup_loss`). Class index
    1 = live. ``cutmix_alpha`` / ``mixup_alpha`` >= 0, not both 0; ``label_smoothing`` in
    [0, 1); ``prob``, ``switch_prob`` in [0, 1].
    """
    from fasfast._compat import import_timm

    for name, v in (("cutmix alpha", cutmix_alpha), ("mixup alpha", mixup_alpha)):
        if not (np.isfinite(float(v)) and float(v) >= 0):
            raise ValueError(f"{name} must be >= 0, got {v!r}")
    if cutmix_alpha <= 0 and mixup_alpha <= 0:
        raise ValueError("CutMix / MixUp needs cutmix alpha or mixup alpha > 0")
    if not 0.0 <= float(label_smoothing) < 1.0:
        raise ValueError(f"label smoothing must lie in [0, 1), got {label_smoothing!r}")
    _probability(prob, "mixup prob")
    _probability(switch_prob, "mixup switch prob")
    import_timm()
    from timm.data import Mixup

    mixup = Mixup(
        mixup_alpha=mixup_alpha,
        cutmix_alpha=cutmix_alpha,
        prob=prob,
        switch_prob=switch_prob,
        mode=mode,
        label_smoothing=label_smoothing,
        num_classes=num_classes,
    )
    return BatchMixup(mixup)


class BatchMixup:
    """timm's ``Mixup`` for any batch size. timm mixes a batch in pairs and asserts an even
    size; here an odd batch is mixed in its first ``B - 1`` items and its last item keeps
    its image with the smoothed one-hot target (timm's ``mixup_target`` with ``lam = 1``),
    so CutMix is applied to every pair of every batch (a batch of 3 included, which timm
    alone refuses and the training loop used to leave unmixed). ``stats`` counts the
    ``mixed`` and ``unmixed`` items."""

    def __init__(self, mixup):
        self.mixup = mixup
        self.stats = {"mixed": 0, "unmixed": 0}

    def __call__(self, x, target):
        import torch
        from timm.data.mixup import mixup_target

        b = int(x.shape[0])
        even = b - b % 2
        if even == b:
            self.stats["mixed"] += b
            return self.mixup(x, target)
        tail = mixup_target(target[even:], self.mixup.num_classes, 1.0, self.mixup.label_smoothing)
        self.stats["unmixed"] += 1
        if even == 0:
            return x, tail
        self.stats["mixed"] += even
        xm, tm = self.mixup(x[:even].clone(), target[:even])
        return torch.cat([xm, x[even:]]), torch.cat([tm, tail.to(tm.dtype)])


def mixup_loss():
    """The loss for soft (mixed) targets: ``timm.loss.SoftTargetCrossEntropy()``."""
    from fasfast._compat import import_timm

    import_timm()
    from timm.loss import SoftTargetCrossEntropy

    return SoftTargetCrossEntropy()
