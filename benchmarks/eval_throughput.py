"""End-to-end evaluation throughput (videos/s) and where the time goes.

    python benchmarks/eval_throughput.py [--root DATA] [--videos 24] [--image-size 64]
                                         [--preset tiny] [--out benchmarks/results/engine.md]

Stages, timed separately on the same videos (EulerNet, 4 frames 3 apart, every
non-overlapping window of every video):

- decode: ``VideoReader.read`` of each window's frames (OpenCV, grab/retrieve);
- crop: landmarks (file beside the video) + ``crop_faces`` to SxS;
- model: batched forward (compiled fasfast ops, and the reference ops for comparison);
- aggregation: window -> video means, score rows, CSV write.

Then the whole pipeline as ``fasfast eval`` runs it (``score_dataset`` over a
``SequenceDataset``; 0 and 2 loader workers), on CPU and, when available, on CUDA (AMP).
Without ``--root`` a small synthetic set is generated first (not timed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import tempfile
import time
from pathlib import Path


def _timeit(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=None, help="OULU-NPU-shaped data (default: synthetic)")
    ap.add_argument("--videos", type=int, default=24)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--widths", default="16,24,16")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--out", default="benchmarks/results/engine.md")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from fasfast import ops
    from fasfast.data import SequenceDataset, oulu_npu, sample_sequences, synth
    from fasfast.data.crop import crop_faces
    from fasfast.data.video import VideoReader
    from fasfast.engine.results import write_rows
    from fasfast.engine.scoring import _aggregate, score_dataset
    from fasfast.labels import landmark_file_for, load_landmarks
    from fasfast.models import EulerNet, EulerNetConfig

    tmp = Path(tempfile.mkdtemp(prefix="fasfast_bench_"))
    root = (
        Path(args.root)
        if args.root
        else synth.generate(
            tmp / "data", subjects=6, seconds=2.0, size=112, phones=2, progress=False
        )
    )
    samples = [s for split in ("dev", "test") for s in oulu_npu(root, "1", split)]
    samples = samples[: args.videos]
    n_vid = len(samples)
    widths = tuple(int(w) for w in args.widths.split(","))
    cfg = EulerNetConfig.preset(args.preset, image_size=args.image_size, widths=widths)
    s = cfg.image_size

    windows = [
        (smp, w) for smp in samples for w in sample_sequences(VideoReader(smp.path).num_frames)
    ]
    n_seq = len(windows)
    # --- decode
    frames = {}

    def decode():
        for i, (smp, w) in enumerate(windows):
            frames[i] = VideoReader(smp.path).read(w)

    t_decode = _timeit(decode)
    # --- crop
    lms = {smp.path: load_landmarks(landmark_file_for(smp.path)) for smp in samples}
    crops = {}

    def crop():
        for i, (smp, w) in enumerate(windows):
            crops[i] = crop_faces(frames[i], [lms[smp.path][j] for j in w], s).crops

    t_crop = _timeit(crop)
    x_all = (
        torch.from_numpy(np.stack([crops[i] for i in range(n_seq)]))
        .permute(0, 1, 4, 2, 3)
        .float()
        .div(255)
    )
    # --- model
    model = EulerNet(cfg).eval()

    def run_model(m, device="cpu", amp=False):
        out = []
        with torch.no_grad():
            for b in range(0, n_seq, args.batch_size):
                xb = x_all[b : b + args.batch_size].to(device)
                if amp:
                    with torch.autocast("cuda", dtype=torch.bfloat16):
                        out.append(m(xb).float().mean(dim=(2, 3)).cpu())
                else:
                    out.append(m(xb).float().mean(dim=(2, 3)).cpu())
        if device != "cpu":
            torch.cuda.synchronize()
        return torch.cat(out)

    run_model(model)  # warm-up
    t_model = _timeit(lambda: run_model(model), repeat=2)
    with ops.use_reference():  # the same model with the pure-PyTorch reference ops
        run_model(model)
        t_model_ref = _timeit(lambda: run_model(model), repeat=2)
    fs = run_model(model)
    # --- aggregation
    items = [
        (
            i,
            smp.video_id,
            smp.label,
            smp.attack_type,
            k,
            float(fs[i].mean()),
            [float(v) for v in fs[i]],
            list(w),
        )
        for i, ((smp, w), k) in enumerate(zip(windows, range(n_seq)))
    ]

    def aggregate():
        sc = _aggregate(items, "eulernet", 0.0)
        for level, rows in sc.levels().items():
            write_rows(tmp / f"bench_{level}.csv", rows)

    t_agg = _timeit(aggregate, repeat=3)

    # --- end to end (what `fasfast eval` runs)
    e2e = {}
    for workers in (0, 2):
        ds = SequenceDataset(samples, image_size=s, map_size=s // 8, train=False)
        t = time.perf_counter()
        sc = score_dataset(
            model, ds, kind="eulernet", batch_size=args.batch_size, workers=workers, device="cpu"
        )
        aggregate_t = time.perf_counter()
        for level, rows in sc.levels().items():
            write_rows(tmp / f"e2e_{level}.csv", rows)
        e2e[f"cpu, {workers} workers"] = time.perf_counter() - t
        del aggregate_t
    cuda = None
    if torch.cuda.is_available():
        mc = EulerNet(cfg).cuda().eval()
        mc.load_state_dict(model.state_dict())
        run_model(mc, "cuda", amp=True)
        cuda = _timeit(lambda: run_model(mc, "cuda", amp=True), repeat=3)
        ds = SequenceDataset(samples, image_size=s, map_size=s // 8, train=False)
        t = time.perf_counter()
        score_dataset(
            mc, ds, kind="eulernet", batch_size=args.batch_size, workers=4, device="cuda", amp=True
        )
        e2e["cuda (bf16 AMP), 4 workers"] = time.perf_counter() - t

    stage_total = t_decode + t_crop + t_model + t_agg
    lines = [
        "# Engine: end-to-end evaluation throughput",
        "",
        f"Date: {dt.date.today().isoformat()}. CPU: 2-core dev machine (shared with other jobs "
        f"while measured); {platform.processor() or platform.machine()}, torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads.",
        f"Data: {n_vid} synthetic videos (112 px, 30 frames), {n_seq} sequences of 4 frames "
        f"3 apart; EulerNet `{args.preset}` {s}px widths {widths}, batch {args.batch_size}.",
        "Command: `python benchmarks/eval_throughput.py`",
        "",
        "## Where the time goes (stages timed separately)",
        "",
        "| stage | seconds | share | per video (ms) |",
        "|---|---:|---:|---:|",
    ]
    for name, t in (
        ("decode (OpenCV)", t_decode),
        ("crop (landmark file + crop_faces)", t_crop),
        ("model (fused ops)", t_model),
        ("aggregation + CSV", t_agg),
    ):
        lines.append(
            f"| {name} | {t:.3f} | {100 * t / stage_total:.0f}% | {1000 * t / n_vid:.1f} |"
        )
    lines += [
        f"| **sum** | {stage_total:.3f} | 100% | {1000 * stage_total / n_vid:.1f} |",
        "",
        f"Model with the reference (pure PyTorch) ops: {t_model_ref:.3f} s "
        f"(fused / reference time ratio {t_model / t_model_ref:.2f}).",
        "",
        "## End to end (`score_dataset` over a `SequenceDataset`, as `fasfast eval`)",
        "",
        "| setting | seconds | videos/s | sequences/s |",
        "|---|---:|---:|---:|",
    ]
    for name, t in e2e.items():
        lines.append(f"| {name} | {t:.2f} | {n_vid / t:.1f} | {n_seq / t:.1f} |")
    if cuda is not None:
        lines += [
            "",
            f"CUDA model-only (bf16 AMP): {cuda:.4f} s for {n_seq} sequences "
            f"({n_seq / cuda:.0f} sequences/s) on {torch.cuda.get_device_name(0)}.",
        ]
    else:
        lines += [
            "",
            "No CUDA device here: the GPU rows are missing (run the script on a GPU "
            "machine to add them).",
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(f"written: {args.out}")
    os.environ.get("KEEP_BENCH_TMP") or __import__("shutil").rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
