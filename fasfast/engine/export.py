"""Export a checkpoint to ONNX or TorchScript.

Which to deploy:

- **ONNX** (``--format onnx``, recommended for deployment outside Python/PyTorch:
  onnxruntime, TensorRT, OpenVINO). The model is traced with the pure-PyTorch reference
  ops (under :func:`fasfast.ops.use_reference`): fasfast's compiled operators have no ONNX
  symbolic, the reference ops lower to standard ONNX nodes (the DIIRF becomes T unrolled steps of
  multiply-adds). The exported graph is run with onnxruntime on a random input and
  compared with PyTorch; the export fails if they disagree.
- **TorchScript** (``--format torchscript``): a traced module for existing libtorch / C++
  pipelines (TorchScript is deprecated in recent PyTorch; prefer ONNX for new work). Also
  traced with the reference ops, so it loads without ``fasfast._C``; checked against eager
  PyTorch the same way.

Both keep the model's input checks: a trace alone records one input's shapes and drops the
Python checks (a traced EulerNet ran an 8-frame input as two 4-frame sequences and took
32x128 crops as 64x64). The TorchScript file is a scripted wrapper that runs the model's
own shape checks (:func:`fasfast.models.eulernet.check_sequence_shape`,
:func:`fasfast.models.classifier.check_image_shape`) before the traced graph; the ONNX graph
has fixed frame count, channels and crop size (only the batch axis is dynamic), so
onnxruntime refuses other shapes. Every export is checked to refuse an input with another
frame count (EulerNet) or channel count and another crop size.
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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fasfast import ops
from fasfast.engine.checkpoint import load_model
from fasfast.models.classifier import check_image_shape
from fasfast.models.eulernet import EulerNet, check_sequence_shape

FORMATS = ("onnx", "torchscript")


@dataclass
class ExportResult:
    path: Path
    format: str
    input_shape: tuple
    max_abs_diff: float
    checked_with: str
    refuses: list[str] = field(default_factory=list)  # bad inputs the export was seen refuse

    def as_dict(self) -> dict:
        return {
            "path": str(self.path),
            "format": self.format,
            "input_shape": list(self.input_shape),
            "max_abs_diff": self.max_abs_diff,
            "checked_with": self.checked_with,
            "refuses": list(self.refuses),
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
        raise ValueError(
            f"opset {opset} is outside the ONNX opsets the exporter writes (9-20); "
            "the default 17 suits onnxruntime >= 1.17"
        )
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
            got, got2, run = _export_onnx(model, x, x2, out, opset, kind)
            checked = "onnxruntime (CPUExecutionProvider)"
        else:
            got, got2, run = _export_torchscript(model, x, x2, out)
            checked = "torch.jit.load"
    diff = max(float(np.abs(got - expected).max()), float(np.abs(got2 - expected2).max()))
    if not diff <= atol:
        raise RuntimeError(
            f"exported {fmt} model disagrees with PyTorch: max |diff| = {diff:.3g} > {atol:g}"
        )
    refused = _check_refusals(run, model, kind, meta["model_config"], fmt)
    result = ExportResult(out, fmt, tuple(x.shape), diff, checked, refused)
    meta_path = out.with_name(out.name + ".json")
    info = result.as_dict()
    info.update(
        kind=kind,
        model_config=meta["model_config"],
        checkpoint=str(checkpoint),
        output="maps [B, T, S/8, S/8] (score = mean)"
        if kind == "eulernet"
        else "logits [B, 2] (live = softmax[:, 1])",
    )
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
            model,
            (x,),
            buf,
            input_names=names[0],
            output_names=names[1],
            dynamic_axes=dyn,
            opset_version=opset,
            dynamo=False,
        )
    data = buf.getvalue()
    try:
        import onnx

        onnx.checker.check_model(onnx.load_from_string(data))
    except ImportError:
        pass
    out.write_bytes(data)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])

    def run(inp):
        return sess.run(None, {names[0][0]: inp.numpy()})[0]

    return run(x), run(x2), run


class CheckedEulerNet(torch.nn.Module):
    """A traced EulerNet behind the eager model's input checks (scripted)."""

    def __init__(self, traced, frames: int, size: int):
        super().__init__()
        self.inner, self.frames, self.size = traced, int(frames), int(size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_sequence_shape(x, self.frames, self.size)
        if not x.is_floating_point():
            raise TypeError(
                "EulerNet expects floating-point input in [0, 1] (convert uint8 "
                "images with x.float() / 255)"
            )
        return self.inner(x)


class CheckedClassifier(torch.nn.Module):
    """A traced classifier behind the eager model's input checks (scripted)."""

    def __init__(self, traced, size: int):
        super().__init__()
        self.inner, self.size = traced, int(size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_shape(x, self.size)
        if not x.is_floating_point():
            raise TypeError(
                "Classifier expects floating-point input in [0, 1] (convert uint8 "
                "images with x.float() / 255)"
            )
        return self.inner(x)


def _bad_inputs(kind: str, model_config: dict) -> dict[str, torch.Tensor]:
    """Inputs eager PyTorch refuses, each with what is wrong: another frame count (EulerNet),
    one channel, another crop size."""
    s = int(model_config["image_size"])
    if kind == "eulernet":
        t = int(model_config["frames"])
        return {
            f"T={2 * t} frames": torch.rand(1, 2 * t, 3, s, s),
            "1 channel": torch.rand(1, t, 1, s, s),
            f"{s}x{4 * s} crops": torch.rand(1, t, 3, s, 4 * s),
        }
    return {"1 channel": torch.rand(1, 1, s, s), "16x16 images": torch.rand(1, 3, 16, 16)}


def _check_refusals(run, model, kind: str, model_config: dict, fmt: str) -> list[str]:
    """Each of :func:`_bad_inputs` must be refused by eager PyTorch and by the export
    (``run(x)``); returns what was refused. RuntimeError when the export accepts one."""
    refused = []
    for what, x in _bad_inputs(kind, model_config).items():
        try:
            model(x)
        except (ValueError, TypeError):
            pass
        else:  # pragma: no cover - the eager model's own checks
            continue
        try:
            with torch.no_grad():
                run(x)
        except Exception:  # noqa: BLE001 - onnxruntime / TorchScript raise their own types
            refused.append(what)
            continue
        raise RuntimeError(
            f"the exported {fmt} model accepts an input with {what}, which "
            "PyTorch refuses; it would give a wrong answer for it"
        )
    return refused


def _export_torchscript(model, x, x2, out: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings of the input checks
        traced = torch.jit.trace(model, (x,), check_trace=False)
        cfg = model.config
        if isinstance(model, EulerNet):
            wrapper = CheckedEulerNet(traced, cfg.frames, cfg.image_size)
        else:
            wrapper = CheckedClassifier(traced, cfg.image_size)
        scripted = torch.jit.script(wrapper)
    scripted.save(str(out))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated
        loaded = torch.jit.load(str(out))

    def run(inp):
        with torch.no_grad():
            return loaded(inp).numpy()

    return run(x), run(x2), run
