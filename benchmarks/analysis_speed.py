"""Score analysis speed, as ratios measured side by side in one run.

Two Gaussian classes, half each: live N(0.7, 0.1), attack N(0.3, 0.1) (``--classes
separated``, the default: a usable model), or N(0.52, 0.1) vs N(0.48, 0.1)
(``overlapping``: a near-chance model; short same-class runs, the merge's worst case).
Scores in ``--dtype`` (float32 is analysed as float32, never widened).

Columns (best of ``--repeat``):

- ``np.sort``: one ``np.sort`` of all scores (the yardstick of issue 16);
- ``thresholds + metrics``: ``select_thresholds`` (every threshold, from one sort per class)
  plus ``pad_metrics`` at the chosen ACER threshold (one pass over the unsorted scores);
- ``full analysis``: ``fasfast.analysis.analyze`` (domain stats for all four centres,
  every threshold, six target rows, EER, AUC, the metrics at every threshold);
- ``sklearn``: ``sklearn.metrics.roc_curve`` + EER (once at >= 5e6).

``--bootstrap B`` adds, per size, ``B`` bootstrap replicates of EER / AUC / least ACER /
every count-based threshold (``fasfast.analysis.bootstrap``, binned engine) against one
full analysis.

    python benchmarks/analysis_speed.py [--sizes 1e5 1e6 1e7] [--dtype float32] [--write]
    python benchmarks/analysis_speed.py --sizes 1e6 --bootstrap 1000
"""

from __future__ import annotations

import argparse
import datetime
import os
import time
from pathlib import Path

import numpy as np


def _best(fn, repeat, *args, **kw):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args, **kw)
        ts.append(time.perf_counter() - t)
    return min(ts)


def sk_roc_eer(y, s):
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(y, s)
    i = np.nanargmin(np.abs(1 - tpr - fpr))
    return thr[i], (fpr[i] + 1 - tpr[i]) / 2


def thresholds_and_metrics(live, attack, allv, is_live):
    from fasfast.analysis import pad_metrics, select_thresholds

    th = select_thresholds(live, attack)
    return pad_metrics(allv, is_live, th.acer_point)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e5, 1e6, 1e7])
    ap.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--classes", default="separated", choices=("separated", "overlapping"))
    ap.add_argument("--bootstrap", type=int, default=0, metavar="B",
                    help="also time B bootstrap replicates (binned engine) per size")
    ap.add_argument("--no-sklearn", action="store_true", help="skip the sklearn column")
    ap.add_argument("--write", action="store_true", help="append to benchmarks/results/analysis.md")
    args = ap.parse_args(argv)
    from fasfast.analysis import analyze, bootstrap

    rng = np.random.default_rng(0)
    warm_l, warm_a = rng.random(1000).astype(args.dtype), rng.random(1000).astype(args.dtype)
    analyze(warm_l, warm_a)  # compile / load the numba cache
    thresholds_and_metrics(warm_l, warm_a, np.r_[warm_l, warm_a],
                           np.r_[np.ones(1000, bool), np.zeros(1000, bool)])
    if args.bootstrap:
        bootstrap(warm_l, warm_a, reps=10, engine="binned")
    rows = []
    for size in args.sizes:
        n = int(size)
        mu_live, mu_attack = (0.7, 0.3) if args.classes == "separated" else (0.52, 0.48)
        live = rng.normal(mu_live, 0.1, n // 2).astype(args.dtype)
        attack = rng.normal(mu_attack, 0.1, n - n // 2).astype(args.dtype)
        allv = np.r_[live, attack]
        is_live = np.r_[np.ones(live.size, bool), np.zeros(attack.size, bool)]
        t_sort = _best(np.sort, args.repeat, allv)
        t_tm = _best(thresholds_and_metrics, args.repeat, live, attack, allv, is_live)
        t_an = _best(analyze, args.repeat, live, attack)
        t_sk = (float("nan") if args.no_sklearn else
                _best(sk_roc_eer, 1 if n >= 5e6 else args.repeat, is_live.astype(float), allv))
        t_bs = float("nan")
        if args.bootstrap:
            t_bs = _best(bootstrap, 1, live, attack, reps=args.bootstrap, engine="binned")
        rows.append((n, t_sort, t_tm, t_an, t_sk, t_bs))
        print(f"n={n:>11,d}  np.sort {1e3 * t_sort:8.1f} ms  thresholds+metrics "
              f"{1e3 * t_tm:8.1f} ms ({t_tm / t_sort:4.2f}x)  analysis {1e3 * t_an:8.1f} ms "
              f"({t_an / t_sort:4.2f}x)  roc+EER {1e3 * t_sk:8.1f} ms"
              + (f"  bootstrap x{args.bootstrap} {1e3 * t_bs:8.1f} ms "
                 f"({t_bs / t_an:5.1f}x analysis)" if args.bootstrap else ""), flush=True)
    head = ("| scores | np.sort (ms) | thresholds + metrics (ms) | / np.sort | full analysis (ms) "
            "| / np.sort | sklearn roc_curve + EER (ms) | speed-up vs roc+EER |"
            + (f" bootstrap x{args.bootstrap} (ms) | / analysis |" if args.bootstrap else ""))
    table = [head, "|" + "---:|" * (head.count("|") - 1)]
    for n, s, tm, an, sk, bs in rows:
        line = (f"| {n:,d} | {1e3 * s:.1f} | {1e3 * tm:.1f} | {tm / s:.2f} | {1e3 * an:.1f} | "
                f"{an / s:.2f} | {1e3 * sk:.1f} | {sk / an:.1f}x |")
        if args.bootstrap:
            line += f" {1e3 * bs:.1f} | {bs / an:.1f}x |"
        table.append(line)
    text = "\n".join(table)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    if args.write:
        out = Path(__file__).parent / "results" / "analysis.md"
        out.parent.mkdir(exist_ok=True)
        head = (f"## Score analysis ({args.dtype}, {args.classes} classes), "
                f"{datetime.date.today()}, load {load:.2f}\n\n"
                f"`python benchmarks/analysis_speed.py --dtype {args.dtype} --classes "
                f"{args.classes} --repeat {args.repeat}"
                + (f" --bootstrap {args.bootstrap}" if args.bootstrap else "")
                + " --write` (best of the repeats; sklearn once at >= 5e6).\n\n")
        prev = out.read_text() if out.exists() else ""
        out.write_text(prev + ("\n\n" if prev else "") + head + text + "\n")
        print(f"wrote {out}")
    else:
        print(text)
        print(f"(1-minute load average {load:.2f})")


if __name__ == "__main__":
    main()
