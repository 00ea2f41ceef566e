"""EulerNet ablation (Cong et al. 2022, Table I and Fig. 7) on the synthetic data set.

Paper: Multi-Frames Temporal Abnormal Clues Learning Method for Face Anti-Spoofing
(EulerNet; Cong, Zhang, He, Gao, 2022) - https://arxiv.org/abs/2208.04076

Every preset (baseline, C1..C5) is trained with the same budget, data and seeds on OULU-NPU
protocol 1 of the (synthetic) tree. Per seed, the checkpoint with the best dev ACER is kept
("the optimal model on the development set is utilized to check the test set"); the dev ACER
is taken at the ACER (EER) threshold chosen on dev, the test ACER at that same dev threshold.
APCER is pooled over attack types (paper eq. 7), at video level (the mean over a video's
non-overlapping sequences, paper IV-A).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fasfast.reproduce.report import (
    Budget,
    Claim,
    claims_table,
    ensure_data,
    md_table,
    pct,
    save_fig,
    scoreset_from_rows,
    verdict,
    write_report,
)

PRESETS = ("C1", "C2", "C3", "C4", "C5", "baseline")  # the order of Table I
STRUCTURE = {
    "C1": ("Binary Mask", True, True),
    "C2": ("Depth Map", False, False),
    "C3": ("Face Location Map", True, False),
    "C4": ("Face Location Map", False, True),
    "C5": ("Depth Map", True, True),
    "baseline": ("Face Location Map", True, True),
}
# Cong et al. 2022, Table I: ACER (%) on their data set, dev and test.
PAPER = {
    "C1": (3.95, 2.84),
    "C2": (3.62, 2.57),
    "C3": (2.85, 2.26),
    "C4": (3.13, 2.22),
    "C5": (2.74, 2.06),
    "baseline": (2.48, 1.88),
}
# Fig. 7, epochs 45-50: mean dev ACER sorted C2 > C1 > C4 > C3 > C5 > ours.
PAPER_LATE_ORDER = ("C2", "C1", "C4", "C3", "C5", "baseline")


@dataclass
class PresetResult:
    preset: str
    dev_acer: list[float] = field(default_factory=list)
    test_acer: list[float] = field(default_factory=list)
    dev_auc: list[float] = field(default_factory=list)
    test_auc: list[float] = field(default_factory=list)
    best_epoch: list[int] = field(default_factory=list)
    history: list[list[dict]] = field(default_factory=list)
    seconds: float = 0.0

    @staticmethod
    def _ms(v: list[float]) -> tuple[float, float]:
        a = np.asarray([x for x in v if not math.isnan(x)], dtype=np.float64)
        if a.size == 0:
            return float("nan"), float("nan")
        return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0

    def summary(self) -> dict:
        d = {}
        for key in ("dev_acer", "test_acer", "dev_auc", "test_auc"):
            m, s = self._ms(getattr(self, key))
            d[key], d[key + "_std"] = m, s
        d["best_epoch"] = self.best_epoch
        d["seconds"] = self.seconds
        return d

    def curve(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(epochs, mean over seeds) of a history column."""
        n = min(len(h) for h in self.history)
        vals = np.array([[float(r.get(key, float("nan"))) for r in h[:n]] for h in self.history])
        return np.arange(1, n + 1), np.nanmean(vals, axis=0) if vals.size else vals


def _metrics(dev_rows, test_rows) -> dict:
    from fasfast.analysis import auc, pad_metrics, select_thresholds

    dev = scoreset_from_rows(dev_rows, "dev")
    test = scoreset_from_rows(test_rows, "test")
    dev.check_two_classes("dev")
    test.check_two_classes("test")
    t = float(select_thresholds(dev.live, dev.attack).acer_point)
    md = pad_metrics(dev.scores, dev.labels == 1, t)
    mt = pad_metrics(test.scores, test.labels == 1, t)
    return {"threshold": t, "dev_acer": md.acer, "test_acer": mt.acer,
            "dev_auc": float(auc(dev.live, dev.attack)),
            "test_auc": float(auc(test.live, test.attack))}


