"""Grad-CAM (Selvaraju et al. 2017) on EulerNet's stages, its pyramid and its predicted map,
and on the stages of a frame classifier (a timm ConvNeXt-V2, :class:`FrameClassifier`).

Cong et al. 2022 (EulerNet), Fig. 8 / 9: the activations after each of the three stages (max pooling 1-3, at
S/2, S/4, S/8), the fused residual-pyramid features (S/8) and the predicted map. EulerNet folds
the frames into the batch, so every hooked module gives ``[B*T, C, h, w]``; the Grad-CAM of a
layer is, per frame, ``ReLU(sum_c w_c A_c)`` with ``w_c`` the spatial mean of
``d target / d A_c``. The target is the sequence score (the mean of the predicted maps;
``target="attack"``: one minus it, the evidence for an attack; ``"predicted"``: the score for
sequences scored >= 0.5, else one minus it). A batch back-propagates the sum of its targets,
which keeps the sequences independent in eval mode. Maps are
up-sampled (bilinear) to the input size and normalised to [0, 1] per frame (a map that is
constant, e.g. all zero after the ReLU, is returned as zeros and flagged in ``constant``).

A frame classifier scores one frame at a time: :class:`FrameClassifier` folds the frames of
``[B, T, 3, S, S]`` into the batch and returns the live probability of each frame as a 1x1
"map" ``[B, T, 1, 1]``, so the same :class:`GradCAM` explains the classifier's backbone stages
(``backbone.stages.0`` ..., :func:`default_layers`) with the target ``softmax(logits)[:, 1]``
(mean over the frames of a sequence).

Min-max normalisation draws any map at full contrast, so two flags say when one means
nothing: ``flat_frames`` marks near-constant input frames (pixel standard deviation below
``flat_std``, 2/255 by default: a black or blank frame), and ``flat`` marks near-constant maps:
a map whose range (before normalisation) is at most ``flat_rel`` (2 %) of the largest range
of that layer over the frames of the call, an exactly constant map, or any map of a
near-constant frame (its structure then comes from the convolutions' zero padding at the
borders, not from the content).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "DEFAULT_LAYERS",
    "LAYER_TITLES",
    "FrameClassifier",
    "default_layers",
    "GradCAMResult",
    "GradCAM",
    "gradcam_sequence",
    "overlay",
    "write_overlays",
    "comparison_figure",
]

# The stage outputs after their FCAM gate (the FCAM is an identity when use_fcam is False).
DEFAULT_LAYERS: tuple[str, ...] = ("fcam1", "fcam2", "fcam3", "pyramid")
LAYER_TITLES = {
    "stage1": "max pooling 1",
    "stage2": "max pooling 2",
    "stage3": "max pooling 3",
    "fcam1": "max pooling 1",
    "fcam2": "max pooling 2",
    "fcam3": "max pooling 3",
    "pyramid": "fusion",
    "head": "head",
}
LAYER_TITLES.update({f"backbone.stages.{i}": f"stage {i + 1}" for i in range(8)})


class FrameClassifier(nn.Module):
    """A frame classifier (:class:`fasfast.models.Classifier`) seen as :class:`GradCAM` sees
    EulerNet: ``x [B, T, 3, S, S]`` in [0, 1] -> the live probability of every frame
    ``[B, T, 1, 1]`` (``softmax(logits)[:, 1]``). Its modules are the classifier's
    (``backbone``, ``backbone.stages.0``, ...): hooks on them see ``[B*T, C, h, w]``."""

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.backbone = classifier.backbone  # the only module the classifier holds
        object.__setattr__(self, "classifier", classifier)  # not a second registration
        self.config = classifier.config
        self.train(classifier.training)  # a new Module says training: keep the model's mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 5:
            shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"FrameClassifier expects x [B, T, 3, S, S], got {shape}")
        b, t = x.shape[:2]
        return self.classifier.score(x.flatten(0, 1)).view(b, t, 1, 1)


def default_layers(model: nn.Module) -> tuple[str, ...]:
    """The layers :class:`GradCAM` explains by default: EulerNet's :data:`DEFAULT_LAYERS`, or
    the backbone stages of a :class:`FrameClassifier` (``backbone.stages.0`` ...). Raises a
    ValueError for a backbone without ``stages`` (name the layers instead)."""
    if not isinstance(model, FrameClassifier):
        return DEFAULT_LAYERS
    stages = getattr(model.backbone, "stages", None)
    if not isinstance(stages, nn.Sequential) or len(stages) == 0:
        raise ValueError(
            f"{type(model.backbone).__name__} has no 'stages' to explain by default: name "
            "the modules with --layers (e.g. backbone.<module>)"
        )
    return tuple(f"backbone.stages.{i}" for i in range(len(stages)))


@dataclass
class GradCAMResult:
    """Grad-CAM of one batch of sequences.

    cams: layer -> ``[B, T, S, S]`` float32 in [0, 1]; native: layer -> ``(h, w)`` before
    up-sampling; pred: ``[B, T, S, S]`` predicted maps (up-sampled, in [0, 1]);
    scores: ``[B]`` sequence scores; constant: layer -> ``[B, T]`` bool (exactly constant);
    flat: layer -> ``[B, T]`` bool (near-constant, module doc); flat_frames: ``[B, T]`` bool
    (near-constant input frames); map_size: the model's map ``(h, w)`` before up-sampling,
    ``(1, 1)`` for a frame classifier (its figure panel reads "frame score").
    """

    cams: dict[str, np.ndarray]
    pred: np.ndarray
    scores: np.ndarray
    native: dict[str, tuple[int, int]] = field(default_factory=dict)
    constant: dict[str, np.ndarray] = field(default_factory=dict)
    flat: dict[str, np.ndarray] = field(default_factory=dict)
    flat_frames: np.ndarray | None = None
    map_size: tuple[int, int] = (0, 0)

    def flags(self) -> list[tuple[int, int, list[str]]]:
        """``(sequence, frame, [flagged layers])`` of every frame that is near-constant
        itself (layer list starts with ``"frame"``) or has a near-constant map."""
        out = []
        b, t = self.scores.shape[0], next(iter(self.cams.values())).shape[1]
        for i in range(b):
            for k in range(t):
                names = ["frame"] if self.flat_frames is not None and self.flat_frames[i, k] else []
                names += [n for n, f in self.flat.items() if f[i, k]]
                if names:
                    out.append((i, k, names))
        return out


def _normalise(cam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Min-max normalise each ``[h, w]`` map of ``cam [N, h, w]``; constant maps -> 0."""
    flat = cam.flatten(1)
    lo = flat.min(dim=1).values.view(-1, 1, 1)
    hi = flat.max(dim=1).values.view(-1, 1, 1)
    rng = hi - lo
    const = (rng <= 1e-12 * torch.clamp(hi.abs(), min=1.0)).view(-1)
    out = torch.where(rng > 0, (cam - lo) / torch.where(rng > 0, rng, torch.ones_like(rng)), 0.0)
    out[const] = 0.0
    return out, const


