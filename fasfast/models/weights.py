"""The one weights loader: every path that reads weights goes through it.

Used by ``ClassifierConfig(init=...)``, ``fasfast train --init``, resume,
``fasfast.engine.load_model`` (so ``eval``, ``predict``, ``export``, ``explain``,
``protocol`` and the reproduce modules). Accepted files:

- fasfast checkpoints (``format="fasfast-checkpoint"``, weights under ``model``);
- bare state dicts of the fasfast model, of the bare timm backbone or of EulerNet;
- state dicts under a wrapper entry: ``model``, ``state_dict``, ``model_state``,
  ``model_state_dict``, ``module``, ``net``, ``network`` (EMA weights ``model_ema``,
  ``state_dict_ema``, ``ema``, ``ema_state_dict`` are used only when asked for with
  ``entry=`` or when the file holds nothing else), as the public ConvNeXt-V2 code of Huang et al. 2024
  and timm's train script save them (``{'model', 'optimizer', 'epoch', 'scaler', 'args'}``);
- ``module.`` (DataParallel / DDP) and ``_orig_mod.`` (``torch.compile``) prefixes, and a
  ``backbone.`` prefix present in the file but not in the model or the other way round;
- safetensors files (by content; any name).

PyTorch files are read with ``torch.load(weights_only=True)``; the only extra types allowed,
inside a scoped ``torch.serialization.safe_globals``, are the harmless ones such checkpoints
carry next to the tensors (:data:`SAFE_GLOBALS`: ``argparse.Namespace``, ``pathlib`` paths,
numpy scalars / arrays / dtypes). Any other pickled object is refused: unpickling can run code.

Two modes (:func:`load_weights`): ``"finetune"`` skips tensors whose shapes differ (a 1000-class
ImageNet head against 2 classes) or that the model lacks, and reports them; it fails when the
file fits less than half of the model's weights (by element count: another architecture).
``"exact"`` (resume, a checkpoint's own model) fails on any missing, unexpected or mis-shaped
tensor. Every failure is a :class:`CheckpointError` (a ``ValueError``) naming the file and what
to do; a missing file is a ``FileNotFoundError``.

Length: over the project's ~450-line guide once ruff-formatted, because reading every
checkpoint format, matching keys and the load report are one decision path (the one
weights loader); the safetensors / pickle readers would be the part to split off.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import pickle
import re
import struct
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = [
    "FORMAT",
    "SAFE_GLOBALS",
    "CheckpointError",
    "WeightsFile",
    "Mismatch",
    "LoadReport",
    "read_weights",
    "describe_mismatch",
    "match_keys",
    "load_weights",
    "unwrap",
]

FORMAT = "fasfast-checkpoint"
MODEL_ENTRIES = (
    "model",
    "state_dict",
    "model_state",
    "model_state_dict",
    "module",
    "net",
    "network",
)
EMA_ENTRIES = ("model_ema", "state_dict_ema", "ema", "ema_state_dict")
MIN_FINETUNE_FRACTION = 0.5


class CheckpointError(ValueError):
    """A weights or checkpoint file that cannot be used: unreadable, truncated, foreign, holding
    a disallowed pickled object, or saved from another model. The message names the file."""


def _numpy_globals() -> list:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        return []
    core = getattr(np, "_core", None) or np.core
    multiarray = core.multiarray
    dtype_classes = {
        type(np.dtype(t))
        for t in (
            "?",
            "b",
            "B",
            "h",
            "H",
            "i",
            "I",
            "l",
            "L",
            "q",
            "Q",
            "e",
            "f",
            "d",
            "g",
            "F",
            "D",
        )
    }
    return [multiarray.scalar, multiarray._reconstruct, np.ndarray, np.dtype, *dtype_classes]


# Harmless classes training scripts store next to the tensors: the run's argparse.Namespace
# (the ConvNeXt-V2 code of Huang et al. 2024, timm's train.py), paths inside it, numpy metric values.
SAFE_GLOBALS: list = [
    argparse.Namespace,
    pathlib.PosixPath,
    pathlib.PurePosixPath,
    pathlib.WindowsPath,
    pathlib.PureWindowsPath,
    *_numpy_globals(),
]


@dataclass
class WeightsFile:
    """What :func:`read_weights` found in a file.

    state: name -> tensor, as stored (prefixes untouched). path: the file. container: where the
    tensors were, in words ("fasfast checkpoint", "'model' entry", "safetensors file",
    "bare state dict"). entries: the other top-level entries of the file (not used: optimizer,
    epoch, args, ...). raw: the top-level object without the state dict (a fasfast checkpoint's
    config, Huang et al. 2024's ``args``), or the safetensors metadata.
    """

    state: dict[str, torch.Tensor]
    path: str
    container: str
    entries: list[str] = field(default_factory=list)
    raw: dict = field(default_factory=dict)

    @property
    def is_fasfast(self) -> bool:
        return self.raw.get("format") == FORMAT


# ------------------------------------------------------------------------------------ reading
def _is_safetensors(path: str, head: bytes, size: int) -> bool:
    if len(head) < 9:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 2 <= n <= size - 8 and head[8:9] == b"{"


def _read_safetensors(path: str) -> tuple[dict, dict]:
    try:
        from safetensors import safe_open
    except ImportError as e:  # pragma: no cover - safetensors is a dependency
        raise ModuleNotFoundError(
            f"{path} is a safetensors file and the 'safetensors' package is not installed: "
            "pip install safetensors",
            name="safetensors",
        ) from e
    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            meta = dict(f.metadata() or {})
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # noqa: BLE001 - safetensors raises its own SafetensorError
        raise CheckpointError(
            f"{path} looks like a safetensors file but cannot be read ({_first_line(e)}): "
            "truncated or corrupt"
        ) from e
    return state, meta


def _first_line(e: BaseException) -> str:
    """The first line (first sentence when long) of an exception's message."""
    text = str(e).strip()
    line = text.splitlines()[0] if text else type(e).__name__
    if len(line) > 120 and ". " in line:
        line = line.split(". ")[0]
    return line


def _torch_load(path: str, head: bytes, map_location) -> object:
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location=map_location, weights_only=True)
    except (
        RuntimeError,
        EOFError,
        OSError,
        zipfile.BadZipFile,
        pickle.UnpicklingError,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        struct.error,
    ) as e:
        text = str(e)
        bad = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text) or re.search(
            r"Can only build .* but got <class '([\w.]+)'>", text
        )
        if bad:
            name = bad.group(1)
            raise CheckpointError(
                f"{path} holds a pickled Python object ({name}) that fasfast does not load: "
                "weights_only=True refuses arbitrary pickles (unpickling can run code). If you "
                "trust the file, re-save its tensors alone, e.g. torch.save(torch.load(f, "
                "weights_only=False)['model'], 'weights.pt')"
            ) from e
        if head[:2] == b"PK" or head[:1] == b"\x80":
            raise CheckpointError(
                f"{path} is truncated or corrupt and cannot be read ({_first_line(e)}); "
                "use an earlier copy or re-save it"
            ) from e
        raise CheckpointError(
            f"{path} is not a PyTorch (.pt / .pth) or safetensors weights file (neither a zip "
            f"archive, a pickle nor a safetensors header; it starts with {head[:8]!r}): check "
            "the path"
        ) from e


