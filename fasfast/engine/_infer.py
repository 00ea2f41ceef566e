"""Which model a plain weights file holds, when the file carries no fasfast config.

Used by :func:`fasfast.engine.checkpoint.load_model` for files that are not fasfast checkpoints.
In order of precedence:

1. the ``model`` argument (``--model``): a timm name, ``eulernet`` or ``eulernet:PRESET``;
2. the file's own hints: the ConvNeXt-V2 code of Huang et al. 2024 stores ``args`` (an
   ``argparse.Namespace`` with ``model``, ``nb_classes``, ``input_size``); timm's train script
   stores ``arch`` and ``args`` (``model``, ``num_classes``, ``img_size``);
3. the tensors: EulerNet's layer names (widths, stem, FCAM and pyramid read from the shapes;
   frames, theta and label from the preset), or the timm ConvNeXt-V2 variant whose tensor
   names and shapes all match (built on the meta device, no memory).

Only 2-class heads are accepted for scoring (class 1 = live); a file with an ImageNet head
must be fine-tuned first (``fasfast train --init FILE``).
"""

from __future__ import annotations

import functools

import torch

from fasfast.models.weights import CheckpointError, WeightsFile, describe_mismatch, match_keys

EULERNET_KEYS = ("stem.0.weight", "stage1.0.0.weight", "stage1.2.0.weight", "head.2.weight")


def _hints(raw: dict) -> dict:
    """model / num_classes / image_size stored by other training scripts, when present."""
    args = raw.get("args")
    if args is not None and not isinstance(args, dict):
        args = vars(args) if hasattr(args, "__dict__") else {}
    args = args or {}
    out = {}
    name = args.get("model") or raw.get("arch")
    if isinstance(name, str):
        out["model"] = name
    for key in ("nb_classes", "num_classes"):
        if isinstance(args.get(key), int):
            out["num_classes"] = args[key]
    for key in ("input_size", "img_size"):
        v = args.get(key)
        if isinstance(v, int):
            out["image_size"] = v
        elif isinstance(v, (list, tuple)) and v and isinstance(v[-1], int):
            out["image_size"] = v[-1]
    return out


def _plain_keys(state: dict) -> dict:
    renamed, _ = match_keys(state, EULERNET_KEYS)
    return renamed


def _eulernet(
    wf: WeightsFile, preset: str, image_size: int | None, explicit: bool = False
) -> tuple[dict, str]:
    from fasfast.models import EulerNetConfig

    s = _plain_keys(wf.state)
    if not all(k in s for k in EULERNET_KEYS):
        raise CheckpointError(f"{wf.path} does not hold EulerNet weights (no {EULERNET_KEYS[1]})")
    widths = tuple(int(s[f"stage1.{i}.0.weight"].shape[0]) for i in range(3))
    over = {
        "widths": widths,
        "stem_width": int(s["stem.0.weight"].shape[0]),
        "use_fcam": "fcam1.b" in s,
        "use_pyramid": any(k.startswith("pyramid.") for k in s),
    }
    if image_size is not None:
        over["image_size"] = int(image_size)
    cfg = EulerNetConfig.preset(preset, **over)
    note = (
        f"{wf.path} has no fasfast config: built EulerNet (widths {list(widths)}, FCAM "
        f"{'on' if cfg.use_fcam else 'off'}, pyramid {'on' if cfg.use_pyramid else 'off'} "
        f"from the tensors; frames {cfg.frames}, image size {cfg.image_size}, theta "
        f"{cfg.theta}, label {cfg.label} from preset {preset!r}); pass --model "
        "eulernet:PRESET / --image-size to change"
    )
    return cfg.to_dict(), "" if explicit else note


