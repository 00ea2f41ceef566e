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


def adjoint_oracle(z, b, a, gy):
    """Gradients of sum(gy * lfilter(b, [1, a1, a2], z)) from scipy, in float64.

    dL/dz: the transpose of a causal LTI filter is the same filter run backward in time.
    dL/db_k = sum(gy * lfilter(e_k, A, z)) and dL/da_k = -sum(gy * lfilter(e_k, A, y)), with
    e_k the delay by k frames (dy/db_k = q^-k z / A, dy/da_k = -q^-k y / A).
    """
    zn, gn = z.double().numpy(), gy.double().numpy()
    bb = b.double().numpy()
    aa = np.concatenate([[1.0], a.double().numpy()])
    y = scipy.signal.lfilter(bb, aa, zn, axis=1)
    gz = scipy.signal.lfilter(bb, aa, gn[:, ::-1], axis=1)[:, ::-1].copy()
    delay = np.eye(3)
    gb = [(gn * scipy.signal.lfilter(delay[k], aa, zn, axis=1)).sum() for k in range(3)]
    ga = [-(gn * scipy.signal.lfilter(delay[k], aa, y, axis=1)).sum() for k in (1, 2)]
    return gz, np.array(gb), np.array(ga)


def fcam_oracle_grads(x, z, b, a, go):
    """Gradients of sum(go * x * sigmoid(lfilter(z))) from scipy: the gate part by hand,
    the filter part through the adjoint identity dL/dz = lfilter run backward in time
    (the transpose of a causal LTI filter), dL/db and dL/da by central differences."""
    y = lfilter_oracle(z, b, a)
    s = 1.0 / (1.0 + np.exp(-y))
    xn, gon = x.double().numpy(), go.double().numpy()
    gx = gon * s[:, :, None]
    gy = (gon * xn).sum(2) * s * (1 - s)
    bb = b.double().numpy()
    aa = np.concatenate([[1.0], a.double().numpy()])
    gz = scipy.signal.lfilter(bb, aa, gy[:, ::-1], axis=1)[:, ::-1].copy()

    def loss(bv, av):
        yv = scipy.signal.lfilter(bv, np.concatenate([[1.0], av]), z.double().numpy(), axis=1)
        return float((gon * xn * (1.0 / (1.0 + np.exp(-yv)))[:, :, None]).sum())

    eps = 1e-6
    gb = np.array(
        [(loss(bb + eps * e, aa[1:]) - loss(bb - eps * e, aa[1:])) / (2 * eps) for e in np.eye(3)]
    )
    ga = np.array(
        [(loss(bb, aa[1:] + eps * e) - loss(bb, aa[1:] - eps * e)) / (2 * eps) for e in np.eye(2)]
    )
    return gx, gz, gb, ga