def _pick_entry(obj: dict, path: str, entry: str | None) -> tuple[dict, str]:
    """The state dict inside ``obj`` (a fasfast checkpoint, a wrapper dict or a state dict)."""
    if entry is not None:
        if entry not in obj or not isinstance(obj[entry], dict):
            have = [k for k, v in obj.items() if isinstance(v, dict)]
            raise CheckpointError(f"{path} has no state dict under {entry!r}; it has {have}")
        return obj[entry], f"{entry!r} entry"
    if obj.get("format") == FORMAT and isinstance(obj.get("model"), dict):
        return obj["model"], "fasfast checkpoint"
    for key in (*MODEL_ENTRIES, *EMA_ENTRIES):
        if isinstance(obj.get(key), dict) and obj[key]:
            return obj[key], f"{key!r} entry"
    return obj, "bare state dict"


def _tensors_of(obj: dict, path: str, container: str) -> dict[str, torch.Tensor]:
    for _ in range(3):  # a wrapper inside a wrapper ({'state_dict': {'model': ...}})
        if any(torch.is_tensor(v) for v in obj.values()):
            break
        inner, where = _pick_entry(obj, path, None)
        if inner is obj:
            break
        obj, container = inner, f"{container} > {where}"
    state = {str(k): v for k, v in obj.items() if torch.is_tensor(v)}
    if not state:
        keys = list(obj)[:8]
        raise CheckpointError(
            f"{path} holds no state dict (no tensors in the {container}; top-level entries "
            f"{keys}): expected a fasfast checkpoint, a state dict, or one under "
            f"{list(MODEL_ENTRIES[:3]) + list(EMA_ENTRIES[:1])}"
        )
    return state


