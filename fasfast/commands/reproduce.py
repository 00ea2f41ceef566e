"""``fasfast reproduce {ablation,augmentation,thresholds}``: the papers' experiments re-run.

- ``ablation``: EulerNet presets baseline, C1..C5 (Cong et al. 2022, Table I, Fig. 7)
- ``augmentation``: ConvNeXt-V2 with / without down-sampling and blur on a cross-domain
  split (Huang et al. 2024, Tables 1-6)
- ``thresholds``: thresholds chosen on train, applied to dev (Huang et al. 2024, Table 7, Fig. 7)

Each writes ``<out>/REPORT.md`` with the tables, PNG figures and, for every claim of the
paper, the measured difference, its 95% interval from paired statistics and the verdict
(:mod:`fasfast.reproduce.verdicts`). Budgets: the default ("standard") is the one whose
reports are committed (the models learn; 3 seeds; 10-40 minutes each on a shared 2-core CPU
with ``--threads 1``: each report states its CPU time),
``--quick`` a smoke run (minutes; decides nothing), ``--tiny`` for CI (seconds), ``--full``
the paper-sized budget for a GPU. Without ``--data`` a synthetic data set is generated under
``<work>/data``.
"""

from __future__ import annotations

import argparse
import sys

EXPERIMENTS = ("ablation", "augmentation", "thresholds")


def _common(p: argparse.ArgumentParser, name: str) -> None:
    b = p.add_mutually_exclusive_group()
    b.add_argument(
        "--quick",
        dest="budget",
        action="store_const",
        const="quick",
        help="smoke run: a few minutes, checks the pipeline, decides nothing",
    )
    b.add_argument(
        "--tiny",
        dest="budget",
        action="store_const",
        const="tiny",
        help="CI budget: seconds; checks the pipeline, numbers are meaningless",
    )
    b.add_argument(
        "--full",
        dest="budget",
        action="store_const",
        const="full",
        help="the paper-sized budget (meant for a GPU; hours on a CPU)",
    )
    p.set_defaults(budget="standard")
    p.add_argument("--out", default=f"runs/reproduce/{name}", help="report folder")
    p.add_argument(
        "--work", default=None, help="folder for data, checkpoints and caches (default <out>/work)"
    )
    p.add_argument(
        "--data", default=None, help="OULU-NPU-shaped data root (default: generate synthetic data)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="override the budget's epochs")
    p.add_argument(
        "--subjects", type=int, default=None, help="synthetic subjects (override the budget)"
    )
    p.add_argument("--workers", type=int, default=None, help="data loader workers")
    p.add_argument("--seeds", type=int, default=None, help="seeds per model (override)")
    p.add_argument(
        "--artefacts",
        type=float,
        default=None,
        help="synthetic difficulty knob (override; see fasfast synth --artefacts)",
    )
    p.add_argument(
        "--recapture",
        type=float,
        default=None,
        help="synthetic attack media detail loss (override; see fasfast synth --recapture)",
    )
    p.add_argument(
        "--unit",
        default="subject",
        choices=("subject", "video"),
        help="resampling unit of the paired bootstrap (default subject)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch CPU threads (default 0: torch's own choice; the committed "
        "reports use 1 on a shared 2-core machine)",
    )
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "examples:\n"
        "  fasfast reproduce ablation --out docs/reproduce/ablation\n"
        "  fasfast reproduce augmentation --quick     # smoke run\n"
        "  fasfast reproduce thresholds --checkpoint runs/x/best.pt --data data/oulu\n"
    )
    sub = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT")
    p = sub.add_parser("ablation", help="EulerNet Table I ablation + Fig. 7 curves")
    _common(p, "ablation")
    p.add_argument(
        "--presets",
        default="C1,C2,C3,C4,C5,baseline",
        help="comma-separated presets (default all of Table I)",
    )
    p = sub.add_parser("augmentation", help="down-sampling / blur on a cross-domain split")
    _common(p, "augmentation")
    p.add_argument("--protocols", default="p2.1,p2.2", help="p2.1 and/or p2.2")
    p.add_argument(
        "--variants",
        default="orig,down,blur,extend",
        help="comma-separated from orig, down, blur, extend",
    )
    p.add_argument("--model", default=None, help="timm classifier (override the budget)")
    p = sub.add_parser("thresholds", help="Table 7: thresholds from train applied to dev")
    _common(p, "thresholds")
    p.add_argument(
        "--checkpoint",
        default=None,
        help="trained checkpoint (default: train a small EulerNet first)",
    )
    p.add_argument("--dataset", default="oulu", help="oulu | uniattack | list")
    p.add_argument("--protocol", default="1")
    p.add_argument(
        "--level",
        default=None,
        choices=("frame", "sequence", "video"),
        help="score level (default: sequence for EulerNet, frame for classifiers)",
    )
    p.add_argument(
        "--center", default="balance", choices=("mean", "median", "balance", "weighted_balance")
    )


def _split(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def run(args: argparse.Namespace) -> int:
    if getattr(args, "experiment", None) not in EXPERIMENTS:
        print(
            "fasfast reproduce: error: choose an experiment: " + ", ".join(EXPERIMENTS),
            file=sys.stderr,
        )
        return 2
    from pathlib import Path

    from fasfast.reproduce.report import get_budget

    over = {
        "epochs": args.epochs,
        "subjects": args.subjects,
        "workers": args.workers,
        "seeds": args.seeds,
        "artefacts": args.artefacts,
        "recapture": args.recapture,
    }
    if args.experiment == "augmentation":
        over["cls_epochs"] = over.pop("epochs")
        over["cls_model"] = args.model
        over["cls_recapture"] = over.pop("recapture")
    budget = get_budget(args.budget, **over)
    if args.threads < 0:
        raise ValueError(f"--threads must be >= 0, got {args.threads}")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.budget == "full":
        import torch

        if not torch.cuda.is_available():
            print("note: the full budget is meant for a GPU; use --quick on a CPU", file=sys.stderr)
    out = Path(args.out)
    work = Path(args.work) if args.work else None
    common = dict(data=args.data, work=work, seed=args.seed, progress=args.progress, unit=args.unit)
    if args.experiment == "ablation":
        from fasfast.reproduce.ablation import PRESETS, run_ablation

        presets = _split(args.presets)
        bad = [p for p in presets if p not in PRESETS]
        if bad or not presets:
            raise ValueError(f"unknown preset(s) {bad}; choose from {PRESETS}")
        run_ablation(out, budget, presets=presets, **common)
    elif args.experiment == "augmentation":
        from fasfast.reproduce.augmentation import PROTOCOLS, VARIANTS, run_augmentation

        protocols, variants = _split(args.protocols), _split(args.variants)
        bad = [p for p in protocols if p not in PROTOCOLS] + [
            v for v in variants if v not in VARIANTS
        ]
        if bad or not protocols or not variants:
            raise ValueError(
                f"unknown protocol / variant {bad}; protocols {tuple(PROTOCOLS)}"
                f", variants {VARIANTS}"
            )
        run_augmentation(out, budget, protocols=protocols, variants=variants, **common)
    else:
        from fasfast.reproduce.thresholds import run_thresholds

        run_thresholds(
            out,
            budget,
            checkpoint=args.checkpoint,
            dataset=args.dataset,
            protocol=args.protocol,
            level=args.level,
            center=args.center,
            **common,
        )
    print(f"report: {Path(args.out) / 'REPORT.md'}")
    return 0
