"""``fasfast explain CHECKPOINT VIDEO --out DIR``: Grad-CAM of a model's stages on a video.

Writes, for the chosen windows of the video (T frames, ``interval`` apart, face-cropped as
in training): one overlay PNG per frame and layer (EulerNet: stage 1-3 after their FCAM, the
residual pyramid; a ConvNeXt-V2 classifier: its backbone stages) plus the predicted map (a
classifier's: its frame score), ``gradcam.png``, a grid like the EulerNet paper's Fig. 8
(one row per checkpoint when ``--compare`` adds models, e.g. without FCAM / pyramid), and
``gradcam.json`` (windows, frames, scores, flags). A classifier scores single frames: its
windows are single frames (T = 1), as ``fasfast predict`` crops them. Any weights file the
one loader reads is taken (a fasfast checkpoint, a plain or wrapped state dict, safetensors;
``--model`` / ``--image-size`` for a plain file).

Which windows: ``--window auto`` (default) takes the first ``--windows`` windows in which a
face was found in every frame and no crop is blank (a clip that opens on black frames is
explained where the face is); ``--window K`` takes window K on (window K starts at frame
``K * ((T - 1) * interval + 1)``). Near-constant frames and maps are flagged (one warning
line each, ``flat`` in gradcam.json, "(flat)" in the figure): min-max normalisation would
draw them at full contrast.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint",
        help="weights file: a fasfast checkpoint (EulerNet or classifier), a plain or wrapped "
        "state dict, or safetensors",
    )
    parser.add_argument("video", help="video to explain")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--compare",
        nargs="*",
        default=[],
        metavar="CKPT",
        help="more checkpoints of the same kind: extra rows of the comparison figure",
    )
    parser.add_argument("--windows", type=int, default=1, help="windows to explain (1)")
    parser.add_argument(
        "--window",
        default="auto",
        metavar="auto|K",
        help="which window: auto (default: the first with a face in every "
        "frame and no blank frame) or a window number K (0 = from the "
        "first frame)",
    )
    parser.add_argument("--interval", type=int, default=3, help="frames between sequence frames")
    parser.add_argument(
        "--layers",
        default=None,
        help="module names to explain (default: EulerNet fcam1,fcam2,fcam3,pyramid; a "
        "classifier its backbone stages backbone.stages.0,...)",
    )
    parser.add_argument(
        "--target",
        choices=("score", "attack", "predicted"),
        default="score",
        help="what to explain: the live score (default), 1 - score, or the predicted class",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--model",
        default=None,
        metavar="NAME",
        help="for plain state dicts: a timm name or eulernet[:PRESET] (default: inferred from "
        "the file)",
    )
    parser.add_argument(
        "--image-size", type=int, default=None, help="input size of a plain state dict's model"
    )


def run(args: argparse.Namespace) -> int:
    import json
    import warnings
    from pathlib import Path

    from fasfast.diagnostics.gradcam import (
        FrameClassifier,
        GradCAM,
        comparison_figure,
        default_layers,
        write_overlays,
    )
    from fasfast.diagnostics.inputs import choose_windows
    from fasfast.engine import load_model

    out = Path(args.out)
    models = []
    for ck in [args.checkpoint, *args.compare]:
        model, meta = load_model(ck, args.device, model=args.model, image_size=args.image_size)
        if meta.get("kind") != "eulernet":
            model = FrameClassifier(model)  # frames folded into the batch, as EulerNet does
        if models and type(model) is not type(models[0][1]):
            raise ValueError(
                f"{ck} holds another kind of model than {models[0][0]} (EulerNet vs "
                "classifier): --compare takes checkpoints of one kind"
            )
        models.append((Path(ck), model))
    first = models[0][1]
    if args.layers is None:
        layers = list(default_layers(first))
    else:
        layers = [s.strip() for s in args.layers.split(",") if s.strip()]
    cfg = first.config
    length = int(getattr(cfg, "frames", 1))  # a classifier scores single frames
    if args.interval < 1:
        raise ValueError(f"--interval must be >= 1, got {args.interval}")
    chosen = choose_windows(
        args.video,
        cfg.image_size,
        length,
        args.interval,
        count=args.windows,
        window=args.window,
    )
    starts = chosen.windows
    x = chosen.x.to(args.device)
    print(f"explaining window(s) {starts} of {chosen.total}: {chosen.choice}")
    for note in chosen.notes:
        warnings.warn(note, UserWarning, stacklevel=1)
    rows = {}
    summary = {
        "video": str(args.video),
        "windows": starts,
        "choice": chosen.choice,
        "frames": chosen.frame_index,
        "no_face": chosen.no_face,
        "flat_frames": chosen.flat.tolist(),
        "models": [],
    }
    for k, (ck, model) in enumerate(models):
        c = model.config
        if c.image_size != cfg.image_size or int(getattr(c, "frames", 1)) != length:
            raise ValueError(f"{ck}: input size / frames differ from {models[0][0]}")
        res = GradCAM(model, layers, args.target)(x)
        tag = f"({chr(97 + k % 26)}) {ck.parent.name or ck.stem}\n" + (
            f"{c.model_name} classifier"
            if isinstance(model, FrameClassifier)
            else f"label={c.label}\nFCAM {'on' if c.use_fcam else 'off'}, "
            f"pyramid {'on' if c.use_pyramid else 'off'}"
        )
        frames = x.detach().cpu().permute(0, 1, 3, 4, 2).numpy()
        for w in range(x.shape[0]):
            write_overlays(out / f"model{k}" / f"window{starts[w]}", frames[w], res, index=w)
        rows[tag] = (res, 0, 0)
        flags = [
            {"window": starts[i], "frame": chosen.frame_index[i][t], "flat": names}
            for i, t, names in res.flags()
        ]
        for f in flags:
            if f["flat"] != ["frame"] and "frame" not in f["flat"]:
                warnings.warn(
                    f"{ck}: window {f['window']} frame {f['frame']}: near-constant "
                    f"Grad-CAM map(s) {', '.join(f['flat'])} (drawn at full contrast, "
                    "they show noise)",
                    UserWarning,
                    stacklevel=1,
                )
        summary["models"].append(
            {
                "checkpoint": str(ck),
                "config": c.to_dict(),
                "scores": [float(s) for s in res.scores],
                "flat": flags,
            }
        )
    fig = comparison_figure(out / "gradcam.png", frames[0][0], rows)
    (out / "gradcam.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {fig} and overlays under {out}")
    for m in summary["models"]:
        print(f"  {m['checkpoint']}: sequence scores " + ", ".join(f"{s:.3f}" for s in m["scores"]))
    return 0
