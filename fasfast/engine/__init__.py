"""Training, evaluation, checkpoints, DDP, prediction and export.

- :class:`TrainConfig` (``config``; no torch import there), :func:`train` ->
  :class:`TrainResult` (``training``)
- :func:`evaluate`: score files at frame / sequence / video level, Table 7, report
- :func:`save_checkpoint`, :func:`load_checkpoint`, :func:`load_model`
- :func:`export`: ONNX / TorchScript, checked against PyTorch
- :func:`predict`: unlabeled videos / folders -> live / attack decisions
- :func:`run_protocol`: every sub-protocol, APCER/BPCER/ACER mean +- std (Table II)
- :func:`run_demo`: synthetic data -> tiny EulerNet -> dev->test report

Everything is imported lazily (module ``__getattr__``, as :mod:`fasfast.data` does):
``import fasfast.engine`` and ``from fasfast.engine import TrainConfig`` import no torch.

``fasfast.engine.evaluate``, ``.export`` and ``.predict`` are the functions, although each
lives in a module of the same name: the import system binds a submodule on its package when
it is first imported, and this package declines that binding for those three names, so the
function is what the attribute gives whatever was imported first (``from
fasfast.engine.evaluate import score_split`` still reaches the module's other names).
"""

from __future__ import annotations

import importlib
import sys
import types

_LAZY = {
    "TrainConfig": "fasfast.engine.config",
    "TrainResult": "fasfast.engine.training",
    "train": "fasfast.engine.training",
    "CheckpointError": "fasfast.engine.checkpoint",
    "load_checkpoint": "fasfast.engine.checkpoint",
    "load_model": "fasfast.engine.checkpoint",
    "save_checkpoint": "fasfast.engine.checkpoint",
    "evaluate": "fasfast.engine.evaluate",
    "export": "fasfast.engine.export",
    "predict": "fasfast.engine.predict",
    "run_protocol": "fasfast.engine.protocol",
    "run_demo": "fasfast.engine.demo",
}
# public functions named like the module that holds them (see the docstring)
_SHADOWED = frozenset({"evaluate", "export", "predict"})


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'fasfast.engine' has no attribute {name!r}")


class _EnginePackage(types.ModuleType):
    """Keeps the functions in :data:`_SHADOWED` from being replaced by their modules."""

    def __setattr__(self, name: str, value) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return  # the submodule stays reachable as sys.modules["fasfast.engine.NAME"]
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _EnginePackage

__all__ = sorted(_LAZY)