def train_preset(preset: str, data_root: Path, work: Path, budget: Budget, seed: int,
                 progress: bool = False, cache_dir: str | None = None) -> tuple[dict, list[dict]]:
    """Train one preset with one seed; returns (metrics of the best-dev checkpoint, history)."""
    from fasfast.engine import TrainConfig, load_model, train
    from fasfast.engine.evaluate import score_split

    cfg = TrainConfig(
        model="eulernet", preset=preset, image_size=budget.image_size,
        widths=tuple(budget.widths), dataset="oulu", data_root=str(data_root), protocol="1",
        epochs=budget.epochs, batch_size=budget.batch_size, max_steps=budget.max_steps,
        lr=budget.lr, limit=budget.limit, optimizer=budget.optimizer, balance=budget.balance,
        out_dir=str(work / f"{preset}_seed{seed}"), seed=seed, workers=budget.workers,
        tensorboard=False, progress=progress, threshold_method="acer_point", cache_dir=cache_dir,
    )
    result = train(cfg)
    model, meta = load_model(result.best_checkpoint)
    common = dict(dataset="oulu", data_root=data_root, protocol="1", batch_size=budget.batch_size,
                  workers=budget.workers, progress=False, cache_dir=cache_dir,
                  limit=budget.limit)
    dev = score_split(model, meta, split="dev", **common)
    test = score_split(model, meta, split="test", **common)
    m = _metrics(dev.video, test.video)
    m["best_epoch"] = int(meta.get("epoch") or 0)
    return m, result.history


