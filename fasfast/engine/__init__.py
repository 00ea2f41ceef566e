"""Training, evaluation, checkpoints, DDP, prediction and export.

- :class:`TrainConfig` (``config``; no torch import there), :func:`train` ->
  :class:`TrainResult`
- :func:`evaluate`: score files at frame / sequence / video level, Table 7, report
- :func:`save_checkpoint`, :func:`load_checkpoint`, :func:`load_model`
- :func:`export`: ONNX / TorchScript, checked against PyTorch
- :func:`predict`: unlabeled videos / folders -> live / attack decisions
- :func:`run_protocol`: every sub-protocol, APCER/BPCER/ACER mean +- std (Table II)
- :func:`run_demo`: synthetic data -> tiny EulerNet -> dev->test report

The functions are imported here on purpose (eagerly): ``fasfast.engine.train`` is the
function, not the module of the same name (``from fasfast.engine.train import ...``
still reaches the module's other names).
timm, the data and the analysis modules are imported inside the functions.
"""

from fasfast.engine.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from fasfast.engine.config import TrainConfig
from fasfast.engine.demo import run_demo
from fasfast.engine.evaluate import evaluate
from fasfast.engine.export import export
from fasfast.engine.predict import predict
from fasfast.engine.protocol import run_protocol
from fasfast.engine.train import TrainResult, train

__all__ = [
    "CheckpointError",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "export",
    "load_checkpoint",
    "load_model",
    "predict",
    "run_demo",
    "run_protocol",
    "save_checkpoint",
    "train",
]
