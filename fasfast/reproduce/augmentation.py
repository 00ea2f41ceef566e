"""Down-sampling and Gaussian blur on a cross-domain split (Huang et al. 2024, Tables 1-6).

Paper: A visualization method for data domain changes in CNN networks and the
optimization method for selecting thresholds in classification tasks (Huang, Nie, Zhong,
2024) - https://arxiv.org/abs/2404.12602

Two cross-domain protocols are cut from the synthetic OULU-NPU-shaped tree, like
UniAttackData's leave-one-type-out protocol 2:

* ``p2.1``: train / dev on live + digital attacks, test on live + *unseen* physical attacks
  (print, replay);
* ``p2.2``: train / dev on live + physical attacks, test on live + *unseen* digital attacks.

For each, a ConvNeXt-V2 classifier is trained four times with the same budget and seed:
``orig`` (no down-sampling, no blur), ``down`` (the paper's class-specific down-sampling:
p2.1 live 2x, p2.2 attacks 2/4/8x, each with probability 0.5), ``blur`` (Gaussian blur on every
sample) and ``extend`` (both; the paper's p2.1 recipe). Every model then scores all frames of
every attack type (train, dev and test splits of the whole tree, as the paper's cross-inference
of Table 2), and the score domains are summarised with Radius / Normalize / Density per class
(Tables 3, 4, 6) and drawn as domain-plot grids (Tables 1, 2, 5).
"""

from __future__ import annotations

import math
import time
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

PHYS = ("print", "replay")
DIGITAL = ("digital",)
PROTOCOLS = {
    # name: (seen attack types in train/dev, unseen attack types in test, down-sampling spec)
    "p2.1": (DIGITAL, PHYS, "live:2"),
    "p2.2": (PHYS, DIGITAL, "attack:2,4,8"),
}
VARIANTS = ("orig", "down", "blur", "extend")
CLASSES = {
    "Live Face": ("live",),
    "All Fake Face": PHYS + DIGITAL,
    "Phys Fake Face": PHYS,
    "Adv/Digital Fake Face": DIGITAL,
}
# Huang et al. 2024, Tables 3 and 4 (model on the train data; Orig -> Extend): Radius, Normalize, Density
PAPER_TABLES = {
    "p2.1": {"Live Face": ((0.16387, 0.06212, 0.00492), (0.17958, 0.03163, 0.00293)),
             "All Fake Face": ((0.17167, 4.58766, 0.32506), (0.17984, 6.51122, 0.22755)),
             "Phys Fake Face": ((0.13114, 1.63312, 0.63237), (0.15308, 2.63840, 0.43475)),
             "Adv/Digital Fake Face": ((0.20740, 16.86177, 0.00214),
                                       (0.20267, 16.50409, 0.00181))},
    "p2.2": {"Live Face": ((0.02316, 2.76702, 0.06564), (0.22304, 0.12164, 0.05546)),
             "All Fake Face": ((0.15432, 0.70159, 0.52670), (0.22453, 6.46501, 0.04794)),
             "Phys Fake Face": ((0.14907, 3.39799, 0.01001), (0.23244, 16.75847, 0.01381)),
             "Adv/Digital Fake Face": ((0.18679, 0.18797, 0.12584),
                                       (0.19596, 3.35089, 0.16948))},
}


def _variant_settings(protocol: str, variant: str) -> dict:
    down = PROTOCOLS[protocol][2]
    return {
        "orig": {"downsample": "", "blur": 0.0},
        "down": {"downsample": down, "blur": 0.0},
        "blur": {"downsample": "", "blur": 1.0},
        "extend": {"downsample": down, "blur": 1.0},
    }[variant]


