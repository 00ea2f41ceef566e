"""Frame classifier of paper 000: a timm ConvNeXt-V2 (or any timm model), no downloads."""

from __future__ import annotations

import os
import warnings

import torch
from torch import nn

from fasfast._compat import import_timm
from fasfast.models.config import ClassifierConfig

__all__ = ["Classifier", "build_classifier", "load_weights_file", "read_weights_file"]


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
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"Classifier expects a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(
                f"Classifier expects [B, 3, H, W] RGB floats in [0, 1], got shape {list(x.shape)}"
            )
        if not x.is_floating_point():
            raise TypeError(
                f"Classifier expects floating-point input in [0, 1], got {x.dtype} "
                "(convert uint8 images with x.float() / 255)"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        if x.dtype != self.mean.dtype:
            x = x.to(self.mean.dtype)
        return self.backbone((x - self.mean) / self.std)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Live probability [B] (softmax of the logits, class 1)."""
        return torch.softmax(self.forward(x).float(), dim=1)[:, 1]


def _unwrap_state(obj, path: str) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict):
        for key in ("model", "state_dict", "model_state", "module"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(
            f"weights file {path} does not hold a state dict (a dict of tensors, possibly under "
            "'model' or 'state_dict')"
        )
    return {k.removeprefix("module."): v for k, v in obj.items()}


def read_weights_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a local state dict with ``torch.load(weights_only=True)``; clear errors otherwise."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"classifier init weights file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling refused / truncated / not a torch file
        raise ValueError(f"cannot read classifier weights file {path}: {exc}") from exc
    return _unwrap_state(obj, path)


def load_weights_file(
    model: Classifier,
    path: str | os.PathLike,
    state: dict[str, torch.Tensor] | None = None,
) -> None:
    """Load a local weights file into ``model`` (keys of the wrapper or of the bare timm model).

    Tensors of the classification head whose shapes differ (e.g. an ImageNet 1000-class head)
    are skipped with a warning and keep their fresh initialisation; any other missing,
    unexpected or mis-shaped key is an error naming the keys. ``state``: the file's content
    when it was read already (:func:`read_weights_file`).
    """
    path = os.fspath(path)
    if state is None:
        state = read_weights_file(path)
    state = dict(state)
    target = model.backbone.state_dict()
    if state and all(k.startswith("backbone.") for k in state):
        state = {k.removeprefix("backbone."): v for k, v in state.items()}
    head_name = ""
    if hasattr(model.backbone, "pretrained_cfg"):
        head_name = model.backbone.pretrained_cfg.get("classifier", "") or ""
    skipped, bad_shape = [], []
    for k in list(state):
        if k in target and state[k].shape != target[k].shape:
            if head_name and k.startswith(head_name + "."):
                skipped.append(k)
                del state[k]
            else:
                bad_shape.append(
                    f"{k}: file {list(state[k].shape)} vs model {list(target[k].shape)}"
                )
    missing = sorted(set(target) - set(state) - set(skipped))
    unexpected = sorted(set(state) - set(target))
    if bad_shape or missing or unexpected:
        parts = []
        if bad_shape:
            parts.append("shape mismatch: " + "; ".join(bad_shape[:5]))
        if missing:
            parts.append(f"missing keys ({len(missing)}): {missing[:5]}")
        if unexpected:
            parts.append(f"unexpected keys ({len(unexpected)}): {unexpected[:5]}")
        raise ValueError(
            f"weights file {path} does not match {model.config.model_name}: " + ", ".join(parts)
        )
    if skipped:
        warnings.warn(
            f"{path}: classifier head {skipped} has another shape (different num_classes); "
            "it keeps its fresh initialisation",
            UserWarning,
            stacklevel=2,
        )
    model.backbone.load_state_dict(state, strict=False)


def build_classifier(cfg: ClassifierConfig | None = None) -> Classifier:
    """Build a timm classifier (never pretrained from the network), optionally init from a file."""
    cfg = cfg if cfg is not None else ClassifierConfig()
    state = read_weights_file(cfg.init) if cfg.init else None  # fail before the slow build
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
        load_weights_file(model, cfg.init, state)
    return model