def read_weights(
    path: str | os.PathLike, *, entry: str | None = None, map_location: str | torch.device = "cpu"
) -> WeightsFile:
    """Read any accepted weights file (see the module docstring) into a :class:`WeightsFile`.

    entry: take the state dict under this top-level key (e.g. ``"model_ema"``) instead of the
    first of ``model``, ``state_dict``, ... Raises FileNotFoundError (missing file, with a hint
    when only ``<name>.tmp`` exists) and :class:`CheckpointError` (empty, truncated, corrupt,
    not a weights file, a disallowed pickled object, no tensors).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(
            f"{path} is a folder, not a weights file (give the .pt / .pth / "
            ".safetensors file inside it)"
        )
    if not os.path.isfile(path):
        hint = ""
        if os.path.exists(path + ".tmp"):
            hint = (
                f" (only an incomplete {os.path.basename(path)}.tmp exists: the run was "
                "interrupted while saving)"
            )
        raise FileNotFoundError(f"checkpoint not found: {path}{hint or ' (check the path)'}")
    size = os.path.getsize(path)
    if size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): truncated or never written")
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as e:
        raise CheckpointError(f"{path} cannot be opened: {e.strerror}") from e
    if _is_safetensors(path, head, size):
        state, meta = _read_safetensors(path)
        if not state:
            raise CheckpointError(f"{path} is a safetensors file with no tensors")
        return WeightsFile(state, path, "safetensors file", [], {"metadata": meta})
    obj = _torch_load(path, head, map_location)
    if not isinstance(obj, dict):
        raise CheckpointError(
            f"{path} holds a {type(obj).__name__}, not a state dict or checkpoint (save "
            "model.state_dict(), not the model or a tensor)"
        )
    inner, container = _pick_entry(obj, path, entry)
    if container == "fasfast checkpoint":  # written by fasfast: its model entry as it is
        state = {str(k): v for k, v in inner.items() if torch.is_tensor(v)}
    else:
        state = _tensors_of(inner, path, container)
    if inner is obj:
        return WeightsFile(state, path, container, [], {})
    raw = {k: v for k, v in obj.items() if v is not inner}
    # a fasfast checkpoint's other entries are its own bookkeeping, not unused weights
    entries = [] if container == "fasfast checkpoint" else [str(k) for k in raw]
    return WeightsFile(state, path, container, entries, raw)


# ---------------------------------------------------------------------------- key matching
def unwrap(model: nn.Module) -> nn.Module:
    """The module inside DataParallel / DDP / ``torch.compile`` wrappers."""
    while True:
        if isinstance(getattr(model, "module", None), nn.Module):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):
            model = model._orig_mod
        else:
            return model


def _strip_wrappers(key: str) -> str:
    while key.startswith("module."):
        key = key[len("module.") :]
    return key.replace("_orig_mod.", "")


def _common_head(keys: Iterable[str]) -> str:
    """The first dotted component shared by every key ("backbone."), else ""."""
    heads = {k.split(".", 1)[0] + "." if "." in k else "" for k in keys}
    return heads.pop() if len(heads) == 1 else ""


def match_keys(
    state: dict[str, torch.Tensor], own_keys: Iterable[str]
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Rename ``state``'s keys to the model's: drop ``module.`` / ``_orig_mod.``, then drop or add
    one shared leading component (``backbone.``, ``model.``) where that matches more keys.

    Returns (renamed state, notes in words). Keys are never merged: a rename that would map two
    file keys to one name is not used.
    """
    own = set(own_keys)
    notes = []
    stripped = {_strip_wrappers(k): v for k, v in state.items()}
    if len(stripped) == len(state) and stripped.keys() != state.keys():
        notes.append("'module.' / '_orig_mod.' prefixes removed")
        state = stripped
    drop, add = _common_head(state), _common_head(own)
    best, best_hits = ("", ""), sum(k in own for k in state)
    for d, a in ((drop, ""), ("", add), (drop, add)):
        if (d, a) == ("", "") or not (d or a):
            continue
        hits = sum(a + k[len(d) :] in own for k in state)
        if hits > best_hits:
            best, best_hits = (d, a), hits
    d, a = best
    if d or a:
        state = {a + k[len(d) :]: v for k, v in state.items()}
        notes.append(
            f"prefix {d!r} -> {a!r}"
            if d and a
            else f"prefix {d!r} removed"
            if d
            else f"prefix {a!r} added"
        )
    return state, notes


# ------------------------------------------------------------------------------ mismatches
@dataclass
class Mismatch:
    """How a state dict differs from a model's. missing: model keys absent from the file;
    unexpected: file keys the model lacks; shapes: ``(key, file shape, model shape)``."""

    missing: list[str]
    unexpected: list[str]
    shapes: list[tuple[str, tuple, tuple]]

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.shapes)

    def describe(self, limit: int = 3) -> str:
        """One line: counts and the first keys of each kind."""

        def few(keys):
            more = f", ... {len(keys) - limit} more" if len(keys) > limit else ""
            return ", ".join(keys[:limit]) + more

        parts = []
        if self.shapes:
            parts.append(
                f"{len(self.shapes)} shape mismatch(es) ("
                + few([f"{k}: file {list(f)} vs model {list(m)}" for k, f, m in self.shapes])
                + ")"
            )
        if self.missing:
            parts.append(f"{len(self.missing)} missing key(s) ({few(self.missing)})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected key(s) ({few(self.unexpected)})")
        return "; ".join(parts) if parts else "no difference"


