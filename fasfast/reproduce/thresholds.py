"""Threshold transfer from train to dev (Huang et al. 2024, Table 7 and Fig. 7).

Paper: A visualization method for data domain changes in CNN networks and the
optimization method for selecting thresholds in classification tasks (Huang, Nie, Zhong,
2024) - https://arxiv.org/abs/2404.12602

Every threshold of :func:`fasfast.analysis.select_thresholds` (fake / live border, cross
point, balance point, ACER point and the two ends of the minimum-ACER interval) is chosen on
the *train* scores of a trained model and applied to the *dev* scores. Table 7 reports FPR
(attacks accepted), TPR (live accepted) and ACER = (FPR + 1 - TPR) / 2 on both; Fig. 7 draws
the two score domains with the same threshold lines. Without ``--checkpoint`` a small
EulerNet is trained on the synthetic data first.

Length: over the project's ~450-line guide once ruff-formatted: one reproduction (settings,
runs, paired comparison, claims, report) reads top to bottom; the comparison and claims are
the part to split off.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fasfast.reproduce.report import (
    SMOKE_NOTE,
    Budget,
    Claim,
    Clock,
    claims_table,
    ensure_data,
    learned_note,
    md_table,
    save_fig,
    scoreset_from_rows,
    synth_text,
    training_text,
    write_report,
)

LABELS = {
    "fake_border": "Fake border",
    "live_border": "Live border",
    "cross": "Cross point",
    "balance": "Balance point",
    "acer_point": "ACER point",
    "acer_left": "Acer-left point",
    "acer_right": "Acer-right point",
}
# Huang et al. 2024, Table 7 (HySpeFAS): threshold, train FPR/TPR/ACER, dev FPR/TPR/ACER (%)
PAPER = {
    "fake_border": (0.24815, 0.0, 100.0, 0.0, 3.434, 100.0, 1.717),
    "live_border": (0.74673, 0.0, 100.0, 0.0, 0.0, 7.212, 3.606),
    "cross": (0.49744, 0.0, 100.0, 0.0, 0.0, 98.558, 0.725),
    "balance": (0.31795, 0.0, 100.0, 0.0, 0.0, 100.0, 0.0),
    "acer_left": (0.24815, 0.0, 100.0, 0.0, 3.434, 100.0, 1.717),
    "acer_right": (0.74673, 0.0, 100.0, 0.0, 0.0, 7.212, 3.606),
}


def _rates(ss, t: float) -> dict:
    live, attack = ss.live, ss.attack
    fpr = float((attack >= t).mean())
    tpr = float((live >= t).mean())
    return {"fpr": fpr, "tpr": tpr, "acer": (fpr + 1.0 - tpr) / 2.0}


def threshold_transfer(train, dev, center: str = "balance") -> tuple[dict, list[dict]]:
    """Thresholds chosen on ``train`` (a ScoreSet) and their rates on ``train`` and ``dev``."""
    from fasfast.analysis import select_thresholds

    train.check_two_classes("train")
    dev.check_two_classes("dev")
    th = select_thresholds(train.live, train.attack, center)
    rows = []
    for key, t in th.as_dict().items():
        rows.append(
            {
                "key": key,
                "method": LABELS.get(key, key),
                "threshold": float(t),
                "train": _rates(train, t),
                "dev": _rates(dev, t),
            }
        )
    return th.as_dict(), rows


def quick_model(
    data_root: Path, work: Path, budget: Budget, seed: int, progress: bool = False
) -> Path:
    """Train the budget's EulerNet (baseline preset) and return its best checkpoint."""
    from fasfast.engine import train

    cfg = budget.eulernet_config(
        "baseline", data_root, work / f"model_seed{seed}", seed, progress, str(work / "cache")
    )
    return Path(train(cfg).best_checkpoint)


def _chance_note(aucs: dict) -> str:
    """A warning for the settings table when a split's AUC is close to chance."""
    near = [s for s, a in aucs.items() if abs(a - 0.5) < 0.15]
    if not near:
        return ""
    return (
        f" (near 0.5 on {', '.join(near)}: the model is close to chance there and the "
        "comparison says little)"
    )


