"""Export a checkpoint to ONNX or TorchScript.

Which to deploy:

- **ONNX** (``--format onnx``, recommended for deployment outside Python/PyTorch:
  onnxruntime, TensorRT, OpenVINO). The model is traced with the pure-PyTorch reference
  ops (under :func:`fasfast.ops.use_reference`): fasfast's compiled operators have no ONNX
  symbolic, the reference ops lower to standard ONNX nodes (the DIIRF becomes T unrolled steps of
  multiply-adds). The exported graph is run with onnxruntime on a random input and
  compared with PyTorch; the export fails if they disagree.
- **TorchScript** (``--format torchscript``): a traced module for existing libtorch / C++
  pipelines (TorchScript is deprecated in recent PyTorch; prefer ONNX for new work). Also traced with the reference ops, so it loads without
  ``fasfast._C``; checked against eager PyTorch the same way.
- Inside Python with PyTorch, use the checkpoint itself (:func:`load_model`) with the
  compiled ops (the default): that is the fastest path (and ``torch.compile``-able).

Input: EulerNet ``[B, T, 3, S, S]`` RGB floats in [0, 1] -> maps ``[B, T, S/8, S/8]``
(the score is their mean); classifier ``[B, 3, S, S]`` -> logits ``[B, 2]``.
The batch axis is dynamic.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fasfast import ops
from fasfast.engine.checkpoint import load_model

FORMATS = ("onnx", "torchscript")


@dataclass
class ExportResult:
    path: Path
    format: str
    input_shape: tuple
    max_abs_diff: float
    checked_with: str

    def as_dict(self) -> dict:
        return {
            "path": str(self.path),
            "format": self.format,
            "input_shape": list(self.input_shape),
            "max_abs_diff": self.max_abs_diff,
            "checked_with": self.checked_with,
        }


def _example_input(kind: str, model_config: dict, batch: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    s = int(model_config["image_size"])
    if kind == "eulernet":
        shape = (batch, int(model_config["frames"]), 3, s, s)
    else:
        shape = (batch, 3, s, s)
    return torch.rand(shape, generator=g)


def _export_model(checkpoint: str | Path, **load_kw):
    """The checkpoint's model on CPU, eval mode (traced under the reference ops)."""
    model, meta = load_model(checkpoint, "cpu", **load_kw)
    if meta["kind"] == "eulernet":
        model.config.check_finite = False
    return model, meta


def export(
    checkpoint: str | Path,
    out: str | Path | None = None,
    fmt: str = "onnx",
    *,
    batch: int = 2,
    opset: int = 17,
    atol: float = 1e-4,
    seed: int = 0,
    model_name: str | None = None,
    image_size: int | None = None,
) -> ExportResult:
    """Export ``checkpoint`` to ``out`` (default: beside it, ``.onnx`` / ``.ts.pt``).

    Raises RuntimeError when the exported model's output differs from PyTorch's on a
    random input by more than ``atol`` (absolute, after the model's sigmoid/logits).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "onnx" and not 9 <= int(opset) <= 20:  # torch's TorchScript-based ONNX exporter
        raise ValueError(f"opset {opset} is outside the ONNX opsets the exporter writes (9-20); "
                         "the default 17 suits onnxruntime >= 1.17")
    if not atol > 0:
        raise ValueError(f"atol must be > 0, got {atol}")
    checkpoint = Path(checkpoint)
    model, meta = _export_model(checkpoint, model=model_name, image_size=image_size)
    kind = meta["kind"]
    if out is None:
        out = checkpoint.with_suffix(".onnx" if fmt == "onnx" else ".ts.pt")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    x = _example_input(kind, meta["model_config"], batch, seed)
    # a second input with another batch size checks the dynamic batch axis
    x2 = _example_input(kind, meta["model_config"], batch + 1, seed + 1)
    # the reference ops: standard nodes the exporters know (the compiled ops have no symbolic)
    with ops.use_reference():
        with torch.no_grad():
            expected, expected2 = model(x).numpy(), model(x2).numpy()
        if fmt == "onnx":
            got, got2 = _export_onnx(model, x, x2, out, opset, kind)
            checked = "onnxruntime (CPUExecutionProvider)"
        else:
            got, got2 = _export_torchscript(model, x, x2, out)
            checked = "torch.jit.load"
    diff = max(float(np.abs(got - expected).max()), float(np.abs(got2 - expected2).max()))
    if not diff <= atol:
        raise RuntimeError(
            f"exported {fmt} model disagrees with PyTorch: max |diff| = {diff:.3g} > {atol:g}"
        )
    result = ExportResult(out, fmt, tuple(x.shape), diff, checked)
    meta_path = out.with_name(out.name + ".json")
    info = result.as_dict()
    info.update(kind=kind, model_config=meta["model_config"], checkpoint=str(checkpoint),
                output="maps [B, T, S/8, S/8] (score = mean)" if kind == "eulernet"
                else "logits [B, 2] (live = softmax[:, 1])")
    meta_path.write_text(json.dumps(info, indent=2))
    return result


def _export_onnx(model, x, x2, out: Path, opset: int, kind: str):
    import onnxruntime as ort

    names = (["frames"], ["maps"]) if kind == "eulernet" else (["image"], ["logits"])
    dyn = {names[0][0]: {0: "batch"}, names[1][0]: {0: "batch"}}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # legacy-exporter deprecation, tracer warnings
        torch.onnx.export(
            model, (x,), buf, input_names=names[0], output_names=names[1],
            dynamic_axes=dyn, opset_version=opset, dynamo=False,
        )
    data = buf.getvalue()
    try:
        import onnx

        onnx.checker.check_model(onnx.load_from_string(data))
    except ImportError:
        pass
    out.write_bytes(data)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = sess.run(None, {names[0][0]: x.numpy()})[0]
    got2 = sess.run(None, {names[0][0]: x2.numpy()})[0]
    return got, got2


def _export_torchscript(model, x, x2, out: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings of the input checks
        traced = torch.jit.trace(model, (x,), check_trace=False)
    traced.save(str(out))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated
        loaded = torch.jit.load(str(out))
    with torch.no_grad():
        return loaded(x).numpy(), loaded(x2).numpy()
