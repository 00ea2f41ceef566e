"""Input validation shared by the compiled wrappers and the reference ops.

Every check raises ``ValueError`` (shape / value problems) or ``TypeError``
(dtype / device problems) with a message that names the argument and the problem.
"""

from __future__ import annotations

import torch

_HALF = (torch.float16, torch.bfloat16)


def _coeffs(b: torch.Tensor, a: torch.Tensor, ref: torch.Tensor, ref_name: str) -> None:
    for name, t, n in (("b", b, 3), ("a", a, 2)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(
                f"{name} must be a torch.Tensor of {n} coefficients, got {type(t).__name__}"
            )
        if t.dim() != 1 or t.numel() != n:
            raise ValueError(
                f"{name} must hold exactly {n} coefficients (shape [{n}]), got shape {list(t.shape)}"
            )
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")
        if t.device != ref.device:
            raise TypeError(
                f"{name} is on {t.device} but {ref_name} is on {ref.device}: mixed devices"
            )
    if b.dtype != a.dtype:
        raise TypeError(f"b and a must share a dtype, got b {b.dtype} and a {a.dtype}")
    if b.dtype != ref.dtype and not (ref.dtype in _HALF and b.dtype == torch.float32):
        raise TypeError(
            f"coefficient dtype {b.dtype} does not match {ref_name} dtype {ref.dtype} "
            "(float16/bfloat16 inputs take float32 coefficients; otherwise dtypes must match)"
        )


def check_diirf(z: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> None:
    """z: [N, T, H, W] or [N, T, C, H, W] floating; b: [3]; a: [2]."""
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"z must be a torch.Tensor, got {type(z).__name__}")
    if z.dim() not in (4, 5):
        raise ValueError(
            f"z must have rank 4 [N, T, H, W] or rank 5 [N, T, C, H, W], got rank {z.dim()} "
            f"with shape {list(z.shape)}"
        )
    if not z.is_floating_point():
        raise TypeError(f"z must be a floating-point tensor, got {z.dtype}")
    if z.shape[1] == 0:
        raise ValueError("z has T = 0 frames (dim 1); DIIRF needs at least one frame")
    _coeffs(b, a, z, "z")


def check_fcam_gate(x: torch.Tensor, z: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> None:
    """x: [N, T, C, H, W]; z: [N, T, H, W] (the gate, broadcast over C); b: [3]; a: [2]."""
    if not isinstance(x, torch.Tensor) or not isinstance(z, torch.Tensor):
        raise TypeError("x and z must be torch.Tensors")
    if x.dim() != 5:
        raise ValueError(
            f"x must have rank 5 [N, T, C, H, W], got rank {x.dim()} with shape {list(x.shape)}"
        )
    if z.dim() != 4:
        raise ValueError(
            f"z must have rank 4 [N, T, H, W], got rank {z.dim()} with shape {list(z.shape)}"
        )
    if x.shape[1] != z.shape[1]:
        raise ValueError(f"T of x ({x.shape[1]}) and z ({z.shape[1]}) differ")
    if x.shape[0] != z.shape[0] or x.shape[3:] != z.shape[2:]:
        raise ValueError(
            f"x {list(x.shape)} and z {list(z.shape)} must agree in N, H and W "
            "(x is [N, T, C, H, W], z is [N, T, H, W])"
        )
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    if x.device != z.device:
        raise TypeError(f"x is on {x.device} but z is on {z.device}: mixed devices")
    if x.dtype != z.dtype:
        raise TypeError(f"x and z must share a dtype, got x {x.dtype} and z {z.dtype}")
    check_diirf(z, b, a)


UPSAMPLE_MODES = ("nearest", "bilinear")
POOL_KINDS = ("max", "avg")


def check_upsample_sub(hi: torch.Tensor, lo: torch.Tensor, mode: str) -> None:
    """hi: [N, C, 2H, 2W]; lo: [N, C, H, W]; mode in UPSAMPLE_MODES."""
    if mode not in UPSAMPLE_MODES:
        raise ValueError(f"mode must be one of {UPSAMPLE_MODES}, got {mode!r}")
    for name, t in (("hi", hi), ("lo", lo)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != 4:
            raise ValueError(f"{name} must have rank 4 [N, C, H, W], got shape {list(t.shape)}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")
    if hi.device != lo.device:
        raise TypeError(f"hi is on {hi.device} but lo is on {lo.device}: mixed devices")
    if hi.dtype != lo.dtype:
        raise TypeError(f"hi and lo must share a dtype, got hi {hi.dtype} and lo {lo.dtype}")
    if hi.shape[0] != lo.shape[0]:
        raise ValueError(f"batch sizes differ: hi {hi.shape[0]}, lo {lo.shape[0]}")
    if hi.shape[1] != lo.shape[1]:
        raise ValueError(
            f"channel counts differ: hi has {hi.shape[1]}, lo has {lo.shape[1]} "
            "(put a 1x1 conv before upsample_sub to match them)"
        )
    if hi.shape[2] != 2 * lo.shape[2] or hi.shape[3] != 2 * lo.shape[3]:
        raise ValueError(
            f"hi spatial size {list(hi.shape[2:])} must be exactly twice lo's {list(lo.shape[2:])}"
        )


def check_pool_concat(tensors, kind: str) -> None:
    """tensors: non-empty list of [N, C_i, H_i, W_i], sizes integer multiples of the smallest."""
    if kind not in POOL_KINDS:
        raise ValueError(f"kind must be one of {POOL_KINDS}, got {kind!r}")
    if not isinstance(tensors, (list, tuple)) or len(tensors) == 0:
        raise ValueError("pool_concat needs a non-empty list of tensors")
    first = tensors[0]
    for i, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"tensors[{i}] must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != 4:
            raise ValueError(
                f"tensors[{i}] must have rank 4 [N, C, H, W], got shape {list(t.shape)}"
            )
        if not t.is_floating_point():
            raise TypeError(f"tensors[{i}] must be floating-point, got {t.dtype}")
        if t.device != first.device:
            raise TypeError(
                f"tensors[{i}] is on {t.device} but tensors[0] is on {first.device}: mixed devices"
            )
        if t.dtype != first.dtype:
            raise TypeError(f"tensors[{i}] has dtype {t.dtype} but tensors[0] has {first.dtype}")
        if t.shape[0] != first.shape[0]:
            raise ValueError(
                f"batch sizes differ: tensors[{i}] has {t.shape[0]}, tensors[0] has {first.shape[0]}"
            )
        if t.shape[2] == 0 or t.shape[3] == 0:
            raise ValueError(f"tensors[{i}] has an empty spatial size {list(t.shape[2:])}")
    hs = min(t.shape[2] for t in tensors)
    ws = min(t.shape[3] for t in tensors)
    for i, t in enumerate(tensors):
        h, w = t.shape[2], t.shape[3]
        if h % hs or w % ws or h // hs != w // ws:
            raise ValueError(
                f"tensors[{i}] size {h}x{w} is not the same integer multiple of the smallest size "
                f"{hs}x{ws} in both dimensions"
            )
