"""Score analysis speed: full analysis vs ``np.sort`` vs ``sklearn.metrics.roc_curve`` + EER.

Two Gaussian classes, half each: live N(0.7, 0.1), attack N(0.3, 0.1) (``--classes
separated``, the default: a usable model), or N(0.52, 0.1) vs N(0.48, 0.1)
(``overlapping``: a near-chance model; short same-class runs, the merge's worst case).
"full analysis" is
``fasfast.analysis.analyze``: one sort per class, domain stats for all four centres (both
classes), all seven thresholds (cross point for every centre), six target-rate points,
EER, AUC, min ACER, and the metrics at every threshold. Times are the best of ``--repeat``.

    python benchmarks/analysis_speed.py [--sizes 1e5 1e6 1e7] [--dtype float64] [--write]
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import numpy as np


def _best(fn, repeat, *args):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        ts.append(time.perf_counter() - t)
    return min(ts)


def sk_roc_eer(y, s):
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(y, s)
    i = np.nanargmin(np.abs(1 - tpr - fpr))
    return thr[i], (fpr[i] + 1 - tpr[i]) / 2


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e5, 1e6, 1e7])
    ap.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--classes", default="separated", choices=("separated", "overlapping"))
    ap.add_argument("--write", action="store_true", help="write benchmarks/results/analysis.md")
    args = ap.parse_args(argv)
    from fasfast.analysis import analyze

    rng = np.random.default_rng(0)
    analyze(rng.random(100), rng.random(100))  # compile / load the numba cache
    rows = []
    for size in args.sizes:
        n = int(size)
        mu_live, mu_attack = (0.7, 0.3) if args.classes == "separated" else (0.52, 0.48)
        live = rng.normal(mu_live, 0.1, n // 2).astype(args.dtype)
        attack = rng.normal(mu_attack, 0.1, n - n // 2).astype(args.dtype)
        allv = np.r_[live, attack]
        y = np.r_[np.ones(live.size), np.zeros(attack.size)]
        t_an = _best(analyze, args.repeat, live, attack)
        t_sort = _best(np.sort, args.repeat, allv)
        t_sk = _best(sk_roc_eer, 1 if n >= 5e6 else args.repeat, y, allv)
        rows.append((n, t_an, t_sort, t_sk))
        print(f"n={n:>9,d}  analysis {1e3 * t_an:8.1f} ms  np.sort {1e3 * t_sort:8.1f} ms  "
              f"roc+EER {1e3 * t_sk:8.1f} ms  analysis/sort {t_an / t_sort:5.2f}  "
              f"roc/analysis {t_sk / t_an:5.1f}x", flush=True)
    table = ["| scores | full analysis (ms) | np.sort (ms) | sklearn roc_curve + EER (ms) "
             "| analysis / np.sort | speed-up vs roc+EER |",
             "|---:|---:|---:|---:|---:|---:|"]
    for n, a, s, k in rows:
        table.append(f"| {n:,d} | {1e3 * a:.1f} | {1e3 * s:.1f} | {1e3 * k:.1f} | {a / s:.2f} "
                     f"| {k / a:.1f}x |")
    text = "\n".join(table)
    if args.write:
        out = Path(__file__).parent / "results" / "analysis.md"
        out.parent.mkdir(exist_ok=True)
        head = (f"## Score analysis ({args.dtype}, {args.classes} classes), "
                f"{datetime.date.today()}\n\n"
                "CPU: 2-core dev machine (shared with other jobs while measured).\n"
                f"`python benchmarks/analysis_speed.py --dtype {args.dtype} --classes {args.classes} "
                f"--write` (best of "
                f"{args.repeat}; sklearn once at >= 5e6).\n\n")
        prev = out.read_text() if out.exists() else ""
        out.write_text(prev + ("\n\n" if prev else "") + head + text + "\n")
        print(f"wrote {out}")
    else:
        print(text)


if __name__ == "__main__":
    main()