def _figure(train, dev, thresholds: dict, center: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fasfast.analysis import domain_plot

    fig, axes = plt.subplots(1, 2, figsize=(13, 3.8))
    for ax, ss, name in ((axes[0], train, "train"), (axes[1], dev, "dev")):
        domain_plot(
            ss.live,
            ss.attack,
            thresholds,
            center,
            ax=ax,
            max_points=1500,
            title=f"{name}: thresholds chosen on train",
            lines=("fake_border", "live_border", "cross", "balance", "acer_point"),
        )
    fig.tight_layout()
    return fig


def compare_thresholds(
    sets: list[dict], thresholds: list[dict], unit: str = "subject", reps: int = 2000, seed: int = 0
) -> dict:
    """The paired comparisons behind the claims, seeds pooled (each model at its own
    train-chosen thresholds). ``sets``: per seed ``{"train": ScoreSet, "dev": ScoreSet}``;
    ``thresholds``: per seed ``{method: t}`` (:func:`threshold_transfer`)."""
    from fasfast.reproduce.verdicts import PooledSplits, pooled_acer_difference

    rows = PooledSplits(sets, thresholds, unit)
    methods = [m for m in thresholds[0] if m != "balance"]
    out = {"best": {}, "gap": {}, "same_as_balance": [], "borders": None, "rows": rows}
    for m in methods:
        if all(t[m] == t["balance"] for t in thresholds):
            out["same_as_balance"].append(m)
            continue
        pairs = [(ss["dev"], t["balance"], ss["dev"], t[m]) for ss, t in zip(sets, thresholds)]
        out["best"][m] = pooled_acer_difference(
            pairs, "balance", m, unit, reps=reps, seed=seed, delong=False
        )

        def gap(idx, m=m):
            g = [abs(rows.acer(k, "dev", idx) - rows.acer(k, "train", idx)) for k in ("balance", m)]
            return g[0] - g[1]

        per = [
            abs(d - t)
            for d, t in zip(
                rows.acer_per_seed("balance", "dev"), rows.acer_per_seed("balance", "train")
            )
        ]
        per_m = [
            abs(d - t) for d, t in zip(rows.acer_per_seed(m, "dev"), rows.acer_per_seed(m, "train"))
        ]
        out["gap"][m] = rows.bootstrap(
            gap,
            "balance",
            m,
            "|dev - train| ACER",
            "< 0",
            [a - b for a, b in zip(per, per_m)],
            reps,
            seed,
        )
    out["acer_drift"] = rows.bootstrap(
        lambda idx: rows.acer("acer_point", "dev", idx) - rows.acer("acer_point", "train", idx),
        "ACER point on dev",
        "on train",
        "dev minus train ACER at the train-chosen ACER point",
        "> 0",
        [
            d - t
            for d, t in zip(
                rows.acer_per_seed("acer_point", "dev"), rows.acer_per_seed("acer_point", "train")
            )
        ],
        reps,
        seed,
    )
    separable = [k for k, t in enumerate(thresholds) if t["fake_border"] < t["live_border"]]
    if separable:
        pairs = [
            (
                sets[k]["dev"],
                thresholds[k]["fake_border"],
                sets[k]["dev"],
                thresholds[k]["live_border"],
            )
            for k in separable
        ]
        out["borders"] = pooled_acer_difference(
            pairs,
            "fake_border",
            "live_border",
            unit,
            direction="!= 0",
            reps=reps,
            seed=seed,
            delong=False,
        )
        out["borders"].extra["seeds"] = separable
    return out


def _claims(cmp: dict) -> list[Claim]:
    """Claims of Table 7 / Sec. 3.3 / 4.4 from :func:`compare_thresholds`."""
    from fasfast.reproduce.verdicts import all_of, fmt_ci, fmt_pp

    def name(k):
        return LABELS.get(k, k)

    def several(cs: dict, claim, source) -> Claim:
        same = [name(k) for k in cmp["same_as_balance"]]
        note = (
            f" (same threshold as the balance point in every seed: {', '.join(same)})"
            if same
            else ""
        )
        if not cs:
            return Claim(claim, source, "inconclusive", "nothing to compare" + note)
        worst = max(cs.values(), key=lambda c: (c.interval[1], c.difference))
        ev = "; ".join(f"vs {name(c.b)} {fmt_ci(c)} {c.outcome}" for c in cs.values())
        return Claim(
            claim,
            source,
            all_of(c.outcome for c in cs.values()),
            ev + note,
            worst.difference,
            worst.interval,
            worst.test,
            f"vs {name(worst.b)}: {fmt_ci(worst)}",
            [c.as_dict() for c in cs.values()],
        )

    claims = [
        several(
            cmp["best"],
            "The balance point transfers best to dev (lowest dev ACER)",
            "Table 7 (dev ACER 0.0%) / Sec. 4.4",
        ),
        several(
            cmp["gap"],
            "The balance point gives the closest train and dev results",
            "Fig. 7 caption",
        ),
    ]
    c = cmp["acer_drift"]
    claims.append(
        Claim(
            "The ACER threshold of the train set is less reliable on dev",
            "Sec. 3.3 / 4.4",
            c.outcome,
            "ACER point, dev minus train ACER per seed "
            + " / ".join(fmt_pp(d) for d in c.per_seed)
            + " pp",
            c.difference,
            c.interval,
            c.test,
            fmt_ci(c),
            [c.as_dict()],
        )
    )
    c = cmp["borders"]
    if c is None:
        claims.append(
            Claim(
                "Thresholds equally good on a separable train set differ on dev",
                "Fig. 4 / Table 7",
                "inconclusive",
                "the train classes overlap in every seed (fake border >= live border): the "
                "Fig. 5 case, nothing to compare",
            )
        )
    else:
        claims.append(
            Claim(
                "Thresholds equally good on a separable train set differ on dev",
                "Fig. 4 / Table 7 (fake vs live border)",
                c.outcome,
                f"dev ACER fake border {100 * c.extra['acer_a']:.2f}% vs live border "
                f"{100 * c.extra['acer_b']:.2f}% over the {len(c.extra['seeds'])} seed(s) whose "
                "train classes are separable; two-sided: it agrees when the interval excludes 0 "
                "either way",
                c.difference,
                c.interval,
                c.test,
                fmt_ci(c),
                [c.as_dict()],
            )
        )
    return claims


def _models(checkpoint, data, work: Path, budget: Budget, seed: int, progress: bool):
    """(data root, trained here?, checkpoints): ``checkpoint`` on ``data``, or
    ``budget.seeds`` quick models trained on ``data`` (synthetic data made when None)."""
    if checkpoint is not None:
        if data is None:
            raise ValueError(
                "--checkpoint needs --data (the data set its train/dev splits come from)"
            )
        return Path(data), False, [Path(checkpoint)]
    data_root = ensure_data(data, work, budget, seed=seed, progress=progress)
    checkpoints = []
    for s in range(budget.seeds):
        print(f"[thresholds] training seed {seed + s}", flush=True)
        checkpoints.append(quick_model(data_root, work, budget, seed + s, progress))
    return data_root, True, checkpoints


def _train_dev_scores(ck, dataset: str, data_root, protocol: str, level, budget: Budget):
    """({"train", "dev": ScoreSet}, level) of checkpoint ``ck`` at ``level`` (default:
    sequences for EulerNet, frames for a classifier)."""
    from fasfast.engine import load_model
    from fasfast.engine.evaluate import score_split

    model, meta = load_model(ck)
    kind = meta["kind"]
    level = level or ("sequence" if kind == "eulernet" else "frame")
    by_split = {}
    for split in ("train", "dev"):
        sc = score_split(
            model,
            meta,
            dataset=dataset,
            data_root=data_root,
            protocol=protocol,
            split=split,
            batch_size=budget.batch_size,
            workers=budget.workers,
            progress=False,
            limit=budget.limit,
        )
        rows = getattr(sc, level, None)
        if not rows:
            raise ValueError(
                f"no {level}-level scores for a {kind} model; have {list(sc.levels())}"
            )
        by_split[split] = scoreset_from_rows(rows, split)
    return by_split, level


def run_thresholds(
    out: Path,
    budget: Budget,
    checkpoint: str | Path | None = None,
    data: str | Path | None = None,
    work: Path | None = None,
    dataset: str = "oulu",
    protocol: str = "1",
    level: str | None = None,
    center: str = "balance",
    seed: int = 0,
    progress: bool = True,
    unit: str = "subject",
) -> dict:
    """Table 7 + Fig. 7 for ``checkpoint`` (else ``budget.seeds`` models trained here, seeds
    pooled in the claims). Writes ``REPORT.md``."""
    from fasfast.analysis import auc, write_scores
    from fasfast.reproduce.verdicts import RULE

    out = Path(out)
    work = Path(work) if work is not None else out / "work"
    out.mkdir(parents=True, exist_ok=True)
    clock = Clock()
    data_root, trained_here, checkpoints = _models(checkpoint, data, work, budget, seed, progress)
    sets, seed_thresholds, rows_per_seed = [], [], []
    for ck in checkpoints:
        by_split, level = _train_dev_scores(ck, dataset, data_root, protocol, level, budget)
        th, rows = threshold_transfer(by_split["train"], by_split["dev"], center)
        sets.append(by_split)
        seed_thresholds.append(th)
        rows_per_seed.append(rows)
    for split, ss in sets[0].items():
        write_scores(out / f"scores_{split}.csv", ss)
    thresholds, rows = seed_thresholds[0], rows_per_seed[0]
    fig = save_fig(
        _figure(sets[0]["train"], sets[0]["dev"], thresholds, center), out / "fig7.png", dpi=75
    )
    cmp = compare_thresholds(sets, seed_thresholds, unit)
    claims = _claims(cmp)

    def p(x: float) -> str:
        return f"{100 * x:.3f}"

    body = []
    for r in rows:
        pap = PAPER.get(r["key"])
        body.append(
            [
                r["method"],
                f"{r['threshold']:.5f}",
                p(r["train"]["fpr"]),
                p(r["train"]["tpr"]),
                p(r["train"]["acer"]),
                p(r["dev"]["fpr"]),
                p(r["dev"]["tpr"]),
                p(r["dev"]["acer"]),
                "-" if pap is None else f"{pap[0]:.3f} / {pap[6]:.3f}",
            ]
        )
    table = md_table(
        [
            "Method",
            "Threshold",
            "Train FPR (%)",
            "Train TPR (%)",
            "Train ACER (%)",
            "Dev FPR (%)",
            "Dev TPR (%)",
            "Dev ACER (%)",
            "Paper threshold / dev ACER",
        ],
        body,
    )
    (out / "table7.md").write_text(table + "\n")
    pooled = cmp["rows"]
    seed_rows = []
    for r in rows:
        k = r["key"]
        per = {sp: [100 * v for v in pooled.acer_per_seed(k, sp)] for sp in ("train", "dev")}
        seed_rows.append(
            [r["method"]]
            + [
                f"{np.mean(per[sp]):.2f} ± {np.std(per[sp], ddof=1) if len(per[sp]) > 1 else 0:.2f}"
                for sp in ("train", "dev")
            ]
            + [" / ".join(f"{v:.1f}" for v in per["dev"])]
        )
    seeds_table = md_table(
        ["Method", "Train ACER (%)", "Dev ACER (%)", "Dev ACER per seed (%)"], seed_rows
    )
    ds = {s: (len(v.live), len(v.attack)) for s, v in sets[0].items()}
    aucs = {s: float(auc(v.live, v.attack)) for s, v in sets[0].items()}
    aucs_all = {s: [float(auc(x[s].live, x[s].attack)) for x in sets] for s in ("train", "dev")}
    summ = {f"{s}_auc": float(np.mean(v)) for s, v in aucs_all.items()}
    summ["test_auc"] = summ["dev_auc"]  # dev is this report's held-out split
    settings = md_table(
        ["Setting", "Value"],
        [
            [
                "model",
                (
                    f"EulerNet baseline trained here, {len(checkpoints)} seed(s) "
                    f"{seed}..{seed + len(checkpoints) - 1} (budget {budget.name}"
                    + (", smoke run: decides nothing" if budget.smoke else "")
                    + f": {budget.image_size} px, widths {tuple(budget.widths)}; "
                    + training_text(budget, seed)
                    + ")"
                )
                if trained_here
                else str(checkpoint),
            ],
            [
                "data",
                (
                    synth_text(budget) + f", OULU-NPU protocol {protocol}"
                    if data is None
                    else f"{dataset} protocol {protocol} at {data_root}"
                ),
            ],
            [
                "scores",
                f"{level} level; train {ds['train'][0]} live / {ds['train'][1]} attack, "
                f"dev {ds['dev'][0]} live / {ds['dev'][1]} attack (per seed)",
            ],
            [
                "separability",
                "AUC per seed: train "
                + " / ".join(f"{a:.3f}" for a in aucs_all["train"])
                + ", dev "
                + " / ".join(f"{a:.3f}" for a in aucs_all["dev"])
                + _chance_note(aucs),
            ],
            ["domains", f"centre: {center}"],
            [
                "statistics",
                f"paired bootstrap (2000 replicates) over {unit}s, seeds pooled; "
                "McNemar's test is not used: the windows of a video, and one video's scores under "
                "several seeds, are not independent presentations",
            ],
            ["cost", clock.text()],
        ],
        align="ll",
    )
    sections = [
        (
            "",
            "Huang et al. 2024, Sec. 3.3 and 4.4 (Table 7, Fig. 7), re-run on synthetic data: "
            "thresholds chosen on the train scores, applied to the dev scores. FPR = attacks "
            "accepted as live, TPR = live accepted, ACER = (FPR + 100 - TPR) / 2."
            + (f"\n\n**{SMOKE_NOTE}**" if budget.smoke else "")
            + learned_note(summ, "model"),
        ),
        ("Settings", settings),
        ("Table 7: thresholds chosen on train (first seed)", table),
        (
            "Every seed",
            seeds_table + f"\n\nMean ± standard deviation over {len(sets)} "
            "seed(s), each model at the thresholds chosen on its own train scores.",
        ),
        (
            "Fig. 7: train (left) and dev (right) domains (first seed)",
            f"![fig7]({fig.name})\n\nScores of the first seed: `scores_train.csv`, "
            "`scores_dev.csv` (re-analyse with `fasfast analyze`).",
        ),
        (
            "Agreement with the paper",
            RULE.format(unit=unit + "s")
            + "\n\n"
            + claims_table(claims)
            + "\n\nDifferences in percentage points of ACER. Here the "
            "'test' presentations are the dev split (the thresholds are chosen on train); the "
            "gap and drift claims resample train and dev units together, each split its own "
            "strata.",
        ),
    ]
    result = {
        "checkpoint": str(checkpoints[0]),
        "checkpoints": [str(c) for c in checkpoints],
        "level": level,
        "thresholds": thresholds,
        "rows": rows,
        "thresholds_per_seed": seed_thresholds,
        "rows_per_seed": rows_per_seed,
        "claims": [c.as_dict() for c in claims],
        "budget": budget.to_dict(),
        "counts": ds,
        "auc": aucs,
        "auc_per_seed": aucs_all,
        "unit": unit,
        "cost": clock.summary(),
    }
    write_report(
        out,
        "Reproduction: threshold selection on train, applied to dev (Huang et al. 2024, Table 7)",
        sections,
        result,
    )
    print(table)
    if any(math.isnan(r["dev"]["acer"]) for r in rows):
        print("warning: some dev ACERs are NaN")
    return result
