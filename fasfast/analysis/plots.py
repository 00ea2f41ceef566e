"""Plots (matplotlib's object API on the Agg canvas; imported lazily, no pyplot state).

Paper: A visualization method for data domain changes in CNN networks and the
optimization method for selecting thresholds in classification tasks (Huang, Nie, Zhong,
2024) - https://arxiv.org/abs/2404.12602

- :func:`domain_plot`: the paper's Fig. 1/4/5/7 — the score axis drawn as a line, each class a
  translucent disc centred at ``(centre, 0)`` with its radius, every sample drawn at its
  score's distance from its class centre at a seeded random angle, vertical lines for the
  thresholds, and a legend with centre / radius / normalize / density.
- :func:`domain_grid`: a grid of domain plots (e.g. models x data sets, paper Tables 1/2).
- :func:`roc_det_plot`: ROC (log FPR) and DET (normal-deviate axes) curves.
- :func:`score_histogram`: histograms per class and attack type with the thresholds.
- :func:`save_figure`: PNG and SVG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["domain_grid", "domain_plot", "roc_det_plot", "save_figure", "score_histogram"]

LIVE_COLOR = "#2a9d8f"
ATTACK_COLOR = "#e76f51"
THRESHOLD_STYLE = {
    "fake_border": ("#264653", ":"),
    "live_border": ("#264653", "-."),
    "cross": ("#6a4c93", "--"),
    "balance": ("#d62828", "-"),
    "acer_point": ("#f4a261", "--"),
    "acer_left": ("#8d99ae", ":"),
    "acer_right": ("#8d99ae", ":"),
}
DEFAULT_LINES = ("fake_border", "live_border", "cross", "balance", "acer_point")


def _figure(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _threshold_dict(thresholds) -> dict:
    if thresholds is None:
        return {}
    if hasattr(thresholds, "as_dict"):
        return thresholds.as_dict()
    return dict(thresholds)


def _draw_thresholds(ax, thresholds: dict, lines) -> None:
    from fasfast.analysis.thresholds import threshold_name

    for name in map(threshold_name, lines):
        t = thresholds.get(name)
        if t is None or not np.isfinite(t):
            continue
        color, ls = THRESHOLD_STYLE.get(name, ("k", "--"))
        ax.axvline(t, color=color, ls=ls, lw=1.2, label=f"{name} = {t:.5f}")


def domain_plot(
    live,
    attack,
    thresholds=None,
    center: str = "balance",
    *,
    ax=None,
    title: str | None = None,
    seed: int = 0,
    max_points: int = 4000,
    names=("live", "attack"),
    higher_is_live: bool = True,
    convention: str = "paper",
    lines=DEFAULT_LINES,
    legend: bool = True,
):
    """Domain plot of two classes; returns the Figure (the one of ``ax`` if given).

    Args:
        live, attack: [N], [M] scores.  thresholds: a :class:`Thresholds`, a
            ``{name: value}`` dict, ``None`` (computed) or ``False`` (no lines).
        center: centre method for the discs.  seed: angle/sub-sampling seed.
        max_points: samples drawn per class at most (a seeded subset).
    """
    from matplotlib.patches import Circle

    from fasfast.analysis.stats import domain_stats
    from fasfast.analysis.thresholds import select_thresholds

    live = np.asarray(live, dtype=np.float64)
    attack = np.asarray(attack, dtype=np.float64)
    live, attack = live[np.isfinite(live)], attack[np.isfinite(attack)]  # the domain's scores
    if thresholds is None:
        thresholds = select_thresholds(live, attack, center, higher_is_live, convention)
    th = _threshold_dict(thresholds) if thresholds is not False else {}
    fig = ax.figure if ax is not None else _figure((8, 4.2))
    if ax is None:
        ax = fig.add_subplot(1, 1, 1)
    rng = np.random.default_rng(seed)
    lo = min(0.0, float(live.min()), float(attack.min()))
    hi = max(1.0, float(live.max()), float(attack.max()))
    ymax = 0.05
    handles = []
    for scores, name, color in ((live, names[0], LIVE_COLOR), (attack, names[1], ATTACK_COLOR)):
        st = domain_stats(scores, center, convention)
        ax.add_patch(Circle((st.center, 0.0), st.radius, color=color, alpha=0.18, lw=0))
        ax.add_patch(Circle((st.center, 0.0), st.radius, fill=False, color=color, lw=1.0))
        pts = scores if scores.size <= max_points else rng.choice(scores, max_points, False)
        d = np.abs(pts - st.center)
        ang = rng.uniform(0.0, 2 * np.pi, pts.size)
        ax.scatter(st.center + d * np.cos(ang), d * np.sin(ang), s=4, color=color, alpha=0.55, lw=0)
        ax.plot([st.center], [0.0], marker="+", color=color, ms=10, mew=2)
        ymax = max(ymax, float(d.max()) if d.size else 0.0, st.radius)
        lo = min(lo, st.center - st.radius)
        hi = max(hi, st.center + st.radius)
        handles.append(
            Circle(
                (0, 0),
                1,
                color=color,
                alpha=0.5,
                label=(
                    f"{name} (n={st.n}): c={st.center:.5f} R={st.radius:.5f} "
                    f"N={st.normalize:.4g} D={st.density:.4g}"
                ),
            )
        )
    ax.axhline(0.0, color="0.2", lw=1.0)
    _draw_thresholds(ax, th, lines)
    pad = 0.03 * (hi - lo)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(-1.08 * ymax, 1.08 * ymax)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(f"score (centre: {center})")
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    if legend:
        line_handles, _ = ax.get_legend_handles_labels()
        ax.legend(
            handles=handles + line_handles,
            fontsize=7,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0.0,
            frameon=False,
        )
    return fig


def domain_grid(
    cells,
    center: str = "balance",
    *,
    seed: int = 0,
    max_points: int = 2000,
    higher_is_live: bool = True,
    cell_size=(4.0, 2.6),
):
    """Grid of domain plots: ``cells`` maps ``(row_name, col_name)`` to a ScoreSet, a
    ``(live, attack)`` pair, or ``(live, attack, ...)`` followed by a centre name and/or a
    thresholds dict (lines drawn), e.g. data sets x models (paper Tables 1/2). Returns the
    Figure."""
    cells = dict(cells)
    if not cells:
        raise ValueError("domain_grid needs at least one cell")
    rows = list(dict.fromkeys(r for r, _ in cells))
    cols = list(dict.fromkeys(c for _, c in cells))
    fig = _figure((cell_size[0] * len(cols), cell_size[1] * len(rows)))
    axes = fig.subplots(len(rows), len(cols), squeeze=False)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            ax = axes[i][j]
            v = cells.get((r, c))
            if v is None:
                ax.set_axis_off()
                continue
            ctr, th = center, None
            if hasattr(v, "live"):
                live, attack = v.live, v.attack
            else:
                live, attack, *rest = v
                for extra in rest:
                    if isinstance(extra, str):
                        ctr = extra
                    else:
                        th = extra
            domain_plot(
                live,
                attack,
                th,
                ctr,
                ax=ax,
                title=f"{r} | {c}",
                seed=seed,
                max_points=max_points,
                higher_is_live=higher_is_live,
                legend=False,
            )
            ax.set_xlabel("")
    return fig


def _decimate(*arrays, n_max: int = 4000):
    k = arrays[0].size
    if k <= n_max:
        return arrays
    idx = np.unique(np.r_[np.linspace(0, k - 1, n_max).astype(np.int64), k - 1])
    return tuple(a[idx] for a in arrays)


def roc_det_plot(curves, higher_is_live: bool = True):
    """ROC and DET side by side, one curve per entry (several systems overlaid). ``curves``:
    ``{name: ScoreSet or (live, attack)}``. The curves pool the attacks (NaN scores, the
    non-responses, are left out)."""
    from scipy.special import ndtri

    from fasfast.analysis.curves import auc, eer, roc_curve

    fig = _figure((10, 4.2))
    ax_roc, ax_det = fig.subplots(1, 2)
    eps = 1e-5
    for name, v in dict(curves).items():
        live, attack = (v.live, v.attack) if hasattr(v, "live") else v
        fpr, tpr, _ = roc_curve(live, attack, higher_is_live)
        a = auc(live, attack, higher_is_live)
        e = eer(live, attack, higher_is_live)
        f, t = _decimate(fpr, tpr)
        ax_roc.plot(np.maximum(f, eps), t, lw=1.4, label=f"{name} AUC={a:.4f}")
        x = ndtri(np.clip(f, eps, 1 - eps))
        y = ndtri(np.clip(1 - t, eps, 1 - eps))
        ax_det.plot(x, y, lw=1.4, label=f"{name} EER(pooled)={100 * e:.3f}%")
    ax_roc.set_xscale("log")
    ax_roc.set_xlim(eps, 1)
    ax_roc.set_ylim(0, 1.01)
    ax_roc.set_xlabel("FPR (attacks accepted, pooled over PAI species)")
    ax_roc.set_ylabel("TPR (live accepted)")
    ax_roc.set_title("ROC")
    ax_roc.grid(alpha=0.3)
    ax_roc.legend(fontsize=8, loc="lower right")
    ticks = np.array([0.001, 0.01, 0.05, 0.2, 0.5, 0.8])
    for setter, lim in ((ax_det.set_xticks, ax_det.set_xlim), (ax_det.set_yticks, ax_det.set_ylim)):
        setter(ndtri(ticks), [f"{100 * p:g}" for p in ticks])
        lim(ndtri(0.0005), ndtri(0.9))
    ax_det.plot(ndtri(ticks), ndtri(ticks), color="0.7", lw=0.8, ls=":")
    ax_det.set_xlabel("APCER, pooled (%)")
    ax_det.set_ylabel("BPCER (%)")
    ax_det.set_title("DET")
    ax_det.grid(alpha=0.3)
    ax_det.legend(fontsize=8, loc="upper right")
    return fig


def score_histogram(
    scores, thresholds=None, *, bins: int = 60, title: str | None = None, lines=DEFAULT_LINES
):
    """Histograms of a ScoreSet's live scores and of each attack type, with thresholds."""
    fig = _figure((8, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    s = scores.scores
    fin = np.isfinite(s)
    edges = np.histogram_bin_edges(s[fin], bins=bins)
    lv = s[fin & (scores.labels == 1)]
    ax.hist(lv, bins=edges, color=LIVE_COLOR, alpha=0.55, label=f"live ({lv.size})")
    att = (scores.labels == 0) & fin
    types = sorted(set(scores.attack_types[att].tolist()))
    cmap = ["#e76f51", "#e9c46a", "#9c6644", "#bc4749", "#7209b7", "#3a86ff"]
    for k, ty in enumerate(types):
        v = s[att & (scores.attack_types == ty)]
        ax.hist(
            v,
            bins=edges,
            histtype="step",
            lw=1.6,
            color=cmap[k % len(cmap)],
            label=f"{ty} ({v.size})",
        )
    _draw_thresholds(ax, _threshold_dict(thresholds), lines)
    ax.set_xlabel("score")
    ax.set_ylabel("count")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def save_figure(fig, stem, formats=("png", "svg"), dpi: int = 120) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.svg``; returns the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in formats:
        p = stem.with_suffix(f".{fmt}")
        fig.savefig(p, dpi=dpi, format=fmt)
        out.append(p)
    return out
