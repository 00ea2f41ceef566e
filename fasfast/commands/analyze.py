"""``fasfast analyze``: score-domain analysis and threshold selection on score files.

Reads score files (CSV with header, bob.pad CSV, bob's 4- / 5-column files, or
``path score`` lists + labels), picks the paper's thresholds on ``--select-on`` (default:
SCORES) under the APCER definition ``--apcer`` and applies them to ``--apply-to``, prints the
Table 7-style table with confidence intervals and writes report.json / report.md /
report.html / plots. Several SCORES files (``--names``) are several systems: one table each,
a comparison table, overlaid ROC/DET, a domain-plot grid and paired tests. NaN scores are
non-responses (``--nan-policy``). Exit code 2 on unreadable input (message with file and
line on stderr).
"""

from __future__ import annotations

import argparse
import sys

from fasfast.commands._argtypes import confidence_level, int_at_least


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "scores",
        metavar="SCORES",
        nargs="+",
        help="score file(s), one per system (thresholds are selected on it unless --select-on)",
    )
    parser.add_argument(
        "--names",
        nargs="+",
        metavar="NAME",
        default=None,
        help="one name per system (default: the file names)",
    )
    parser.add_argument(
        "--select-on",
        metavar="DEV",
        nargs="+",
        default=None,
        help="score file(s) to choose the thresholds on, one per system (default: SCORES)",
    )
    parser.add_argument(
        "--apply-to",
        metavar="TEST",
        nargs="+",
        default=None,
        help="score file(s) to apply them to (default: SCORES when "
        "--select-on is given, else none)",
    )
    parser.add_argument(
        "--out", default="analysis_report", help="output folder (default: ./analysis_report)"
    )
    parser.add_argument(
        "--center",
        default="balance",
        choices=("mean", "median", "balance", "weighted_balance"),
        help="domain centre used for the plots and the cross point",
    )
    parser.add_argument(
        "--convention",
        default="paper",
        choices=("paper", "code"),
        help="paper equations (default) or the authors' code variant",
    )
    parser.add_argument(
        "--apcer",
        default="max",
        choices=("max", "pooled"),
        help="APCER definition, printed and chosen under: the worst PAI "
        "species (ISO/IEC 30107-3, default) or all attacks pooled",
    )
    parser.add_argument(
        "--eer-rule",
        default="bob",
        choices=("bob", "fvc2000", "rocch"),
        help="EER rule (default bob.measure's; see docs/analysis/conventions.md)",
    )
    parser.add_argument(
        "--placement",
        default="best",
        choices=("best", "low", "high", "midpoint"),
        help="where a target-rate threshold sits in its equal-rate interval",
    )
    parser.add_argument(
        "--border",
        default="next",
        choices=("next", "midpoint"),
        help="how a threshold taken from an attack score is applied above it",
    )
    parser.add_argument(
        "--nan-policy",
        default="nonresponse",
        choices=("nonresponse", "error"),
        help="NaN scores: non-responses (APNRR/BPNRR, default) or an error",
    )
    parser.add_argument(
        "--ci",
        type=confidence_level,
        default=0.95,
        help="confidence level of the intervals (0 turns them off)",
    )
    parser.add_argument(
        "--bootstrap",
        type=int_at_least(0),
        default=1000,
        metavar="B",
        help="bootstrap replicates for ACER/EER/AUC/threshold intervals "
        "(0: Clopper-Pearson intervals only)",
    )
    parser.add_argument("--seed", type=int_at_least(0), default=0, help="bootstrap seed")
    parser.add_argument(
        "--resample",
        default="auto",
        choices=("auto", "presentations", "videos", "subjects"),
        help="bootstrap unit (auto: whole videos when a video has several "
        "rows, else subjects when a subject has several)",
    )
    parser.add_argument(
        "--compare-at",
        default="acer_point",
        metavar="KEY",
        help="threshold row the systems are compared at (default acer_point)",
    )
    parser.add_argument(
        "--higher-is-attack",
        action="store_true",
        help="higher scores mean attack (default: higher = live)",
    )
    parser.add_argument(
        "--label-live-value",
        default="1",
        choices=("1", "0"),
        help="which numeric label means live (default 1 = live, 0 = attack)",
    )
    parser.add_argument(
        "--labels",
        metavar="LIST",
        default=None,
        help="'path label [attack_type]' file for 'path score' lists",
    )
    parser.add_argument(
        "--format",
        default="auto",
        choices=("auto", "csv", "bob", "bob4", "bob5", "list"),
        help="score file format (default: detect)",
    )
    parser.add_argument(
        "--aggregate",
        default=None,
        choices=("mean", "median", "min", "max"),
        help="aggregate rows per video before the analysis",
    )
    parser.add_argument("--title", default="fasfast score analysis", help="report title")
    parser.add_argument("--no-plots", action="store_true", help="skip the plots")


