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

A training run's files (:func:`save_epoch`, :func:`recover_run`): ``last.pt`` is the commit
point of an epoch; ``best.pt`` and ``log.csv`` are made consistent with it. Per epoch:

1. a new best is first written whole as ``best.pt.next`` (atomic);
2. ``last.pt`` (atomic): the epoch is committed; it names the best epoch and holds the
   whole history;
3. ``best.pt.next`` is renamed over ``best.pt``;
4. ``log.csv`` is rewritten from the history (atomic).

After a kill -9 anywhere in 1-4, :func:`recover_run` (on resume) restores a consistent set
from ``last.pt``: a ``best.pt.next`` of the committed best epoch is moved into place, one
of an epoch that was not committed is deleted, ``best.pt`` is rebuilt from ``last.pt``
when that is the best epoch, and ``log.csv`` is rewritten from the history (no epoch lost,
none twice). Checkpoints carry the run's ``run_id``, so a ``best.pt`` left by another run
in the same folder is never taken for this run's. For tests, ``FASFAST_TEST_KILL_AT=STEP``
or ``STEP@EPOCH`` ends the process (``os._exit(137)``, as a kill -9) at that step of the
sequence (:data:`SAVE_STEPS`).
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
    "FORMAT",
    "VERSION",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "load_resume_weights",
    "load_model",
    "load_init_weights",
    "load_state_into",
    "model_kind",
    "unwrap",
    "describe_mismatch",
    "rng_state",
    "set_rng_state",
    "save_epoch",
    "recover_run",
    "write_log",
    "SAVE_STEPS",
]

VERSION = 1

# The steps of save_epoch, in order; "X-write" is X's temporary file written but neither
# flushed nor renamed (a kill there leaves a partial .tmp), "X" is X in place.
SAVE_STEPS = (
    "best.pt.next-write",
    "best.pt.next",
    "last.pt-write",
    "last.pt",
    "best.pt",
    "log.csv-write",
    "log.csv",
)
KILL_ENV = "FASFAST_TEST_KILL_AT"
_OPTIMIZER_KEYS = ("optimizer", "scheduler", "scaler")


def _kill_point(step: str, epoch=None) -> None:
    """Test hook: end the process like a kill -9 when ``FASFAST_TEST_KILL_AT`` names
    ``step`` (any epoch) or ``step@epoch``."""
    want = os.environ.get(KILL_ENV)
    if want and (want == step or want == f"{step}@{epoch}"):
        os._exit(137)


