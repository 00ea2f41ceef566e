"""Building blocks of EulerNet: CDC conv blocks, the FCAM and the residual pyramid.

Paper: Multi-Frames Temporal Abnormal Clues Learning Method for Face Anti-Spoofing
(EulerNet; Cong, Zhang, He, Gao, 2022) - https://arxiv.org/abs/2208.04076

All blocks work on frame-folded tensors ``[N = B*T, C, H, W]``; the FCAM unfolds them to
``[B, T, C, H, W]`` for the temporal filter. The FCAM and the pyramid call
``fasfast.ops.<op>`` only: compiled kernels or the pure-PyTorch reference is the
process-wide switch :func:`fasfast.ops.use_reference`, not a property of the model.
"""

from __future__ import annotations

import cmath

import torch
import torch.nn.functional as F
from torch import nn

import fasfast.ops as _ops

__all__ = [
    "CDCConv2d",
    "ConvBlock",
    "Stage",
    "FCAM",
    "ResidualPyramid",
    "ConcatFusion",
    "diirf_poles",
    "DIIRF_INIT_B",
    "DIIRF_INIT_A",
]

# Initial DIIRF coefficients of every FCAM (see FCAM's docstring):
# H(z) = (1 - z^-1) / (1 - 0.5 z^-1): a zero at z = 1 (DC gain 0: static content is blocked;
# the zero-state start on frame 0 is itself a step, whose answer halves every frame), a pole at
# z = 0.5 (stable, mild memory of earlier changes: a step is answered 1, 0.5, 0.25, ...;
# frame-to-frame alternation gets gain 2 / 1.5 = 1.33).
DIIRF_INIT_B = (1.0, -1.0, 0.0)
DIIRF_INIT_A = (-0.5, 0.0)


def diirf_poles(a) -> tuple[complex, complex]:
    """Poles of the DIIRF ``1 / (1 + a1 z^-1 + a2 z^-2)``: the roots of ``z^2 + a1 z + a2``.

    The filter is stable iff both have modulus < 1.
    """
    a1, a2 = (float(v) for v in (a.tolist() if isinstance(a, torch.Tensor) else a))
    root = cmath.sqrt(a1 * a1 - 4.0 * a2)
    return ((-a1 + root) / 2.0, (-a1 - root) / 2.0)


class CDCConv2d(nn.Module):
    """3x3 central difference convolution (CDCN): ``conv(x, w) - theta * conv1x1(x, sum(w))``.

    Implemented as one conv with an effective kernel whose centre tap is reduced by
    ``theta * sum(w)`` (the same numbers, half the convolutions). theta = 0: a plain conv.
    x: [N, C_in, H, W] -> [N, C_out, H, W].
    """

    def __init__(self, in_channels: int, out_channels: int, theta: float = 0.7, bias: bool = False):
        super().__init__()
        self.theta = float(theta)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        centre = torch.zeros(3, 3)
        centre[1, 1] = 1.0
        self.register_buffer("_centre", centre, persistent=False)
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")

    def effective_weight(self) -> torch.Tensor:
        if self.theta == 0.0:
            return self.weight
        centre = self._centre.to(self.weight.dtype)
        return self.weight - self.theta * self.weight.sum(dim=(2, 3), keepdim=True) * centre

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.effective_weight(), self.bias, padding=1)

    def extra_repr(self) -> str:
        o, i = self.weight.shape[:2]
        return f"{i}, {o}, theta={self.theta}"


