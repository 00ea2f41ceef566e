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
    ck.save_checkpoint(path, {"kind": "eulernet", "model_config": m.config.to_dict(),
                              "model": m.state_dict(), "epoch": 1})
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
