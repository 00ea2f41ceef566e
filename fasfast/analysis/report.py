"""``write_report``: report.json, report.md, a self-contained report.html and the plots."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
from pathlib import Path

import numpy as np

from fasfast.analysis._core import CENTERS

__all__ = ["write_report"]


def _clean(x):
    """JSON-safe copy: numpy scalars -> Python, non-finite floats -> "inf"/"-inf"/"nan"."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        x = float(x)
        if math.isfinite(x):
            return x
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    if hasattr(x, "as_dict"):
        return _clean(x.as_dict())
    return x


def _summary(ss, center: str, higher_is_live: bool, convention: str) -> dict:
    from fasfast.analysis.metrics import analyze
    from fasfast.analysis.stats import domain_stats

    ss.check_two_classes(ss.name or "scores")
    res = analyze(ss.live, ss.attack, CENTERS, center, higher_is_live, convention)
    per_type = {}
    att = ss.labels == 0
    for ty in sorted(set(ss.attack_types[att].tolist())):
        v = ss.scores[att & (ss.attack_types == ty)]
        per_type[ty] = domain_stats(v, center, convention).as_dict()
    types, counts = np.unique(ss.attack_types[att], return_counts=True)
    return dict(
        name=ss.name,
        n=len(ss),
        n_live=int((ss.labels == 1).sum()),
        n_attack=int(att.sum()),
        attack_types=dict(zip(types.tolist(), counts.tolist())),
        eer=res["eer"],
        auc=res["auc"],
        min_acer=res["min_acer"],
        stats={c: {k: v.as_dict() for k, v in d.items()} for c, d in res["stats"].items()},
        stats_per_attack_type=per_type,
        cross_per_center=res["cross"],
        thresholds=res["thresholds"].as_dict(),
        targets={k: v.as_dict() for k, v in res["targets"].items()},
    )


def _fmt(x, nd=5) -> str:
    if isinstance(x, str):
        return x
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    return f"{x:.{nd}f}" if math.isfinite(x) else str(x)


def _stats_rows(summary: dict, center: str) -> list[list[str]]:
    rows = []
    for cls in ("live", "attack"):
        for c in CENTERS:
            st = summary["stats"][c][cls]
            mark = " *" if c == center else ""
            rows.append([cls, c + mark, _fmt(st["center"]), _fmt(st["radius"]),
                         _fmt(st["normalize"]), _fmt(st["density"]), _fmt(st["min"]),
                         _fmt(st["max"]), str(st["n"])])
    for ty, st in summary["stats_per_attack_type"].items():
        rows.append([f"attack:{ty}", center, _fmt(st["center"]), _fmt(st["radius"]),
                     _fmt(st["normalize"]), _fmt(st["density"]), _fmt(st["min"]),
                     _fmt(st["max"]), str(st["n"])])
    return rows


STATS_HEAD = ["class", "centre", "center", "radius", "normalize", "density", "min", "max", "n"]


def _md_table(head, rows) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _html_table(head, rows) -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    b = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>"


def _table_rows(table, has_apply: bool):
    head = ["method", "threshold"]
    parts = ["select"] + (["apply"] if has_apply else [])
    for s in parts:
        head += [f"{s} APCER%", f"{s} BPCER%", f"{s} ACER%", f"{s} FPR%", f"{s} TPR%"]
    rows = []
    for r in table:
        line = [r["method"], _fmt(r["threshold"])]
        for s in parts:
            m = r[s]
            line += [f"{100 * m[k]:.3f}" for k in ("apcer", "bpcer", "acer", "fpr", "tpr")]
        rows.append(line)
    return head, rows


def write_report(
    out_dir,
    select_on,
    apply_to=None,
    center: str = "balance",
    title: str = "fasfast score analysis",
    higher_is_live: bool = True,
    convention: str = "paper",
    plots: bool = True,
    seed: int = 0,
) -> dict:
    """Analyse ``select_on`` (thresholds chosen there) and ``apply_to`` (thresholds applied).

    Writes into ``out_dir``: ``report.json``, ``report.md``, ``report.html`` (self-contained,
    images embedded as base64 PNG) and ``plots/*.png|svg`` (domain plots of both splits with
    the selected thresholds, a grid of the four centres, ROC/DET, histograms).
    Returns the report dict (what report.json holds).
    """
    from fasfast.analysis._core import check_center, check_convention
    from fasfast.analysis.metrics import threshold_table

    check_center(center)
    check_convention(convention)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    select_on.name = select_on.name or "select"
    splits = {"select_on": _summary(select_on, center, higher_is_live, convention)}
    if apply_to is not None:
        apply_to.name = apply_to.name or "apply"
        splits["apply_to"] = _summary(apply_to, center, higher_is_live, convention)
    table = threshold_table(select_on, apply_to, center, higher_is_live, convention)
    thresholds = splits["select_on"]["thresholds"]
    report = dict(
        title=title,
        created=_dt.datetime.now().isoformat(timespec="seconds"),
        center=center,
        convention=convention,
        higher_is_live=higher_is_live,
        rule=("live iff score >= threshold" if higher_is_live
              else "live iff score <= threshold"),
        splits=splits,
        thresholds=thresholds,
        table=[dict(key=r["key"], method=r["method"], threshold=r["threshold"],
                    select=r["select"].as_dict(),
                    apply=None if r["apply"] is None else r["apply"].as_dict())
               for r in table],
        plots={},
    )
    if plots:
        report["plots"] = _plots(out, select_on, apply_to, thresholds, center, higher_is_live,
                                 convention, seed)
    report = _clean(report)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    md, body = _render(report, apply_to is not None, out)
    (out / "report.md").write_text(md)
    (out / "report.html").write_text(body)
    return report


