"""Rendering of the analysis reports: JSON-safe values, numbers and rates as text, Markdown
and HTML tables, the HTML page (:mod:`fasfast.analysis.report`,
:mod:`fasfast.analysis.report_systems`)."""

from __future__ import annotations

import html
import math

import numpy as np


def clean(x):
    """JSON-safe copy: numpy scalars -> Python, non-finite floats -> "inf"/"-inf"/"nan"."""
    if isinstance(x, dict):
        return {str(k): clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        x = float(x)
        if math.isfinite(x):
            return x
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.ndarray):
        return clean(x.tolist())
    if hasattr(x, "as_dict"):
        return clean(x.as_dict())
    return x


def as_float(x) -> float:
    """A JSON value back to float ("inf"/"nan" strings included)."""
    return float(x)


def fmt(x, nd=5) -> str:
    if isinstance(x, str):
        try:
            x = float(x)
        except ValueError:
            return x
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    return f"{x:.{nd}f}" if math.isfinite(x) else str(x)


def pct(x) -> str:
    x = as_float(x)
    return f"{100 * x:.3f}" if x == x else "nan"


def pct_ci(x, iv, degenerate: bool = False) -> str:
    """``x`` in % with its interval; ``[degenerate]`` for a bootstrap interval that took no
    variance from a class holding a single unit (:mod:`fasfast.analysis.intervals`)."""
    s = pct(x)
    if iv is None:
        return s
    lo, hi = as_float(iv[0]), as_float(iv[1])
    if lo != lo:
        return s
    if degenerate:
        return f"{s} [degenerate]"
    return f"{s} [{100 * lo:.2f}, {100 * hi:.2f}]"


def degenerate_ci(ci: dict, key: str) -> bool:
    """Whether the interval ``key`` of a metrics ``ci`` dict is a degenerate bootstrap one
    (ACER and HTER are bootstrapped; the binomial rates are not)."""
    return key in ("acer", "hter") and bool((ci or {}).get("degenerate"))


def _md_cell(x: str) -> str:
    return str(x).replace("|", "\\|")


def md_table(head, rows) -> str:
    out = [
        "| " + " | ".join(_md_cell(h) for h in head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
    ]
    out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def html_table(head, rows) -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    b = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>"


def html_page(title: str, hb: list) -> str:
    style = (
        "body{font-family:sans-serif;max-width:1300px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;font-size:0.85em;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}img{max-width:100%}"
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{style}</style></head><body>"
        + "\n".join(hb)
        + "</body></html>"
    )
