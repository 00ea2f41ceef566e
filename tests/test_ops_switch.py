"""The one switch between the compiled and the reference ops (fasfast.ops.use_reference,
set_reference, FASFAST_REFERENCE_OPS): all four ops, process-wide, restored on exit."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

import fasfast.ops as ops
from fasfast.ops import reference

OPS = ("diirf", "fcam_gate", "upsample_sub", "pool_concat")
needs_c = pytest.mark.skipif(
    not all(ops.has_kernel(op, "cpu") for op in OPS), reason="fasfast._C CPU kernels not built"
)


def _inputs(op: str):
    g = torch.Generator().manual_seed(0)
    b, a = torch.tensor([1.0, -1.0, 0.0]), torch.tensor([-0.5, 0.0])
    if op == "diirf":
        return (torch.randn(1, 3, 4, 4, generator=g), b, a)
    if op == "fcam_gate":
        return (torch.randn(1, 3, 2, 4, 4, generator=g), torch.randn(1, 3, 4, 4, generator=g), b, a)
    if op == "upsample_sub":
        return (torch.randn(1, 2, 8, 8, generator=g), torch.randn(1, 2, 4, 4, generator=g))
    return ([torch.randn(1, 2, 8, 8, generator=g), torch.randn(1, 3, 4, 4, generator=g)],)


@pytest.fixture
def reference_calls(monkeypatch):
    """Names of the fasfast.ops.reference functions called, in order."""
    calls: list[str] = []
    for op in OPS:
        real = getattr(reference, op)
        monkeypatch.setattr(reference, op, lambda *a, _f=real, _n=op: calls.append(_n) or _f(*a))
    return calls


@needs_c
def test_the_switch_covers_all_four_ops_and_is_restored(reference_calls):
    for op in OPS:
        first = _inputs(op)[0]
        first = first[0] if isinstance(first, list) else first
        assert ops.uses_kernel(op, first)
        want = getattr(ops, op)(*_inputs(op))
        assert reference_calls == []
        with ops.use_reference():
            assert ops.reference_enabled() and not ops.uses_kernel(op, first)
            got = getattr(ops, op)(*_inputs(op))
            with ops.use_reference(False):  # nested: the compiled ops again, then back
                assert ops.uses_kernel(op, first)
            assert not ops.uses_kernel(op, first)
        # (the reference fcam_gate calls the reference diirf)
        assert reference_calls[0] == op and not ops.reference_enabled()
        reference_calls.clear()
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@needs_c
def test_set_reference_and_restore_after_an_error():
    try:
        ops.set_reference(True)
        assert ops.reference_enabled() and not ops.uses_kernel("diirf", torch.zeros(1, 2, 2, 2))
    finally:
        ops.set_reference(False)
    assert ops.uses_kernel("diirf", torch.zeros(1, 2, 2, 2))
    with pytest.raises(KeyError), ops.use_reference():
        raise KeyError("inside the block")
    assert not ops.reference_enabled()


@needs_c
def test_force_reference_is_a_deprecated_alias(reference_calls):
    from fasfast.ops.diirf import force_reference

    z, b, a = _inputs("diirf")
    with pytest.warns(DeprecationWarning, match="use_reference"), force_reference():
        assert ops.reference_enabled()
        ops.upsample_sub(*_inputs("upsample_sub"))  # all four ops now, not only diirf
        ops.diirf(z, b, a)
    assert reference_calls == ["upsample_sub", "diirf"] and not ops.reference_enabled()


def _child(env_value: str | None):
    env = dict(os.environ)
    env.pop("FASFAST_REFERENCE_OPS", None)
    if env_value is not None:
        env["FASFAST_REFERENCE_OPS"] = env_value
    code = (
        "import warnings; warnings.simplefilter('ignore')\n"
        "import fasfast.ops as o; print(o.reference_enabled())"
    )
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


def test_environment_variable():
    for value, want in ((None, "False"), ("0", "False"), ("1", "True"), ("true", "True")):
        res = _child(value)
        assert res.returncode == 0 and res.stdout.strip() == want, (value, res.stderr)
    bad = _child("maybe")
    assert bad.returncode != 0
    assert "FASFAST_REFERENCE_OPS='maybe': use 1 (reference ops) or 0" in bad.stderr


@needs_c
def test_torch_compile_follows_the_switch():
    """dynamo guards on the switch: the same compiled function traces the reference ops
    under use_reference() and the compiled ops outside it."""
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(str(gm.graph))
        return gm.forward

    fn = torch.compile(lambda hi, lo: ops.upsample_sub(hi, lo), fullgraph=True, backend=backend)
    hi, lo = _inputs("upsample_sub")
    fn(hi, lo)
    with ops.use_reference():
        fn(hi, lo)
    assert len(graphs) == 2
    assert "fasfast.upsample_sub" in graphs[0] and "fasfast" not in graphs[1]


@needs_c
@pytest.mark.parametrize("op", OPS)
def test_torch_func_transforms_run_the_reference_with_exact_derivatives(op):
    """torch.func cannot transform the compiled ops' autograd formulas (first derivatives
    included: "autograd.Function ... must override the setup_context staticmethod"), so under
    a transform each op runs the reference: torch.func.grad and torch.func.hessian of
    sum(op(t) ** 2) equal the reference's by plain autograd (float64, small inputs)."""
    from torch.func import grad, hessian

    g = torch.Generator().manual_seed(1)
    b = torch.tensor([0.5, -0.3, 0.2], dtype=torch.float64)
    a = torch.tensor([-0.4, 0.1], dtype=torch.float64)
    x = torch.randn(1, 3, 2, 2, 2, dtype=torch.float64, generator=g)  # fcam_gate's x
    hi = torch.randn(1, 2, 4, 4, dtype=torch.float64, generator=g)  # upsample_sub's hi
    low = torch.randn(1, 2, 2, 2, dtype=torch.float64, generator=g)  # pool_concat's 2nd
    calls = {
        "diirf": lambda f, t: f(t, b, a),
        "fcam_gate": lambda f, t: f(x, t, b, a),
        "upsample_sub": lambda f, t: f(hi, t, "bilinear"),
        "pool_concat": lambda f, t: f([t, low], "max"),
    }
    call = calls[op]
    shape = {"upsample_sub": (1, 2, 2, 2), "pool_concat": (1, 2, 4, 4)}.get(op, (1, 3, 2, 2))
    t = torch.randn(shape, dtype=torch.float64, generator=g)

    def loss(f):
        return lambda t: call(f, t).square().sum()

    fused, ref = getattr(ops, op), getattr(reference, op)
    assert ops.uses_kernel(op, t)
    leaf = t.clone().requires_grad_()
    want_g = torch.autograd.grad(loss(ref)(leaf), leaf)[0]
    want_h = torch.autograd.functional.hessian(loss(ref), t)
    assert want_h.abs().sum() > 0
    torch.testing.assert_close(grad(loss(fused))(t), want_g, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(hessian(loss(fused))(t), want_h, rtol=1e-12, atol=1e-12)
    assert ops.uses_kernel(op, t)  # outside the transform: the compiled kernel again
