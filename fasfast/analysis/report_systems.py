"""``write_systems_report``: several systems in one report (report.json, report.md, a
self-contained report.html and the plots): one :mod:`fasfast.analysis.report` section per
system, a comparison table, overlaid ROC / DET curves, Huang et al. 2024's grid of domain
plots (models x data sets) and, for systems scored on the same presentations, paired tests
(McNemar, DeLong, paired bootstrap; :mod:`fasfast.analysis.compare`).

Paper: A visualization method for data domain changes in CNN networks and the
optimization method for selecting thresholds in classification tasks (Huang, Nie, Zhong,
2024) - https://arxiv.org/abs/2404.12602
"""

from __future__ import annotations

import datetime as _dt
import html
import json
from pathlib import Path

from fasfast.analysis._render import (
    as_float,
    clean,
    degenerate_ci,
    fmt,
    html_page,
    html_table,
    md_table,
    pct,
    pct_ci,
)
from fasfast.analysis.report import (
    analyse_system,
    plot_blocks,
    report_dict,
    report_header,
    system_plots,
    system_section,
)

__all__ = ["write_systems_report"]


def write_systems_report(
    out_dir,
    systems: list[dict],
    center: str = "balance",
    title: str = "fasfast score analysis: system comparison",
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
    compare_on: str = "acer_point",
    progress: bool = False,
) -> dict:
    """Several systems at once. ``systems``: ``[{"name", "select_on", "apply_to"}]`` (ScoreSets;
    ``apply_to`` optional). Writes one section per system, a comparison table (EER, AUC,
    least ACER, the ``compare_on`` threshold's rates, with intervals), overlaid ROC/DET,
    a domain-plot grid (data sets x systems) and, for every pair of systems scored on the
    same presentations (same ids), McNemar at each system's ``compare_on`` threshold,
    DeLong for the AUC difference and a paired bootstrap of the ACER difference.
    Returns the report dict (report.json).
    """
    from fasfast.analysis._core import check_center, check_convention
    from fasfast.analysis.conventions import Conventions

    check_center(center)
    check_convention(convention)
    if len(systems) < 1:
        raise ValueError("write_systems_report needs at least one system")
    names = [s["name"] for s in systems]
    if len(set(names)) != len(names):
        raise ValueError(f"system names must differ, got {names}")
    conv = Conventions(
        apcer=apcer, eer_rule=eer_rule, placement=placement, border=border, nan_policy=nan_policy
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reports = []
    for s in systems:
        sel, app = s["select_on"], s.get("apply_to")
        splits, table = analyse_system(
            sel,
            app,
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
        r = report_dict(
            f"{title}: {s['name']}",
            center,
            convention,
            higher_is_live,
            conv,
            splits,
            table,
            ci,
            bootstrap,
            seed,
        )
        r["name"] = s["name"]
        reports.append(r)
    from fasfast.analysis.thresholds import threshold_name

    compare_on = threshold_name(compare_on)
    comparison = _comparison(reports, compare_on)
    paired = _paired(
        systems, reports, compare_on, higher_is_live, conv, ci, bootstrap, seed, resample
    )
    report = dict(
        title=title,
        created=_dt.datetime.now().isoformat(timespec="seconds"),
        center=center,
        convention=convention,
        higher_is_live=higher_is_live,
        rule=reports[0]["rule"],
        conventions=conv.as_dict(),
        conventions_text=reports[0]["conventions_text"],
        compare_on=compare_on,
        systems=reports,
        comparison=comparison,
        paired=paired,
        plots={},
    )
    if plots:
        report["plots"] = _systems_plots(
            out, systems, reports, center, higher_is_live, convention, seed
        )
    report = clean(report)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    md, body = _render_systems(report, out)
    (out / "report.md").write_text(md)
    (out / "report.html").write_text(body)
    return report


def _comparison(reports: list[dict], key: str) -> list[dict]:
    rows = []
    for r in reports:
        row = next((t for t in r["table"] if t["key"] == key), None)
        if row is None:
            raise ValueError(f"unknown threshold {key!r} to compare systems at")
        for split, s in r["splits"].items():
            m = row["select" if split == "select_on" else "apply"]
            rows.append(
                dict(
                    system=r["name"],
                    split=split,
                    data=s["name"],
                    eer=s["eer"],
                    auc=s["auc"],
                    min_acer=s["min_acer"],
                    intervals=s.get("intervals"),
                    threshold=row["threshold"],
                    apcer=m.apcer if hasattr(m, "apcer") else m["apcer"],
                    metrics=m if isinstance(m, dict) else m.as_dict(),
                )
            )
    return rows


def _paired(systems, reports, key, higher_is_live, conv, ci, reps, seed, resample) -> list:
    from fasfast.analysis.compare import paired_tests

    out = []
    for i in range(len(systems)):
        for j in range(i + 1, len(systems)):
            for split in ("apply_to", "select_on"):
                a, b = systems[i].get(split), systems[j].get(split)
                if a is None or b is None:
                    continue
                ta = next(t["threshold"] for t in reports[i]["table"] if t["key"] == key)
                tb = next(t["threshold"] for t in reports[j]["table"] if t["key"] == key)
                try:
                    res = paired_tests(
                        a,
                        b,
                        ta,
                        tb,
                        higher_is_live=higher_is_live,
                        apcer=conv.apcer,
                        reps=reps or 1000,
                        seed=seed,
                        level=ci or 0.95,
                        resample=resample,
                    )
                except ValueError as e:
                    res = {"skipped": str(e)}
                out.append(
                    dict(
                        systems=[systems[i]["name"], systems[j]["name"]],
                        split=split,
                        data=[a.name, b.name],
                        threshold=key,
                        **res,
                    )
                )
                break  # the apply split when there is one: the honest comparison
    return out


def _systems_plots(out, systems, reports, center, higher_is_live, convention, seed) -> dict:
    from fasfast.analysis.plots import domain_grid, roc_det_plot, save_figure

    files = {}
    for s, r in zip(systems, reports):
        prefix = f"{_slug(s['name'])}_"
        files.update(
            system_plots(
                out,
                s["select_on"],
                s.get("apply_to"),
                r["thresholds"],
                center,
                higher_is_live,
                convention,
                seed,
                prefix,
            )
        )
    curves = {}
    for s in systems:
        ss = s.get("apply_to") or s["select_on"]
        curves[f"{s['name']} ({ss.name})"] = ss
    p = save_figure(roc_det_plot(curves, higher_is_live), out / "plots" / "roc_det_systems")
    files["roc_det_systems"] = [str(x.relative_to(out)) for x in p]
    cells = {}
    for s, r in zip(systems, reports):
        for split in ("select_on", "apply_to"):
            ss = s.get(split)
            if ss is not None:
                th = {
                    k: as_float(v) for k, v in r["thresholds"].items() if not k.endswith("_score")
                }
                role = "thresholds chosen on" if split == "select_on" else "applied to"
                cells[(role, s["name"])] = (ss.live, ss.attack, th)
    if len(cells) > 1:
        fig = domain_grid(cells, center=center, seed=seed, higher_is_live=higher_is_live)
        p = save_figure(fig, out / "plots" / "domain_grid_systems")
        files["domain_grid_systems"] = [str(x.relative_to(out)) for x in p]
    return files


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:40] or "system"


def _render_systems(report: dict, out: Path) -> tuple[str, str]:
    md, hb = report_header(report, False)
    head = [
        "system",
        "split",
        "data",
        "EER%",
        "AUC",
        "least ACER%",
        f"{report['compare_on']} threshold",
        "APCER%",
        "BPCER%",
        "ACER%",
    ]
    rows = []
    for c in report["comparison"]:
        iv = c.get("intervals") or {}
        m = c["metrics"]
        ci = m.get("ci") or {}
        rows.append(
            [
                c["system"],
                c["split"],
                c["data"],
                pct_ci(c["eer"], iv.get("eer"), bool(iv.get("degenerate"))),
                fmt(c["auc"], 4),
                pct_ci(c["min_acer"], iv.get("min_acer"), bool(iv.get("degenerate"))),
                fmt(c["threshold"]),
                pct_ci(m["apcer"], ci.get("apcer")),
                pct_ci(m["bpcer"], ci.get("bpcer")),
                pct_ci(m["acer"], ci.get("acer"), degenerate_ci(ci, "acer")),
            ]
        )
    md += ["## Comparison", "", md_table(head, rows), ""]
    hb += ["<h2>Comparison</h2>", html_table(head, rows)]
    if report["paired"]:
        ph = [
            "systems",
            "split",
            "McNemar p (errors)",
            "DeLong AUC diff",
            "DeLong p",
            "ACER diff",
            "ACER diff interval",
            "paired bootstrap p",
        ]
        pr = []
        for p in report["paired"]:
            if "skipped" in p:
                pr.append([" vs ".join(p["systems"]), p["split"], p["skipped"], "", "", "", "", ""])
                continue
            mc, dl, pb = p["mcnemar"], p["delong"], p["acer_difference"]
            pr.append(
                [
                    " vs ".join(p["systems"]),
                    p["split"],
                    fmt(mc["pvalue"], 4),
                    fmt(dl["difference"], 4),
                    fmt(dl["pvalue"], 4),
                    pct(pb["difference"]),
                    f"[{pct(pb['interval'][0])}, {pct(pb['interval'][1])}]",
                    fmt(pb["pvalue"], 4),
                ]
            )
        line = (
            "Paired tests on the presentations both systems scored (matched by id): "
            "McNemar (exact binomial) on the errors at each system's "
            f"{report['compare_on']} threshold, DeLong's test of the AUC difference, and "
            "a paired stratified bootstrap of the ACER difference at those thresholds."
        )
        md += ["## Paired tests", "", line, "", md_table(ph, pr), ""]
        hb += ["<h2>Paired tests</h2>", f"<p>{html.escape(line)}</p>", html_table(ph, pr)]
    for r in report["systems"]:
        has_apply = "apply_to" in r["splits"]
        md += [f"## System {r['name']}", ""]
        hb += [f"<h2>System {html.escape(r['name'])}</h2>"]
        m2, h2 = system_section(r, has_apply, level=3)
        md += m2
        hb += h2
    if report["plots"]:
        m3, h3 = plot_blocks(report["plots"], out)
        md += m3
        hb += h3
    return "\n".join(md), html_page(report["title"], hb)