class ConvBlock(nn.Sequential):
    """CDC conv 3x3 -> BatchNorm -> ReLU. [N, C_in, H, W] -> [N, C_out, H, W]."""

    def __init__(self, in_channels: int, out_channels: int, theta: float = 0.7):
        super().__init__(
            CDCConv2d(in_channels, out_channels, theta),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class Stage(nn.Sequential):
    """CDCN-like stage: blocks C_in -> w0 -> w1 -> w2, then 3x3/2 max pooling (halves H, W)."""

    def __init__(self, in_channels: int, widths: tuple[int, int, int], theta: float = 0.7):
        w0, w1, w2 = widths
        super().__init__(
            ConvBlock(in_channels, w0, theta),
            ConvBlock(w0, w1, theta),
            ConvBlock(w1, w2, theta),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )


class FCAM(nn.Module):
    """Feature-compressed attention module (Cong et al. 2022, Fig. 3).

    A 3x3 conv compresses the C channels to one map z; a learnable second-order IIR filter
    (DIIRF, coefficients ``b`` [3], ``a`` [2]) runs over the T frames of z at every pixel; its
    sigmoid gates every channel of x: ``x * sigmoid(diirf(z, b, a))`` = ``fcam_gate``.

    Initialisation: ``b = (1, -1, 0)``, ``a = (-0.5, 0)``, i.e. a first difference followed by
    a one-pole smoother, ``H(z) = (1 - z^-1) / (1 - 0.5 z^-1)``. It answers change between
    frames (its DC gain is 0) and is stable: poles 0.5 and 0 (:func:`diirf_poles`). The
    coefficients stay float32 parameters (float64 in a float64 model); they are cast to
    float32 for half-precision activations.

    x: [B*T, C, H, W] (frames folded into the batch, ``frames`` = T) -> same shape.
    """

    def __init__(self, channels: int, frames: int):
        super().__init__()
        self.frames = int(frames)
        self.compress = nn.Conv2d(channels, 1, kernel_size=3, padding=1)
        self.b = nn.Parameter(torch.tensor(DIIRF_INIT_B, dtype=torch.float32))
        self.a = nn.Parameter(torch.tensor(DIIRF_INIT_A, dtype=torch.float32))

    def poles(self) -> tuple[complex, complex]:
        return diirf_poles(self.a.detach())

    def is_stable(self) -> bool:
        """True while both poles of the learned filter lie inside the unit circle."""
        return all(abs(p) < 1.0 for p in self.poles())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        t = self.frames
        z = self.compress(x)
        if z.dtype != x.dtype:  # autocast may leave the two in different precisions
            z = z.to(x.dtype)
        cdtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        b = self.b if self.b.dtype == cdtype else self.b.to(cdtype)
        a = self.a if self.a.dtype == cdtype else self.a.to(cdtype)
        y = _ops.fcam_gate(x.reshape(n // t, t, c, h, w), z.reshape(n // t, t, h, w), b, a)
        return y.reshape(n, c, h, w)

    def extra_repr(self) -> str:
        return f"frames={self.frames}"


def _proj(cin: int, cout: int) -> nn.Module:
    return nn.Identity() if cin == cout else nn.Conv2d(cin, cout, kernel_size=1)


class ResidualPyramid(nn.Module):
    """Residual pyramid (Cong et al. 2022, eq. 4-6, Fig. 4) on three levels (sides 4s, 2s, s).

    ``S_hi = Conv(F_hi - Up(P(F_mid)))``, ``S_mid = Conv(F_mid - Up(P(F_lo)))``,
    ``out = Concat(Down(S_hi), Down(S_mid), F_lo)``, where P is a 1x1 conv wherever the channel
    counts of the two levels differ (identity otherwise), Conv a CDC conv block, Up a 2x
    ``mode`` up-sampling fused with the subtraction (``upsample_sub``) and Down + Concat one
    ``pool_concat`` (``pool`` = "max" or "avg").

    f_hi: [N, C_hi, 4s, 4s], f_mid: [N, C_mid, 2s, 2s], f_lo: [N, C_lo, s, s]
    -> [N, 2 * out_channels + C_lo, s, s].
    """

    def __init__(
        self,
        channels: tuple[int, int, int],
        out_channels: int | None = None,
        mode: str = "bilinear",
        pool: str = "max",
        theta: float = 0.7,
    ):
        super().__init__()
        c_hi, c_mid, c_lo = channels
        s = out_channels if out_channels is not None else c_lo
        self.mode, self.pool = mode, pool
        self.proj_mid = _proj(c_mid, c_hi)
        self.proj_lo = _proj(c_lo, c_mid)
        self.conv_hi = ConvBlock(c_hi, s, theta)
        self.conv_mid = ConvBlock(c_mid, s, theta)
        self.out_channels = 2 * s + c_lo

    def forward(self, f_hi: torch.Tensor, f_mid: torch.Tensor, f_lo: torch.Tensor) -> torch.Tensor:
        s_hi = self.conv_hi(_ops.upsample_sub(f_hi, self.proj_mid(f_mid), self.mode))
        s_mid = self.conv_mid(_ops.upsample_sub(f_mid, self.proj_lo(f_lo), self.mode))
        return _ops.pool_concat([s_hi, s_mid, f_lo], self.pool)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, pool={self.pool!r}"


class ConcatFusion(nn.Module):
    """Ablation C3 (no residual pyramid): pool every level to the smallest and concatenate.

    f_hi, f_mid, f_lo as in :class:`ResidualPyramid` -> [N, C_hi + C_mid + C_lo, s, s].
    """

    def __init__(self, channels: tuple[int, int, int], pool: str = "max"):
        super().__init__()
        self.pool = pool
        self.out_channels = sum(channels)

    def forward(self, f_hi: torch.Tensor, f_mid: torch.Tensor, f_lo: torch.Tensor) -> torch.Tensor:
        return _ops.pool_concat([f_hi, f_mid, f_lo], self.pool)

    def extra_repr(self) -> str:
        return f"pool={self.pool!r}"
