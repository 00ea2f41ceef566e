"""Training configuration: one dataclass, filled from defaults < YAML file < CLI flags.

No torch import here, and ``fasfast.engine`` imports its pieces lazily, so
``from fasfast.engine import TrainConfig`` (and ``fasfast train --help``) stays instant.

Example YAML (every key is a :class:`TrainConfig` field)::

    model: eulernet
    preset: tiny
    use_fcam: false          # ablation switches over the preset
    data_root: data/oulu
    dataset: oulu
    protocol: "1"
    epochs: 50
    lr: 1e-3                 # read as 0.001 (see below)

Each value is read as its field's type; a wrong one is a one-line error
``<file>: <key>: expected <type>, got <value>``. PyYAML reads YAML 1.1, where ``1e-3``
(no dot) is text, not a number: text that parses as the field's type is taken (``"0.4"``
for a float, ``"3"`` for an int), and so is an integral float for an int (``64.0``); a
number for a text key is taken as written (``protocol: 3_2``, which YAML 1.1 reads as 32, is
``"3_2"``). See :mod:`fasfast.engine.config_values`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from fasfast.engine.config_values import raw_scalars, typed_values

# Per-model recipe defaults, applied where the user left a field at None.
EULERNET_DEFAULTS = {
    "optimizer": "lookahead_radam",  # Ranger = RAdam + Lookahead (Cong et al. 2022)
    "lr": 1e-4,
    "weight_decay": 0.0,
    "schedule": "constant",
    "warmup_epochs": 0.0,
    "label_smoothing": 0.0,
    "cutmix": 0.0,
}
CLASSIFIER_DEFAULTS = {
    "optimizer": "adamw",  # Huang et al. 2024: ConvNeXt-V2 + AdamW, warm-up then cosine
    "lr": 4e-4,
    "weight_decay": 0.05,
    "schedule": "cosine",
    "warmup_epochs": 1.0,
    "label_smoothing": 0.1,
    "cutmix": 1.0,
}

DATASETS = ("oulu", "uniattack", "list")
SCHEDULES = ("constant", "cosine", "step")


@dataclass
class TrainConfig:
    """Everything a training run needs. ``None`` means "the model recipe's default"."""

    # model
    model: str = "eulernet"  # "eulernet" or a timm "convnextv2_*" name
    preset: str = "tiny"  # EulerNet preset: baseline, C1..C5, tiny
    image_size: int | None = None  # override of the preset / classifier input size
    widths: tuple[int, int, int] | None = None  # EulerNet stage widths override
    use_fcam: bool | None = None  # ablation switches (None: the preset's value)
    use_pyramid: bool | None = None
    label: str | None = None  # "location" | "binary" | "depth"
    fused: bool | None = None  # compiled ops (True) or the reference (False): process-wide
    drop_path_rate: float = 0.1  # classifier only
    init: str | None = None  # local weights file (checkpoint or state_dict) to start from
    # data
    dataset: str = "oulu"  # oulu | uniattack | list
    data_root: str = ""
    protocol: str = "1"
    length: int = 4  # frames per sequence
    interval: int = 3  # frames between sequence frames
    cache_dir: str | None = None
    limit: int = 0  # >0: at most this many videos per split (quick runs)
    balance: bool = False  # repeat live training videos to about as many as attacks
    # augmentation
    hflip: bool = True
    color_jitter: float = 0.0  # strength (0 = off)
    blur: float = 0.0  # probability of Gaussian blur on every sample (0 = off)
    downsample: str = ""  # class-specific down-sampling, e.g. "live:2" or "attack:2,4,8"
    downsample_p: float = 0.5
    cutmix: float | None = None  # CutMix alpha (classifier; 0 = off)
    label_smoothing: float | None = None  # classifier
    # optimisation
    optimizer: str | None = None
    lr: float | None = None
    weight_decay: float | None = None
    schedule: str | None = None  # constant | cosine | step
    warmup_epochs: float | None = None
    epochs: int = 50
    batch_size: int = 16
    eval_batch_size: int = 0  # 0: same as batch_size
    grad_clip: float = 0.0
    max_steps: int = 0  # >0: at most this many optimizer steps per epoch
    time_limit: float = 0.0  # >0: stop after the epoch during which this many seconds passed
    # run
    out_dir: str = "runs/fasfast"
    seed: int = 0
    amp: bool = True  # autocast on CUDA (ignored on CPU)
    amp_dtype: str = "bf16"  # bf16 | fp16 (fp16 uses a GradScaler)
    device: str = "auto"
    workers: int = 2
    resume: str | None = None  # a checkpoint path, or "auto" = <out_dir>/last.pt when present
    eval_every: int = 1
    threshold_method: str = "acer_point"  # the dev threshold of "dev ACER" (best checkpoint)
    tensorboard: bool = True
    progress: bool = True
    deterministic: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # free-form, stored in checkpoints

    # ------------------------------------------------------------------ helpers
    @property
    def is_eulernet(self) -> bool:
        return self.model.lower() == "eulernet"

    def resolved(self) -> TrainConfig:
        """A copy with the model recipe's defaults filled in and values checked."""
        cfg = dataclasses.replace(self)
        defaults = EULERNET_DEFAULTS if cfg.is_eulernet else CLASSIFIER_DEFAULTS
        for key, value in defaults.items():
            if getattr(cfg, key) is None:
                setattr(cfg, key, value)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        m = self.model.lower()
        if m != "eulernet" and not m.startswith("convnext"):
            raise ValueError(
                f"model must be 'eulernet' or a timm 'convnextv2_*' name, got {self.model!r}"
            )
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        if self.schedule is not None and self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.amp_dtype not in ("bf16", "fp16"):
            raise ValueError(f"amp_dtype must be 'bf16' or 'fp16', got {self.amp_dtype!r}")
        if self.label is not None and self.label not in ("location", "binary", "depth"):
            raise ValueError(f"label must be location, binary or depth, got {self.label!r}")
        if self.length < 1 or self.interval < 1:
            raise ValueError("length and interval must be >= 1")
        for key in ("seed", "workers", "eval_batch_size", "max_steps", "limit", "time_limit"):
            if not getattr(self, key) >= 0:  # numpy / DataLoader would refuse them mid-run
                flag = "--" + key.replace("_", "-")
                raise ValueError(f"{flag} must be >= 0, got {getattr(self, key)}")
        self._validate_size()
        self._validate_augmentation()

    def _validate_size(self) -> None:
        """``image_size`` against the model's total stride: EulerNet's map is image_size / 8,
        ConvNeXt down-samples 32x (a size in between loses the border rows and columns)."""
        if self.image_size is None:
            return
        stride, what = (
            (8, "EulerNet (its map is image_size / 8)")
            if self.is_eulernet
            else (32, f"{self.model} (ConvNeXt down-samples 32x)")
        )
        size = self.image_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(
                f"--image-size must be a positive integer (a multiple of {stride}, the stride "
                f"of {what}), got {size}"
            )
        if size < stride or size % stride:
            lo, hi = max(stride, size // stride * stride), (size // stride + 1) * stride
            hint = f"use {lo} or {hi}" if lo != hi and lo < size else f"use {hi}"
            raise ValueError(
                f"--image-size {size} is not a multiple of {stride}, the stride of {what}; {hint}"
            )

    def _validate_augmentation(self) -> None:
        """Augmentation settings: strengths >= 0, probabilities in [0, 1], the
        down-sampling spec's syntax and factors (its class names are checked against the
        training set by :func:`check_downsample_classes`)."""
        if not (self.color_jitter >= 0 and math.isfinite(self.color_jitter)):
            raise ValueError(
                f"--color-jitter must be a strength >= 0, got {self.color_jitter} "
                "(factors are drawn from [max(0, 1 - x), 1 + x] as torchvision's)"
            )
        for flag, value in (("--blur", self.blur), ("--downsample-p", self.downsample_p)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{flag} is a probability in [0, 1], got {value}")
        if self.cutmix is not None and not (self.cutmix >= 0 and math.isfinite(self.cutmix)):
            raise ValueError(f"--cutmix (the CutMix alpha) must be >= 0, got {self.cutmix}")
        if self.label_smoothing is not None and not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"--label-smoothing must lie in [0, 1), got {self.label_smoothing}")
        if self.is_eulernet and self.cutmix:
            raise ValueError(
                f"--cutmix {self.cutmix} is for the classifier; EulerNet is trained "
                "on label maps (use --cutmix 0)"
            )
        parse_downsample(self.downsample)

    def model_overrides(self) -> dict:
        """EulerNet preset overrides given by this config (only the fields that are set)."""
        out = {}
        for key in ("image_size", "widths", "use_fcam", "use_pyramid", "label"):
            value = getattr(self, key)
            if value is not None:
                out[key] = tuple(value) if key == "widths" else value
        if self.is_eulernet and self.length != 4:
            out["frames"] = self.length
        return out

    def model_args(self) -> tuple[str, dict]:
        """``(name, kw)`` of this run's model for :func:`fasfast.models.create_model` /
        :func:`fasfast.models.model_config`."""
        if self.is_eulernet:
            return "eulernet", {"preset": self.preset, **self.model_overrides()}
        kw: dict = {"drop_path_rate": self.drop_path_rate}
        if self.image_size is not None:
            kw["image_size"] = self.image_size
        return self.model, kw

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if d["widths"] is not None:
            d["widths"] = list(d["widths"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown TrainConfig key(s): {', '.join(unknown)}")
        d = dict(d)
        if d.get("widths") is not None:
            d["widths"] = tuple(int(w) for w in d["widths"])
        return cls(**d)

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides) -> TrainConfig:
        """Read a YAML (or JSON) file of TrainConfig keys; ``overrides`` win over the file."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        import yaml

        try:
            text = path.read_text()
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text) or {}
        except (ValueError, yaml.YAMLError) as e:  # UnicodeDecodeError is a ValueError
            mark = getattr(e, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise ValueError(
                f"config file {path} is not valid YAML / JSON:{where} {problem}; "
                "fix the file (keys of TrainConfig, e.g. epochs: 10)"
            ) from e
        if not isinstance(data, dict):
            raise ValueError(f"config file {path} must hold a mapping of TrainConfig keys")
        types = {f.name: str(f.type) for f in fields(cls)}
        raw = raw_scalars(text) if path.suffix != ".json" else {}
        data = typed_values(path, data, types, raw)
        data.update(overrides)
        return cls.from_dict(data)

    def save_yaml(self, path: str | Path) -> None:
        import yaml

        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


# down-sampling classes every data set has (besides its PAI species, e.g. print, replay)
DOWNSAMPLE_CLASSES = ("live", "attack", "all", "*")


def parse_downsample(spec: str) -> list[tuple[str, tuple[int, ...]]]:
    """Parse "live:2;attack:2,4,8" (or "all:2") into [(class, factors), ...].

    A class is ``live``, ``attack`` (every PAI species), ``all`` / ``*`` or a PAI species of
    the data (``print``, ``replay``, ...; checked against the training set by
    :func:`check_downsample_classes`); factors are integers >= 1, each class given once.
    Every problem is a one-line ValueError naming ``--downsample``."""
    out = []
    if not spec:
        return out
    for part in spec.replace(" ", "").split(";"):
        if not part:
            continue
        if ":" not in part:
            raise ValueError(f"--downsample {spec!r}: expected CLASS:F1,F2 (e.g. live:2)")
        cls_name, facs = part.split(":", 1)
        if not cls_name:
            raise ValueError(f"--downsample {spec!r}: a class name is missing before ':'")
        try:
            factors = tuple(int(f) for f in facs.split(",") if f)
        except ValueError:
            raise ValueError(f"--downsample {spec!r}: factors must be integers") from None
        if not factors or any(f < 1 for f in factors):
            raise ValueError(f"--downsample {spec!r}: factors must be integers >= 1")
        if cls_name in {c for c, _ in out}:
            raise ValueError(f"--downsample {spec!r}: class {cls_name!r} is given twice")
        out.append((cls_name, factors))
    return out


def check_downsample_classes(spec: str, attack_types, image_size: int | None = None) -> None:
    """Refuse a ``--downsample`` class that matches nothing in the training set (a typo such
    as ``lvie:2`` would silently never apply) and factors that leave fewer than 4 pixels of
    ``image_size``. ``attack_types``: the training samples' attack types."""
    known = set(DOWNSAMPLE_CLASSES) | {str(t) for t in attack_types}
    for cls_name, factors in parse_downsample(spec):
        if cls_name not in known:
            species = sorted({str(t) for t in attack_types} - {"live"})
            raise ValueError(
                f"--downsample {spec!r}: class {cls_name!r} is none of live, attack, all and "
                f"the training set's PAI species ({', '.join(species) or 'none'})"
            )
        if image_size is not None and image_size // max(factors) < 4:
            raise ValueError(
                f"--downsample {spec!r}: factor {max(factors)} leaves "
                f"{image_size // max(factors)} px of the {image_size} px crops; use factors "
                f"up to {max(1, image_size // 4)}"
            )


# --------------------------------------------------------------------------- CLI
_HELP = {
    "model": "eulernet or a timm convnextv2_* classifier name",
    "preset": "EulerNet preset: baseline, C1..C5, tiny",
    "widths": "EulerNet stage widths, e.g. 32,48,32",
    "use_fcam": "FCAM on/off (ablation)",
    "use_pyramid": "residual pyramid on/off (off = plain concatenation)",
    "label": "label map: location | binary | depth",
    "fused": "use the compiled fasfast.ops (default) or, with --no-fused, the pure-PyTorch "
    "reference ops: a process-wide choice (as FASFAST_REFERENCE_OPS=1), not saved with the "
    "weights, so a run may resume with the other",
    "init": "local weights file to fine-tune from: fasfast checkpoint, plain or wrapped state "
    "dict (DDP module. prefixes, model / state_dict / model_ema entries) or safetensors; "
    "tensors of another shape are skipped and reported (no downloads)",
    "dataset": "oulu | uniattack | list",
    "data_root": "data set root folder",
    "protocol": "protocol, e.g. 1, 3_2 (OULU-NPU) or p1, p2.1 (UniAttackData)",
    "downsample": "class-specific down-sampling, e.g. 'live:2' or 'attack:2,4,8;replay:2' "
    "(classes: live, attack, all or a PAI species of the data)",
    "downsample_p": "probability of down-sampling a sample of its class",
    "blur": "probability of Gaussian blur (sigma 0.1-2.0)",
    "color_jitter": "colour jitter strength x: brightness, contrast, saturation factors from "
    "[max(0, 1 - x), 1 + x] (as torchvision), hue up to min(0.02, x / 10)",
    "cutmix": "CutMix alpha (classifier; 0 = off); odd batches are mixed in all but one item",
    "limit": "at most N videos per split (quick runs)",
    "balance": "repeat the live training videos to match the attacks in number",
    "max_steps": "at most N steps per epoch (quick runs)",
    "time_limit": "stop after the epoch during which this many seconds passed",
    "resume": "checkpoint to resume from, or 'auto' (<out>/last.pt)",
    "threshold_method": "dev threshold that defines the dev ACER of an epoch (default "
    "acer_point, the EER point; 'acer' is its deprecated former name)",
    "amp": "mixed precision on CUDA",
}
_FLAG_ALIASES = {"out_dir": ["--out"], "data_root": ["--root"], "workers": ["-j"]}
_CLI_SKIP = {"extra"}


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field (``--batch-size`` ...); all default to "not given"."""
    parser.add_argument(
        "--config",
        help="YAML file of TrainConfig keys (flags override it); values are checked against "
        "the field types, text such as 1e-3 is read as the number",
    )
    for f in fields(TrainConfig):
        if f.name in _CLI_SKIP:
            continue
        flag = "--" + f.name.replace("_", "-")
        names = [flag, *_FLAG_ALIASES.get(f.name, [])]
        kw: dict[str, Any] = {
            "dest": f.name,
            "default": argparse.SUPPRESS,
            "help": _HELP.get(f.name),
        }
        t = str(f.type)
        if "bool" in t:
            kw["action"] = argparse.BooleanOptionalAction
        elif f.name == "widths":
            kw["type"] = _int_tuple
        elif "int" in t and "float" not in t:
            kw["type"] = int
        elif "float" in t:
            kw["type"] = float
        else:
            kw["type"] = str
        parser.add_argument(*names, **kw)


def _int_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected integers separated by commas, got {text!r}"
        ) from None


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Defaults < ``--config`` YAML < flags given on the command line."""
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    cfg_file = getattr(args, "config", None)
    if cfg_file:
        return TrainConfig.from_yaml(cfg_file, **given)
    return TrainConfig.from_dict(given)