def describe_mismatch(own: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> Mismatch:
    """The one mismatch reporter: compare a model's ``state_dict()`` with a file's tensors."""
    return Mismatch(
        missing=[k for k in own if k not in state],
        unexpected=[k for k in state if k not in own],
        shapes=[
            (k, tuple(state[k].shape), tuple(own[k].shape))
            for k in own
            if k in state and tuple(state[k].shape) != tuple(own[k].shape)
        ],
    )


# --------------------------------------------------------------------------------- loading
@dataclass
class LoadReport:
    """What :func:`load_weights` did. loaded: model keys set from the file; skipped: file key ->
    reason it was not used (another shape: the model keeps its initialisation there; not in
    the model); kept: model keys the file lacks (left at their initialisation); notes: key
    renames and the file entries that were not used."""

    path: str
    container: str
    total: int
    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.skipped and not self.kept

    def summary(self, limit: int = 3) -> str:
        """One line for a log: what was loaded, from where, what was skipped and why."""
        text = (
            f"loaded {len(self.loaded)} of {self.total} tensors from {self.path} ({self.container}"
        )
        text += "; " + "; ".join(self.notes) + ")" if self.notes else ")"
        if self.skipped:
            items = [f"{k} ({why})" for k, why in list(self.skipped.items())[:limit]]
            more = f", ... {len(self.skipped) - limit} more" if len(self.skipped) > limit else ""
            text += f"; skipped {len(self.skipped)}: " + ", ".join(items) + more
        if self.kept:
            more = f", ... {len(self.kept) - limit} more" if len(self.kept) > limit else ""
            text += (
                f"; {len(self.kept)} model tensor(s) not in the file: "
                + ", ".join(self.kept[:limit])
                + more
            )
        if self.skipped or self.kept:
            text += " (the model keeps its fresh initialisation there)"
        return text


def load_weights(
    model: nn.Module,
    source: str | os.PathLike | WeightsFile,
    *,
    mode: str = "finetune",
    entry: str | None = None,
) -> LoadReport:
    """Load a weights file (or what :func:`read_weights` returned) into ``model``.

    mode ``"finetune"``: tensors whose shape differs from the model's, and tensors the model
    lacks, are skipped and reported; model tensors the file lacks keep their initialisation.
    Fails when the loaded tensors hold less than half of the model's elements (another
    architecture). mode ``"exact"`` (resume, a checkpoint's own model): any difference fails,
    naming the keys. DDP / ``torch.compile`` wrappers around ``model`` are looked through.
    Returns a :class:`LoadReport`; raises :class:`CheckpointError` / FileNotFoundError.
    """
    if mode not in ("finetune", "exact"):
        raise ValueError(f"mode must be 'finetune' or 'exact', got {mode!r}")
    wf = source if isinstance(source, WeightsFile) else read_weights(source, entry=entry)
    target = unwrap(model)
    own = target.state_dict()
    state, notes = match_keys(wf.state, own)
    if wf.entries:
        notes.append(
            "not used: " + ", ".join(wf.entries[:6]) + (", ..." if len(wf.entries) > 6 else "")
        )
    mm = describe_mismatch(own, state)
    report = LoadReport(wf.path, wf.container, len(own), notes=notes)
    name = _model_name(target)
    if mode == "exact":
        if mm:
            raise CheckpointError(
                f"{wf.path} was saved from another model than this {name}: {mm.describe()}"
            )
        target.load_state_dict(state, strict=True)
        report.loaded = list(own)
        return report
    bad = {k for k, _, _ in mm.shapes}
    usable = {k: v for k, v in state.items() if k in own and k not in bad}
    for k, f, m in mm.shapes:
        report.skipped[k] = f"shape {list(f)} in the file, {list(m)} in the model"
    for k in mm.unexpected:
        report.skipped[k] = "not in this model"
    report.kept = list(mm.missing)
    report.loaded = [k for k in own if k in usable]
    total = sum(v.numel() for v in own.values())
    got = sum(own[k].numel() for k in usable)
    if not usable or got < MIN_FINETUNE_FRACTION * total:
        raise CheckpointError(
            f"{wf.path} fits only {got} of the {total} weights of this {name} "
            f"({len(usable)} of {len(own)} tensors): is it another architecture? "
            f"{mm.describe()}"
        )
    target.load_state_dict(usable, strict=False)
    return report


def _model_name(model: nn.Module) -> str:
    cfg = getattr(model, "config", None)
    name = getattr(cfg, "model_name", None)
    return f"{name} model" if name else f"{type(model).__name__} model"
