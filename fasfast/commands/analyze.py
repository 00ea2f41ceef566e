"""``fasfast analyze``: score-domain analysis and threshold selection on score files.

Reads a score file (CSV with header, bob.pad CSV, or ``path score`` list + labels), picks the
paper's thresholds on ``--select-on`` (default: SCORES) and applies them to ``--apply-to``,
prints the Table 7-style table and writes report.json / report.md / report.html / plots.
Exit code 2 on unreadable input (message with file and line on stderr).
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scores", metavar="SCORES",
                        help="score file (thresholds are selected on it unless --select-on)")
    parser.add_argument("--select-on", metavar="DEV", default=None,
                        help="score file to choose the thresholds on (default: SCORES)")
    parser.add_argument("--apply-to", metavar="TEST", default=None,
                        help="score file to apply them to (default: SCORES when --select-on "
                             "is given, else none)")
    parser.add_argument("--out", default="analysis_report",
                        help="output folder (default: ./analysis_report)")
    parser.add_argument("--center", default="balance",
                        choices=("mean", "median", "balance", "weighted_balance"),
                        help="domain centre used for the plots and the cross point")
    parser.add_argument("--convention", default="paper", choices=("paper", "code"),
                        help="paper equations (default) or the authors' code variant")
    parser.add_argument("--higher-is-attack", action="store_true",
                        help="higher scores mean attack (default: higher = live)")
    parser.add_argument("--label-live-value", default="1", choices=("1", "0"),
                        help="which numeric label means live (default 1 = live, 0 = attack)")
    parser.add_argument("--labels", metavar="LIST", default=None,
                        help="'path label [attack_type]' file for 'path score' lists")
    parser.add_argument("--format", default="auto", choices=("auto", "csv", "bob", "list"),
                        help="score file format (default: detect)")
    parser.add_argument("--aggregate", default=None, choices=("mean", "median", "min", "max"),
                        help="aggregate rows per video before the analysis")
    parser.add_argument("--title", default="fasfast score analysis", help="report title")
    parser.add_argument("--no-plots", action="store_true", help="skip the plots")


def run(args: argparse.Namespace) -> int:
    from fasfast.analysis import format_table, read_scores, write_report
    from fasfast.analysis.io import ScoreFileError

    def load(path):
        ss = read_scores(path, format=args.format, label_live_value=args.label_live_value,
                         labels=args.labels)
        if args.aggregate:
            ss = ss.aggregate(args.aggregate)
        return ss

    try:
        if args.select_on:
            select_on = load(args.select_on)
            apply_path = args.apply_to or args.scores
        else:
            select_on = load(args.scores)
            apply_path = args.apply_to
        apply_to = load(apply_path) if apply_path else None
        select_on.check_two_classes(str(args.select_on or args.scores))
        if apply_to is not None:
            apply_to.check_two_classes(str(apply_path))
        report = write_report(args.out, select_on, apply_to, center=args.center,
                              title=args.title, higher_is_live=not args.higher_is_attack,
                              convention=args.convention, plots=not args.no_plots)
    except ScoreFileError as e:
        print(f"fasfast analyze: error: {e}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as e:
        print(f"fasfast analyze: error: {e}", file=sys.stderr)
        return 2
    from fasfast.analysis.metrics import PadMetrics

    rows = [dict(r, select=PadMetrics(**r["select"]),
                 apply=None if r["apply"] is None else PadMetrics(**r["apply"]))
            for r in report["table"]]
    for r in rows:
        r["threshold"] = float(r["threshold"])
    sel = report["splits"]["select_on"]
    print(f"thresholds chosen on {sel['name']} ({sel['n_live']} live, {sel['n_attack']} attack;"
          f" EER {100 * sel['eer']:.3f}%, AUC {sel['auc']:.5f}); centre {args.center}")
    names = (sel["name"], report["splits"]["apply_to"]["name"] if apply_to is not None else "")
    print(format_table(rows, "terminal", names=names))
    print(f"report: {args.out}/report.html (also report.json, report.md"
          + (", plots/)" if not args.no_plots else ")"))
    return 0