def write_lists(data_root: Path, out: Path, per_type: int = 0) -> dict[str, dict[str, int]]:
    """``<out>/{p2.1,p2.2,all}_{train,dev,test}.txt`` (``path label attack_type``, 1 = live)
    from an OULU-NPU-shaped tree (every session, phone and file; ``per_type`` > 0 keeps at
    most that many videos per type and split). Returns counts."""
    from fasfast.data import parse_oulu_name
    from fasfast.data.protocols import OULU_FILE_TYPES, VIDEO_EXTS

    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, dict[str, int]] = {}
    by_split: dict[str, list[tuple[str, str]]] = {}
    for split in ("train", "dev", "test"):
        folder = Path(data_root) / f"{split.capitalize()}_files"
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} not found: the data root must be OULU-NPU-shaped")
        items = []
        for p in sorted(folder.iterdir()):
            if p.suffix.lower() not in VIDEO_EXTS:
                continue
            try:
                info = parse_oulu_name(p.stem)
            except ValueError:
                continue
            items.append((str(p.resolve()), OULU_FILE_TYPES.get(info["file"], "attack")))
        if not items:
            raise ValueError(f"no OULU-NPU-named videos in {folder}")
        if per_type > 0:
            kept, seen_n = [], {}
            for path, t in items:
                seen_n[t] = seen_n.get(t, 0) + 1
                if seen_n[t] <= per_type:
                    kept.append((path, t))
            items = kept
        by_split[split] = items
    for proto, (seen, unseen, _) in [*PROTOCOLS.items(), ("all", (PHYS + DIGITAL, PHYS + DIGITAL,
                                                                   ""))]:
        for split, items in by_split.items():
            types = ("live",) + (unseen if split == "test" else seen)
            lines = [f"{path} {int(t == 'live')} {t}" for path, t in items if t in types]
            kinds = {t for _, t in items if t in types}
            if "live" not in kinds or len(kinds) < 2:
                raise ValueError(f"protocol {proto} split {split}: needs live and attack videos, "
                                 f"found types {sorted(kinds)}")
            (out / f"{proto}_{split}.txt").write_text("\n".join(lines) + "\n")
            counts[f"{proto}_{split}"] = {t: sum(1 for _, u in items if u == t)
                                          for t in sorted(kinds)}
    return counts


def _stats(ss, types) -> dict:
    from fasfast.analysis import domain_stats

    mask = np.isin(ss.attack_types, types)
    if not mask.any():
        return {"radius": float("nan"), "normalize": float("nan"), "density": float("nan"),
                "center": float("nan"), "n": 0}
    st = domain_stats(ss.scores[mask], "balance")
    return {"radius": st.radius, "normalize": st.normalize, "density": st.density,
            "center": st.center, "n": int(st.n)}


def _acer(select, apply) -> dict:
    from fasfast.analysis import auc, eer, pad_metrics, select_thresholds

    t = float(select_thresholds(select.live, select.attack).acer_point)
    ms = pad_metrics(select.scores, select.labels == 1, t)
    ma = pad_metrics(apply.scores, apply.labels == 1, t)
    return {"threshold": t, "dev_acer": ms.acer, "test_acer": ma.acer,
            "test_apcer": ma.apcer, "test_bpcer": ma.bpcer,
            "test_auc": float(auc(apply.live, apply.attack)),
            "test_eer": float(eer(apply.live, apply.attack))}


def train_variant(protocol: str, variant: str, lists: Path, work: Path, budget: Budget,
                  seed: int, progress: bool = False) -> tuple[dict, list[dict]]:
    """Train one classifier; score every frame of the whole tree. Returns (scores, history)."""
    from fasfast.engine import TrainConfig, load_model, train
    from fasfast.engine.evaluate import score_split

    cfg = TrainConfig(
        model=budget.cls_model, image_size=budget.cls_image_size, dataset="list",
        data_root=str(lists), protocol=protocol, epochs=budget.cls_epochs,
        batch_size=budget.cls_batch_size, max_steps=budget.cls_max_steps,
        out_dir=str(work / f"{protocol}_{variant}_seed{seed}"), seed=seed,
        workers=budget.workers, tensorboard=False, progress=progress, cache_dir=str(work / "cache"),
        **_variant_settings(protocol, variant),
    )
    result = train(cfg)
    model, meta = load_model(result.best_checkpoint)
    scored = {}
    for split in ("train", "dev", "test"):
        sc = score_split(model, meta, dataset="list", data_root=lists, protocol="all",
                         split=split, batch_size=budget.cls_batch_size, workers=budget.workers,
                         progress=False, cache_dir=str(work / "cache"))
        scored[split] = scoreset_from_rows(sc.frame or sc.video, f"all_{split}")
    return scored, result.history