def _systems(args) -> list[dict]:
    """``[{"name", "select", "apply"}]`` paths, one per system."""
    k = len(args.scores)
    for opt in ("select_on", "apply_to", "names"):
        v = getattr(args, opt)
        if v is not None and len(v) != k:
            flag = "--" + opt.replace("_", "-")
            raise ValueError(f"{flag} takes one value per SCORES file ({k}), got {len(v)}")
    out = []
    for i, path in enumerate(args.scores):
        if args.select_on:
            sel, app = args.select_on[i], (args.apply_to[i] if args.apply_to else path)
        else:
            sel, app = path, (args.apply_to[i] if args.apply_to else None)
        out.append(
            {
                "name": args.names[i] if args.names else None,
                "select": sel,
                "apply": app,
                "path": path,
            }
        )
    return out


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fasfast.analysis import read_scores, write_report, write_systems_report
    from fasfast.analysis.io import ScoreFileError

    nan_seen = []

    def load(path):
        ss = read_scores(
            path,
            format=args.format,
            label_live_value=args.label_live_value,
            labels=args.labels,
            nan_policy=args.nan_policy,
        )
        nr = ss.nonresponse_counts()
        if sum(nr.values()):
            live = nr.pop("live", 0)
            nan_seen.append(f"{Path(path).name}: {live} bona fide, {sum(nr.values())} attack")
        if args.aggregate:
            ss = ss.aggregate(args.aggregate)
        return ss

    ci = args.ci if args.ci and args.ci > 0 else None
    opts = dict(
        center=args.center,
        higher_is_live=not args.higher_is_attack,
        convention=args.convention,
        plots=not args.no_plots,
        seed=args.seed,
        apcer=args.apcer,
        eer_rule=args.eer_rule,
        placement=args.placement,
        border=args.border,
        nan_policy=args.nan_policy,
        ci=ci,
        bootstrap=args.bootstrap if ci else 0,
        resample=args.resample,
        progress=sys.stderr.isatty(),
    )
    try:
        specs = _systems(args)
        cache: dict[str, object] = {}
        systems = []
        for spec in specs:
            for role in ("select", "apply"):
                p = spec[role]
                if p is not None and p not in cache:
                    cache[p] = load(p)
            sel = cache[spec["select"]]
            app = cache[spec["apply"]] if spec["apply"] else None
            sel.check_two_classes(str(spec["select"]))
            if app is not None:
                app.check_two_classes(str(spec["apply"]))
            name = spec["name"] or Path(spec["path"]).stem
            systems.append({"name": name, "select_on": sel, "apply_to": app})
        if nan_seen:
            print(
                "fasfast analyze: warning: NaN scores are non-responses (BPNRR/APNRR), left "
                "out of every other rate: " + "; ".join(nan_seen),
                file=sys.stderr,
            )
        if len(systems) == 1:
            s = systems[0]
            report = write_report(args.out, s["select_on"], s["apply_to"], title=args.title, **opts)
            _print_system(report)
        else:
            report = write_systems_report(
                args.out, systems, title=args.title, compare_on=args.compare_at, **opts
            )
            _print_systems(report)
    except (ScoreFileError, ValueError, OSError) as e:
        print(f"fasfast analyze: error: {e}", file=sys.stderr)
        return 2
    print(
        f"report: {Path(args.out) / 'report.html'} (also report.json, report.md"
        + (", plots/)" if not args.no_plots else ")")
    )
    return 0


def _table_of(report: dict) -> str:
    from fasfast.analysis.metrics import PadMetrics
    from fasfast.analysis.table import format_table

    def num(v):
        if isinstance(v, str) and v in ("nan", "inf", "-inf"):
            return float(v)
        if isinstance(v, dict):
            return {k: num(x) for k, x in v.items()}
        if isinstance(v, list):
            return [num(x) for x in v]
        return v

    def pm(d):
        return None if d is None else PadMetrics(**num(d))

    rows = [
        dict(r, threshold=float(r["threshold"]), select=pm(r["select"]), apply=pm(r["apply"]))
        for r in report["table"]
    ]
    sel = report["splits"]["select_on"]
    names = (
        sel["name"],
        report["splits"]["apply_to"]["name"] if "apply_to" in report["splits"] else "",
    )
    return format_table(rows, "terminal", names=names)


