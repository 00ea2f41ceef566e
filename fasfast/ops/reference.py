"""Pure-PyTorch reference versions of every fasfast operator: EulerNet's DIIRF, FCAM gate
and residual-pyramid steps (Cong et al. 2022, eq. 1-6).

Paper: Multi-Frames Temporal Abnormal Clues Learning Method for Face Anti-Spoofing
(EulerNet; Cong, Zhang, He, Gao, 2022) - https://arxiv.org/abs/2208.04076

They are the oracle the compiled kernels are tested against and the fallback when
``fasfast._C`` is missing. Same names and signatures as :mod:`fasfast.ops`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fasfast.ops._checks import check_diirf, check_fcam_gate, check_pool_concat, check_upsample_sub

__all__ = ["diirf", "fcam_gate", "upsample_sub", "pool_concat"]


def diirf(z: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Second-order IIR filter along dim 1 (time), transposed direct form II, zero state.

    z: [N, T, H, W] or [N, T, C, H, W]; b: [3] = (b0, b1, b2); a: [2] = (a1, a2).
    Returns y with z's shape and dtype; equals ``scipy.signal.lfilter(b, [1, a1, a2], z, axis=1)``.
    """
    check_diirf(z, b, a)
    work = z.to(b.dtype) if z.dtype != b.dtype else z
    b0, b1, b2 = b.unbind(0)
    a1, a2 = a.unbind(0)
    h1 = torch.zeros_like(work[:, 0])
    h2 = torch.zeros_like(work[:, 0])
    ys = []
    for x in work.unbind(1):
        y = b0 * x + h1
        h1 = b1 * x + h2 - a1 * y
        h2 = b2 * x - a2 * y
        ys.append(y)
    return torch.stack(ys, dim=1).to(z.dtype)


def fcam_gate(x: torch.Tensor, z: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """FCAM attention: ``x * sigmoid(diirf(z, b, a))``, the gate broadcast over channels.

    x: [N, T, C, H, W]; z: [N, T, H, W]; returns [N, T, C, H, W].
    """
    check_fcam_gate(x, z, b, a)
    return x * torch.sigmoid(diirf(z, b, a)).unsqueeze(2)


def upsample_sub(hi: torch.Tensor, lo: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Residual-pyramid difference ``hi - upsample2x(lo)``.

    hi: [N, C, 2H, 2W]; lo: [N, C, H, W]; mode "bilinear" (align_corners=False) or "nearest".
    """
    check_upsample_sub(hi, lo, mode)
    if mode == "bilinear":
        up = F.interpolate(lo, scale_factor=2, mode="bilinear", align_corners=False)
    else:
        up = F.interpolate(lo, scale_factor=2, mode="nearest")
    return hi - up


def pool_concat(tensors: list[torch.Tensor], kind: str = "max") -> torch.Tensor:
    """Pool every input down to the smallest input's size and concatenate along channels.

    tensors: list of [N, C_i, H_i, W_i] whose sizes are integer multiples of the smallest;
    kind "max" or "avg" (kernel = stride = size ratio). Returns [N, sum C_i, H_min, W_min].
    """
    check_pool_concat(tensors, kind)
    hs = min(t.shape[2] for t in tensors)
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    parts = []
    for t in tensors:
        r = t.shape[2] // hs
        parts.append(t if r == 1 else pool(t, kernel_size=r, stride=r))
    return torch.cat(parts, dim=1)
