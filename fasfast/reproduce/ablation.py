"""EulerNet ablation (Cong et al. 2022, Table I and Fig. 7) on the synthetic data set.

Paper: Multi-Frames Temporal Abnormal Clues Learning Method for Face Anti-Spoofing
(EulerNet; Cong, Zhang, He, Gao, 2022) - https://arxiv.org/abs/2208.04076

Every preset (baseline, C1..C5) is trained with the same budget, data and seeds on OULU-NPU
protocol 1 of the (synthetic) tree. Per seed, the checkpoint with the best dev ACER is kept
("the optimal model on the development set is utilized to check the test set"); the dev ACER
is taken at the ACER (EER) threshold chosen on dev, the test ACER at that same dev threshold.
APCER is pooled over attack types (paper eq. 7), at video level (the mean over a video's
non-overlapping sequences, paper IV-A).

Length: over the project's ~450-line guide once ruff-formatted: one reproduction (settings,
training runs, paired comparison, claims, report) reads top to bottom; the comparison and
claims are the part to split off, as in the other two reports.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fasfast.reproduce.report import (
    SMOKE_NOTE,
    Budget,
    Claim,
    Clock,
    bpcer_step,
    claims_table,
    ensure_data,
    learned_note,
    md_table,
    pct,
    save_fig,
    scoreset_from_rows,
    synth_text,
    training_text,
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
    # per seed: video-level ScoreSets and thresholds (not in results.json)
    runs: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @staticmethod
    def _ms(v: list[float]) -> tuple[float, float]:
        a = np.asarray([x for x in v if not math.isnan(x)], dtype=np.float64)
        if a.size == 0:
            return float("nan"), float("nan")
        return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0

    def add(self, m: dict, history: list[dict]) -> None:
        for key in ("dev_acer", "test_acer", "dev_auc", "test_auc"):
            getattr(self, key).append(m[key])
        self.best_epoch.append(m["best_epoch"])
        self.history.append(history)
        self.runs.append(m["sets"])

    def summary(self) -> dict:
        d = {}
        for key in ("dev_acer", "test_acer", "dev_auc", "test_auc"):
            m, s = self._ms(getattr(self, key))
            d[key], d[key + "_std"] = m, s
            d[key + "_per_seed"] = list(getattr(self, key))
        d["best_epoch"] = self.best_epoch
        d["seconds"] = self.seconds
        return d

    def curve(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(epochs, mean over seeds) of a history column."""
        n = min(len(h) for h in self.history)
        vals = np.array([[float(r.get(key, float("nan"))) for r in h[:n]] for h in self.history])
        return np.arange(1, n + 1), np.nanmean(vals, axis=0) if vals.size else vals


def _threshold(ss) -> float:
    """The ACER (EER) threshold chosen on ``ss`` itself (pooled APCER, Cong et al. 2022, eq. 7)."""
    from fasfast.analysis import select_thresholds

    ss.check_two_classes(ss.name or "scores")
    return float(select_thresholds(ss.live, ss.attack).acer_point)


def _metrics(dev_rows, test_rows) -> dict:
    from fasfast.analysis import auc, pad_metrics

    dev = scoreset_from_rows(dev_rows, "dev")
    test = scoreset_from_rows(test_rows, "test")
    dev.check_two_classes("dev")
    test.check_two_classes("test")
    t = _threshold(dev)
    md = pad_metrics(dev.scores, dev.labels == 1, t)
    mt = pad_metrics(test.scores, test.labels == 1, t)
    return {
        "threshold": t,
        "dev_acer": md.acer,
        "test_acer": mt.acer,
        "dev_auc": float(auc(dev.live, dev.attack)),
        "test_auc": float(auc(test.live, test.attack)),
        "sets": {"dev": dev, "test": test, "threshold": t},
    }