def _subset(ss, types):
    return ss.subset(np.isin(ss.attack_types, ("live",) + tuple(types)))


def _grids(scores: dict, out: Path) -> tuple[Path, Path]:
    from fasfast.analysis import domain_grid

    models = list(scores)
    # Table 1: each model on its own (seen-type) train and dev data
    cells1 = {}
    for m in models:
        seen = PROTOCOLS[m.split(" ")[0]][0]
        for split in ("train", "dev"):
            ss = _subset(scores[m][split], seen)
            cells1[(f"own {split}", m)] = (ss.live, ss.attack)
    g1 = save_fig(domain_grid(cells1, cell_size=(3.2, 2.2), max_points=600), out / "table1_grid.png",
                  dpi=70)
    # Table 2: every model on every data set (cross inference)
    cells2 = {}
    for m in models:
        for split in ("train", "test"):
            for name, types in (("all", PHYS + DIGITAL), ("phys", PHYS), ("digital", DIGITAL)):
                ss = _subset(scores[m][split], types)
                cells2[(f"{split} live+{name}", m)] = (ss.live, ss.attack)
    g2 = save_fig(domain_grid(cells2, cell_size=(3.2, 2.2), max_points=400), out / "table2_grid.png",
                  dpi=50)
    return g1, g2


def _fmt_n(x: float) -> str:
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return "inf" if x == math.inf else "nan"
    return f"{x:.5f}"


def _far_from_one(n: float) -> float:
    if not n > 0:
        return math.inf if n == 0 else float("nan")
    return abs(math.log(n)) if math.isfinite(n) else math.inf


