"""``fasfast demo``: synthetic data -> train tiny EulerNet -> evaluate dev -> test -> report.

The whole pipeline on a 2-core CPU in about 7 minutes: :func:`fasfast.data.synth.generate`
writes an OULU-NPU-shaped data set (24 subjects, live, print, replay and digital attacks),
EulerNet's ``tiny`` preset is trained on protocol 1 (4 frames 3 apart, L2 loss to the face
location map as in the paper; Adam with a cosine schedule and colour jitter for the short
budget), thresholds are chosen on dev with every method of the analysis module and applied
to test (unseen subjects, session 3's light), and the full report is written.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class DemoConfig:
    out_dir: str = "fasfast-demo"
    # 12 train / 4 dev / 8 test: fewer subjects over-fit to identity, and a small dev set
    # makes the dev-chosen thresholds jumpy; short videos keep the generation time
    subjects: int = 24
    seconds: float = 1.4  # 21 frames: 2 windows of 4 frames 3 apart
    fps: float = 15.0
    video_size: int = 112
    phones: int = 2
    image_size: int = 64  # EulerNet input side (map = image_size / 8)
    widths: tuple[int, int, int] = (16, 24, 16)
    epochs: int = 25  # ~5 min on an idle 2-core CPU; time_limit caps slower machines
    batch_size: int = 8
    # Adam, not the paper's Ranger: RAdam's variance rectification acts as a warm-up over
    # the first hundreds of steps, about the length of the whole demo (`fasfast train`
    # keeps Ranger, lr 1e-4).
    optimizer: str = "adam"
    lr: float = 3e-3
    balance: bool = True  # repeat live videos (1 live : 5 attacks in OULU-NPU's layout)
    # brightness / contrast / saturation jitter (one draw per sequence): protocol 1 tests on
    # session 3's darker, tinted light, and global colour must not stand in for the artefacts
    color_jitter: float = 0.3
    schedule: str = "cosine"  # over `epochs`: the last epochs settle (stable dev threshold)
    max_steps: int = 0
    time_limit: float = 360.0  # training stops after the epoch that passes this (seconds)
    workers: int = 0
    seed: int = 0
    progress: bool = True
    regenerate: bool = False
    data_root: str | None = None  # use this OULU-NPU-shaped set instead of generating one


def run_demo(cfg: DemoConfig | None = None, **overrides) -> dict:
    """Run the demo; returns the evaluation summary plus timings and where things are."""
    import dataclasses

    from fasfast.data import synth
    from fasfast.engine.config import TrainConfig
    from fasfast.engine.evaluate import evaluate
    from fasfast.engine.training import train
    from fasfast.models import EulerNetConfig

    cfg = dataclasses.replace(cfg or DemoConfig(), **overrides)
    out = Path(cfg.out_dir)
    data_root = Path(cfg.data_root) if cfg.data_root else out / "data"
    tcfg = TrainConfig(  # built first: bad values fail before minutes of data generation
        model="eulernet",
        preset="tiny",
        image_size=cfg.image_size,
        widths=cfg.widths,
        dataset="oulu",
        data_root=str(data_root),
        protocol="1",
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        optimizer=cfg.optimizer,
        balance=cfg.balance,
        color_jitter=cfg.color_jitter,
        schedule=cfg.schedule,
        out_dir=str(out / "train"),
        seed=cfg.seed,
        workers=cfg.workers,
        max_steps=cfg.max_steps,
        time_limit=cfg.time_limit,
        cache_dir=str(out / "cache"),
        progress=cfg.progress,
        tensorboard=True,
    )
    EulerNetConfig.preset("tiny", image_size=cfg.image_size, widths=cfg.widths)
    if not cfg.data_root:
        synth.split_users(cfg.subjects)  # too few subjects: fail now, not after the data
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    marker = data_root / "synth.json"
    wanted = {
        "subjects": cfg.subjects,
        "seconds": cfg.seconds,
        "size": cfg.video_size,
        "phones": cfg.phones,
        "seed": cfg.seed,
        "fps": cfg.fps,
    }
    if cfg.data_root:
        if not data_root.is_dir():
            raise FileNotFoundError(f"demo data root not found: {data_root}")
        print(f"[1/3] using the data set in {data_root}", flush=True)
    elif cfg.regenerate or not _same_synth(marker, wanted):
        print(
            f"[1/3] generating synthetic data ({cfg.subjects} subjects, {cfg.seconds:g} s "
            f"videos) -> {data_root}",
            flush=True,
        )
        synth.generate(
            data_root,
            subjects=cfg.subjects,
            seed=cfg.seed,
            seconds=cfg.seconds,
            fps=cfg.fps,
            size=cfg.video_size,
            phones=cfg.phones,
            progress=cfg.progress,
        )
    else:
        print(f"[1/3] reusing synthetic data in {data_root}", flush=True)
    t_data = time.time() - t0

    print(
        f"[2/3] training EulerNet tiny ({cfg.image_size}px, widths {cfg.widths}) on "
        f"protocol 1 for up to {cfg.epochs} epochs",
        flush=True,
    )
    t1 = time.time()
    result = train(tcfg)
    t_train = time.time() - t1

    print("[3/3] evaluating: thresholds chosen on dev, applied to test", flush=True)
    t2 = time.time()
    summary = evaluate(
        result.best_checkpoint,
        data_root,
        "1",
        "dev",
        "test",
        out / "eval",
        dataset="oulu",
        level="video",
        batch_size=16,
        workers=cfg.workers,
        cache_dir=str(out / "cache"),
        progress=cfg.progress,
        title="fasfast demo - EulerNet tiny on synthetic OULU-NPU protocol 1",
    )
    t_eval = time.time() - t2
    total = time.time() - t0
    rows = {r["key"]: r for r in summary["table7"]}
    main = rows.get("balance") or next(iter(rows.values()))
    acer_row = rows.get("acer_point", main)
    demo = {
        "wall_time_s": total,
        "time_data_s": t_data,
        "time_train_s": t_train,
        "time_eval_s": t_eval,
        "epochs_run": len(result.history),
        "best_epoch": result.best_metrics.get("epoch"),
        "best_checkpoint": str(result.best_checkpoint),
        "report_dir": summary["report_dir"],
        "test": {
            k: {
                "threshold": r["threshold"],
                **{m: r["test"][m] for m in ("apcer", "bpcer", "acer")},
            }
            for k, r in rows.items()
        },
    }
    (out / "demo.json").write_text(json.dumps(demo, indent=2))
    print("\n" + "=" * 72)
    print(
        f"fasfast demo finished in {total / 60:.1f} min (data {t_data:.0f}s, train "
        f"{t_train:.0f}s, eval {t_eval:.0f}s)"
    )
    print(f"best checkpoint: {result.best_checkpoint} (epoch {demo['best_epoch']})")
    for name, r in (("balance point", main), ("ACER point", acer_row)):
        t = r["test"]
        print(
            f"test @ {name:<13} (t = {r['threshold']:.4f}, chosen on dev): "
            f"ACER {100 * t['acer']:.2f}%  APCER {100 * t['apcer']:.2f}%  "
            f"BPCER {100 * t['bpcer']:.2f}%"
        )
    print(
        "thresholds chosen on dev: "
        + ", ".join(
            f"{k}={v['threshold']:.4f}"
            for k, v in rows.items()
            if not k.startswith(("bpcer", "tpr", "apcer"))
        )
    )
    print(
        f"report: {Path(summary['report_dir']) / 'report.html'}  (also report.md, "
        f"report.json; Table 7: {out / 'eval' / 'table7.md'})"
    )
    print("=" * 72)
    return {**summary, "demo": demo}


def _same_synth(marker: Path, wanted: dict) -> bool:
    if not marker.is_file():
        return False
    try:
        have = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return all(have.get(k) == v for k, v in wanted.items())