def train_preset(
    preset: str,
    data_root: Path,
    work: Path,
    budget: Budget,
    seed: int,
    progress: bool = False,
    cache_dir: str | None = None,
) -> tuple[dict, list[dict]]:
    """Train one preset with one seed; returns (metrics of the best-dev checkpoint, history).

    ``metrics["sets"]``: the video-level dev / test ScoreSets of the best-dev checkpoint and
    its dev threshold, and (``last_dev``, ``last_threshold``) the last epoch's model on dev
    at its own dev ACER threshold (the late-training comparison of Fig. 7).
    """
    from fasfast.engine import load_model, train
    from fasfast.engine.evaluate import score_split

    cfg = budget.eulernet_config(
        preset,
        data_root,
        work / f"{preset}_seed{seed}",
        seed,
        progress,
        cache_dir,
        threshold_method="acer_point",
    )
    result = train(cfg)
    common = dict(
        dataset="oulu",
        data_root=data_root,
        protocol="1",
        batch_size=budget.batch_size,
        workers=budget.workers,
        progress=False,
        cache_dir=cache_dir,
        limit=budget.limit,
    )
    model, meta = load_model(result.best_checkpoint)
    dev = score_split(model, meta, split="dev", **common)
    test = score_split(model, meta, split="test", **common)
    m = _metrics(dev.video, test.video)
    m["best_epoch"] = int(meta.get("epoch") or 0)
    last_model, last_meta = load_model(result.last_checkpoint)
    last = scoreset_from_rows(
        score_split(last_model, last_meta, split="dev", **common).video, "dev (last epoch)"
    )
    m["sets"]["last_dev"] = last
    m["sets"]["last_threshold"] = _threshold(last)
    return m, result.history


