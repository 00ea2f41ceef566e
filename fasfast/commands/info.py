"""``fasfast info``: what this installation can do."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print as JSON")


def collect() -> dict:
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        from fasfast import __version__, ops
        from fasfast.ops import _library

    return {
        "fasfast": __version__,
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "extension_loaded": _library.HAS_C,
        "extension_error": _library.LOAD_ERROR,
        "compiled_backends": ops.compiled_backends(),
        "reference_ops": ops.reference_enabled(),  # FASFAST_REFERENCE_OPS=1 / use_reference()
        "cuda_available": torch.cuda.is_available(),
        "cuda_kernels_usable": ops.cuda_usable(),
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cpu_output_cache_mb": ops.output_cache_info()["limit_bytes"] >> 20,
    }


def run(args: argparse.Namespace) -> int:
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    width = max(len(k) for k in info)
    for key, value in info.items():
        if key == "extension_error" and value is None:
            continue
        print(f"{key:<{width}}  {value}")
    return 0
