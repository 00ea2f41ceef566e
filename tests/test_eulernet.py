"""EulerNet model: config, shapes, gradients, fused == reference, presets, errors, compile."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.signal import lfilter
from torch import nn

import fasfast.ops
from fasfast.models import EulerNet, EulerNetConfig, create_model
from fasfast.models.layers import (
    DIIRF_INIT_A,
    DIIRF_INIT_B,
    FCAM,
    CDCConv2d,
    ConcatFusion,
    ResidualPyramid,
    diirf_poles,
)

# Small enough for CPU tests: 32x32 input -> 4x4 map.
SMALL = dict(image_size=32, widths=(4, 6, 4), frames=2)


def small(preset: str = "baseline", **kw) -> EulerNetConfig:
    return EulerNetConfig.preset(preset, **{**SMALL, **kw})


def rand_input(cfg: EulerNetConfig, batch: int, dtype=torch.float32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    s = cfg.image_size
    return torch.rand(batch, cfg.frames, 3, s, s, generator=g, dtype=dtype)


# ---------------------------------------------------------------------------------- config
TABLE_I = {  # preset: (label, use_fcam, use_pyramid)
    "baseline": ("location", True, True),
    "C1": ("binary", True, True),
    "C2": ("depth", False, False),
    "C3": ("location", True, False),
    "C4": ("location", False, True),
    "C5": ("depth", True, True),
}


@pytest.mark.parametrize("name", sorted(TABLE_I))
def test_presets_follow_table_1(name):
    cfg = EulerNetConfig.preset(name)
    assert (cfg.label, cfg.use_fcam, cfg.use_pyramid) == TABLE_I[name]
    assert (cfg.frames, cfg.image_size, cfg.map_size) == (4, 256, 32)


def test_tiny_preset_and_overrides():
    cfg = EulerNetConfig.preset("tiny")
    assert (cfg.image_size, cfg.map_size, cfg.widths) == (128, 16, (32, 48, 32))
    c3 = EulerNetConfig.preset("C3", image_size=64, widths=[8, 12, 8])
    assert (c3.use_pyramid, c3.map_size, c3.widths) == (False, 8, (8, 12, 8))


def test_the_retired_fused_key_is_dropped_with_a_warning():
    """Older checkpoints carry ``fused`` (compiled vs reference ops): it is not architecture
    any more (the process-wide fasfast.ops.use_reference), so it is dropped with a note."""
    cfg = EulerNetConfig.preset("C3", image_size=64, widths=(8, 12, 8))
    for fused in (True, False):
        with pytest.warns(DeprecationWarning, match="'fused' key is ignored"):
            assert EulerNetConfig.from_dict({**cfg.to_dict(), "fused": fused}) == cfg
        with pytest.warns(DeprecationWarning, match="use_reference"):
            assert EulerNetConfig.preset("C3", image_size=64, widths=(8, 12, 8), fused=fused) == cfg
    assert "fused" not in cfg.to_dict()
    with pytest.raises(TypeError):
        EulerNetConfig(fused=False)


def test_config_dict_round_trip():
    cfg = EulerNetConfig.preset("C5", image_size=64, widths=(8, 12, 8), pool="avg", theta=0.5)
    d = json.loads(json.dumps(cfg.to_dict()))  # JSON-safe
    assert EulerNetConfig.from_dict(d) == cfg


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(label="mask"), "label must be one of"),
        (dict(image_size=100), "multiple of 8"),
        (dict(frames=0), "frames must be a positive int"),
        (dict(widths=(8, 8)), "widths must be 3 positive ints"),
        (dict(pool="min"), "pool must be one of"),
        (dict(pyramid_mode="bicubic"), "pyramid_mode must be one of"),
        (dict(theta=1.5), r"theta must lie in \[0, 1\]"),
    ],
)
def test_config_rejects_bad_values(kw, match):
    with pytest.raises(ValueError, match=match):
        EulerNetConfig(**kw)


def test_config_unknown_names():
    with pytest.raises(ValueError, match="unknown EulerNet preset 'C9'"):
        EulerNetConfig.preset("C9")
    with pytest.raises(ValueError, match=r"unknown EulerNetConfig field\(s\) \['depth'\]"):
        EulerNetConfig.preset("tiny", depth=3)
    with pytest.raises(ValueError, match="unknown EulerNetConfig field"):
        EulerNetConfig.from_dict({**EulerNetConfig().to_dict(), "colour": 1})


# ---------------------------------------------------------------------------------- layers
def test_diirf_init_is_stable_and_answers_change():
    poles = diirf_poles(torch.tensor(DIIRF_INIT_A))
    np.testing.assert_allclose(
        sorted(abs(p) for p in poles), sorted(np.abs(np.roots([1.0, *DIIRF_INIT_A]))), atol=1e-12
    )
    assert max(abs(p) for p in poles) < 1.0
    # DC gain 0: the zero-state start transient of static frames dies out geometrically ...
    static = lfilter(DIIRF_INIT_B, [1.0, *DIIRF_INIT_A], np.full(12, 0.7))
    assert np.all(np.diff(np.abs(static)) < 0) and abs(static[-1]) < 1e-3
    # ... while a change between frames is answered at full strength.
    step = lfilter(DIIRF_INIT_B, [1.0, *DIIRF_INIT_A], np.r_[0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    assert step[2] == pytest.approx(1.0) and abs(step[5]) < abs(step[3]) < abs(step[2])
    fcam = FCAM(4, frames=3)
    assert fcam.is_stable() and fcam.b.dtype == fcam.a.dtype == torch.float32
    unstable = FCAM(4, frames=3)
    with torch.no_grad():
        unstable.a.copy_(torch.tensor([0.0, 1.5]))  # poles at +-1.22j
    assert not unstable.is_stable()


@pytest.mark.parametrize("fused", [True, False])
def test_fcam_matches_scipy_oracle(fused):
    torch.manual_seed(1)
    n, t, c, h = 2, 4, 3, 5
    fcam = FCAM(c, frames=t).double()
    with torch.no_grad():
        fcam.b.copy_(torch.tensor([0.8, -0.6, 0.3]))
        fcam.a.copy_(torch.tensor([-0.4, 0.2]))
    x = torch.randn(n * t, c, h, h, dtype=torch.float64)
    with fasfast.ops.use_reference(not fused):
        out = fcam(x)
    z = fcam.compress(x).detach().reshape(n, t, h, h).numpy()
    y = lfilter([0.8, -0.6, 0.3], [1.0, -0.4, 0.2], z, axis=1)
    gate = 1.0 / (1.0 + np.exp(-y))
    want = x.reshape(n, t, c, h, h).numpy() * gate[:, :, None]
    np.testing.assert_allclose(out.detach().reshape(n, t, c, h, h).numpy(), want, atol=1e-12)


def test_cdc_conv_matches_two_conv_definition():
    torch.manual_seed(2)
    conv = CDCConv2d(3, 5, theta=0.7).double()
    x = torch.randn(2, 3, 7, 7, dtype=torch.float64)
    w = conv.weight
    want = F.conv2d(x, w, padding=1) - 0.7 * F.conv2d(x, w.sum(dim=(2, 3), keepdim=True))
    torch.testing.assert_close(conv(x), want, atol=1e-12, rtol=0)
    plain = CDCConv2d(3, 5, theta=0.0).double()
    torch.testing.assert_close(plain(x), F.conv2d(x, plain.weight, padding=1), atol=1e-12, rtol=0)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("mode, pool", [("bilinear", "max"), ("nearest", "avg")])
def test_residual_pyramid_follows_eq_4_to_6(fused, mode, pool):
    torch.manual_seed(3)
    # different channel counts per level: the 1x1 projections are used
    pyr = ResidualPyramid((6, 5, 4), mode=mode, pool=pool).double().eval()
    assert isinstance(pyr.proj_mid, nn.Conv2d) and isinstance(pyr.proj_lo, nn.Conv2d)
    f_hi = torch.randn(2, 6, 16, 16, dtype=torch.float64)
    f_mid = torch.randn(2, 5, 8, 8, dtype=torch.float64)
    f_lo = torch.randn(2, 4, 4, 4, dtype=torch.float64)
    kw = dict(scale_factor=2, mode=mode) | ({"align_corners": False} if mode == "bilinear" else {})
    s_hi = pyr.conv_hi(f_hi - F.interpolate(pyr.proj_mid(f_mid), **kw))
    s_mid = pyr.conv_mid(f_mid - F.interpolate(pyr.proj_lo(f_lo), **kw))
    down = F.max_pool2d if pool == "max" else F.avg_pool2d
    want = torch.cat([down(s_hi, 4, 4), down(s_mid, 2, 2), f_lo], dim=1)
    with fasfast.ops.use_reference(not fused):
        out = pyr(f_hi, f_mid, f_lo)
    assert out.shape == (2, pyr.out_channels, 4, 4) and pyr.out_channels == 4 + 4 + 4
    torch.testing.assert_close(out, want, atol=1e-12, rtol=0)
    same = ResidualPyramid((4, 4, 4))
    assert isinstance(same.proj_mid, nn.Identity) and isinstance(same.proj_lo, nn.Identity)


def test_concat_fusion_is_pool_and_cat():
    f = [torch.randn(1, 2, 8, 8), torch.randn(1, 3, 4, 4), torch.randn(1, 1, 2, 2)]
    want = torch.cat([F.max_pool2d(f[0], 4), F.max_pool2d(f[1], 2), f[2]], dim=1)
    torch.testing.assert_close(ConcatFusion((2, 3, 1))(*f), want, atol=0, rtol=0)


# ---------------------------------------------------------------------------------- model
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("frames", [1, 4])
def test_tiny_output_shapes(batch, frames):
    cfg = EulerNetConfig.preset("tiny", frames=frames)
    model = EulerNet(cfg).eval()
    x = rand_input(cfg, batch)
    with torch.no_grad():
        maps = model(x)
        score = model.score(x)
    assert maps.shape == (batch, frames, 16, 16)
    assert score.shape == (batch,)
    assert bool(((maps >= 0) & (maps <= 1)).all()) and bool(((score >= 0) & (score <= 1)).all())
    torch.testing.assert_close(score, maps.mean(dim=(1, 2, 3)))


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("frames", [1, 4])
def test_default_output_shapes_meta(batch, frames, fused):
    # the full-size model is for GPUs: shapes are checked on the meta device (no compute)
    with torch.device("meta"):
        model = EulerNet(EulerNetConfig(frames=frames))
    with fasfast.ops.use_reference(not fused):
        out = model(torch.empty(batch, frames, 3, 256, 256, device="meta"))
        assert out.shape == (batch, frames, 32, 32)
        score = model.score(torch.empty(batch, frames, 3, 256, 256, device="meta"))
    assert score.shape == (batch,)


def test_default_preset_one_forward():
    cfg = EulerNetConfig.preset("baseline", frames=1)
    model = EulerNet(cfg).eval()
    with torch.no_grad():
        score = model.score(rand_input(cfg, 1))
    assert score.shape == (1,) and 0.0 <= float(score) <= 1.0


def test_named_stages_for_grad_cam():
    cfg = small()
    model = EulerNet(cfg)
    seen = {}
    names = ["stage1", "stage2", "stage3", "fcam1", "fcam2", "fcam3", "pyramid", "head"]
    for name in names:
        getattr(model, name).register_forward_hook(
            lambda _m, _i, out, name=name: seen.__setitem__(name, tuple(out.shape))
        )
    model(rand_input(cfg, 2))
    n, w2 = 2 * cfg.frames, cfg.widths[2]
    assert seen["stage1"] == seen["fcam1"] == (n, w2, 16, 16)
    assert seen["stage2"] == seen["fcam2"] == (n, w2, 8, 8)
    assert seen["stage3"] == seen["fcam3"] == (n, w2, 4, 4)
    assert seen["pyramid"] == (n, 3 * w2, 4, 4) and seen["head"] == (n, 1, 4, 4)


def test_every_parameter_gets_a_finite_gradient():
    torch.manual_seed(4)
    cfg = small(frames=4)
    model = EulerNet(cfg).double().train()
    x = rand_input(cfg, 2, torch.float64)
    target = torch.rand(2, 4, cfg.map_size, cfg.map_size, dtype=torch.float64)
    F.mse_loss(model(x), target).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert bool(torch.isfinite(p.grad).all()), f"{name} has a non-finite gradient"
        assert float(p.grad.abs().max()) > 0, f"{name} has an all-zero gradient"
    coeffs = [n for n, _ in model.named_parameters() if n.endswith((".b", ".a"))]
    assert sorted(coeffs) == sorted(f"fcam{i}.{c}" for i in (1, 2, 3) for c in "ab")


def _maps_and_grads(model, x, target, run=None):
    model.zero_grad()
    out = (run if run is not None else model)(x)
    F.mse_loss(out, target).backward()
    return out.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize(
    "preset, kw", [("baseline", {}), ("C3", {}), ("baseline", {"pool": "avg"})]
)
def test_fused_and_reference_give_the_same_maps_and_gradients(preset, kw):
    torch.manual_seed(5)
    cfg_f = small(preset, frames=4, **kw)
    fused = EulerNet(cfg_f).double().train()
    ref = EulerNet(small(preset, frames=4, **kw)).double().train()
    ref.load_state_dict(fused.state_dict())
    x = rand_input(cfg_f, 2, torch.float64, seed=6)
    target = torch.rand(2, 4, cfg_f.map_size, cfg_f.map_size, dtype=torch.float64)
    out_f, g_f = _maps_and_grads(fused, x, target)
    with fasfast.ops.use_reference():
        out_r, g_r = _maps_and_grads(ref, x, target)
    assert float((out_f - out_r).abs().max()) <= 1e-10
    for name in g_r:
        scale = max(1.0, float(g_r[name].abs().max()))
        err = float((g_f[name] - g_r[name]).abs().max())
        assert err <= 1e-10 * scale, f"{name}: fused vs reference gradient differ by {err}"


def test_the_reference_switch_reaches_every_op_call(monkeypatch):
    """One process-wide switch: under use_reference() every one of the model's op calls
    (3 FCAM gates, 2 upsample_sub, 1 pool_concat) runs fasfast.ops.reference; outside it
    none does (when the kernels are built), and the previous setting comes back."""
    calls = []
    for name in ("fcam_gate", "upsample_sub", "pool_concat"):
        real = getattr(fasfast.ops.reference, name)
        monkeypatch.setattr(
            fasfast.ops.reference, name, lambda *a, _f=real, _n=name: calls.append(_n) or _f(*a)
        )
    cfg = small()
    model = EulerNet(cfg)
    x = rand_input(cfg, 1)
    with fasfast.ops.use_reference():
        assert fasfast.ops.reference_enabled()
        model(x)
    assert sorted(calls) == sorted(["fcam_gate"] * 3 + ["upsample_sub"] * 2 + ["pool_concat"])
    assert not fasfast.ops.reference_enabled()
    calls.clear()
    model(x)
    if all(
        fasfast.ops.has_kernel(op, "cpu") for op in ("fcam_gate", "upsample_sub", "pool_concat")
    ):
        assert calls == []
    fasfast.ops.set_reference(True)
    try:
        model(x)
        assert len(calls) == 6
    finally:
        fasfast.ops.set_reference(False)


@pytest.mark.parametrize("name", ["baseline", "C1", "C2", "C3", "C4", "C5", "tiny"])
def test_each_preset_builds_and_runs(name):
    cfg = small(name)
    model = EulerNet(cfg)
    assert isinstance(model.fcam1, FCAM) == cfg.use_fcam
    assert isinstance(model.pyramid, ResidualPyramid if cfg.use_pyramid else ConcatFusion)
    out = model(rand_input(cfg, 1))
    assert out.shape == (1, cfg.frames, 4, 4)
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_create_model_registry():
    model = create_model("eulernet", preset="C4", **SMALL)
    assert isinstance(model, EulerNet) and model.config.use_fcam is False


def test_state_dict_round_trip():
    torch.manual_seed(7)
    cfg = small(frames=3)
    model = EulerNet(cfg).train()
    x = rand_input(cfg, 2)
    F.mse_loss(model(x), torch.rand(2, 3, 4, 4)).backward()  # moves the BatchNorm statistics
    with torch.no_grad():
        model.fcam2.b.add_(0.1)
    buf = io.BytesIO()
    torch.save({"config": cfg.to_dict(), "model": model.state_dict()}, buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    clone = EulerNet(EulerNetConfig.from_dict(ckpt["config"]))
    clone.load_state_dict(ckpt["model"])
    model.eval(), clone.eval()
    with torch.no_grad():
        torch.testing.assert_close(clone(x), model(x), atol=0, rtol=0)
    assert "fcam2.b" in ckpt["model"] and "mean" not in ckpt["model"]


@pytest.mark.parametrize(
    "shape, dtype, match",
    [
        ((1, 2, 3, 48, 48), torch.float32, r"built for 32x32 images .* got 48x48"),
        ((1, 3, 3, 32, 32), torch.float32, r"built for T=2 frames .* got T=3"),
        ((1, 2, 1, 32, 32), torch.float32, "expects 3 colour channels .* got 1"),
        ((2, 3, 32, 32), torch.float32, r"expects rank 5 input .* got shape \[2, 3, 32, 32\]"),
        ((1, 2, 3, 32, 32), torch.uint8, "floating-point input"),
    ],
)
def test_bad_inputs_get_clear_errors(shape, dtype, match):
    model = EulerNet(small())
    x = torch.zeros(shape, dtype=dtype)
    with pytest.raises((ValueError, TypeError), match=match):
        model(x)


def test_nan_input_rejected_when_asked():
    x = rand_input(small(), 1)
    x[0, 1, 2, 3, 4] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        EulerNet(small(check_finite=True))(x)


def test_torch_compile_fullgraph_forward_and_backward():
    torch.manual_seed(8)
    cfg = small(frames=2)
    model = EulerNet(cfg).train()
    x = rand_input(cfg, 2)
    target = torch.rand(2, 2, 4, 4)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    out_c, g_c = _maps_and_grads(model, x, target, run=compiled)
    ref = EulerNet(cfg).train()
    ref.load_state_dict(model.state_dict())  # BatchNorm stats moved once; forward uses batch stats
    out_e, g_e = _maps_and_grads(ref, x, target)
    torch.testing.assert_close(out_c, out_e, atol=1e-5, rtol=1e-4)
    for name in g_e:
        torch.testing.assert_close(g_c[name], g_e[name], atol=1e-5, rtol=1e-3, msg=name)


@pytest.mark.cuda
@pytest.mark.parametrize("amp", [None, torch.bfloat16, torch.float16])
def test_cuda_fused_matches_reference(amp):
    torch.manual_seed(9)
    cfg = small(frames=4)
    fused = EulerNet(cfg).cuda().train()
    ref = EulerNet(small(frames=4)).cuda().train()
    ref.load_state_dict(fused.state_dict())
    x = rand_input(cfg, 2).cuda()
    target = torch.rand(2, 4, 4, 4, device="cuda")
    outs = []
    for model, reference in ((fused, False), (ref, True)):
        with (
            fasfast.ops.use_reference(reference),
            torch.autocast("cuda", dtype=amp or torch.float32, enabled=amp is not None),
        ):
            out = model(x)
        F.mse_loss(out.float(), target).backward()
        outs.append(out.float().detach())
        assert all(bool(torch.isfinite(p.grad).all()) for p in model.parameters())
    tol = 1e-5 if amp is None else 3e-2
    torch.testing.assert_close(outs[0], outs[1], atol=tol, rtol=tol)
