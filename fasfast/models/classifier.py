"""Frame classifier of Huang et al. 2024: a timm ConvNeXt-V2 (or any timm model), no
downloads.

Paper: A visualization method for data domain changes in CNN networks and the
optimization method for selecting thresholds in classification tasks (Huang, Nie, Zhong,
2024) - https://arxiv.org/abs/2404.12602
"""

from __future__ import annotations

import os
import warnings

import torch
from torch import nn

from fasfast._compat import import_timm
from fasfast.models.config import ClassifierConfig
from fasfast.models.weights import LoadReport, WeightsFile, load_weights, read_weights

__all__ = ["Classifier", "build_classifier", "check_image_shape", "load_weights_file"]


def check_image_shape(x: torch.Tensor, built: int) -> None:
    """Raise a ValueError naming the problem when ``x`` is not ``[B, 3, H, W]`` with H, W >= 32
    (the backbone down-samples 32x; ``built``: the model's image size, for the message).
    TorchScript-compatible (the TorchScript export runs it in front of the traced model)."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(
            f"Classifier expects [B, 3, H, W] RGB floats in [0, 1], got shape {list(x.shape)}"
        )
    if x.shape[2] < 32 or x.shape[3] < 32:
        raise ValueError(
            f"Classifier needs images of at least 32x32 (the backbone down-samples 32x; "
            f"built for {built}), got {x.shape[2]}x{x.shape[3]}"
        )


class Classifier(nn.Module):
    """Normalisation + a timm backbone. x [B, 3, S, S] RGB in [0, 1] -> logits [B, num_classes].

    Class 1 is live: ``score(x) = softmax(logits)[:, 1]`` (higher = live).
    """

    def __init__(self, config: ClassifierConfig, backbone: nn.Module):
        super().__init__()
        self.config = config
        self.backbone = backbone
        self.register_buffer("mean", torch.tensor(config.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(config.std).view(1, 3, 1, 1), persistent=False)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a TypeError / ValueError naming the problem when x is not [B, 3, H, W] float
        with H, W >= 32 (the shape checks are :func:`check_image_shape`, which exports keep)."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"Classifier expects a torch.Tensor, got {type(x).__name__}")
        if x.dim() == 4 and x.shape[1] == 3 and not x.is_floating_point():
            raise TypeError(
                f"Classifier expects floating-point input in [0, 1], got {x.dtype} "
                "(convert uint8 images with x.float() / 255)"
            )
        check_image_shape(x, self.config.image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        if x.dtype != self.mean.dtype:
            x = x.to(self.mean.dtype)
        return self.backbone((x - self.mean) / self.std)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Live probability [B] (softmax of the logits, class 1)."""
        return torch.softmax(self.forward(x).float(), dim=1)[:, 1]


def load_weights_file(
    model: Classifier,
    path: str | os.PathLike,
    state: WeightsFile | None = None,
) -> LoadReport:
    """Fine-tune init of ``model`` from any file the loader accepts (keys of the wrapper or of
    the bare timm model, wrapper entries, ``module.`` prefixes, safetensors).

    Tensors whose shapes differ (e.g. an ImageNet 1000-class head) or that the model lacks are
    skipped and keep their fresh initialisation; a ``UserWarning`` gives the report. A file
    that fits less than half of the model is a :class:`CheckpointError`. ``state``: the file
    when it was read already (:func:`fasfast.models.weights.read_weights`).
    """
    report = load_weights(model, state if state is not None else os.fspath(path), mode="finetune")
    if not report.complete:
        warnings.warn(f"init: {report.summary()}", UserWarning, stacklevel=2)
    return report


def build_classifier(cfg: ClassifierConfig | None = None) -> Classifier:
    """Build a timm classifier (never pretrained from the network), optionally init from a file."""
    cfg = cfg if cfg is not None else ClassifierConfig()
    state = read_weights(cfg.init) if cfg.init else None  # fail before the slow build
    timm = import_timm()
    if not timm.is_model(cfg.model_name):
        raise ValueError(
            f"unknown timm model {cfg.model_name!r}; e.g. {timm.list_models('convnextv2_*')[:6]}"
        )
    backbone = timm.create_model(
        cfg.model_name,
        pretrained=False,
        num_classes=cfg.num_classes,
        drop_path_rate=cfg.drop_path_rate,
    )
    model = Classifier(cfg, backbone)
    if cfg.init:
        model.init_report = load_weights_file(model, cfg.init, state)
    return model
