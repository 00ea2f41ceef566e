"""The conventions of the analysis, named once: options, their choices and their sources.

Every choice that careful tools make differently is an option here; ``docs/analysis/
conventions.md`` gives the definitions in full. The report prints :func:`describe` for the
options it ran with.

- ``apcer``: ``"max"`` (ISO/IEC 30107-3, clause 13: APCER of the worst PAI species; the
  default) or ``"pooled"`` (all attacks as one class, the ROC's false positive rate). It
  decides the APCER printed *and* the one every threshold is chosen under (ACER point and
  interval, target-rate rows).
- ``eer_rule``: ``"bob"`` (bob.measure: ``(APCER + BPCER)/2`` where ``|APCER - BPCER|`` is
  smallest, threshold at the midpoint of those thresholds; the default), ``"fvc2000"`` (Maio
  et al. 2002, as pyeer: of the last threshold with ``BPCER <= APCER`` and the first with
  ``BPCER >= APCER``, the one with the smaller ``APCER + BPCER``), ``"rocch"`` (Bosaris /
  bob.measure ``eer_rocch``: where the ROC convex hull meets ``APCER = BPCER``).
- ``placement``: where a target-rate threshold sits inside the interval of thresholds that
  reach the same target rate: ``"best"`` (the end with the lower other error: the low end
  for BPCER-at-APCER rows, the high end for APCER-at-BPCER rows; the default), ``"low"``,
  ``"high"`` (bob.measure's ``far_threshold`` / ``frr_threshold`` take the high end) or
  ``"midpoint"``.
- ``border``: how a threshold taken from an attack score that must be rejected (the fake
  border, the open end of an interval) is applied: ``"next"`` (the next representable value
  of the scores' dtype above it; the default) or ``"midpoint"`` (halfway to the next higher
  observed score).
- ``nan_policy``: ``"nonresponse"`` (NaN scores are non-responses, ISO/IEC 30107-3 APNRR /
  BPNRR; the default) or ``"error"``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from fasfast.analysis._core import NAN_POLICIES, check_choice

__all__ = [
    "APCER_DEFINITIONS",
    "BORDER_RULES",
    "EER_RULES",
    "NAN_POLICIES",
    "PLACEMENTS",
    "Conventions",
]

APCER_DEFINITIONS = ("max", "pooled")
EER_RULES = ("bob", "fvc2000", "rocch")
PLACEMENTS = ("best", "low", "high", "midpoint")
BORDER_RULES = ("next", "midpoint")


@dataclass(frozen=True)
class Conventions:
    """The options of one analysis (see the module docstring); validated on creation."""

    apcer: str = "max"
    eer_rule: str = "bob"
    placement: str = "best"
    border: str = "next"
    nan_policy: str = "nonresponse"

    def __post_init__(self):
        check_choice(self.apcer, APCER_DEFINITIONS, "apcer definition")
        check_choice(self.eer_rule, EER_RULES, "eer_rule")
        check_choice(self.placement, PLACEMENTS, "placement")
        check_choice(self.border, BORDER_RULES, "border rule")
        check_choice(self.nan_policy, NAN_POLICIES, "nan_policy")

    def as_dict(self) -> dict:
        return asdict(self)


def describe(conv: Conventions, higher_is_live: bool = True) -> list[str]:
    """One line per convention, as the report prints them."""
    rule = "score >= t" if higher_is_live else "score <= t"
    apcer = {
        "max": "APCER = the maximum over PAI species of the species' APCER (ISO/IEC 30107-3); "
        "every threshold below is chosen under it",
        "pooled": "APCER = all attack presentations pooled (the ROC's FPR); every threshold "
        "below is chosen under it",
    }[conv.apcer]
    eer = {
        "bob": "EER: (APCER + BPCER)/2 where |APCER - BPCER| is smallest, threshold at the "
        "midpoint of those thresholds (bob.measure)",
        "fvc2000": "EER: of the last threshold with BPCER <= APCER and the first with "
        "BPCER >= APCER, the one with the smaller APCER + BPCER (FVC2000, pyeer)",
        "rocch": "EER: where the ROC convex hull meets APCER = BPCER (Bosaris, bob.measure "
        "eer_rocch); the ACER-point threshold stays bob.measure's",
    }[conv.eer_rule]
    place = {
        "best": "target-rate thresholds at the end of the equal-rate interval with the lower "
        "other error (BPCER@APCER: low end; APCER@BPCER: high end)",
        "low": "target-rate thresholds at the low end of the equal-rate interval",
        "high": "target-rate thresholds at the high end of the equal-rate interval (bob.measure)",
        "midpoint": "target-rate thresholds at the midpoint of the equal-rate interval",
    }[conv.placement]
    border = {
        "next": "thresholds taken from an attack score that must be rejected are applied at "
        "the next representable value above it",
        "midpoint": "thresholds taken from an attack score that must be rejected are applied "
        "halfway to the next higher observed score",
    }[conv.border]
    nan = {
        "nonresponse": "NaN scores are non-responses (APNRR, BPNRR), left out of every other rate",
        "error": "NaN scores are refused",
    }[conv.nan_policy]
    return [f"decision rule: live iff {rule} (ties are accepted)", apcer, eer, place, border, nan]
