"""Shared inputs and the scipy oracle for the DIIRF / FCAM-gate tests."""

from __future__ import annotations

import numpy as np
import scipy.signal
import torch

T_VALUES = (1, 2, 4, 7, 33)
COEFF_KINDS = ("stable", "unstable")


def make_coeffs(kind: str, rng: np.random.Generator, dtype=torch.float64):
    """Random b [3] and a [2] = (a1, a2) of a 2nd-order filter with a complex pole pair.

    "stable": pole radius in [0.3, 0.95]; "unstable": radius in [1.0, 1.06] (grows, but
    stays finite over 33 frames: 1.06**33 ~ 7).
    """
    lo, hi = (0.3, 0.95) if kind == "stable" else (1.0, 1.06)
    r = rng.uniform(lo, hi)
    theta = rng.uniform(0.2, 2.9)
    a = np.array([-2.0 * r * np.cos(theta), r * r])
    b = rng.uniform(-1.0, 1.0, size=3)
    return torch.tensor(b, dtype=dtype), torch.tensor(a, dtype=dtype)


def randn(rng: np.random.Generator, *shape, dtype=torch.float64) -> torch.Tensor:
    return torch.from_numpy(rng.standard_normal(shape)).to(dtype)


def lfilter_oracle(z: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> np.ndarray:
    """scipy.signal.lfilter(b, [1, a1, a2], z, axis=1) in float64."""
    bb = b.double().cpu().numpy()
    aa = np.concatenate([[1.0], a.double().cpu().numpy()])
    return scipy.signal.lfilter(bb, aa, z.double().cpu().numpy(), axis=1)


def fcam_oracle(x: torch.Tensor, z: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> np.ndarray:
    """x * sigmoid(lfilter(...)) broadcast over channels, float64 numpy."""
    y = lfilter_oracle(z, b, a)
    gate = 1.0 / (1.0 + np.exp(-y))
    return x.double().cpu().numpy() * gate[:, :, None]


def rel_err(got: torch.Tensor, want) -> float:
    """max |got - want| / max(|want|, tiny): norm-wise relative error."""
    want = torch.as_tensor(
        np.ascontiguousarray(want) if isinstance(want, np.ndarray) else want, dtype=torch.float64
    )
    diff = (got.double().cpu() - want).abs().max().item()
    return diff / max(want.abs().max().item(), 1e-30)


def autograd_grads(fn, inputs, grad_out):
    """Gradients of fn(*inputs) w.r.t. every input (zeros where autograd gives None)."""
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = fn(*leaves)
    grads = torch.autograd.grad(out, leaves, grad_out, allow_unused=True)
    return [torch.zeros_like(t) if g is None else g for t, g in zip(leaves, grads)]