class GradCAM:
    """Hooks a model's named modules; ``cam(x)`` runs Grad-CAM with the sequence score as target.

    >>> gc = GradCAM(model)          # EulerNet; layers default to DEFAULT_LAYERS
    >>> res = gc(x)                  # x [B, T, 3, S, S] in [0, 1]
    >>> res.cams["fcam1"].shape      # (B, T, S, S)
    """

    TARGETS = ("score", "attack", "predicted")

    def __init__(
        self,
        model: nn.Module,
        layers: Sequence[str] = DEFAULT_LAYERS,
        target: str = "score",
        flat_std: float = 2 / 255,
        flat_rel: float = 0.02,
    ):
        if target not in self.TARGETS:
            raise ValueError(f"target must be one of {self.TARGETS}, got {target!r}")
        if not (flat_std >= 0 and 0 <= flat_rel < 1):
            raise ValueError(
                f"flat_std must be >= 0 and flat_rel in [0, 1), got {flat_std}, {flat_rel}"
            )
        self.flat_std, self.flat_rel = float(flat_std), float(flat_rel)
        self.target = target
        self.model = model
        self.layers = tuple(layers)
        modules = dict(model.named_modules())
        missing = [name for name in self.layers if name not in modules]
        if missing:
            raise ValueError(
                f"model has no module(s) {missing} for Grad-CAM; available top-level modules: "
                f"{[n for n, _ in model.named_children()]}"
            )
        self._modules = {name: modules[name] for name in self.layers}

    def __call__(self, x: torch.Tensor) -> GradCAMResult:
        if not isinstance(x, torch.Tensor) or x.dim() != 5:
            shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"Grad-CAM expects x [B, T, 3, S, S], got {shape}")
        b, t, _, s_h, s_w = x.shape
        acts: dict[str, torch.Tensor] = {}

        def hook(name):
            def fn(_module, _inputs, output):
                out = output[0] if isinstance(output, tuple) else output
                out.retain_grad()
                acts[name] = out

            return fn

        handles = [m.register_forward_hook(hook(n)) for n, m in self._modules.items()]
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.enable_grad():
                x = x.detach().requires_grad_(True)  # gradients must flow even if weights frozen
                maps = self.model(x)  # [B, T, m, m]
                scores = maps.mean(dim=(1, 2, 3))
                if self.target == "score":
                    sign = torch.ones_like(scores)
                elif self.target == "attack":
                    sign = -torch.ones_like(scores)
                else:
                    sign = torch.where(scores.detach() >= 0.5, 1.0, -1.0)
                (scores * sign).sum().backward()  # d(1 - s) = -ds
        finally:
            for h in handles:
                h.remove()
            self.model.train(was_training)
        flat_frames = x.detach().float().flatten(2).std(dim=2) < self.flat_std  # [B, T]
        cams, native, constant, flat = {}, {}, {}, {}
        for name in self.layers:
            a = acts.get(name)
            if a is None or a.grad is None:
                raise RuntimeError(f"layer {name!r} was not reached by forward/backward")
            a, g = a.detach().float(), a.grad.detach().float()
            if a.dim() != 4 or a.shape[0] != b * t:
                raise RuntimeError(
                    f"layer {name!r} gave {list(a.shape)}, expected frame-folded [B*T={b * t}, C, h, w]"
                )
            w = g.mean(dim=(2, 3), keepdim=True)
            cam = F.relu((w * a).sum(dim=1))  # [B*T, h, w]
            native[name] = (int(cam.shape[-2]), int(cam.shape[-1]))
            flat_cam = cam.flatten(1)
            span = flat_cam.max(dim=1).values - flat_cam.min(dim=1).values  # [B*T]
            up = F.interpolate(cam[:, None], size=(s_h, s_w), mode="bilinear", align_corners=False)
            up, const = _normalise(up[:, 0].clamp_min(0))
            cams[name] = up.view(b, t, s_h, s_w).cpu().numpy().astype(np.float32)
            constant[name] = const.view(b, t).cpu().numpy()
            near = (span <= self.flat_rel * span.max()) | const
            flat[name] = (near.view(b, t) | flat_frames).cpu().numpy()
        pred = F.interpolate(
            maps.detach().float().reshape(b * t, 1, *maps.shape[-2:]),
            size=(s_h, s_w),
            mode="bilinear",
            align_corners=False,
        )
        pred = pred.clamp(0, 1).view(b, t, s_h, s_w).cpu().numpy().astype(np.float32)
        return GradCAMResult(
            cams,
            pred,
            scores.detach().float().cpu().numpy(),
            native,
            constant,
            flat,
            flat_frames.cpu().numpy(),
            (int(maps.shape[-2]), int(maps.shape[-1])),
        )


