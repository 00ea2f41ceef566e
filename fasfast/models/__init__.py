"""Models: EulerNet (paper 003) and the timm ConvNeXt-V2 frame classifier (paper 000).

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
