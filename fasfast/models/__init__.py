"""Models: EulerNet and the timm ConvNeXt-V2 frame classifier.

Paper: Multi-Frames Temporal Abnormal Clues Learning Method for Face Anti-Spoofing
(EulerNet; Cong, Zhang, He, Gao, 2022) - https://arxiv.org/abs/2208.04076
Paper: A visualization method for data domain changes in CNN networks and the
optimization method for selecting thresholds in classification tasks (Huang, Nie, Zhong,
2024) - https://arxiv.org/abs/2404.12602

Both take RGB floats in [0, 1] and normalise inside. ``create_model`` is the one model
factory (training, checkpoints and the CLI all build through it):

- ``create_model("eulernet", preset="tiny")`` -> :class:`EulerNet`
- ``create_model("convnextv2_atto", num_classes=2, init="weights.pth")`` -> classifier
- ``create_model(config)`` -> the model of an :class:`EulerNetConfig` / :class:`ClassifierConfig`
  (``config_from_dict(kind, d)`` reads one as a checkpoint stores it)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fasfast.models.config import PRESETS, ClassifierConfig, EulerNetConfig
from fasfast.models.eulernet import EulerNet

MODEL_KINDS = ("eulernet", "classifier")  # the ``kind`` a checkpoint records

__all__ = [
    "EulerNet",
    "EulerNetConfig",
    "ClassifierConfig",
    "PRESETS",
    "MODEL_KINDS",
    "build_classifier",
    "config_from_dict",
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


def config_from_dict(kind: str, d: dict[str, Any]) -> EulerNetConfig | ClassifierConfig:
    """The config of a model of ``kind`` (one of :data:`MODEL_KINDS`) from its ``to_dict()``
    form, as checkpoints store it. A classifier's keys that :class:`ClassifierConfig` lacks are
    ignored (files of older versions); EulerNet's are an error (:meth:`EulerNetConfig.from_dict`).
    ValueError for another kind."""
    if kind == "eulernet":
        return EulerNetConfig.from_dict(dict(d))
    if kind == "classifier":
        known = {f.name for f in dataclasses.fields(ClassifierConfig)}
        return ClassifierConfig(**{k: v for k, v in d.items() if k in known})
    raise ValueError(f"unknown model kind {kind!r} (choose from {', '.join(MODEL_KINDS)})")


def create_model(name: str | EulerNetConfig | ClassifierConfig, **kw: Any):
    """The one model factory. ``name``: ``"eulernet"`` (kw: ``preset`` + EulerNetConfig
    fields), a timm model name (kw: ClassifierConfig fields), or a config (no kw).
    Returns :class:`EulerNet` or the timm classifier (a 2-class ``nn.Module``)."""
    if isinstance(name, (EulerNetConfig, ClassifierConfig)):
        if kw:
            raise TypeError(f"create_model(config) takes no keyword arguments, got {sorted(kw)}")
        cfg = name
    else:
        cfg = model_config(name, **kw)
    if isinstance(cfg, EulerNetConfig):
        return EulerNet(cfg)
    return build_classifier(cfg)