def gradcam_sequence(
    model: nn.Module, x: torch.Tensor, layers: Sequence[str] = DEFAULT_LAYERS, target: str = "score"
) -> GradCAMResult:
    """One-shot :class:`GradCAM` call."""
    return GradCAM(model, layers, target)(x)


def _to_uint8(frame: np.ndarray) -> np.ndarray:
    if frame.dtype == np.uint8:
        return frame
    return np.clip(np.rint(np.asarray(frame, dtype=np.float32) * 255), 0, 255).astype(np.uint8)


def overlay(
    frame: np.ndarray, cam: np.ndarray, weight: float = 0.45, colormap: int = cv2.COLORMAP_JET
) -> np.ndarray:
    """Blend a ``[H, W]`` map in [0, 1] (cv2 colour map) over an RGB frame ``[H, W, 3]``."""
    frame = _to_uint8(frame)
    if cam.shape != frame.shape[:2]:
        raise ValueError(f"map {cam.shape} and frame {frame.shape[:2]} differ in size")
    heat = cv2.applyColorMap(_to_uint8(cam), colormap)[..., ::-1]  # BGR -> RGB
    return cv2.addWeighted(frame, 1.0 - weight, heat, weight, 0.0)


def write_overlays(
    out_dir: str | Path, frames: np.ndarray, res: GradCAMResult, index: int = 0, prefix: str = ""
) -> list[Path]:
    """Write one PNG per frame and layer (plus the predicted map) for sequence ``index``.

    frames: ``[T, S, S, 3]`` RGB (uint8 or float in [0, 1]). Returns the written paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for t in range(frames.shape[0]):
        img = _to_uint8(frames[t])
        items = [(n, res.cams[n][index, t]) for n in res.cams] + [("pred", res.pred[index, t])]
        for name, cam in items:
            p = out_dir / f"{prefix}frame{t}_{name}.png"
            cv2.imwrite(str(p), overlay(img, cam)[..., ::-1])
            paths.append(p)
    return paths


def comparison_figure(
    path: str | Path,
    frame: np.ndarray,
    rows: dict[str, tuple[GradCAMResult, int, int]],
    dpi: int = 90,
) -> Path:
    """A Fig. 8-style grid: one row per model, columns = input, each layer, predicted map, score.

    rows: title -> (result, sequence index, frame index). All results must share the layers.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    titles = list(rows)
    if not titles:
        raise ValueError("comparison_figure needs at least one row")
    layers = list(rows[titles[0]][0].cams)
    ncol = len(layers) + 2
    fig, axes = plt.subplots(
        len(titles), ncol, figsize=(1.9 * ncol, 2.0 * len(titles) + 0.3), squeeze=False
    )
    img = _to_uint8(frame)
    for r, title in enumerate(titles):
        res, i, t = rows[title]
        flat_frame = res.flat_frames is not None and bool(res.flat_frames[i, t])
        cells = [("input (near-constant)" if flat_frame else "input", img)]
        for name in layers:
            h, w = res.native.get(name, (0, 0))
            mark = " (flat)" if name in res.flat and res.flat[name][i, t] else ""
            cells.append(
                (
                    f"{LAYER_TITLES.get(name, name)}{mark}\n{h}x{w}",
                    overlay(img, res.cams[name][i, t]),
                )
            )
        what = "frame score" if res.map_size == (1, 1) else "predicted map"
        cells.append((f"{what}\nscore {res.scores[i]:.3f}", res.pred[i, t]))
        for c, (label, im) in enumerate(cells):
            ax = axes[r, c]
            if im.ndim == 2:
                ax.imshow(im, cmap="jet", vmin=0, vmax=1)
            else:
                ax.imshow(im)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 or c > 0:
                ax.set_title(label, fontsize=7)
        axes[r, 0].set_ylabel(title, fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