def _claims(stats: dict, acers: dict) -> list[Claim]:
    """stats[(protocol, variant)][split][class] -> R/N/D; acers[(protocol, variant)]."""
    claims = []
    aug_class = {"p2.1": "Live Face", "p2.2": "All Fake Face"}

    def compare(key: str, a: str, b: str, better, classes=None, split="train"):
        """Count (protocol, class) cells where variant a vs b satisfies ``better``."""
        hits, total, ev = 0, 0, []
        for proto in PROTOCOLS:
            if (proto, a) not in stats or (proto, b) not in stats:
                continue
            for cls in classes or ("Live Face", "All Fake Face"):
                x = stats[(proto, a)][split][cls][key]
                y = stats[(proto, b)][split][cls][key]
                if math.isnan(x) or math.isnan(y):
                    continue
                total += 1
                ok = better(x, y)
                hits += int(ok)
                ev.append(f"{proto} {cls.split()[0].lower()}: {_fmt_n(y)} -> {_fmt_n(x)}")
        if total == 0:
            return None, "not measured"
        ok = True if hits * 2 > total else (False if hits * 2 < total else None)
        return ok, f"{hits}/{total} cells ({'; '.join(ev)})"

    ok, ev = compare("radius", "down", "orig", lambda x, y: x > y)
    claims.append(Claim("Down-sampling widens the data domain (larger Radius)",
                        "Sec. 3.2, Tables 3-4 (train data)", verdict(ok), "orig -> down: " + ev))
    ok, ev = compare("normalize", "down", "orig",
                     lambda x, y: _far_from_one(x) > _far_from_one(y))
    claims.append(Claim("Down-sampling changes Normalize markedly (further from 1)",
                        "Sec. 3.2, Tables 3-4", verdict(ok), "orig -> down: " + ev))
    ok, ev = compare("density", "blur", "orig", lambda x, y: x < y)
    claims.append(Claim("Gaussian blur makes the domains more cohesive (lower Density)",
                        "Sec. 3.2, Tables 3, 6", verdict(ok), "orig -> blur: " + ev))
    ok, ev = compare("density", "extend", "down", lambda x, y: x < y)
    claims.append(Claim("Blur on top of down-sampling lowers Density",
                        "Table 6 (extended vs extended + blur)", verdict(ok),
                        "down -> extend: " + ev))
    # the augmented class specifically
    hits, total, ev = 0, 0, []
    for proto, cls in aug_class.items():
        if (proto, "down") in stats and (proto, "orig") in stats:
            x = stats[(proto, "down")]["train"][cls]["radius"]
            y = stats[(proto, "orig")]["train"][cls]["radius"]
            if not (math.isnan(x) or math.isnan(y)):
                total += 1
                hits += int(x > y)
                ev.append(f"{proto} {cls}: {_fmt_n(y)} -> {_fmt_n(x)}")
    claims.append(Claim("The down-sampled class itself gets a larger Radius",
                        "Table 4 (p2.2 fakes 0.154 -> 0.225)",
                        verdict(None if total == 0 or hits * 2 == total else hits * 2 > total),
                        f"{hits}/{total}: " + "; ".join(ev)))
    # cross-domain ACER
    hits, total, ev = 0, 0, []
    for proto in PROTOCOLS:
        if (proto, "extend") in acers and (proto, "orig") in acers:
            x, y = acers[(proto, "extend")]["test_acer"], acers[(proto, "orig")]["test_acer"]
            total += 1
            hits += int(x < y)
            ev.append(f"{proto}: {pct(y)}% -> {pct(x)}%")
    same = total and all(
        abs(acers[(p, "extend")]["test_acer"] - acers[(p, "orig")]["test_acer"]) < 1e-12
        for p in PROTOCOLS if (p, "extend") in acers)
    claims.append(Claim("Down-sampling + blur lower the ACER on the unseen attack type",
                        "Sec. 4.2 (competition result)",
                        verdict(None if total == 0 or same else hits * 2 > total),
                        "orig -> extend test ACER: " + "; ".join(ev)))
    return claims