@functools.lru_cache(maxsize=64)
def _timm_layout(name: str) -> tuple[dict, str, dict]:
    """(state dict on the meta device, head weight key, pretrained_cfg) of a 2-class ``name``."""
    from fasfast._compat import import_timm

    with torch.device("meta"):
        net = import_timm().create_model(name, pretrained=False, num_classes=2)
    head = (net.pretrained_cfg.get("classifier") or "") + ".weight"
    return net.state_dict(), head, dict(net.pretrained_cfg)


def _timm_fits(timm, name: str, state: dict) -> tuple[bool, int | None, dict]:
    """Whether ``state`` is ``name``'s backbone (head size aside), and the head size."""
    own, head, pcfg = _timm_layout(name)
    renamed, _ = match_keys(state, own)
    classes = int(renamed[head].shape[0]) if head in renamed else None
    mm = describe_mismatch(own, renamed)
    body_ok = (
        not mm.missing
        and not mm.unexpected
        and all(k.startswith(head[: -len("weight")]) for k, _, _ in mm.shapes)
    )
    return body_ok, classes, pcfg


def _classifier(
    wf: WeightsFile, name: str | None, image_size: int | None, hints: dict
) -> tuple[dict, str]:
    from fasfast._compat import import_timm
    from fasfast.models import ClassifierConfig

    timm = import_timm()
    source = "--model" if name else "the file's args" if hints.get("model") else "the tensors"
    name = name or hints.get("model")
    if name is not None:
        if not timm.is_model(name):
            raise CheckpointError(
                f"unknown timm model {name!r} (from {source} of {wf.path}); pass --model NAME"
            )
        ok, classes, pcfg = _timm_fits(timm, name, wf.state)
    else:
        found = []
        for cand in timm.list_models("convnextv2_*"):
            ok, classes, pcfg = _timm_fits(timm, cand, wf.state)
            if ok:
                found.append((cand, classes, pcfg))
        if len(found) != 1:
            raise CheckpointError(
                f"{wf.path} is a plain state dict with no model config, and its tensors "
                + ("match no" if not found else f"match {len(found)}")
                + " ConvNeXt-V2 variant: pass --model NAME (a timm name, or eulernet:PRESET) "
                "and --image-size"
            )
        name, classes, pcfg = found[0]
    classes = classes if classes is not None else hints.get("num_classes", 2)
    if classes != 2:
        raise CheckpointError(
            f"{wf.path} holds a {name} with a {classes}-class head; fasfast scores need a "
            f"2-class head (class 1 = live): fine-tune it first with fasfast train --model "
            f"{name} --init {wf.path}"
        )
    size_from = "--image-size" if image_size else "the file's args"
    size = image_size or hints.get("image_size")
    if size is None:
        size, size_from = int((pcfg.get("input_size") or (3, 224, 224))[-1]), "timm's default"
    cfg = ClassifierConfig(model_name=name, num_classes=2, image_size=int(size))
    note = (
        f"{wf.path} has no fasfast config: built {name} (from {source}), 2 classes, "
        f"image size {size} (from {size_from}); pass --model / --image-size to change"
    )
    guessed = size_from == "timm's default"  # a name read from the tensors is exact
    return cfg.to_dict(), note if guessed else ""


def infer_model(
    wf: WeightsFile, model: str | None = None, image_size: int | None = None
) -> tuple[str, dict, str]:
    """(kind, model_config dict, note) for a file without a fasfast config. The note says what
    was guessed (from the tensors or defaults); it is empty when the caller or the file's own
    ``args`` named the model and its input size."""
    hints = _hints(wf.raw)
    if model is not None and model.split(":")[0] == "eulernet":
        preset = model.split(":", 1)[1] if ":" in model else "baseline"
        return ("eulernet", *_eulernet(wf, preset, image_size, explicit=image_size is not None))
    if (
        model is None
        and not hints.get("model")
        and all(k in _plain_keys(wf.state) for k in EULERNET_KEYS)
    ):
        return ("eulernet", *_eulernet(wf, "baseline", image_size))
    return ("classifier", *_classifier(wf, model, image_size, hints))
