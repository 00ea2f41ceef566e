"""``fasfast train``: train EulerNet or a ConvNeXt-V2 classifier.

Flags override the ``--config`` YAML, which overrides the defaults (``TrainConfig``).
Multi-GPU / multi-node: ``torchrun --nproc_per_node N -m fasfast train ...``.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fasfast.engine.config import add_train_arguments

    parser.epilog = (
        "examples:\n"
        "  fasfast train --data-root data/oulu --protocol 1 --preset baseline --epochs 50\n"
        "  fasfast train --config run.yaml --no-use-fcam --out runs/c4\n"
        "  fasfast train --model convnextv2_atto --dataset uniattack --protocol p2.1 "
        "--downsample live:2 --blur 1.0\n"
        "  torchrun --nproc_per_node 4 -m fasfast train --config run.yaml"
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_train_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from fasfast.engine import distributed as du
    from fasfast.engine.config import config_from_args
    from fasfast.engine.training import train

    cfg = config_from_args(args)
    result = train(cfg)
    if du.is_main():
        best = result.best_metrics
        print(
            f"best checkpoint: {result.best_checkpoint}"
            + (
                f" (epoch {best.get('epoch')}, dev ACER {100 * best['dev_acer']:.2f}%)"
                if "dev_acer" in best
                else ""
            )
        )
        print(f"last checkpoint: {result.last_checkpoint}")
        print(f"log: {result.out_dir / 'log.csv'}")
    return 0
