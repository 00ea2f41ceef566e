"""Score analysis speed against issue 16's targets, as ratios measured side by side in one run.

Two Gaussian classes, half each: live N(0.7, 0.1), attack N(0.3, 0.1) ("separated": a usable
model) or N(0.52, 0.1) vs N(0.48, 0.1) ("near-chance": short same-class runs, the merge's
worst case). Scores in the case's dtype (float32 is analysed as float32, never widened).

Cases (each repeat times the yardstick and the work back to back; the ratio is taken per
repeat, the table gives the median ratio and the spread over the repeats):

- ``thresholds + metrics / np.sort``: ``select_thresholds`` (every threshold of the table)
  plus ``pad_metrics`` at the ACER point (one pass over the unsorted scores), against one
  ``np.sort`` of all scores in the same dtype; at 1e7 scores; target <= 1.0 (float32 and
  float64, separated), recorded only for near-chance classes;
- ``bootstrap x1000 / analysis``: 1,000 replicates (``fasfast.analysis.bootstrap``, binned
  engine: EER, AUC, least ACER, every count-based threshold) against one full
  ``fasfast.analysis.analyze``; at 1e6 scores (float64, separated); target <= 10.

    python benchmarks/analysis_speed.py [--repeat 5] [--write] [--cases f32 f64 ...]
    python benchmarks/analysis_speed.py --scale 0.1   # every size / 10, a quick look

``--write`` replaces the "Targets" section at the top of ``benchmarks/results/analysis.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "results" / "analysis.md"
BEGIN, END = "<!-- targets: begin -->", "<!-- targets: end -->"

# name: (what, dtype, classes, scores, target ratio or None = recorded)
CASES = {
    "f32": ("thresholds + metrics / np.sort", "float32", "separated", 10_000_000, 1.0),
    "f64": ("thresholds + metrics / np.sort", "float64", "separated", 10_000_000, 1.0),
    "f32-chance": ("thresholds + metrics / np.sort", "float32", "near-chance", 10_000_000, None),
    "f64-chance": ("thresholds + metrics / np.sort", "float64", "near-chance", 10_000_000, None),
    "boot": ("bootstrap x1000 / analysis", "float64", "separated", 1_000_000, 10.0),
}


def _data(rng, n, dtype, classes):
    mu_live, mu_attack = (0.7, 0.3) if classes == "separated" else (0.52, 0.48)
    live = rng.normal(mu_live, 0.1, n // 2).astype(dtype)
    attack = rng.normal(mu_attack, 0.1, n - n // 2).astype(dtype)
    return live, attack


def _timed(fn, *args, **kw):
    t = time.perf_counter()
    fn(*args, **kw)
    return time.perf_counter() - t


def thresholds_and_metrics(live, attack, allv, is_live):
    from fasfast.analysis import pad_metrics, select_thresholds

    th = select_thresholds(live, attack)
    return pad_metrics(allv, is_live, th.acer_point)


def run_case(name, repeat, scale, rng):
    """``(row dict)``: per-repeat yardstick and work times and their ratios."""
    from fasfast.analysis import analyze, bootstrap

    what, dtype, classes, n, target = CASES[name]
    n = max(2000, int(n * scale))
    live, attack = _data(rng, n, dtype, classes)
    base, work = [], []
    if name == "boot":
        analyze(live[:1000], attack[:1000])
        bootstrap(live[:1000], attack[:1000], reps=10, engine="binned")
        for _ in range(repeat):
            base.append(_timed(analyze, live, attack))
            work.append(_timed(bootstrap, live, attack, reps=1000, engine="binned"))
    else:
        allv = np.r_[live, attack]
        is_live = np.r_[np.ones(live.size, bool), np.zeros(attack.size, bool)]
        thresholds_and_metrics(
            live[:1000],
            attack[:1000],
            np.r_[live[:1000], attack[:1000]],
            np.r_[np.ones(1000, bool), np.zeros(1000, bool)],
        )
        for _ in range(repeat):
            base.append(_timed(np.sort, allv))
            work.append(_timed(thresholds_and_metrics, live, attack, allv, is_live))
    ratios = np.array(work) / np.array(base)
    med = float(np.median(ratios))
    met = "recorded" if target is None else ("yes" if med <= target else "NO")
    return dict(
        name=name,
        what=what,
        dtype=dtype,
        classes=classes,
        n=n,
        target=target,
        base=float(np.median(base)),
        work=float(np.median(work)),
        ratio=med,
        lo=float(ratios.min()),
        hi=float(ratios.max()),
        met=met,
    )


def table(rows) -> str:
    head = (
        "| case | scores | yardstick (ms) | work (ms) | ratio (median) | spread (min-max) "
        "| target | met |"
    )
    out = [head, "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        tgt = "-" if r["target"] is None else f"<= {r['target']:.1f}"
        out.append(
            f"| {r['what']}, {r['dtype']}, {r['classes']} | {r['n']:,d} | "
            f"{1e3 * r['base']:.1f} | {1e3 * r['work']:.1f} | {r['ratio']:.2f} | "
            f"{r['lo']:.2f}-{r['hi']:.2f} | {tgt} | {r['met']} |"
        )
    return "\n".join(out)


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def write(text: str) -> None:
    prev = OUT.read_text() if OUT.exists() else "# Score analysis speed\n"
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in prev and END in prev:
        new = prev[: prev.index(BEGIN)] + block + prev[prev.index(END) + len(END) :]
    else:
        first, _, rest = prev.partition("\n")
        new = f"{first}\n\n{block}\n{rest}"
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(new)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--repeat", type=int, default=5, help="repeats per case (default 5)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every size (quick look)")
    ap.add_argument(
        "--write",
        action="store_true",
        help=f"replace the Targets section of {OUT.relative_to(OUT.parents[2])}",
    )
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    load0 = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    t0 = time.time()
    rows = []
    for name in args.cases:
        r = run_case(name, args.repeat, args.scale, rng)
        rows.append(r)
        print(
            f"{name:>10}: {r['ratio']:.2f} ({r['lo']:.2f}-{r['hi']:.2f})  target "
            f"{r['target']}  met {r['met']}",
            flush=True,
        )
    load1 = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    text = table(rows)
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from fasfast.analysis._kernels_sort import use_radix

    sorts = ", ".join(
        f"{d} {'radix' if use_radix(d) else 'np.sort'}" for d in ("float32", "float64")
    )
    note = (
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}, commit {_commit()}, {cpu}, "
        f"{os.cpu_count()} cores, class sort chosen: {sorts}; {time.time() - t0:.0f} s; "
        f"load average (1 min) "
        f"{load0[0]:.2f} before, {load1[0]:.2f} after. Median of {args.repeat} repeats; "
        f"each ratio is taken within one repeat (yardstick and work back to back)."
    )
    cmd = (
        "`python benchmarks/analysis_speed.py --repeat "
        f"{args.repeat}{'' if args.scale == 1 else f' --scale {args.scale}'} --write`"
    )
    print(text)
    print(note)
    if args.write:
        write(f"## Targets (issue 16)\n\n{cmd}: {note}\n\n{text}\n")
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
