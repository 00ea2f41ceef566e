"""EulerNet: CDCN-like backbone, FCAM (DIIRF) gates, residual pyramid, map head.

Paper: Multi-Frames Temporal Abnormal Clues Learning Method for Face Anti-Spoofing
(EulerNet; Cong, Zhang, He, Gao, 2022) - https://arxiv.org/abs/2208.04076
"""

from __future__ import annotations

import torch
from torch import nn

from fasfast.models.config import EulerNetConfig
from fasfast.models.layers import FCAM, ConcatFusion, ConvBlock, ResidualPyramid, Stage

__all__ = ["EulerNet", "check_sequence_shape"]


def check_sequence_shape(x: torch.Tensor, frames: int, size: int) -> None:
    """Raise a ValueError naming the problem when ``x`` is not ``[B, T=frames, 3, size,
    size]`` with B >= 1. TorchScript-compatible: the TorchScript export runs it in front of
    the traced model, so the exported file refuses what eager EulerNet refuses (a trace
    alone would run an 8-frame input as two 4-frame sequences)."""
    want = f"[B, T={frames}, 3, {size}, {size}] RGB floats in [0, 1]"
    if x.dim() != 5:
        raise ValueError(f"EulerNet expects rank 5 input {want}, got shape {list(x.shape)}")
    if x.shape[2] != 3:
        raise ValueError(
            f"EulerNet expects 3 colour channels (RGB) in dim 2, got {x.shape[2]} "
            f"in shape {list(x.shape)}; expected {want}"
        )
    if x.shape[1] != frames:
        raise ValueError(
            f"EulerNet was built for T={frames} frames per sequence (config.frames), got "
            f"T={x.shape[1]} in shape {list(x.shape)}"
        )
    if x.shape[3] != size or x.shape[4] != size:
        raise ValueError(
            f"EulerNet was built for {size}x{size} images (config.image_size), got "
            f"{x.shape[3]}x{x.shape[4]} in shape {list(x.shape)}"
        )
    if x.shape[0] == 0:
        raise ValueError("EulerNet got an empty batch (B = 0)")


class EulerNet(nn.Module):
    """EulerNet for a sequence of T frames.

    forward(x [B, T, 3, S, S] RGB float in [0, 1]) -> map [B, T, S/8, S/8] in [0, 1]
    (higher = live; trained with an L2 loss to the label map of ``config.label``).
    ``score(x)`` -> [B], the mean of the maps.

    The frames are folded into the batch (``[B*T, C, H, W]``) for the 2-D layers; every FCAM
    unfolds them to run its DIIRF over time. Named sub-modules for hooks (Grad-CAM), each
    taking and giving frame-folded tensors: ``stem``, ``stage1`` (S/2), ``stage2`` (S/4),
    ``stage3`` (S/8), ``fcam1/2/3`` (identity when ``use_fcam`` is False), ``pyramid``
    (residual pyramid, or plain pool + concatenate when ``use_pyramid`` is False; S/8) and
    ``head`` (logits [B*T, 1, S/8, S/8]; the map is their sigmoid).
    """

    def __init__(self, config: EulerNetConfig | None = None):
        super().__init__()
        cfg = config if config is not None else EulerNetConfig()
        if not isinstance(cfg, EulerNetConfig):
            raise TypeError(f"EulerNet needs an EulerNetConfig, got {type(cfg).__name__}")
        self.config = cfg
        w0, w1, w2 = cfg.widths
        stem = cfg.stem_channels
        self.register_buffer("mean", torch.tensor(cfg.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(cfg.std).view(1, 3, 1, 1), persistent=False)

        self.stem = ConvBlock(3, stem, cfg.theta)
        self.stage1 = Stage(stem, cfg.widths, cfg.theta)
        self.stage2 = Stage(w2, cfg.widths, cfg.theta)
        self.stage3 = Stage(w2, cfg.widths, cfg.theta)
        for i in (1, 2, 3):
            fcam = FCAM(w2, cfg.frames) if cfg.use_fcam else nn.Identity()
            self.add_module(f"fcam{i}", fcam)
        levels = (w2, w2, w2)
        if cfg.use_pyramid:
            self.pyramid = ResidualPyramid(
                levels, mode=cfg.pyramid_mode, pool=cfg.pool, theta=cfg.theta
            )
        else:
            self.pyramid = ConcatFusion(levels, pool=cfg.pool)
        mid = max(1, w2 // 2)
        self.head = nn.Sequential(
            ConvBlock(self.pyramid.out_channels, w2, cfg.theta),
            ConvBlock(w2, mid, cfg.theta),
            nn.Conv2d(mid, 1, kernel_size=3, padding=1),
        )
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    # ----------------------------------------------------------------------------------------
    def check_input(self, x: torch.Tensor) -> None:
        """Raise a ValueError/TypeError naming the problem when x is not [B, T, 3, S, S] float
        (the shape checks are :func:`check_sequence_shape`, which exports keep)."""
        cfg = self.config
        s, t = cfg.image_size, cfg.frames
        if not isinstance(x, torch.Tensor):
            raise TypeError(
                f"EulerNet expects a torch.Tensor [B, T={t}, 3, {s}, {s}] RGB floats "
                f"in [0, 1], got {type(x).__name__}"
            )
        if x.dim() == 5 and not x.is_floating_point():
            raise TypeError(
                f"EulerNet expects floating-point input in [0, 1], got {x.dtype} "
                "(convert uint8 images with x.float() / 255)"
            )
        check_sequence_shape(x, t, s)
        if cfg.check_finite and not torch.compiler.is_compiling():
            if not bool(torch.isfinite(x).all()):
                raise ValueError("EulerNet input holds NaN or inf values")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Fused pyramid features [B*T, C, S/8, S/8] of a checked input [B, T, 3, S, S]."""
        b, t = x.shape[:2]
        s = self.config.image_size
        x = x.reshape(b * t, 3, s, s)
        param_dtype = self.mean.dtype
        if x.dtype != param_dtype:
            x = x.to(param_dtype)
        x = (x - self.mean) / self.std
        f = self.stem(x)
        f_hi = self.fcam1(self.stage1(f))
        f_mid = self.fcam2(self.stage2(f_hi))
        f_lo = self.fcam3(self.stage3(f_mid))
        return self.pyramid(f_hi, f_mid, f_lo)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid maps [B, T, S/8, S/8]."""
        self.check_input(x)
        b, t = x.shape[:2]
        m = self.config.map_size
        return self.head(self.features(x)).reshape(b, t, m, m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, T, 3, S, S] in [0, 1] -> maps [B, T, S/8, S/8] in [0, 1]."""
        return torch.sigmoid(self.forward_logits(x))

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Liveness score of each sequence: the mean of its maps, [B] in [0, 1]."""
        return self.forward(x).mean(dim=(1, 2, 3))

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"frames={c.frames}, image_size={c.image_size}, widths={c.widths}, "
            f"use_fcam={c.use_fcam}, use_pyramid={c.use_pyramid}, label={c.label!r}"
        )