def _fsync_dir(folder: Path) -> None:
    try:  # make a rename durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def save_checkpoint(path: str | Path, state: dict, *, _step: str | None = None) -> Path:
    """Write ``state`` (plus format tags) to ``path`` atomically. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, **state}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        torch.save(payload, fh)
        if _step:
            _kill_point(f"{_step}-write", state.get("epoch"))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    if _step:
        _kill_point(_step, state.get("epoch"))
    return path


def write_log(path: str | Path, history: list[dict], *, _epoch=None) -> Path:
    """Write the epoch rows ``history`` as CSV to ``path`` atomically (a temporary file
    renamed over it). Columns: every key of every row, in order of first appearance (an
    epoch without dev evaluation leaves the dev columns empty)."""
    import csv

    path = Path(path)
    names: dict[str, None] = {}
    for row in history:
        names.update(dict.fromkeys(row))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(names))
        w.writeheader()
        for row in history:
            w.writerow(row)
        if _epoch is not None:
            _kill_point("log.csv-write", _epoch)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    if _epoch is not None:
        _kill_point("log.csv", _epoch)
    return path


def save_epoch(out_dir: str | Path, state: dict, *, is_best: bool) -> None:
    """Write one epoch's files in the order of the module doc: ``best.pt.next`` (when
    ``is_best``; the state without optimizer, scheduler and scaler), ``last.pt`` (the
    commit), ``best.pt`` (renamed into place), ``log.csv`` (from ``state["history"]``)."""
    out = Path(out_dir)
    epoch = state.get("epoch")
    if is_best:
        slim = {k: v for k, v in state.items() if k not in _OPTIMIZER_KEYS}
        save_checkpoint(out / "best.pt.next", slim, _step="best.pt.next")
    save_checkpoint(out / "last.pt", state, _step="last.pt")
    if is_best:
        os.replace(out / "best.pt.next", out / "best.pt")
        _fsync_dir(out)
        _kill_point("best.pt", epoch)
    write_log(out / "log.csv", list(state.get("history") or []), _epoch=epoch)


def _run_epoch_of(path: Path) -> tuple[str | None, int | None] | None:
    """(run_id, epoch) of a checkpoint, or None when it is missing or unreadable."""
    if not path.is_file():
        return None
    try:
        st = load_checkpoint(path)
    except (CheckpointError, OSError, ValueError, RuntimeError, EOFError):
        return None
    return st.get("run_id"), st.get("epoch")


def recover_run(out_dir: str | Path, last: dict) -> tuple[dict | None, list[str]]:
    """Make ``best.pt`` and ``log.csv`` in ``out_dir`` consistent with ``last`` (the state
    of ``last.pt``) after a kill anywhere in :func:`save_epoch`. Returns the best metrics to
    go on with (``last``'s, or None when its best checkpoint is lost and cannot be rebuilt)
    and one line per repair made."""
    out = Path(out_dir)
    notes: list[str] = []
    best = dict(last.get("best_metrics") or {}) or None
    run_id, best_epoch = last.get("run_id"), (best or {}).get("epoch")
    nxt, best_path = out / "best.pt.next", out / "best.pt"
    want = (run_id, best_epoch)
    for leftover in (
        out / "best.pt.next.tmp",
        out / "best.pt.tmp",
        out / "last.pt.tmp",
        out / "log.csv.tmp",
    ):
        leftover.unlink(missing_ok=True)
    if best_epoch is not None:
        if _run_epoch_of(nxt) == want:
            os.replace(nxt, best_path)
            notes.append(f"best.pt of epoch {best_epoch} completed from best.pt.next")
        elif _run_epoch_of(best_path) != want:
            if int(last.get("epoch") or 0) == int(best_epoch):
                slim = {
                    k: v
                    for k, v in last.items()
                    if k not in _OPTIMIZER_KEYS + ("format", "version")
                }
                save_checkpoint(best_path, slim)
                notes.append(f"best.pt of epoch {best_epoch} rebuilt from last.pt")
            else:
                notes.append(
                    f"best.pt of epoch {best_epoch} is missing and cannot be rebuilt; "
                    "the next evaluated epoch writes a new one"
                )
                best = None
    if nxt.exists():  # a best of an epoch that was never committed
        nxt.unlink()
        notes.append("best.pt.next of an epoch that was not completed deleted")
    history = list(last.get("history") or [])
    log = out / "log.csv"
    if history and not _log_matches(log, history):
        write_log(log, history)
        notes.append(f"log.csv rewritten from last.pt ({len(history)} epochs)")
    return best, notes


def _log_matches(path: Path, history: list[dict]) -> bool:
    """True when ``path`` lists exactly the epochs of ``history``, in order."""
    import csv

    try:
        with open(path, newline="") as fh:
            epochs = [row.get("epoch") for row in csv.DictReader(fh)]
    except (OSError, csv.Error, UnicodeDecodeError):
        return False
    return epochs == [str(row.get("epoch")) for row in history]


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


def load_checkpoint(
    path: str | Path,
    map_location: str | torch.device = "cpu",
    *,
    weights: WeightsFile | None = None,
) -> dict:
    """Read a whole fasfast checkpoint (weights, optimizer, RNG, ...) for resuming.

    Read by the one loader (:func:`fasfast.models.weights.read_weights`, ``weights_only=True``);
    ``weights``: the file as :func:`read_weights` returned it already (not read again).
    Raises FileNotFoundError for a missing file and :class:`CheckpointError` for a truncated /
    corrupt file or a file that is not a fasfast checkpoint (plain weights belong to ``--init``).
    """
    wf = weights if weights is not None else read_weights(path, map_location=map_location)
    if not wf.is_fasfast:
        raise CheckpointError(
            f"{path} is not a fasfast checkpoint (no format={FORMAT!r} tag; it holds a "
            f"{wf.container}): only fasfast checkpoints can be resumed; to start from plain "
            "weights use --init"
        )
    return _check_fasfast({**wf.raw, "model": wf.state}, path)


def load_resume_weights(model: torch.nn.Module, wf: WeightsFile) -> str:
    """``--resume`` with a file that is not a fasfast checkpoint (a plain or wrapped state dict,
    e.g. Huang et al. 2024's ``{'model', 'optimizer', 'epoch', 'scaler', 'args'}``, or
    safetensors): its weights are loaded exactly into ``model`` (any missing, extra or
    mis-shaped tensor, such as a 1000-class head, is a :class:`CheckpointError` pointing to
    ``--init``). An optimizer, epoch or schedule in such a file belongs to another program and
    is not used: the run starts at epoch 1. Returns the one warning line that says so."""
    try:
        report = load_weights(model, wf, mode="exact")
    except CheckpointError as e:
        raise CheckpointError(
            f"cannot resume: {e}; to fine-tune from it (tensors of another shape "
            "skipped) use --init"
        ) from e
    return (
        f"resume: {wf.path} is not a fasfast checkpoint ({wf.container}): its "
        f"{len(report.loaded)} tensors are loaded exactly, but an optimizer, epoch or "
        "schedule in it belongs to another program and is not used: training starts at "
        "epoch 1 with a fresh optimizer"
    )


# ----------------------------------------------------------------- models
def _model_of(kind: str, model_config: dict, **overrides) -> torch.nn.Module:
    """The model a checkpoint's ``kind`` and ``model_config`` describe, through the one
    factory :func:`fasfast.models.create_model`; a classifier's weights come from the file,
    never its ``init``."""
    from fasfast import models

    if kind not in models.MODEL_KINDS:
        raise CheckpointError(f"unknown model kind {kind!r} in checkpoint")
    d = {**model_config, **overrides}
    if kind == "classifier":
        d["init"] = None
    return models.create_model(models.config_from_dict(kind, d))


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
                f"--model {model} is only for plain state dicts"
            )
        if image_size is not None:
            config["image_size"] = int(image_size)
        meta = {
            k: v for k, v in ckpt.items() if k not in ("model", "optimizer", "scheduler", "scaler")
        }
    else:
        kind, config, note = infer_model(wf, model, image_size)
        meta = {"kind": kind, "model_config": config, "note": note, "format": wf.container}
        if note:
            warnings.warn(note, UserWarning, stacklevel=2)
        if isinstance(wf.raw.get("epoch"), int):
            meta["epoch"] = wf.raw["epoch"]
    try:
        net = _model_of(kind, config, **overrides)
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: cannot rebuild its model ({e})") from e
    try:
        load_weights(net, wf, mode="exact")
    except CheckpointError as e:
        if wf.is_fasfast:
            raise
        raise CheckpointError(
            f"{e}; pass --model NAME (and --image-size) to say which model the file holds"
        ) from e
    if not isinstance(device, torch.device):
        from fasfast.engine.distributed import pick_device

        device = pick_device(str(device))  # a clear error for "gpu0" or cuda without CUDA
    net.to(device).eval()
    if not wf.is_fasfast:
        meta["model_config"] = net.config.to_dict()
    return net, meta


def load_init_weights(
    model: torch.nn.Module, path: str | Path, *, entry: str | None = None
) -> LoadReport:
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
