"""Train and evaluate every sub-protocol of a benchmark; mean +- std (Cong et al. 2022,
Table II).

``run_protocol(base_cfg, "oulu", "3")`` trains one model per sub-protocol 3_1 .. 3_6 (the
ones present in ``<root>/Protocols``), evaluates each (thresholds chosen on dev with
``method``, applied to test) and reports APCER / BPCER / ACER per sub-protocol and as
mean +- std (sample std over sub-protocols) in ``table2.md`` / ``table2.json``.
UniAttackData: "p1", "p2" (= p2.1 and p2.2) or "all"; its test lists carry no labels, so
thresholds are chosen on train and applied to dev (the practice of Huang et al. 2024, Table 7).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from fasfast.engine import distributed as du
from fasfast.engine.config import TrainConfig

OULU_SUB = {
    "1": ["1"],
    "2": ["2"],
    "3": [f"3_{k}" for k in range(1, 7)],
    "4": [f"4_{k}" for k in range(1, 7)],
}
UNIATTACK_SUB = {"p1": ["p1"], "p2": ["p2.1", "p2.2"], "all": ["p1", "p2.1", "p2.2"]}


def sub_protocols(dataset: str, protocol: str, root: str | Path | None = None) -> list[str]:
    """The sub-protocols of ``protocol``; for OULU-NPU protocols 3/4 only the folds whose
    list files exist under ``<root>/Protocols`` (all six when there is no such folder)."""
    protocol = str(protocol)
    if dataset == "oulu":
        if protocol in OULU_SUB:
            subs = OULU_SUB[protocol]
            pdir = Path(root) / "Protocols" / f"Protocol_{protocol}" if root else None
            if protocol in ("3", "4") and pdir is not None and pdir.is_dir():
                folds = sorted(
                    int(m.group(1))
                    for p in pdir.glob("Train_*.txt")
                    if (m := re.fullmatch(r"Train_(\d+)\.txt", p.name))
                )
                if folds:
                    subs = [f"{protocol}_{k}" for k in folds]
            return subs
        if re.fullmatch(r"[34]_[1-6]", protocol):
            return [protocol]
        raise ValueError(f"unknown OULU-NPU protocol {protocol!r}: use 1, 2, 3, 4 or e.g. 3_2")
    if dataset == "uniattack":
        if protocol in UNIATTACK_SUB:
            return UNIATTACK_SUB[protocol]
        if protocol in ("p2.1", "p2.2"):
            return [protocol]
        raise ValueError(f"unknown UniAttackData protocol {protocol!r}: p1, p2, p2.1, p2.2, all")
    return [protocol]


def _default_splits(dataset: str) -> tuple[str, str]:
    return ("train", "dev") if dataset == "uniattack" else ("dev", "test")


def run_protocol(
    base: TrainConfig,
    dataset: str | None = None,
    protocol: str | None = None,
    out_dir: str | Path | None = None,
    *,
    method: str = "acer_point",
    select_split: str | None = None,
    apply_split: str | None = None,
    subs: list[str] | None = None,
    level: str = "video",
    progress: bool = True,
) -> dict:
    """Train + evaluate each sub-protocol; returns (and writes) the Table II summary."""
    from fasfast.engine.evaluate import evaluate
    from fasfast.engine.results import acer_stats
    from fasfast.engine.training import train

    dataset = dataset or base.dataset
    protocol = str(protocol or base.protocol)
    out = Path(out_dir or base.out_dir)
    sel, app = _default_splits(dataset)
    sel, app = select_split or sel, apply_split or app
    subs = subs or sub_protocols(dataset, protocol, base.data_root)
    info = du.setup(base.device)  # one process group for every train / evaluate below
    try:
        rows = []
        for sp in subs:
            run_dir = out / sp.replace(".", "_")
            cfg = dataclasses.replace(
                base, dataset=dataset, protocol=sp, out_dir=str(run_dir / "train")
            )
            if du.is_main():
                print(f"\n=== {dataset} protocol {sp}: train ===", flush=True)
            result = train(cfg)
            if du.is_main():
                print(f"=== {dataset} protocol {sp}: evaluate ({sel} -> {app}) ===", flush=True)
            summary = evaluate(
                result.best_checkpoint,
                base.data_root,
                sp,
                sel,
                app,
                run_dir / "eval",
                dataset=dataset,
                level=level,
                batch_size=base.eval_batch_size or base.batch_size,
                workers=base.workers,
                device=base.device,
                amp=base.amp,
                limit=base.limit,
                cache_dir=base.cache_dir,
                progress=progress,
            )
            row = next(r for r in summary["table7"] if r["key"] == method)
            m = row[app]
            rows.append(
                {
                    "protocol": sp,
                    "threshold": row["threshold"],
                    "apcer": m["apcer"],
                    "bpcer": m["bpcer"],
                    "acer": m["acer"],
                    "best_epoch": result.best_metrics.get("epoch"),
                    "dev_acer": result.best_metrics.get("dev_acer"),
                    "eval_dir": str(run_dir / "eval"),
                }
            )
        model_name = "EulerNet" if base.is_eulernet else base.model
        result_dict = {
            "dataset": dataset,
            "protocol": protocol,
            "method": method,
            "model": model_name,
            "select_split": sel,
            "apply_split": app,
            "level": level,
            "sub_protocols": rows,
        }
        for key in ("apcer", "bpcer", "acer"):
            mean, std = acer_stats([r[key] for r in rows])
            result_dict[key] = {"mean": mean, "std": std}
        result_dict["markdown"] = table2_markdown(result_dict)
        if du.is_main():
            out.mkdir(parents=True, exist_ok=True)
            (out / "table2.json").write_text(json.dumps(result_dict, indent=2))
            (out / "table2.md").write_text(result_dict["markdown"] + "\n")
            print("\n" + result_dict["markdown"])
            print(f"\nwritten: {out / 'table2.md'}")
        return result_dict
    finally:
        du.cleanup(info)


def table2_markdown(res: dict) -> str:
    """EulerNet Table II layout: Prot. | Method | APCER(%) | BPCER(%) | ACER(%)."""
    lines = [
        f"{res['dataset']} protocol {res['protocol']} - thresholds: {res['method']} point on "
        f"{res['select_split']}, applied to {res['apply_split']} ({res['level']} level)",
        "",
        "| Prot. | Method | APCER(%) | BPCER(%) | ACER(%) |",
        "|---|---|---:|---:|---:|",
    ]
    for r in res["sub_protocols"]:
        lines.append(
            f"| {r['protocol']} | {res.get('model', 'EulerNet')} (fasfast) | {100 * r['apcer']:.2f} | "
            f"{100 * r['bpcer']:.2f} | {100 * r['acer']:.2f} |"
        )
    if len(res["sub_protocols"]) > 1:
        cells = []
        for key in ("apcer", "bpcer", "acer"):
            cells.append(f"{100 * res[key]['mean']:.2f}±{100 * res[key]['std']:.2f}")
        lines.append(f"| **{res['protocol']}** | mean±std | " + " | ".join(cells) + " |")
    return "\n".join(lines)