def _curves_figure(results: dict[str, PresetResult]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    colors = {
        "C1": "#8d99ae",
        "C2": "#6c757d",
        "C3": "#2a9d8f",
        "C4": "#e9c46a",
        "C5": "#f4a261",
        "baseline": "#e63946",
    }
    for p, r in results.items():
        if not r.history:
            continue
        ep, acer = r.curve("dev_acer")
        axes[0].plot(
            ep,
            100 * acer,
            marker="o",
            ms=3,
            color=colors.get(p),
            label=p,
            lw=2.2 if p == "baseline" else 1.3,
        )
        ep, dl = r.curve("dev_loss")
        axes[1].plot(
            ep,
            dl,
            marker="o",
            ms=3,
            color=colors.get(p),
            label=f"{p} dev",
            lw=2.2 if p == "baseline" else 1.3,
        )
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


# the claims of Table I: baseline vs each variant, ACER_baseline - ACER_variant (paper: < 0)
TABLE_CLAIMS = (
    ("C4", "FCAM lowers the ACER (baseline vs C4)", "Table I / text: -0.34%"),
    ("C3", "The residual pyramid lowers the ACER (baseline vs C3)", "Table I / text: -0.38%"),
    ("C5", "Face location map beats the depth map (baseline vs C5)", "Table I: 1.88% vs 2.06%"),
    ("C1", "Face location map beats the binary mask (baseline vs C1)", "Table I: 1.88% vs 2.84%"),
    ("C2", "All improvements together beat none of them (baseline vs C2)", "Table I: -0.7% (dev)"),
)


def compare_presets(
    runs: dict[str, list[dict]], unit: str = "subject", reps: int = 2000, seed: int = 0
) -> tuple[dict, dict]:
    """The paired comparisons behind the claims.

    ``runs[preset]``: per seed the ``sets`` of :func:`train_preset`. Returns
    ``(test, late)``: ``test[p]`` the baseline minus preset ``p`` on the test ACER (best-dev
    checkpoints at their dev thresholds), ``late[(a, b)]`` the last-epoch dev ACER of ``a``
    minus ``b`` for the neighbours of Fig. 7's order (``a`` the lower in the paper).
    Seeds are paired by position (seed k of one preset with seed k of the other).
    """
    from fasfast.reproduce.verdicts import pooled_acer_difference

    test, late = {}, {}
    if "baseline" in runs:
        for p in runs:
            if p == "baseline":
                continue
            pairs = [
                (a["test"], a["threshold"], b["test"], b["threshold"])
                for a, b in zip(runs["baseline"], runs[p])
            ]
            test[p] = pooled_acer_difference(pairs, "baseline", p, unit, reps=reps, seed=seed)
    order = PAPER_LATE_ORDER  # highest late dev ACER first
    for hi_p, lo_p in zip(order[:-1], order[1:]):
        if hi_p in runs and lo_p in runs:
            pairs = [
                (a["last_dev"], a["last_threshold"], b["last_dev"], b["last_threshold"])
                for a, b in zip(runs[lo_p], runs[hi_p])
            ]
            late[(lo_p, hi_p)] = pooled_acer_difference(
                pairs, lo_p, hi_p, unit, reps=reps, seed=seed, delong=False
            )
    return test, late


def _evidence(c) -> str:
    from fasfast.reproduce.verdicts import fmt_pp

    ev = (
        f"ACER {c.a} {pct(c.extra['acer_a'])}% vs {c.b} {pct(c.extra['acer_b'])}% "
        f"({len(c.per_seed)} seed(s) pooled); per seed "
        + " / ".join(fmt_pp(d) for d in c.per_seed)
        + " pp"
    )
    if c.extra.get("delong"):
        ev += "; AUC difference (DeLong) per seed " + " / ".join(
            f"{d['difference']:+.3f} (p {d['pvalue']:.2g})" for d in c.extra["delong"]
        )
    return ev


def _claims(test: dict, late: dict) -> list[Claim]:
    """Claims of Table I and Fig. 7 from the comparisons of :func:`compare_presets`."""
    from fasfast.reproduce.verdicts import all_of, fmt_ci

    def single(c, claim, source) -> Claim:
        return Claim(
            claim,
            source,
            c.outcome,
            _evidence(c),
            c.difference,
            c.interval,
            c.test,
            fmt_ci(c),
            [c.as_dict()],
        )

    def several(cs, claim, source, what) -> Claim:
        if not cs:
            return Claim(claim, source, "inconclusive", "not run (presets missing)")
        # the least favourable comparison: the one whose interval reaches highest above 0
        worst = max(cs, key=lambda c: (c.interval[1], c.difference))
        outcome = all_of(c.outcome for c in cs)
        ev = "; ".join(f"{what(c)} {fmt_ci(c)} {c.outcome}" for c in cs)
        return Claim(
            claim,
            source,
            outcome,
            ev,
            worst.difference,
            worst.interval,
            worst.test,
            f"{what(worst)}: {fmt_ci(worst)}",
            [c.as_dict() for c in cs],
        )

    claims = [
        several(
            [test[p] for p, _, _ in TABLE_CLAIMS if p in test],
            "The baseline (location map + FCAM + residual pyramid) has the lowest test ACER",
            "Table I: 1.88% vs 2.06-2.84%",
            lambda c: f"vs {c.b}",
        )
    ]
    for p, claim, source in TABLE_CLAIMS:
        if p in test:
            claims.append(single(test[p], claim, source))
        else:
            claims.append(
                Claim(claim, source, "inconclusive", f"not run ({p} or baseline missing)")
            )
    want = list(zip(PAPER_LATE_ORDER[1:], PAPER_LATE_ORDER[:-1]))
    cs = [late[k] for k in want if k in late]
    claims.append(
        several(
            cs if len(cs) == len(want) else [],
            "Late-training dev ACER ordered C2 > C1 > C4 > C3 > C5 > baseline",
            "Fig. 7 (epochs 45-50)",
            lambda c: f"{c.a} vs {c.b}",
        )
    )
    return claims


def run_ablation(
    out: Path,
    budget: Budget,
    data: str | Path | None = None,
    work: Path | None = None,
    presets=PRESETS,
    seed: int = 0,
    progress: bool = True,
    unit: str = "subject",
) -> dict:
    """Train every preset, write ``<out>/REPORT.md``, ``table1.md``, ``curves.png``."""
    from fasfast.reproduce.verdicts import RULE

    out = Path(out)
    work = Path(work) if work is not None else out / "work"
    out.mkdir(parents=True, exist_ok=True)
    clock = Clock()
    data_root = ensure_data(data, work, budget, seed=seed, progress=progress)
    results = {p: PresetResult(p) for p in presets}
    for p in presets:
        t1 = time.time()
        for s in range(budget.seeds):
            print(f"[ablation] {p} seed {seed + s}", flush=True)
            m, hist = train_preset(
                p,
                data_root,
                work / "runs",
                budget,
                seed + s,
                progress,
                cache_dir=str(work / "cache"),
            )
            results[p].add(m, hist)
            print(
                f"[ablation] {p} seed {seed + s}: test ACER {pct(m['test_acer'])}%, "
                f"test AUC {m['test_auc']:.3f} ({clock.text()})",
                flush=True,
            )
        results[p].seconds = time.time() - t1
    summ = {p: r.summary() for p, r in results.items()}
    test_cmp, late_cmp = compare_presets({p: r.runs for p, r in results.items()}, unit)
    claims = _claims(test_cmp, late_cmp)

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
        rows.append(
            [
                ("Baseline" if p == "baseline" else f"Compare {p[1]}"),
                lab,
                "✓" if fcam else "✗",
                "✓" if pyr else "✗",
                dev,
                tst,
                f"{s['dev_auc']:.3f}",
                f"{s['test_auc']:.3f}",
                f"{PAPER[p][0]:.2f} / {PAPER[p][1]:.2f}",
            ]
        )
    table = md_table(
        [
            "Tag",
            "Label",
            "FCAM",
            "Residual Pyramid",
            "Dev ACER (%)",
            "Test ACER (%)",
            "Dev AUC",
            "Test AUC",
            "Paper dev / test (%)",
        ],
        rows,
        align="llccrrrrr",
    )
    (out / "table1.md").write_text(table + "\n")
    save_fig(_curves_figure(results), out / "curves.png")
    n_test = {
        k: int(v)
        for k, v in zip(
            *np.unique(results[presets[0]].runs[0]["test"].attack_types, return_counts=True)
        )
    }
    cost = clock.summary()
    settings = md_table(
        ["Setting", "Value"],
        [
            ["budget", budget.name + (" (smoke run: decides nothing)" if budget.smoke else "")],
            ["data", str(data) if data else synth_text(budget)],
            [
                "protocol",
                "OULU-NPU protocol 1 layout (train/dev sessions 1-2, test session 3); "
                "test videos: " + ", ".join(f"{k} {v}" for k, v in n_test.items()),
            ],
            [
                "EulerNet",
                f"image {budget.image_size}, widths {tuple(budget.widths)}, T=4, interval 3",
            ],
            ["training", training_text(budget, seed)],
            [
                "selection",
                "best dev ACER checkpoint; dev ACER at the dev ACER (EER) threshold; "
                "test ACER at the same threshold; video level; APCER pooled over the PAI species",
            ],
            [
                "statistics",
                f"paired bootstrap ({2000} replicates) over test {unit}s, seeds "
                "pooled; DeLong per seed for the AUC",
            ],
            ["cost", clock.text()],
        ],
        align="ll",
    )
    late_rows = [[p, pct(late[p])] for p in sorted(late, key=lambda q: -late[q])]
    sections = [
        (
            "",
            "Cong et al. 2022 (EulerNet), Table I and Fig. 7, re-run on synthetic data. The numbers "
            "are not comparable with the paper's (its own 3:1:1 data set of real faces); "
            "compare the direction of the effects."
            + (f"\n\n**{SMOKE_NOTE}**" if budget.smoke else "")
            + learned_note(summ.get("baseline")),
        ),
        ("Settings", settings),
        (
            "Table I: ablation",
            table + f"\n\nMean ± standard deviation over {budget.seeds} seed(s) (AUC: mean).",
        ),
        (
            "Training curves (Fig. 7)",
            "![curves](curves.png)\n\nMean dev ACER over the last "
            "10% of epochs (the ranking of Fig. 7, highest first):\n\n"
            + md_table(["Preset", "late dev ACER (%)"], late_rows),
        ),
        (
            "Agreement with the paper",
            RULE.format(unit=unit + "s")
            + "\n\n"
            + claims_table(claims)
            + "\n\nDifferences are in percentage points of ACER (baseline minus the variant; "
            "the paper says below zero). The last claim compares the last epoch's models on "
            "dev (each at its own dev ACER threshold), neighbour by neighbour in the paper's "
            "order. Small synthetic test sets make the ACER coarse (one live test video is "
            f"{bpcer_step(n_test)} of BPCER per seed).",
        ),
    ]
    meta = {
        "budget": budget.to_dict(),
        "results": summ,
        "late_dev_acer": late,
        "claims": [c.as_dict() for c in claims],
        "data_root": str(data_root),
        "paper": PAPER,
        "unit": unit,
        "cost": cost,
        "test_videos": n_test,
    }
    write_report(out, "Reproduction: EulerNet ablation (Table I, Fig. 7)", sections, meta)
    print(table)
    return meta