def _plots(out: Path, select_on, apply_to, thresholds, center, higher_is_live, convention,
           seed) -> dict:
    from fasfast.analysis.plots import (
        domain_grid,
        domain_plot,
        roc_det_plot,
        save_figure,
        score_histogram,
    )

    pdir = out / "plots"
    files = {}

    def keep(key, fig):
        paths = save_figure(fig, pdir / key)
        files[key] = [str(p.relative_to(out)) for p in paths]

    sets = [("select_on", select_on)] + ([("apply_to", apply_to)] if apply_to is not None else [])
    for key, ss in sets:
        keep(f"domain_{key}", domain_plot(
            ss.live, ss.attack, thresholds, center, seed=seed, higher_is_live=higher_is_live,
            convention=convention,
            title=f"{ss.name}: thresholds chosen on {select_on.name} (centre {center})"))
        keep(f"hist_{key}", score_histogram(ss, thresholds, title=ss.name))
    grid = {(ss.name, f"centre {c}"): (ss.live, ss.attack, c) for _, ss in sets for c in CENTERS}
    fig = domain_grid(grid, center=center, seed=seed, higher_is_live=higher_is_live)
    keep("domain_grid_centres", fig)
    keep("roc_det", roc_det_plot({ss.name: ss for _, ss in sets}, higher_is_live))
    return files


def _render(report: dict, has_apply: bool, out: Path) -> tuple[str, str]:
    center = report["center"]
    head, rows = _table_rows(report["table"], has_apply)
    md = [f"# {report['title']}", "",
          f"Created {report['created']}. Rule: {report['rule']}. Centre: {center} "
          f"(convention: {report['convention']}). Thresholds chosen on "
          f"`{report['splits']['select_on']['name']}`"
          + (f", applied to `{report['splits']['apply_to']['name']}`." if has_apply else "."),
          ""]
    hb = [f"<h1>{html.escape(report['title'])}</h1>", f"<p>{html.escape(md[2])}</p>"]
    for key, s in report["splits"].items():
        summ = (f"{s['n']} scores: {s['n_live']} live, {s['n_attack']} attack "
                f"({', '.join(f'{k}: {v}' for k, v in s['attack_types'].items())}); "
                f"EER {100 * float(s['eer']):.3f}%, AUC {float(s['auc']):.5f}, "
                f"min ACER {100 * float(s['min_acer']):.3f}%")
        srows = _stats_rows(s, center)
        md += [f"## {key}: {s['name']}", "", summ, "", _md_table(STATS_HEAD, srows), ""]
        hb += [f"<h2>{html.escape(key)}: {html.escape(s['name'])}</h2>",
               f"<p>{html.escape(summ)}</p>", _html_table(STATS_HEAD, srows)]
    md += ["## Thresholds (Table 7 layout, rates in %)", "", _md_table(head, rows), ""]
    hb += ["<h2>Thresholds (Table 7 layout, rates in %)</h2>", _html_table(head, rows)]
    if report["plots"]:
        md += ["## Plots", ""]
        hb += ["<h2>Plots</h2>"]
        for key, paths in report["plots"].items():
            png = next(p for p in paths if p.endswith(".png"))
            md += [f"![{key}]({png})", ""]
            data = base64.b64encode((out / png).read_bytes()).decode("ascii")
            hb += [f"<figure><img alt='{html.escape(key)}' src='data:image/png;base64,{data}'>"
                   f"<figcaption>{html.escape(key)}</figcaption></figure>"]
    style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:0.85em;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}img{max-width:100%}")
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(report['title'])}</title><style>{style}</style></head><body>"
            + "\n".join(hb) + "</body></html>")
    return "\n".join(md), page