def _summary_line(report: dict) -> str:
    sel = report["splits"]["select_on"]
    iv = sel.get("intervals") or {}

    def ci(key):
        v = iv.get(key)
        if v and iv.get("degenerate"):
            return " [degenerate]"
        return "" if not v else f" [{100 * float(v[0]):.2f}, {100 * float(v[1]):.2f}]"

    nr = sel["nonresponses"]
    nrs = (
        f"; non-responses: {nr['live']} bona fide, {nr['attack']} attack (BPNRR "
        f"{100 * float(nr['bpnrr']):.3f}%, APNRR {100 * float(nr['apnrr']):.3f}%)"
        if nr["live"] or nr["attack"]
        else ""
    )
    return (
        f"thresholds chosen on {sel['name']} ({sel['n_live']} live, {sel['n_attack']} "
        f"attack; EER {100 * float(sel['eer']):.3f}%{ci('eer')}, AUC "
        f"{float(sel['auc']):.5f}{nrs}); centre {report['center']}, APCER "
        f"{report['conventions']['apcer']}"
    )


def _notes(report: dict) -> str:
    """How the thresholds taken from attack scores were applied (the rest: report.md)."""
    lines = []
    if any(r["key"] == "acer_point" for r in report["table"]):
        lines.append(
            "  ACER point: where APCER and BPCER meet (the rule of Huang et al. 2024, the EER point), not "
            "the lowest ACER; the lowest is the ACER-left / mid / right interval"
        )
    for r in report["table"]:
        if r["key"] in ("fake_border", "acer_left", "acer_right", "balance", "cross") and r.get(
            "note"
        ):
            lines.append(f"  {r['method']}: {r['note']}")
    return "\n".join(lines)


def _polarity_warning(report: dict, name: str = "") -> None:
    """One warning line when the scores rank attacks clearly above bona fide presentations
    (AUC below 0.5, with its bootstrap interval when there is one, else below 0.3): most
    often labels written 1 = attack, or scores where higher means attack."""
    sel = report["splits"]["select_on"]
    auc = float(sel["auc"])
    iv = (sel.get("intervals") or {}).get("auc")
    clear = (iv is not None and float(iv[1]) < 0.5) or (iv is None and auc < 0.3)
    if auc < 0.5 and clear:
        who = f"{name}: " if name else ""
        print(
            f"fasfast analyze: warning: {who}AUC {auc:.3f} on {sel['name']}: the scores rank "
            "attacks above bona fide presentations. fasfast reads label 1 as bona fide and "
            "higher scores as more bona fide: if the file's labels are 1 = attack, swap them; "
            "if higher scores mean attack, pass --higher-is-attack",
            file=sys.stderr,
        )


def _print_system(report: dict) -> None:
    _polarity_warning(report)
    print(_summary_line(report))
    print(_table_of(report))
    notes = _notes(report)
    if notes:
        print(notes)


def _print_systems(report: dict) -> None:
    for r in report["systems"]:
        _polarity_warning(r, r["name"])
        print(f"== {r['name']}: " + _summary_line(r))
        print(_table_of(r))
        notes = _notes(r)
        if notes:
            print(notes)
        print()
    print(f"== comparison at the {report['compare_on']} threshold")
    for c in report["comparison"]:
        m = c["metrics"]
        print(
            f"{c['system']:<16} {c['split']:<9} {c['data']:<16} EER "
            f"{100 * float(c['eer']):6.3f}%  AUC {float(c['auc']):.4f}  ACER "
            f"{100 * float(m['acer']):6.3f}%"
        )
    for p in report["paired"]:
        pair = " vs ".join(p["systems"])
        if "skipped" in p:
            print(f"paired {pair}: skipped ({p['skipped']})")
            continue
        d = p["acer_difference"]
        print(
            f"paired {pair} ({p['split']}, {p['n_paired']} shared ids): McNemar p="
            f"{float(p['mcnemar']['pvalue']):.4g}, DeLong AUC diff "
            f"{float(p['delong']['difference']):+.4f} p={float(p['delong']['pvalue']):.4g}, "
            f"ACER diff {100 * float(d['difference']):+.3f}% "
            f"[{100 * float(d['interval'][0]):.2f}, {100 * float(d['interval'][1]):.2f}] "
            f"p={float(d['pvalue']):.4g}"
        )
