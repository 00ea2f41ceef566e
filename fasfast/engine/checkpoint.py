"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)``.

Weights of every kind are read by the one loader, :mod:`fasfast.models.weights`; this module
writes fasfast checkpoints and rebuilds their models.

A checkpoint is a dict of tensors and primitive containers only (no pickled classes)::

    format="fasfast-checkpoint", version=1,
    kind="eulernet" | "classifier", model_config=dict, model=state_dict,
    epoch=int (epochs completed), step=int, metrics=dict, train_config=dict,
    optimizer=..., scheduler=..., scaler=..., rng=dict, sampler=dict, history=list

Writing goes to ``<name>.tmp`` in the same folder, is flushed and fsync'ed, then
``os.replace``-d over the target, so a run killed at any moment leaves either the
previous complete checkpoint or the new one, never a partial file under the real name.
"""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fasfast.models.weights import (
    FORMAT,
    CheckpointError,
    LoadReport,
    WeightsFile,
    describe_mismatch,
    load_weights,
    read_weights,
    unwrap,
)

__all__ = [
    "FORMAT", "VERSION", "CheckpointError", "save_checkpoint", "load_checkpoint", "load_model",
    "load_init_weights", "load_state_into", "build_model", "model_kind", "unwrap",
    "describe_mismatch", "rng_state", "set_rng_state",
]

VERSION = 1


def save_checkpoint(path: str | Path, state: dict) -> Path:
    """Write ``state`` (plus format tags) to ``path`` atomically. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, **state}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        torch.save(payload, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return path


def _check_fasfast(ckpt: dict, path) -> dict:
    if int(ckpt.get("version", 0)) > VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {ckpt['version']}, newer than this "
            f"fasfast understands ({VERSION}); upgrade fasfast"
        )
    for key in ("kind", "model_config", "model"):
        if key not in ckpt:
            raise CheckpointError(f"checkpoint {path} lacks the {key!r} entry")
    return ckpt


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a whole fasfast checkpoint (weights, optimizer, RNG, ...) for resuming.

    Read by the one loader (:func:`fasfast.models.weights.read_weights`, ``weights_only=True``).
    Raises FileNotFoundError for a missing file and :class:`CheckpointError` for a truncated /
    corrupt file or a file that is not a fasfast checkpoint (plain weights belong to ``--init``).
    """
    wf = read_weights(path, map_location=map_location)
    if not wf.is_fasfast:
        raise CheckpointError(
            f"{path} is not a fasfast checkpoint (no format={FORMAT!r} tag; it holds a "
            f"{wf.container}): only fasfast checkpoints can be resumed; to start from plain "
            "weights use --init"
        )
    return _check_fasfast({**wf.raw, "model": wf.state}, path)


# ----------------------------------------------------------------- models
def build_model(kind: str, model_config: dict, **overrides) -> torch.nn.Module:
    """Build an EulerNet or classifier from the config dict stored in a checkpoint."""
    from fasfast import models

    if kind == "eulernet":
        cfg = models.EulerNetConfig.from_dict({**model_config, **overrides})
        return models.EulerNet(cfg)
    if kind == "classifier":
        import dataclasses

        known = {f.name for f in dataclasses.fields(models.ClassifierConfig)}
        d = {k: v for k, v in {**model_config, **overrides}.items() if k in known}
        d["init"] = None  # weights come from the checkpoint, not the init file
        return models.build_classifier(models.ClassifierConfig(**d))
    raise CheckpointError(f"unknown model kind {kind!r} in checkpoint")


def model_kind(model: torch.nn.Module) -> str:
    from fasfast import models

    model = unwrap(model)
    return "eulernet" if isinstance(model, models.EulerNet) else "classifier"


def load_state_into(model: torch.nn.Module, state: dict, source: str) -> LoadReport:
    """Exact load (resume): any missing, unexpected or mis-shaped tensor is a CheckpointError."""
    return load_weights(model, WeightsFile(dict(state), str(source), "checkpoint"), mode="exact")


def load_model(
    path: str | Path,
    device: str | torch.device = "cpu",
    *,
    model: str | None = None,
    image_size: int | None = None,
    entry: str | None = None,
    **overrides,
) -> tuple[torch.nn.Module, dict]:
    """Rebuild the model stored in a weights file, in eval mode.

    A fasfast checkpoint carries its model's config. Any other file the loader accepts (a
    plain state dict, Huang et al. 2024's ``{'model', 'args', ...}``, safetensors) is built as
    ``model`` (a timm name, ``eulernet`` or ``eulernet:PRESET``), else as inferred from the
    file (:func:`fasfast.engine._infer.infer_model`; the guess is in ``meta["note"]``).
    ``image_size`` sets the input side of a plain file's model. ``overrides`` change
    model-config fields that do not touch the weights (e.g. ``check_finite=True``).
    Returns ``(model, meta)``: meta is the checkpoint without weights and optimizer state
    (for a plain file: kind, model_config, note). The weights must fit exactly.
    """
    from fasfast.engine._infer import infer_model

    wf = read_weights(path, entry=entry)
    if wf.is_fasfast:
        ckpt = _check_fasfast({**wf.raw, "model": wf.state}, path)
        kind, config = ckpt["kind"], dict(ckpt["model_config"])
        if model is not None and model.split(":")[0] != config.get("model_name", kind):
            raise CheckpointError(
                f"{path} is a fasfast checkpoint of a {config.get('model_name', kind)} model; "
                f"--model {model} is only for plain state dicts")
        if image_size is not None:
            config["image_size"] = int(image_size)
        meta = {k: v for k, v in ckpt.items()
                if k not in ("model", "optimizer", "scheduler", "scaler")}
    else:
        kind, config, note = infer_model(wf, model, image_size)
        meta = {"kind": kind, "model_config": config, "note": note, "format": wf.container}
        if note:
            warnings.warn(note, UserWarning, stacklevel=2)
        if isinstance(wf.raw.get("epoch"), int):
            meta["epoch"] = wf.raw["epoch"]
    try:
        net = build_model(kind, config, **overrides)
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: cannot rebuild its model ({e})") from e
    try:
        load_weights(net, wf, mode="exact")
    except CheckpointError as e:
        if wf.is_fasfast:
            raise
        raise CheckpointError(f"{e}; pass --model NAME (and --image-size) to say which model "
                              "the file holds") from e
    if not isinstance(device, torch.device):
        from fasfast.engine.distributed import pick_device

        device = pick_device(str(device))  # a clear error for "gpu0" or cuda without CUDA
    net.to(device).eval()
    if not wf.is_fasfast:
        meta["model_config"] = net.config.to_dict()
    return net, meta


def load_init_weights(model: torch.nn.Module, path: str | Path, *,
                      entry: str | None = None) -> LoadReport:
    """``--init``: fine-tune from any file the loader accepts (fasfast checkpoint, plain or
    wrapped state dict, DDP prefixes, safetensors). Tensors of another shape (a 1000-class
    head) or that the model lacks are skipped; the report is printed and returned."""
    report = load_weights(model, path, mode="finetune", entry=entry)
    print(f"init: {report.summary()}")
    return report


# ----------------------------------------------------------------- RNG state
def rng_state() -> dict:
    """python / numpy / torch (CPU + CUDA) RNG states as tensors and lists."""
    py = random.getstate()
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [
            np_state[0],
            torch.from_numpy(np_state[1].astype(np.int64)),
            int(np_state[2]),
            int(np_state[3]),
            float(np_state[4]),
        ],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` returned."""
    py = state["python"]
    random.setstate((int(py[0]), tuple(int(v) for v in py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state(
        (str(n[0]), n[1].numpy().astype(np.uint32), int(n[2]), int(n[3]), float(n[4]))
    )
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = [s.cpu() for s in state["cuda"]]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
