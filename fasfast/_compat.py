"""Import shims for the CPU-only environments fasfast is tested in.

timm imports torchvision. On a machine with a CPU build of torch, the only
torchvision wheel that matches (e.g. 0.28.0 for torch 2.13.0) is a CUDA build whose
C++ ops library cannot load; its ``import`` then dies in ``_meta_registrations`` on
``register_fake("torchvision::nms")`` because the operator was never defined.

:func:`import_timm` (and :func:`ensure_torchvision_importable`) avoid that without
touching site-packages: when torchvision's ops library cannot be loaded, the operator
*schemas* torchvision registers fake kernels for are defined first, with no kernel.
Everything fasfast needs from timm/torchvision (models, optimizers, Mixup, transforms)
then works; calling a detection op such as ``torchvision.ops.nms`` raises a clear
"no kernel" error instead of breaking every import.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys

# Schemas of the torchvision operators that torchvision/_meta_registrations.py
# registers fake kernels for (written from torchvision's public op signatures).
_TORCHVISION_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "roi_align": "roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width, int sampling_ratio, bool aligned) -> Tensor",
    "_roi_align_backward": "_roi_align_backward(Tensor grad, Tensor rois, float spatial_scale, "
    "SymInt pooled_height, SymInt pooled_width, SymInt batch_size, SymInt channels, "
    "SymInt height, SymInt width, int sampling_ratio, bool aligned) -> Tensor",
    "qroi_align": "qroi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width, int sampling_ratio, bool aligned) -> Tensor",
    "ps_roi_align": "ps_roi_align(Tensor input, Tensor rois, float spatial_scale, "
    "SymInt pooled_height, SymInt pooled_width, int sampling_ratio) -> (Tensor, Tensor)",
    "_ps_roi_align_backward": "_ps_roi_align_backward(Tensor grad, Tensor rois, "
    "Tensor channel_mapping, float spatial_scale, SymInt pooled_height, SymInt pooled_width, "
    "int sampling_ratio, SymInt batch_size, SymInt channels, SymInt height, SymInt width) -> Tensor",
    "roi_pool": "roi_pool(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width) -> (Tensor, Tensor)",
    "_roi_pool_backward": "_roi_pool_backward(Tensor grad, Tensor rois, Tensor argmax, "
    "float spatial_scale, SymInt pooled_height, SymInt pooled_width, SymInt batch_size, "
    "SymInt channels, SymInt height, SymInt width) -> Tensor",
    "ps_roi_pool": "ps_roi_pool(Tensor input, Tensor rois, float spatial_scale, "
    "SymInt pooled_height, SymInt pooled_width) -> (Tensor, Tensor)",
    "_ps_roi_pool_backward": "_ps_roi_pool_backward(Tensor grad, Tensor rois, "
    "Tensor channel_mapping, float spatial_scale, SymInt pooled_height, SymInt pooled_width, "
    "SymInt batch_size, SymInt channels, SymInt height, SymInt width) -> Tensor",
    "deform_conv2d": "deform_conv2d(Tensor input, Tensor weight, Tensor offset, Tensor mask, "
    "Tensor bias, SymInt stride_h, SymInt stride_w, SymInt pad_h, SymInt pad_w, "
    "SymInt dilation_h, SymInt dilation_w, SymInt groups, SymInt offset_groups, "
    "bool use_mask) -> Tensor",
    "_deform_conv2d_backward": "_deform_conv2d_backward(Tensor grad, Tensor input, Tensor weight, "
    "Tensor offset, Tensor mask, Tensor bias, SymInt stride_h, SymInt stride_w, SymInt pad_h, "
    "SymInt pad_w, SymInt dilation_h, SymInt dilation_w, SymInt groups, SymInt offset_groups, "
    "bool use_mask) -> (Tensor, Tensor, Tensor, Tensor, Tensor)",
}

_shim_library = None  # keeps the torch.library.Library alive
torchvision_ops_shimmed = False


def _torchvision_ops_loadable() -> bool:
    """True when torchvision's own C++ ops library loads next to this torch."""
    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return True  # nothing to fix: timm will report the missing package itself
    candidates = glob.glob(os.path.join(os.path.dirname(spec.origin), "_C*.so")) + glob.glob(
        os.path.join(os.path.dirname(spec.origin), "_C*.pyd")
    )
    if not candidates:
        return False
    try:
        torch.ops.load_library(candidates[0])
    except (OSError, RuntimeError, ImportError):
        return False
    return True


def ensure_torchvision_importable() -> bool:
    """Make ``import torchvision`` work even when its C++ ops cannot load.

    Returns True when the schemas had to be defined (torchvision's detection ops then
    have no kernel), False when torchvision was fine as it is. Idempotent.
    """
    global _shim_library, torchvision_ops_shimmed
    if "torchvision" in sys.modules or torchvision_ops_shimmed:
        return torchvision_ops_shimmed
    if _torchvision_ops_loadable():
        return False
    import torch

    lib = torch.library.Library("torchvision", "FRAGMENT")
    for name, schema in _TORCHVISION_SCHEMAS.items():
        try:
            getattr(torch.ops.torchvision, name)
            continue  # already defined (e.g. by a partial load)
        except (AttributeError, RuntimeError):
            pass
        lib.define(schema)
    _shim_library = lib
    torchvision_ops_shimmed = True
    return True


def import_timm():
    """Import and return timm, applying :func:`ensure_torchvision_importable` first."""
    ensure_torchvision_importable()
    import timm

    return timm
