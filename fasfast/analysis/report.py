"""``write_report``: report.json, report.md, a self-contained report.html and the plots of
one system, with every rate's confidence interval and the conventions used.

One system: thresholds chosen on ``select_on`` (every method), applied to ``apply_to``.
Several systems (:func:`fasfast.analysis.report_systems.write_systems_report`) are built
from this module's steps (:func:`analyse_system`, :func:`report_dict`, :func:`system_plots`,
:func:`report_header`, :func:`system_section`, :func:`plot_blocks`); both render with
:mod:`fasfast.analysis._render`.

Length: over the project's ~450-line guide once ruff-formatted, because the single-system
report writes one set of facts three ways (Markdown, HTML, JSON) that must agree; the
several-system report and the rendering helpers are already apart.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
from pathlib import Path

import numpy as np

from fasfast.analysis._core import CENTERS, units_of
from fasfast.analysis._render import (
    as_float,
    clean,
    degenerate_ci,
    fmt,
    html_page,
    html_table,
    md_table,
    pct_ci,
)

__all__ = ["write_report"]


def _summary(
    ss, center: str, higher_is_live: bool, convention: str, conv, ci, reps, seed, resample, progress
) -> dict:
    from fasfast.analysis.bootstrap import bootstrap
    from fasfast.analysis.intervals import clopper_pearson, max_interval
    from fasfast.analysis.metrics import analyze
    from fasfast.analysis.stats import domain_stats

    ss.check_two_classes(ss.name or "scores")
    lab = ss.labels
    att = lab == 0
    nr = ss.nonresponse_counts()
    res = analyze(
        ss.scores[lab == 1],
        ss.scores[att],
        CENTERS,
        center,
        higher_is_live,
        convention,
        attack_types=ss.attack_types[att],
        apcer=conv.apcer,
        eer_rule=conv.eer_rule,
        placement=conv.placement,
        border=conv.border,
        nonresponses=ss.nonresponses,
        nan_policy=conv.nan_policy,
    )
    ok = ~np.isnan(ss.scores)
    per_type = {}
    for ty in sorted(set(ss.attack_types[att & ok].tolist())):
        v = ss.scores[att & ok & (ss.attack_types == ty)]
        if np.isfinite(v).any():
            per_type[ty] = domain_stats(v, center, convention).as_dict()
    types, counts = np.unique(ss.attack_types[att & ok], return_counts=True)
    n_live = int((ok & (lab == 1)).sum())
    n_att = int((ok & att).sum())
    species = {
        str(t): int((ok & att & (ss.attack_types == t)).sum())
        for t in np.unique(ss.attack_types[att])
    }
    for k in nr:
        if k != "live":
            species.setdefault(k, 0)
    nr_live = nr.get("live", 0)
    nr_sp = {k: v for k, v in nr.items() if k != "live"}
    apnrr_per = {
        k: (nr_sp.get(k, 0) / (n + nr_sp.get(k, 0)) if n + nr_sp.get(k, 0) else math.nan)
        for k, n in species.items()
    }
    nr_att = sum(nr_sp.values())
    nonresp = dict(
        live=nr_live,
        per_type=nr_sp,
        attack=nr_att,
        bpnrr=nr_live / (n_live + nr_live) if n_live + nr_live else math.nan,
        apnrr_pooled=nr_att / (n_att + nr_att) if n_att + nr_att else math.nan,
        apnrr_per_type=apnrr_per,
    )
    finite = [v for v in apnrr_per.values() if v == v]
    nonresp["apnrr"] = (
        (max(finite) if finite else math.nan) if conv.apcer == "max" else nonresp["apnrr_pooled"]
    )
    if ci is not None:
        counts_ = [(nr_sp.get(k, 0), n + nr_sp.get(k, 0)) for k, n in species.items()]
        nonresp["ci"] = dict(
            bpnrr=clopper_pearson(nr_live, n_live + nr_live, ci),
            apnrr=(
                max_interval(counts_, ci)
                if conv.apcer == "max"
                else clopper_pearson(nr_att, n_att + nr_att, ci)
            ),
            apnrr_per_type={k: clopper_pearson(*c, ci) for k, c in zip(species, counts_)},
        )
    out = dict(
        name=ss.name,
        n=len(ss),
        n_live=n_live,
        n_attack=n_att,
        attack_types=dict(zip(types.tolist(), counts.tolist())),
        nonresponses=nonresp,
        eer=res["eer"],
        auc=res["auc"],
        min_acer=res["min_acer"],
        stats={c: {k: v.as_dict() for k, v in d.items()} for c, d in res["stats"].items()},
        stats_per_attack_type=per_type,
        cross_per_center=res["cross"],
        thresholds=_thresholds_dict(res["thresholds"]),
        threshold_notes=res["thresholds"].notes,
        targets={k: v.as_dict() for k, v in res["targets"].items()},
    )
    if ci is not None and reps:
        units, what = units_of(ss, resample)
        b = bootstrap(
            ss.scores[lab == 1],
            ss.scores[att],
            attack_types=ss.attack_types[att],
            live_units=None if units is None else units[lab == 1],
            attack_units=None if units is None else units[att],
            higher_is_live=higher_is_live,
            center=center,
            convention=convention,
            apcer=conv.apcer,
            eer_rule=conv.eer_rule,
            placement=conv.placement,
            border=conv.border,
            reps=reps,
            seed=seed,
            level=ci,
            progress=progress,
            unit=what.rstrip("s"),
        )
        out["intervals"] = {k: b[k] for k in ("eer", "auc", "min_acer")}
        if b["degenerate"]:
            out["intervals"]["degenerate"] = b["degenerate"]
        out["bootstrap"] = b
    return out


def _thresholds_dict(th) -> dict:
    d = dict(th.table_dict())
    d["fake_border_score"] = th.fake_border_score
    d["live_border_score"] = th.live_border_score
    return d


def _stats_rows(summary: dict, center: str) -> list[list[str]]:
    rows = []
    for cls in ("live", "attack"):
        for c in CENTERS:
            st = summary["stats"][c][cls]
            mark = " *" if c == center else ""
            rows.append(
                [
                    cls,
                    c + mark,
                    fmt(st["center"]),
                    fmt(st["radius"]),
                    fmt(st["normalize"]),
                    fmt(st["density"]),
                    fmt(st["min"]),
                    fmt(st["max"]),
                    str(st["n"]),
                ]
            )
    for ty, st in summary["stats_per_attack_type"].items():
        rows.append(
            [
                f"attack:{ty}",
                center,
                fmt(st["center"]),
                fmt(st["radius"]),
                fmt(st["normalize"]),
                fmt(st["density"]),
                fmt(st["min"]),
                fmt(st["max"]),
                str(st["n"]),
            ]
        )
    return rows


STATS_HEAD = ["class", "centre", "center", "radius", "normalize", "density", "min", "max", "n"]


def _table_rows(table, has_apply: bool, names, apcer: str):
    head = ["method", "threshold"]
    parts = [("select", names[0])] + ([("apply", names[1])] if has_apply else [])
    nr = {
        s: any(r[s] is not None and (r[s]["n_live_nr"] or r[s]["n_attack_nr"]) for r in table)
        for s, _ in parts
    }
    a = "APCER" if apcer == "max" else "APCER(pooled)"
    for s, label in parts:
        head += [
            f"{label} {a}%",
            f"{label} BPCER%",
            f"{label} ACER%",
            f"{label} FPR%",
            f"{label} TPR%",
        ]
        if nr[s]:
            head += [f"{label} APNRR%", f"{label} BPNRR%"]
    rows = []
    for r in table:
        line = [r["method"], fmt(r["threshold"])]
        for s, _ in parts:
            m = r[s]
            ci = m.get("ci") or {}
            keys = ("apcer", "bpcer", "acer", "fpr", "tpr") + (("apnrr", "bpnrr") if nr[s] else ())
            line += [pct_ci(m[k], ci.get(k), degenerate_ci(ci, k)) for k in keys]
        rows.append(line)
    return head, rows


def _split_text(s: dict) -> tuple[str, str]:
    iv = s.get("intervals") or {}
    dg = bool(iv.get("degenerate"))
    types = ", ".join(f"{k}: {v}" for k, v in s["attack_types"].items())
    summ = (
        f"{s['n']} rows: {s['n_live']} bona fide and {s['n_attack']} attack responses "
        f"({types}); EER {pct_ci(s['eer'], iv.get('eer'), dg)}%, AUC "
        f"{fmt(s['auc'])}"
        + (
            " [degenerate]"
            if dg and iv.get("auc")
            else (f" [{fmt(iv['auc'][0], 4)}, {fmt(iv['auc'][1], 4)}]" if iv.get("auc") else "")
        )
        + f", least ACER {pct_ci(s['min_acer'], iv.get('min_acer'), dg)}%"
        + (f" (intervals degenerate: {'; '.join(iv['degenerate'])})" if dg else "")
    )
    nr = s["nonresponses"]
    ci = nr.get("ci") or {}
    per = ", ".join(
        f"{k} {pct_ci(v, (ci.get('apnrr_per_type') or {}).get(k))}%"
        for k, v in nr["apnrr_per_type"].items()
    )
    nrs = (
        f"Non-responses (left out of every rate above): BPNRR "
        f"{pct_ci(nr['bpnrr'], ci.get('bpnrr'))}% ({nr['live']} bona fide), APNRR "
        f"{pct_ci(nr['apnrr'], ci.get('apnrr'))}% ({nr['attack']} attacks; per species: "
        f"{per})"
    )
    return summ, nrs


def report_dict(
    title, center, convention, higher_is_live, conv, splits, table, ci, reps, seed
) -> dict:
    from fasfast.analysis.conventions import describe

    sel = splits["select_on"]
    return dict(
        title=title,
        created=_dt.datetime.now().isoformat(timespec="seconds"),
        center=center,
        convention=convention,
        higher_is_live=higher_is_live,
        rule=("live iff score >= threshold" if higher_is_live else "live iff score <= threshold"),
        conventions=conv.as_dict(),
        conventions_text=describe(conv, higher_is_live),
        intervals=dict(level=ci, bootstrap_replicates=reps, seed=seed),
        splits=splits,
        thresholds=sel["thresholds"],
        threshold_notes=sel["threshold_notes"],
        table=[
            dict(
                key=r["key"],
                method=r["method"],
                threshold=r["threshold"],
                note=r.get("note", ""),
                select=r["select"].as_dict(),
                apply=None if r["apply"] is None else r["apply"].as_dict(),
            )
            for r in table
        ],
        plots={},
    )


def analyse_system(
    select_on,
    apply_to,
    center,
    higher_is_live,
    convention,
    conv,
    ci,
    reps,
    seed,
    resample,
    progress,
):
    from fasfast.analysis.table import threshold_table

    select_on.name = select_on.name or "select"
    splits = {
        "select_on": _summary(
            select_on, center, higher_is_live, convention, conv, ci, reps, seed, resample, progress
        )
    }
    if apply_to is not None:
        apply_to.name = apply_to.name or "apply"
        splits["apply_to"] = _summary(
            apply_to, center, higher_is_live, convention, conv, ci, reps, seed, resample, progress
        )
    table = threshold_table(
        select_on,
        apply_to,
        center,
        higher_is_live,
        convention,
        apcer=conv.apcer,
        eer_rule=conv.eer_rule,
        placement=conv.placement,
        border=conv.border,
        nan_policy=conv.nan_policy,
        ci=ci,
        bootstrap=reps,
        seed=seed,
        resample=resample,
    )
    return splits, table


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
    *,
    apcer: str = "max",
    eer_rule: str = "bob",
    placement: str = "best",
    border: str = "next",
    nan_policy: str = "nonresponse",
    ci: float | None = 0.95,
    bootstrap: int = 1000,
    resample: str = "auto",
    progress: bool = False,
) -> dict:
    """Analyse ``select_on`` (thresholds chosen there) and ``apply_to`` (thresholds applied).

    Writes into ``out_dir``: ``report.json``, ``report.md``, ``report.html`` (self-contained,
    images embedded as base64 PNG) and ``plots/*.png|svg`` (domain plots of both splits with
    the selected thresholds, a grid of the four centres, ROC/DET, histograms). Every rate
    carries a confidence interval at level ``ci`` (Clopper-Pearson; bootstrap with
    ``bootstrap`` replicates for ACER, EER, AUC and the chosen thresholds, resampling
    ``resample`` units). Options as in :mod:`fasfast.analysis.conventions`.
    Returns the report dict (what report.json holds).
    """
    from fasfast.analysis._core import check_center, check_convention
    from fasfast.analysis.conventions import Conventions

    check_center(center)
    check_convention(convention)
    conv = Conventions(
        apcer=apcer, eer_rule=eer_rule, placement=placement, border=border, nan_policy=nan_policy
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    splits, table = analyse_system(
        select_on,
        apply_to,
        center,
        higher_is_live,
        convention,
        conv,
        ci,
        bootstrap,
        seed,
        resample,
        progress,
    )
    report = report_dict(
        title, center, convention, higher_is_live, conv, splits, table, ci, bootstrap, seed
    )
    if plots:
        report["plots"] = system_plots(
            out, select_on, apply_to, report["thresholds"], center, higher_is_live, convention, seed
        )
    report = clean(report)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    md, body = _render(report, apply_to is not None, out)
    (out / "report.md").write_text(md)
    (out / "report.html").write_text(body)
    return report


def system_plots(
    out: Path,
    select_on,
    apply_to,
    thresholds,
    center,
    higher_is_live,
    convention,
    seed,
    prefix: str = "",
) -> dict:
    from fasfast.analysis.plots import (
        domain_grid,
        domain_plot,
        roc_det_plot,
        save_figure,
        score_histogram,
    )

    pdir = out / "plots"
    files = {}
    th = {k: as_float(v) for k, v in thresholds.items() if not k.endswith("_score")}

    def keep(key, fig):
        paths = save_figure(fig, pdir / f"{prefix}{key}")
        files[f"{prefix}{key}"] = [str(p.relative_to(out)) for p in paths]

    sets = [("select_on", select_on)] + ([("apply_to", apply_to)] if apply_to is not None else [])
    for key, ss in sets:
        keep(
            f"domain_{key}",
            domain_plot(
                ss.live,
                ss.attack,
                th,
                center,
                seed=seed,
                higher_is_live=higher_is_live,
                convention=convention,
                title=f"{ss.name}: thresholds chosen on {select_on.name} (centre {center})",
            ),
        )
        keep(f"hist_{key}", score_histogram(ss, th, title=ss.name))
    grid = {(ss.name, f"centre {c}"): (ss.live, ss.attack, c) for _, ss in sets for c in CENTERS}
    fig = domain_grid(grid, center=center, seed=seed, higher_is_live=higher_is_live)
    keep("domain_grid_centres", fig)
    keep("roc_det", roc_det_plot({ss.name: ss for _, ss in sets}, higher_is_live))
    return files


def system_section(report_sys: dict, has_apply: bool, level: int = 2) -> tuple[list, list]:
    """Markdown and HTML blocks of one system's splits and thresholds table."""
    h = "#" * level
    md, hb = [], []
    center = report_sys["center"]
    names = (
        report_sys["splits"]["select_on"]["name"],
        report_sys["splits"]["apply_to"]["name"] if has_apply else "",
    )
    for key, s in report_sys["splits"].items():
        summ, nrs = _split_text(s)
        srows = _stats_rows(s, center)
        md += [f"{h} {key}: {s['name']}", "", summ, "", nrs, "", md_table(STATS_HEAD, srows), ""]
        hb += [
            f"<h{level}>{html.escape(key)}: {html.escape(s['name'])}</h{level}>",
            f"<p>{html.escape(summ)}</p>",
            f"<p>{html.escape(nrs)}</p>",
            html_table(STATS_HEAD, srows),
        ]
    head, rows = _table_rows(
        report_sys["table"], has_apply, names, report_sys["conventions"]["apcer"]
    )
    lv = report_sys["intervals"]["level"]
    cap = (
        f"Thresholds chosen on {names[0]} (Table 7 layout, rates in %"
        + (
            f", {100 * as_float(lv):g}% confidence intervals in brackets"
            if lv not in (None, "nan")
            else ""
        )
        + ")"
    )
    md += [f"{h} {cap}", "", md_table(head, rows), ""]
    hb += [f"<h{level}>{html.escape(cap)}</h{level}>", html_table(head, rows)]
    notes = [[r["method"], fmt(r["threshold"]), r.get("note", "")] for r in report_sys["table"]]
    boot = report_sys["splits"]["select_on"].get("bootstrap")
    if boot:
        for n in notes:
            key = next(r["key"] for r in report_sys["table"] if r["method"] == n[0])
            iv = boot["thresholds"].get(key)
            n.append(
                ""
                if not iv or as_float(iv[0]) != as_float(iv[0])
                else ("degenerate" if boot.get("degenerate") else f"[{fmt(iv[0])}, {fmt(iv[1])}]")
            )
    nh = ["method", "threshold", "how it was chosen and applied"] + (
        ["bootstrap interval"] if boot else []
    )
    md += [f"{h} How each threshold was obtained", "", md_table(nh, notes), ""]
    hb += [f"<h{level}>How each threshold was obtained</h{level}>", html_table(nh, notes)]
    if boot:
        line = (
            f"Bootstrap: {boot['replicates']} replicates (seed {boot['seed']}, "
            f"{boot['engine']} engine), resampling {boot['resampling']}; percentile "
            "intervals. Binomial rates: Clopper-Pearson; the worst species' APCER: "
            "Clopper-Pearson per species with a Bonferroni correction."
            + (
                f" Degenerate (no interval printed): {'; '.join(boot['degenerate'])}."
                if boot.get("degenerate")
                else ""
            )
        )
        md += [line, ""]
        hb += [f"<p>{html.escape(line)}</p>"]
    return md, hb


def plot_blocks(plots: dict, out: Path) -> tuple[list, list]:
    md, hb = ["## Plots", ""], ["<h2>Plots</h2>"]
    for key, paths in plots.items():
        png = next(p for p in paths if p.endswith(".png"))
        md += [f"![{key}]({png})", ""]
        data = base64.b64encode((out / png).read_bytes()).decode("ascii")
        hb += [
            f"<figure><img alt='{html.escape(key)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{html.escape(key)}</figcaption></figure>"
        ]
    return md, hb


def report_header(report: dict, has_apply: bool) -> tuple[list, list]:
    sel = report["splits"]["select_on"]["name"] if "splits" in report else ""
    intro = (
        f"Created {report['created']}. Rule: {report['rule']}. Centre: {report['center']} "
        f"(convention: {report['convention']})."
        + (f" Thresholds chosen on `{sel}`" if sel else "")
        + (
            f", applied to `{report['splits']['apply_to']['name']}`."
            if has_apply
            else ("." if sel else "")
        )
    )
    md = (
        [f"# {report['title']}", "", intro, "", "Conventions (docs/analysis/conventions.md):", ""]
        + [f"- {line}" for line in report["conventions_text"]]
        + [""]
    )
    hb = [
        f"<h1>{html.escape(report['title'])}</h1>",
        f"<p>{html.escape(intro)}</p>",
        "<p>Conventions (docs/analysis/conventions.md):</p><ul>"
        + "".join(f"<li>{html.escape(x)}</li>" for x in report["conventions_text"])
        + "</ul>",
    ]
    return md, hb


def _render(report: dict, has_apply: bool, out: Path) -> tuple[str, str]:
    md, hb = report_header(report, has_apply)
    m2, h2 = system_section(report, has_apply)
    md += m2
    hb += h2
    if report["plots"]:
        m3, h3 = plot_blocks(report["plots"], out)
        md += m3
        hb += h3
    return "\n".join(md), html_page(report["title"], hb)
