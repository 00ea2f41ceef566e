"""Data: protocol readers, frame sampling, video decoding (one sequential pass), face
tracking and crops, the crop cache and ``prepare``, datasets, augmentation and the
synthetic data generator.

Heavy pieces (torch datasets) are imported lazily: ``from fasfast.data import
SequenceDataset`` works, and ``import fasfast.data`` alone does not import torch.
"""

from fasfast.data.protocols import (
    OULU_PROTOCOLS,
    UNIATTACK_PROTOCOLS,
    Sample,
    hyspefas,
    oulu_npu,
    parse_oulu_name,
    path_label_list,
    summarize,
    uniattack,
)
from fasfast.data.sequences import random_sequence, sample_sequences, window_span
from fasfast.data.video import load_hyperspectral

_LAZY = {
    "SequenceDataset": "fasfast.data.dataset",
    "FrameDataset": "fasfast.data.dataset",
    "VideoReader": "fasfast.data.video",
    "VideoReadError": "fasfast.data.video",
    "read_frames": "fasfast.data.video",
    "read_image": "fasfast.data.video",
    "generate": "fasfast.data.synth",
    "CropCache": "fasfast.data.cache",
    "crop_faces": "fasfast.data.crop",
    "FaceCropper": "fasfast.data.crop",
    "iter_faces": "fasfast.data.faces",
    "video_faces": "fasfast.data.faces",
    "astronaut_clip": "fasfast.data.clips",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fasfast.data' has no attribute {name!r}")


__all__ = [
    "OULU_PROTOCOLS",
    "UNIATTACK_PROTOCOLS",
    "Sample",
    "hyspefas",
    "load_hyperspectral",
    "oulu_npu",
    "parse_oulu_name",
    "path_label_list",
    "summarize",
    "uniattack",
    "random_sequence",
    "sample_sequences",
    "window_span",
    *_LAZY,
]
