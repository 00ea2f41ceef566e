"""Score-domain analysis and threshold selection (paper 000), without torch.

Exact definitions: :mod:`fasfast.analysis.stats` (centres, radius, normalize, density),
:mod:`fasfast.analysis.thresholds` (borders, ACER point and interval, cross and balance
points, target rates) and :mod:`fasfast.analysis.metrics` (ISO/IEC 30107-3 metrics).
Hot paths are numba kernels over sorted scores (``_kernels``), compiled once per machine
(``cache=True``) and imported on first use; matplotlib is imported inside the plot functions.
"""

from fasfast.analysis._core import CENTERS
from fasfast.analysis.io import ScoreFileError, ScoreSet, read_scores, write_scores
from fasfast.analysis.metrics import (
    PadMetrics,
    aggregate,
    analyze,
    auc,
    det_curve,
    eer,
    format_table,
    pad_metrics,
    roc_curve,
    threshold_table,
)
from fasfast.analysis.plots import (
    domain_grid,
    domain_plot,
    roc_det_plot,
    save_figure,
    score_histogram,
)
from fasfast.analysis.report import write_report
from fasfast.analysis.stats import DomainStats, domain_stats, domain_stats_all
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
    "CENTERS",
    "THRESHOLD_NAMES",
    "DomainStats",
    "OperatingPoint",
    "PadMetrics",
    "ScoreFileError",
    "ScoreSet",
    "Thresholds",
    "aggregate",
    "analyze",
    "apcer_at_bpcer",
    "auc",
    "bpcer_at_apcer",
    "det_curve",
    "domain_grid",
    "domain_plot",
    "domain_stats",
    "domain_stats_all",
    "eer",
    "format_table",
    "pad_metrics",
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
]