def run_augmentation(out: Path, budget: Budget, data: str | Path | None = None,
                     work: Path | None = None, protocols=tuple(PROTOCOLS),
                     variants=VARIANTS, seed: int = 0, progress: bool = True) -> dict:
    """Train the classifier variants, write ``<out>/REPORT.md`` and the grids."""
    out = Path(out)
    work = Path(work) if work is not None else out / "work"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    data_root = ensure_data(data, work, budget, seed=seed, progress=progress)
    lists = work / "lists"
    counts = write_lists(data_root, lists, per_type=budget.limit // 4)
    scores, stats, acers, histories = {}, {}, {}, {}
    for proto in protocols:
        seen, unseen, _ = PROTOCOLS[proto]
        for var in variants:
            print(f"[augmentation] {proto} {var}", flush=True)
            sc, hist = train_variant(proto, var, lists, work / "runs", budget, seed, progress)
            key = f"{proto} {var}"
            scores[key] = sc
            histories[key] = hist
            stats[(proto, var)] = {split: {cls: _stats(sc[split], types)
                                           for cls, types in CLASSES.items()}
                                   for split in sc}
            acers[(proto, var)] = _acer(_subset(sc["dev"], seen), _subset(sc["test"], unseen))
    g1, g2 = _grids(scores, out)
    claims = _claims(stats, acers)

    # tables: one per protocol, like the paper's Tables 3 / 4 (+ test split)
    sections = [("", "Huang et al. 2024, Sec. 3.2 and 4.2 (Tables 1-6), re-run on synthetic data with "
                     "cross-domain protocols cut like UniAttackData p2.1 / p2.2. Scores are "
                     "`P(live)` (higher = live; the paper's scores put live at 0, which inverts "
                     "Normalize to 1/Normalize, so compare how far Normalize is from 1). "
                     "Domains use the balance centre; frame-level scores.")]
    settings = md_table(["Setting", "Value"], [
        ["budget", budget.name],
        ["data", str(data) if data else f"synthetic: {budget.subjects} subjects, "
         f"{budget.seconds:g} s at {budget.fps:g} fps, {budget.synth_size} px"],
        ["p2.1", "train/dev: live + digital; test: live + print + replay (unseen physical)"],
        ["p2.2", "train/dev: live + print + replay; test: live + digital (unseen digital)"],
        ["classifier", f"{budget.cls_model} from scratch, {budget.cls_image_size} px, "
         f"{budget.cls_epochs} epochs, batch {budget.cls_batch_size}, AdamW + cosine, "
         "label smoothing 0.1, CutMix, flips; seed " + str(seed)],
        ["variants", "orig: none; down: p2.1 live 2x / p2.2 attacks 2,4,8x (p=0.5); "
         "blur: Gaussian blur on every sample; extend: down + blur"],
        ["videos", (f"at most {budget.limit // 4} per type and split; " if budget.limit >= 4
                    else "") + ", ".join(f"{k}: {sum(v.values())}" for k, v in counts.items()
                             if k.startswith("p2"))],
        ["time", f"{time.time() - t0:.0f} s"],
    ], align="ll")
    sections.append(("Settings", settings))
    acer_rows = []
    for (proto, var), a in acers.items():
        acer_rows.append([proto, var, pct(a["dev_acer"]), pct(a["test_acer"]),
                          pct(a["test_apcer"]), pct(a["test_bpcer"]), f"{a['test_auc']:.4f}"])
    sections.append(("Cross-domain error (threshold: ACER point of the own dev set)",
                     md_table(["Protocol", "Variant", "Dev ACER (%)", "Unseen test ACER (%)",
                               "Test APCER (%)", "Test BPCER (%)", "Test AUC"], acer_rows)))
    for proto in protocols:
        for split in ("train", "test"):
            rows = []
            for cls in CLASSES:
                for var in variants:
                    s = stats[(proto, var)][split][cls]
                    paper = ""
                    if split == "train" and var in ("orig", "extend"):
                        r, n, d = PAPER_TABLES[proto][cls][0 if var == "orig" else 1]
                        paper = f"{r:.4f} / {n:.4f} / {d:.4f}"
                    rows.append([cls, var, _fmt_n(s["radius"]), _fmt_n(s["normalize"]),
                                 _fmt_n(s["density"]), f"{s['center']:.4f}", str(s["n"]), paper])
            num = {"p2.1": "3", "p2.2": "4"}[proto]
            title = (f"Model {proto}, data set {split} (all attack types)"
                     + (f": paper Table {num}" if split == "train" else ""))
            sections.append((title, md_table(
                ["Class", "Variant", "Radius", "Normalize", "Density", "Centre", "n",
                 "Paper R / N / D (orig, extend)"], rows, align="llrrrrrr")))
    sections.append(("Domain plots: own train and dev data (paper Table 1)",
                     f"![grid]({g1.name})"))
    sections.append(("Domain plots: cross inference (paper Table 2)", f"![grid]({g2.name})"))
    sections.append(("Agreement with the paper", claims_table(claims)
                     + "\n\nA claim agrees when most (protocol, class) cells move the paper's "
                       "way (a tie is inconclusive). Read the verdicts with the test AUC above: "
                       "a classifier near AUC 0.5 is barely trained and its domain statistics "
                       "move by noise. The full budget (`--full`, on a GPU: convnextv2_base, "
                       "224 px, 30 epochs, 24 subjects) is the meaningful run."))
    meta = {"budget": budget.to_dict(), "counts": counts,
            "stats": {f"{p} {v}": s for (p, v), s in stats.items()},
            "acer": {f"{p} {v}": a for (p, v), a in acers.items()},
            "claims": [c.__dict__ for c in claims],
            "histories": histories}
    write_report(out, "Reproduction: down-sampling and blur on the score domain "
                      "(Huang et al. 2024, Tables 1-6)", sections, meta)
    return meta
