"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)``.

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
import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = "fasfast-checkpoint"
VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be used (truncated, foreign, another model)."""


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


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a fasfast checkpoint safely (``weights_only=True``) with clear errors.

    Raises FileNotFoundError for a missing file and :class:`CheckpointError` for a
    truncated / corrupt file or a file that is not a fasfast checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        hint = ""
        tmp = path.with_name(path.name + ".tmp")
        if tmp.exists():
            hint = f" (only an incomplete {tmp.name} exists: the run was interrupted while saving)"
        raise FileNotFoundError(f"checkpoint not found: {path}{hint}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): truncated or not written")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, pickle.UnpicklingError,
            ValueError, KeyError, IndexError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "weights_only" in str(e) or "Unsupported global" in str(e):
            raise CheckpointError(
                f"checkpoint {path} holds Python objects that are not allowed with "
                f"weights_only=True: not a fasfast checkpoint ({msg})"
            ) from e
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupt and cannot be read ({msg})"
        ) from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a fasfast checkpoint (no format={FORMAT!r} tag); "
            "to start from plain weights use --init with a state_dict file"
        )
    if int(ckpt.get("version", 0)) > VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {ckpt['version']}, newer than this "
            f"fasfast understands ({VERSION}); upgrade fasfast"
        )
    for key in ("kind", "model_config", "model"):
        if key not in ckpt:
            raise CheckpointError(f"checkpoint {path} lacks the {key!r} entry")
    return ckpt


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


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside DDP / torch.compile wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, torch.nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def load_state_into(model: torch.nn.Module, state: dict, source: str) -> None:
    """``load_state_dict(strict=True)`` with an error that names the mismatch."""
    target = unwrap(model)
    own = target.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s) (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s) (e.g. {unexpected[0]})")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatch(es) (e.g. {shapes[0]})")
        raise CheckpointError(
            f"{source} was saved from another model: " + "; ".join(parts)
        )
    target.load_state_dict(state, strict=True)


def load_model(
    path: str | Path, device: str | torch.device = "cpu", **overrides
) -> tuple[torch.nn.Module, dict]:
    """Rebuild the model stored in a checkpoint, in eval mode.

    ``overrides`` change model-config fields that do not touch the weights (e.g.
    ``fused=False`` for export). Returns ``(model, meta)`` where meta is the checkpoint
    without the weights and optimizer state.
    """
    ckpt = load_checkpoint(path)
    try:
        model = build_model(ckpt["kind"], ckpt["model_config"], **overrides)
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"checkpoint {path}: cannot rebuild its model ({e})") from e
    load_state_into(model, ckpt["model"], f"checkpoint {path}")
    model.to(device).eval()
    meta = {k: v for k, v in ckpt.items() if k not in ("model", "optimizer", "scheduler", "scaler")}
    return model, meta


def load_init_weights(model: torch.nn.Module, path: str | Path) -> None:
    """``--init``: weights from a fasfast checkpoint or a plain state_dict file.

    Keys whose shapes differ (e.g. a classification head of another size) are skipped
    with a printed note; a file that matches no key at all is an error.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--init weights file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - re-raised with the file named
        raise CheckpointError(f"--init file {path} cannot be read: {e}") from e
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        obj = obj["model"]
    for key in ("state_dict", "model", "model_state"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise CheckpointError(f"--init file {path} does not hold a state_dict")
    obj = {k.removeprefix("module."): v for k, v in obj.items() if torch.is_tensor(v)}
    target = unwrap(model)
    own = target.state_dict()
    usable = {k: v for k, v in obj.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    if not usable:
        raise CheckpointError(f"--init file {path} has no weights that fit this model")
    skipped = len(own) - len(usable)
    target.load_state_dict(usable, strict=False)
    if skipped:
        print(f"init: loaded {len(usable)} tensors from {path}, {skipped} left at their init")


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
