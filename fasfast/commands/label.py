"""``fasfast label``: faces, 68 landmarks, crops and label maps for a video or image folder.

Writes to ``--out``::

    crops/000000.png ...         face crops (margin 1.3, square, --size pixels)
    landmarks.npy / .json        [F, 68, 2] in frame pixels (NaN / null: no face)
    crop_landmarks.npy           [F, 68, 2] in crop pixels
    maps/<kind>_000000.png ...   label maps (--map-size) for the chosen --kinds
    summary.json                 frames, faces found, frames without a face
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="video file, image folder or image")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--size", type=int, default=256, help="crop side in pixels")
    parser.add_argument("--margin", type=float, default=1.3, help="box scale around the landmarks")
    parser.add_argument("--map-size", type=int, default=32, help="label map side")
    parser.add_argument("--kinds", default="location,depth",
                        help="label maps to write: location,binary,depth")
    parser.add_argument("--attack", action="store_true",
                        help="the input is an attack: maps are all zeros")
    parser.add_argument("--every", type=int, default=1, help="label every N-th frame")
    parser.add_argument("--upsample", type=int, default=1, help="detector up-sampling (small faces)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import cv2
    import numpy as np
    from tqdm import tqdm

    from fasfast.data.crop import crop_faces
    from fasfast.data.video import VideoReader, VideoReadError
    from fasfast.labels.landmarks import save_landmarks, shared_detector
    from fasfast.labels.maps import KINDS, make_label_map

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        print(f"fasfast label: error: unknown map kind(s) {bad}; choose from {KINDS}",
              file=sys.stderr)
        return 2
    if args.every < 1:
        print("fasfast label: error: --every must be >= 1", file=sys.stderr)
        return 2
    if args.size < 16 or args.map_size < 1 or not args.margin > 0 or args.upsample < 0:
        print("fasfast label: error: need --size >= 16, --map-size >= 1, --margin > 0 and "
              f"--upsample >= 0, got {args.size}, {args.map_size}, {args.margin}, "
              f"{args.upsample}", file=sys.stderr)
        return 2
    try:
        reader = VideoReader(args.input)
    except VideoReadError as e:
        print(f"fasfast label: error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    (out / "crops").mkdir(parents=True, exist_ok=True)
    (out / "maps").mkdir(parents=True, exist_ok=True)
    det = shared_detector(upsample=args.upsample)
    indices = list(range(0, reader.num_frames, args.every))
    frame_lm = np.full((len(indices), 68, 2), np.nan, np.float32)
    crop_lm = np.zeros((len(indices), 68, 2), np.float32)
    no_face: list[int] = []
    last = None
    for k, i in enumerate(tqdm(indices, desc="label", unit="frame", disable=args.no_progress)):
        try:
            frame = reader.read([i])[0]
        except VideoReadError as e:
            print(f"fasfast label: error: {e}", file=sys.stderr)
            return 2
        lm = det.landmarks(frame)
        if lm is None:
            no_face.append(i)
        else:
            frame_lm[k] = lm
        res = crop_faces([frame], [lm if lm is not None else last], args.size, args.margin)
        if lm is not None:
            last = lm
        crop_lm[k] = res.landmarks[0]
        cv2.imwrite(str(out / "crops" / f"{i:06d}.png"), cv2.cvtColor(res.crops[0], cv2.COLOR_RGB2BGR))
        for kind in kinds:
            m = make_label_map(kind, res.landmarks[0], args.map_size, not args.attack,
                               crop_size=args.size)
            cv2.imwrite(str(out / "maps" / f"{kind}_{i:06d}.png"),
                        np.rint(m * 255).astype(np.uint8))
    save_landmarks(out / "landmarks.npy", frame_lm)
    save_landmarks(out / "landmarks.json", frame_lm)
    np.save(out / "crop_landmarks.npy", crop_lm)
    summary = {"input": str(args.input), "frames": len(indices),
               "faces": len(indices) - len(no_face), "no_face": len(no_face),
               "no_face_frames": no_face[:1000], "size": args.size, "margin": args.margin,
               "map_size": args.map_size, "kinds": kinds, "live": not args.attack}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"labelled {len(indices)} frames of {args.input}: face in {summary['faces']}, "
          f"no face in {len(no_face)}" + (f" (frames {no_face[:10]}{' ...' if len(no_face) > 10 else ''}; "
                                           "their crops reuse the last face box)" if no_face else ""))
    print(f"wrote {out}")
    return 0
