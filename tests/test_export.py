"""Export: ONNX (checked with onnxruntime) and TorchScript match PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fasfast.ops
from fasfast.engine import checkpoint as ck
from fasfast.engine.export import export
from fasfast.models import EulerNet, EulerNetConfig


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    m = EulerNet(EulerNetConfig.preset("tiny", image_size=32, widths=(8, 12, 8)))
    # non-trivial batch-norm statistics and DIIRF coefficients (not the init values)
    m.train()
    with torch.no_grad():
        for _ in range(3):
            m(torch.rand(2, 4, 3, 32, 32))
    path = tmp_path_factory.mktemp("export") / "m.pt"
    ck.save_checkpoint(
        path,
        {
            "kind": "eulernet",
            "model_config": m.config.to_dict(),
            "model": m.state_dict(),
            "epoch": 1,
        },
    )
    return path


def test_onnx_matches_pytorch_with_compiled_ops(ckpt, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    res = export(ckpt, tmp_path / "m.onnx", "onnx")
    assert res.path.is_file() and res.max_abs_diff <= 1e-4
    graph = onnx.load(str(res.path)).graph
    assert {n.domain for n in graph.node} <= {"", "ai.onnx"}  # standard ops only
    # independent check: onnxruntime vs the model with the fused (compiled) ops, batch 3;
    # export traced under use_reference() and left the process-wide switch as it was
    model, _ = ck.load_model(ckpt)
    assert not fasfast.ops.reference_enabled()
    x = torch.rand(3, 4, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        want = model(x).numpy()
    sess = ort.InferenceSession(str(res.path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"frames": x.numpy()})[0]
    assert got.shape == (3, 4, 4, 4)
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)
    assert (tmp_path / "m.onnx.json").is_file()


def test_torchscript_matches_pytorch(ckpt, tmp_path):
    import warnings

    res = export(ckpt, tmp_path / "m.ts.pt", "torchscript")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = torch.jit.load(str(res.path))
    model, _ = ck.load_model(ckpt)
    x = torch.rand(1, 4, 3, 32, 32, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), atol=2e-5, rtol=0)


def test_export_cli_and_bad_format(ckpt, tmp_path, capsys):
    from fasfast.cli import main

    assert main(["export", str(ckpt), "--format", "onnx", "-o", str(tmp_path / "c.onnx")]) == 0
    assert "max |diff|" in capsys.readouterr().out
    with pytest.raises(ValueError, match="format must be one of"):
        export(ckpt, tmp_path / "x", "tflite")


# ------------------------------------------------------------------ the model's checks kept
def _bad_eulernet_inputs():
    """Inputs eager EulerNet (T=4, 32x32) refuses: what the issue found a trace accepts."""
    return {
        "8 frames": torch.rand(1, 8, 3, 32, 32),
        "32x128 crops": torch.rand(1, 4, 3, 32, 128),
        "64x64 crops": torch.rand(1, 4, 3, 64, 64),
        "1 channel": torch.rand(1, 4, 1, 32, 32),
        "rank 4": torch.rand(4, 3, 32, 32),
    }


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_exports_refuse_what_eager_eulernet_refuses(ckpt, tmp_path, fmt):
    """TorchScript and ONNX refuse the frame counts, crop sizes and channels that eager
    EulerNet refuses (a plain trace ran 8 frames as two 4-frame sequences and took 32x128
    crops), and still accept good input of any batch size."""
    import warnings

    model, _ = ck.load_model(ckpt)
    res = export(ckpt, tmp_path / f"m.{fmt}", fmt)
    assert res.refuses == ["T=8 frames", "1 channel", "32x128 crops"]
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            loaded = torch.jit.load(str(res.path))

        def run(x):
            return loaded(x)

        errors = (torch.jit.Error,)
    else:
        ort = pytest.importorskip("onnxruntime")
        sess = ort.InferenceSession(str(res.path), providers=["CPUExecutionProvider"])

        def run(x):
            return torch.from_numpy(sess.run(None, {"frames": x.numpy()})[0])

        errors = (Exception,)
    for what, x in _bad_eulernet_inputs().items():
        with pytest.raises(ValueError):
            model(x)
        with pytest.raises(errors) as e:
            run(x)
        if fmt == "torchscript":  # the eager model's own message
            with pytest.raises(ValueError) as eager:
                model(x)
            assert str(eager.value) in str(e.value), what
    for b in (1, 5):
        x = torch.rand(b, 4, 3, 32, 32)
        with torch.no_grad():
            torch.testing.assert_close(run(x), model(x), atol=2e-5, rtol=0)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_classifier_exports_refuse_what_eager_refuses(tmp_path, fmt):
    from fasfast.models import ClassifierConfig, build_classifier

    torch.manual_seed(0)
    m = build_classifier(ClassifierConfig(image_size=32, drop_path_rate=0.0)).eval()
    path = tmp_path / "c.pt"
    ck.save_checkpoint(
        path,
        {
            "kind": "classifier",
            "model_config": m.config.to_dict(),
            "model": m.state_dict(),
            "epoch": 1,
        },
    )
    res = export(path, tmp_path / f"c.{fmt}", fmt)
    assert res.refuses == ["1 channel", "16x16 images"]
    assert res.max_abs_diff <= 1e-4
