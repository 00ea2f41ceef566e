"""``fasfast export``: a checkpoint to ONNX (deployment) or TorchScript, checked against
PyTorch on a random input."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint",
        help="checkpoint (.pt) written by fasfast train, or any "
        "weights file the loader accepts (see --model)",
    )
    parser.add_argument(
        "--format",
        dest="fmt",
        default="onnx",
        choices=("onnx", "torchscript"),
        help="onnx (deploy with onnxruntime/TensorRT/OpenVINO; default) or "
        "torchscript (libtorch / C++)",
    )
    parser.add_argument(
        "--out", "-o", default=None, help="output file (default: beside the checkpoint)"
    )
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument(
        "--atol",
        type=float,
        default=1e-4,
        help="largest allowed |exported - PyTorch| on the check input",
    )
    parser.add_argument(
        "--model",
        default=None,
        metavar="NAME",
        help="for a weights file without a fasfast config (a plain state dict, "
        "safetensors): its model, a timm name or eulernet[:PRESET] (default: "
        "inferred from the file)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="input size of such a file's model (default: from the file)",
    )


def run(args: argparse.Namespace) -> int:
    from fasfast.engine.export import export

    r = export(
        args.checkpoint,
        args.out,
        args.fmt,
        opset=args.opset,
        atol=args.atol,
        model_name=args.model,
        image_size=args.image_size,
    )
    print(
        f"wrote {r.path} ({r.format}); checked with {r.checked_with} on input "
        f"{list(r.input_shape)}: max |diff| = {r.max_abs_diff:.2e}; refuses, as PyTorch "
        f"does, inputs with {', '.join(r.refuses)}"
    )
    return 0
