"""Dataclass configurations of the models (no torch import: cheap to load from the CLI).

Paper: Multi-Frames Temporal Abnormal Clues Learning Method for Face Anti-Spoofing
(EulerNet; Cong, Zhang, He, Gao, 2022) - https://arxiv.org/abs/2208.04076
Paper: A visualization method for data domain changes in CNN networks and the
optimization method for selecting thresholds in classification tasks (Huang, Nie, Zhong,
2024) - https://arxiv.org/abs/2404.12602
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any

from fasfast import FasfastDeprecationWarning

LABEL_KINDS = ("location", "binary", "depth")
PYRAMID_MODES = ("bilinear", "nearest")
POOL_KINDS = ("max", "avg")

# Cong et al. 2022, Table I, plus a CPU-sized preset. Values are overrides of the dataclass defaults
# (the defaults are the paper's baseline: face location map, FCAM, residual pyramid).
PRESETS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "C1": {"label": "binary"},
    "C2": {"label": "depth", "use_fcam": False, "use_pyramid": False},
    "C3": {"use_pyramid": False},
    "C4": {"use_fcam": False},
    "C5": {"label": "depth"},
    "tiny": {"image_size": 128, "widths": (32, 48, 32)},
}


def _drop_fused(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` without the retired ``fused`` key (older checkpoints hold it), with a note."""
    if "fused" not in d:
        return d
    warnings.warn(
        "EulerNetConfig: the 'fused' key is ignored: compiled or reference ops is a "
        "process-wide choice now, fasfast.ops.use_reference() or FASFAST_REFERENCE_OPS=1",
        FasfastDeprecationWarning,
        stacklevel=3,
    )
    return {k: v for k, v in d.items() if k != "fused"}


@dataclass
class EulerNetConfig:
    """EulerNet (Cong et al. 2022) hyper-parameters and ablation switches.

    frames: T, frames per sequence. image_size: S, input side (multiple of 8); the output map
    is S/8. widths: (w0, w1, w2) channel widths of each CDCN-like stage (conv w_in->w0->w1->w2,
    then max pooling); every stage outputs w2 channels. stem_width: the 3x3 stem conv's width
    (None: w0 // 2, as CDCN's 64 for 128). theta: central-difference weight of the convs (0 is
    a plain conv). use_fcam / use_pyramid / label: the ablation switches of Table I
    (use_pyramid=False is plain pool + concatenate, C3). pyramid_mode: up-sampling of the
    residual pyramid. pool: down-sampling of the fusion ("max" or "avg").
    mean / std: the RGB normalisation applied inside the model (input is RGB in [0, 1]).
    check_finite: reject inputs holding NaN/inf (one extra reduction; skipped when compiled).

    Compiled or reference ops is not part of the architecture: it is the process-wide
    switch :func:`fasfast.ops.use_reference` (``FASFAST_REFERENCE_OPS=1``). The ``fused`` key
    of older configs and checkpoints is dropped with a DeprecationWarning.
    """

    frames: int = 4
    image_size: int = 256
    widths: tuple[int, int, int] = (128, 196, 128)
    stem_width: int | None = None
    theta: float = 0.7
    use_fcam: bool = True
    use_pyramid: bool = True
    label: str = "location"
    pyramid_mode: str = "bilinear"
    pool: str = "max"
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    check_finite: bool = False

    def __post_init__(self) -> None:
        self.widths = tuple(int(w) for w in self.widths)  # type: ignore[assignment]
        self.mean = tuple(float(v) for v in self.mean)  # type: ignore[assignment]
        self.std = tuple(float(v) for v in self.std)  # type: ignore[assignment]
        if not isinstance(self.frames, int) or self.frames < 1:
            raise ValueError(f"frames must be a positive int, got {self.frames!r}")
        if not isinstance(self.image_size, int) or self.image_size < 8 or self.image_size % 8:
            raise ValueError(
                f"image_size must be a positive multiple of 8 (the map is image_size / 8), "
                f"got {self.image_size!r}"
            )
        if len(self.widths) != 3 or any(w < 1 for w in self.widths):
            raise ValueError(f"widths must be 3 positive ints (w0, w1, w2), got {self.widths!r}")
        if self.stem_width is not None and self.stem_width < 1:
            raise ValueError(f"stem_width must be a positive int or None, got {self.stem_width!r}")
        if not 0.0 <= float(self.theta) <= 1.0:
            raise ValueError(f"theta must lie in [0, 1], got {self.theta!r}")
        if self.label not in LABEL_KINDS:
            raise ValueError(f"label must be one of {LABEL_KINDS}, got {self.label!r}")
        if self.pyramid_mode not in PYRAMID_MODES:
            raise ValueError(
                f"pyramid_mode must be one of {PYRAMID_MODES}, got {self.pyramid_mode!r}"
            )
        if self.pool not in POOL_KINDS:
            raise ValueError(f"pool must be one of {POOL_KINDS}, got {self.pool!r}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(
                f"mean and std must be 3 values with std > 0, got {self.mean}, {self.std}"
            )

    @property
    def map_size(self) -> int:
        """Side of the predicted map: image_size // 8."""
        return self.image_size // 8

    @property
    def stem_channels(self) -> int:
        return self.stem_width if self.stem_width is not None else max(1, self.widths[0] // 2)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> EulerNetConfig:
        """A named preset (``baseline``, ``C1``..``C5`` of Table I, ``tiny``) with overrides.

        >>> EulerNetConfig.preset("C3", image_size=64, widths=(8, 12, 8)).use_pyramid
        False
        """
        if name not in PRESETS:
            raise ValueError(f"unknown EulerNet preset {name!r}; choose from {sorted(PRESETS)}")
        overrides = _drop_fused(overrides)
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown EulerNetConfig field(s) {sorted(unknown)}")
        return cls(**{**PRESETS[name], **overrides})

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists instead of tuples): JSON/YAML and ``weights_only`` friendly."""
        d = dataclasses.asdict(self)
        for key in ("widths", "mean", "std"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EulerNetConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (they would be lost silently)."""
        if not isinstance(d, dict):
            raise TypeError(f"EulerNetConfig.from_dict needs a dict, got {type(d).__name__}")
        d = _drop_fused(d)
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown EulerNetConfig field(s) {sorted(unknown)}")
        return cls(**d)


@dataclass
class ClassifierConfig:
    """timm image classifier (Huang et al. 2024: ConvNeXt-V2). Logits [B, num_classes]; class 1 = live.

    init: optional local weights file, anything :mod:`fasfast.models.weights` accepts (fasfast
    checkpoint, plain or wrapped state dict, safetensors); tensors of another shape (an ImageNet
    head) are skipped with a warning. Nothing is ever downloaded.
    """

    model_name: str = "convnextv2_atto"
    num_classes: int = 2
    image_size: int = 224
    drop_path_rate: float = 0.1
    init: str | None = None
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    def __post_init__(self) -> None:
        self.mean = tuple(float(v) for v in self.mean)  # type: ignore[assignment]
        self.std = tuple(float(v) for v in self.std)  # type: ignore[assignment]
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2 (class 1 = live), got {self.num_classes}")
        if self.image_size < 32:
            raise ValueError(f"image_size must be >= 32, got {self.image_size}")
        if not 0.0 <= self.drop_path_rate < 1.0:
            raise ValueError(f"drop_path_rate must lie in [0, 1), got {self.drop_path_rate}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["mean"], d["std"] = list(d["mean"]), list(d["std"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClassifierConfig:
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown ClassifierConfig field(s) {sorted(unknown)}")
        return cls(**d)