def _curves_figure(results: dict[str, PresetResult]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    colors = {"C1": "#8d99ae", "C2": "#6c757d", "C3": "#2a9d8f", "C4": "#e9c46a",
              "C5": "#f4a261", "baseline": "#e63946"}
    for p, r in results.items():
        if not r.history:
            continue
        ep, acer = r.curve("dev_acer")
        axes[0].plot(ep, 100 * acer, marker="o", ms=3, color=colors.get(p), label=p,
                     lw=2.2 if p == "baseline" else 1.3)
        ep, dl = r.curve("dev_loss")
        axes[1].plot(ep, dl, marker="o", ms=3, color=colors.get(p), label=f"{p} dev",
                     lw=2.2 if p == "baseline" else 1.3)
        ep, tl = r.curve("train_loss")
        axes[1].plot(ep, tl, ls="--", color=colors.get(p), lw=0.9, alpha=0.7)
    axes[0].set(xlabel="epoch", ylabel="dev ACER (%)", title="dev ACER during training (Fig. 7)")
    axes[1].set(xlabel="epoch", ylabel="L2 loss", title="dev loss (solid), train loss (dashed)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _kendall_tau(a: list[str], b: list[str]) -> float:
    """Kendall tau between two orderings of the same items (no ties)."""
    pos = {k: i for i, k in enumerate(b)}
    n, s = len(a), 0
    for i in range(n):
        for j in range(i + 1, n):
            s += 1 if pos[a[i]] < pos[a[j]] else -1
    return s / (n * (n - 1) / 2)


def _claims(summ: dict[str, dict], late: dict[str, float]) -> list[Claim]:
    claims = []

    def less(a: str, b: str, key: str = "test_acer") -> bool | None:
        if a not in summ or b not in summ:
            return None
        x, y = summ[a][key], summ[b][key]
        if math.isnan(x) or math.isnan(y) or abs(x - y) < 1e-12:
            return None
        return x < y

    def ev(a: str, b: str) -> str:
        if a not in summ or b not in summ:
            return f"not run ({a if a not in summ else b} missing)"
        return (f"test ACER {a} {pct(summ[a]['test_acer'])}% vs {b} {pct(summ[b]['test_acer'])}%; "
                f"dev {pct(summ[a]['dev_acer'])}% vs {pct(summ[b]['dev_acer'])}%")

    test = {p: summ[p]["test_acer"] for p in summ}
    best = min(test.values())
    winners = [p for p, v in test.items() if abs(v - best) < 1e-12]
    ok = None if len(winners) > 1 and "baseline" in winners else ("baseline" in winners)
    if "baseline" not in summ or len(summ) < 2:
        ok = None
    claims.append(Claim("The baseline (location map + FCAM + residual pyramid) has the lowest "
                        "test ACER", "Table I: 1.88% vs 2.06-2.84%", verdict(ok),
                        "lowest: " + ", ".join(f"{p} ({pct(test[p])}%)" for p in winners)))
    claims.append(Claim("FCAM lowers the ACER (baseline vs C4)", "Table I / text: -0.34%",
                        verdict(less("baseline", "C4")), ev("baseline", "C4")))
    claims.append(Claim("The residual pyramid lowers the ACER (baseline vs C3)",
                        "Table I / text: -0.38%", verdict(less("baseline", "C3")),
                        ev("baseline", "C3")))
    claims.append(Claim("Face location map beats the depth map (baseline vs C5)",
                        "Table I: 1.88% vs 2.06%", verdict(less("baseline", "C5")),
                        ev("baseline", "C5")))
    claims.append(Claim("Face location map beats the binary mask (baseline vs C1)",
                        "Table I: 1.88% vs 2.84%", verdict(less("baseline", "C1")),
                        ev("baseline", "C1")))
    claims.append(Claim("All improvements together beat none of them (baseline vs C2)",
                        "Table I: -0.7% (dev)", verdict(less("baseline", "C2")),
                        ev("baseline", "C2")))
    full = set(late) == set(PAPER_LATE_ORDER)
    if full and all(not math.isnan(v) for v in late.values()) and len(set(late.values())) > 1:
        ours = sorted(late, key=lambda p: -late[p])
        tau = _kendall_tau(ours, list(PAPER_LATE_ORDER))
        claims.append(Claim("Late-training dev curves ordered C2 > C1 > C4 > C3 > C5 > baseline",
                            "Fig. 7 (epochs 45-50)", verdict(tau > 0.33 if abs(tau) > 0.33
                                                             else None),
                            f"synthetic order {' > '.join(ours)}; Kendall tau vs paper "
                            f"{tau:+.2f}"))
    else:
        claims.append(Claim("Late-training dev curves ordered C2 > C1 > C4 > C3 > C5 > baseline",
                            "Fig. 7", "inconclusive",
                            "late dev ACER tied across presets" if full else "not all presets run"))
    return claims


def run_ablation(out: Path, budget: Budget, data: str | Path | None = None,
                 work: Path | None = None, presets=PRESETS, seed: int = 0,
                 progress: bool = True) -> dict:
    """Train every preset, write ``<out>/REPORT.md``, ``table1.md``, ``curves.png``."""
    out = Path(out)
    work = Path(work) if work is not None else out / "work"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    data_root = ensure_data(data, work, budget, seed=seed, progress=progress)
    results = {p: PresetResult(p) for p in presets}
    for p in presets:
        t1 = time.time()
        for s in range(budget.seeds):
            print(f"[ablation] {p} seed {seed + s}", flush=True)
            m, hist = train_preset(p, data_root, work / "runs", budget, seed + s, progress,
                                   cache_dir=str(work / "cache"))
            r = results[p]
            r.dev_acer.append(m["dev_acer"])
            r.test_acer.append(m["test_acer"])
            r.dev_auc.append(m["dev_auc"])
            r.test_auc.append(m["test_auc"])
            r.best_epoch.append(m["best_epoch"])
            r.history.append(hist)
        results[p].seconds = time.time() - t1
    summ = {p: r.summary() for p, r in results.items()}

    # late-training dev ACER (last 10% of epochs, at least 1): the Fig. 7 ranking
    late = {}
    for p, r in results.items():
        _, acer = r.curve("dev_acer")
        k = max(1, int(round(0.1 * len(acer))))
        late[p] = float(np.nanmean(acer[-k:])) if len(acer) else float("nan")

    pm = budget.seeds > 1
    rows = []
    for p in presets:
        lab, fcam, pyr = STRUCTURE[p]
        s = summ[p]
        dev = pct(s["dev_acer"]) + (f" ± {pct(s['dev_acer_std'])}" if pm else "")
        tst = pct(s["test_acer"]) + (f" ± {pct(s['test_acer_std'])}" if pm else "")
        rows.append([("Baseline" if p == "baseline" else f"Compare {p[1]}"), lab,
                     "✓" if fcam else "✗", "✓" if pyr else "✗", dev, tst,
                     f"{s['test_auc']:.4f}", f"{PAPER[p][0]:.2f} / {PAPER[p][1]:.2f}"])
    table = md_table(["Tag", "Label", "FCAM", "Residual Pyramid", "Dev ACER (%)",
                      "Test ACER (%)", "Test AUC", "Paper dev / test (%)"], rows,
                     align="llccrrrr")
    (out / "table1.md").write_text(table + "\n")
    save_fig(_curves_figure(results), out / "curves.png")
    claims = _claims(summ, late)
    settings = md_table(["Setting", "Value"], [
        ["budget", budget.name],
        ["data", str(data) if data else f"synthetic: {budget.subjects} subjects, "
         f"{budget.seconds:g} s at {budget.fps:g} fps, {budget.synth_size} px"],
        ["protocol", "OULU-NPU protocol 1 layout (train/dev sessions 1-2, test session 3)"],
        ["EulerNet", f"image {budget.image_size}, widths {tuple(budget.widths)}, T=4, "
         f"interval 3"],
        ["training", f"{budget.epochs} epochs, batch {budget.batch_size}, "
         f"{'all' if not budget.max_steps else budget.max_steps} steps/epoch, "
         f"{budget.optimizer or 'Ranger'} lr {budget.lr or 1e-4:g}"
         f"{', live videos repeated to balance the classes' if budget.balance else ''}, "
         f"seeds {seed}..{seed + budget.seeds - 1}"
         + (f"; at most {budget.limit} videos per split" if budget.limit else "")],
        ["selection", "best dev ACER checkpoint; dev ACER at the dev ACER (EER) threshold; "
         "test ACER at the same threshold; video level"],
        ["time", f"{time.time() - t0:.0f} s"],
    ], align="ll")
    late_rows = [[p, pct(late[p])] for p in sorted(late, key=lambda q: -late[q])]
    sections = [
        ("", "Cong et al. 2022 (EulerNet), Table I and Fig. 7, re-run on synthetic data. The numbers "
             "are not comparable with the paper's (its own 3:1:1 data set of real faces); "
             "compare the direction of the effects."),
        ("Settings", settings),
        ("Table I: ablation", table),
        ("Training curves (Fig. 7)", "![curves](curves.png)\n\nMean dev ACER over the last "
         "10% of epochs (the ranking of Fig. 7, highest first):\n\n"
         + md_table(["Preset", "late dev ACER (%)"], late_rows)),
        ("Agreement with the paper", claims_table(claims)
         + "\n\nRead the verdicts with the test AUC: near or below 0.5 the models are at "
           "chance and any agreement is noise. Small synthetic sets make ACER coarse (one "
           "video moves it by several percent) and ties common; the full budget (`fasfast reproduce ablation` without "
           "`--quick`, on a GPU) uses more subjects, 256 px inputs, 50 epochs and 3 seeds."),
    ]
    meta = {"budget": budget.to_dict(), "results": summ, "late_dev_acer": late,
            "claims": [c.__dict__ for c in claims], "data_root": str(data_root),
            "paper": PAPER}
    write_report(out, "Reproduction: EulerNet ablation (Table I, Fig. 7)", sections, meta)
    print(table)
    return meta
