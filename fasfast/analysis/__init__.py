"""Score-domain analysis and threshold selection, without torch.

Paper: A visualization method for data domain changes in CNN networks and the
optimization method for selecting thresholds in classification tasks (Huang, Nie, Zhong,
2024) - https://arxiv.org/abs/2404.12602

Exact definitions: :mod:`fasfast.analysis.stats` (centres, radius, normalize, density),
:mod:`fasfast.analysis.thresholds` (borders, ACER point and interval, cross and balance
points, target rates, each chosen under the APCER it is printed with),
:mod:`fasfast.analysis.metrics` (ISO/IEC 30107-3 metrics with non-responses) and
:mod:`fasfast.analysis.conventions` (the options where careful tools differ). Intervals:
:mod:`fasfast.analysis.intervals` (Clopper-Pearson, fixed-threshold bootstrap) and
:mod:`fasfast.analysis.bootstrap` (EER, AUC, least ACER, chosen thresholds). Paired tests
between systems: :mod:`fasfast.analysis.compare`. Hot paths are numba kernels over sorted
scores (``_kernels``), compiled once per machine (``cache=True``) and imported on first
use; scipy and matplotlib are imported inside the functions that need them.
"""

from fasfast.analysis._core import CENTERS
from fasfast.analysis.bootstrap import bootstrap, bootstrap_scoreset
from fasfast.analysis.compare import (
    align,
    delong,
    mcnemar,
    paired_bootstrap,
    paired_bootstrap_acer,
    paired_tests,
)
from fasfast.analysis.conventions import (
    APCER_DEFINITIONS,
    BORDER_RULES,
    EER_RULES,
    PLACEMENTS,
    Conventions,
)
from fasfast.analysis.intervals import clopper_pearson
from fasfast.analysis.io import ScoreFileError, ScoreSet, read_scores, write_scores
from fasfast.analysis.metrics import (
    PadMetrics,
    aggregate,
    analyze,
    auc,
    det_curve,
    eer,
    metrics_from_counts,
    pad_metrics,
    roc_curve,
)
from fasfast.analysis.plots import (
    domain_grid,
    domain_plot,
    roc_det_plot,
    save_figure,
    score_histogram,
)
from fasfast.analysis.report import write_report
from fasfast.analysis.report_systems import write_systems_report
from fasfast.analysis.stats import DomainStats, domain_stats, domain_stats_all
from fasfast.analysis.table import format_table, threshold_table
from fasfast.analysis.thresholds import (
    THRESHOLD_NAMES,
    OperatingPoint,
    Thresholds,
    apcer_at_bpcer,
    bpcer_at_apcer,
    select_thresholds,
    tpr_at_fpr,
)

__all__ = [
    "APCER_DEFINITIONS",
    "BORDER_RULES",
    "CENTERS",
    "EER_RULES",
    "PLACEMENTS",
    "THRESHOLD_NAMES",
    "Conventions",
    "DomainStats",
    "OperatingPoint",
    "PadMetrics",
    "ScoreFileError",
    "ScoreSet",
    "Thresholds",
    "aggregate",
    "align",
    "analyze",
    "apcer_at_bpcer",
    "auc",
    "bootstrap",
    "bootstrap_scoreset",
    "bpcer_at_apcer",
    "clopper_pearson",
    "delong",
    "det_curve",
    "domain_grid",
    "domain_plot",
    "domain_stats",
    "domain_stats_all",
    "eer",
    "format_table",
    "mcnemar",
    "metrics_from_counts",
    "pad_metrics",
    "paired_bootstrap",
    "paired_bootstrap_acer",
    "paired_tests",
    "read_scores",
    "roc_curve",
    "roc_det_plot",
    "save_figure",
    "score_histogram",
    "select_thresholds",
    "threshold_table",
    "tpr_at_fpr",
    "write_report",
    "write_scores",
    "write_systems_report",
]
