"""Re-runs of the papers' experiments on synthetic (or your own) data.

- :func:`run_ablation` (``fasfast reproduce ablation``): EulerNet (Cong et al. 2022) Table I +
  Fig. 7
- :func:`run_augmentation` (``fasfast reproduce augmentation``): Huang et al. 2024 Tables 1-6
- :func:`run_thresholds` (``fasfast reproduce thresholds``): Huang et al. 2024 Table 7 + Fig. 7

Each writes ``<out>/REPORT.md`` (tables, figures, and for every claim of the paper the
measured difference, its 95% interval from paired statistics over the same test samples and
the verdict by the rule of :mod:`fasfast.reproduce.verdicts`), ``results.json`` and PNG
figures. Budgets: :data:`BUDGETS` ("tiny" for CI, "quick" a smoke run that decides nothing,
"standard" the committed reports on a CPU, "full" for a GPU).
"""

from __future__ import annotations

from fasfast.reproduce.report import BUDGETS, Budget, get_budget

__all__ = ["BUDGETS", "Budget", "get_budget", "run_ablation", "run_augmentation", "run_thresholds"]


def __getattr__(name: str):
    if name == "run_ablation":
        from fasfast.reproduce.ablation import run_ablation

        return run_ablation
    if name == "run_augmentation":
        from fasfast.reproduce.augmentation import run_augmentation

        return run_augmentation
    if name == "run_thresholds":
        from fasfast.reproduce.thresholds import run_thresholds

        return run_thresholds
    raise AttributeError(name)
