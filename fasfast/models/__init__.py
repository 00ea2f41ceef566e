"""Models: EulerNet and the timm ConvNeXt-V2 frame classifier.

Paper: Multi-Frames Temporal Abnormal Clues Learning Method for Face Anti-Spoofing
(EulerNet; Cong, Zhang, He, Gao, 2022) - https://arxiv.org/abs/2208.04076
Paper: A visualization method for data domain changes in CNN networks and the
optimization method for selecting thresholds in classification tasks (Huang, Nie, Zhong,
2024) - https://arxiv.org/abs/2404.12602

Both take RGB floats in [0, 1] and normalise inside. ``create_model(name, **kw)``:

- ``create_model("eulernet", preset="tiny")`` -> :class:`EulerNet`
- ``create_model("convnextv2_atto", num_classes=2, init="weights.pth")`` -> classifier
"""

from __future__ import annotations

from typing import Any

from fasfast.models.config import PRESETS, ClassifierConfig, EulerNetConfig
from fasfast.models.eulernet import EulerNet

__all__ = [
    "EulerNet",
    "EulerNetConfig",
    "ClassifierConfig",
    "PRESETS",
    "build_classifier",
    "create_model",
    "model_config",
]


def build_classifier(cfg: ClassifierConfig | None = None):
    """See :func:`fasfast.models.classifier.build_classifier` (timm is imported lazily)."""
    from fasfast.models.classifier import build_classifier as _build

    return _build(cfg)


def model_config(name: str, **kw: Any) -> EulerNetConfig | ClassifierConfig:
    """The config ``create_model(name, **kw)`` builds from."""
    if name == "eulernet":
        return EulerNetConfig.preset(kw.pop("preset", "baseline"), **kw)
    return ClassifierConfig(model_name=name, **kw)


def create_model(name: str, **kw: Any):
    """``"eulernet"`` (kw: ``preset`` + EulerNetConfig fields) or a timm model name
    (kw: ClassifierConfig fields)."""
    cfg = model_config(name, **kw)
    if isinstance(cfg, EulerNetConfig):
        return EulerNet(cfg)
    return build_classifier(cfg)
