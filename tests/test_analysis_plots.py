"""Plots and the report: files exist, well formed, reproducible."""

import base64
import json

import numpy as np
import pytest

from fasfast.analysis import (
    ScoreSet,
    domain_grid,
    domain_plot,
    roc_det_plot,
    save_figure,
    score_histogram,
    select_thresholds,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _ss(rng, n=120, shift=0.0, name=""):
    lab = (np.arange(n) % 3 == 0).astype(int)
    types = np.where(lab == 1, "live", np.where(np.arange(n) % 2, "print", "replay"))
    s = np.where(lab == 1, rng.normal(0.75, 0.08, n), rng.normal(0.3, 0.1, n)) + shift
    return ScoreSet(np.arange(n), lab, s, types, name=name)


def test_domain_plot_geometry_and_seed(rng):
    ss = _ss(rng)
    th = select_thresholds(ss.live, ss.attack)
    fig = domain_plot(ss.live, ss.attack, th, seed=3)
    ax = fig.axes[0]
    # two discs (fill + outline per class), centred on the axis at the balance centres
    from matplotlib.patches import Circle

    discs = [p for p in ax.patches if isinstance(p, Circle)]
    assert len(discs) == 4
    centres = sorted({round(p.center[0], 12) for p in discs})
    want = sorted(round(v, 12) for v in (th.live_stats.center, th.attack_stats.center))
    assert centres == want
    # every sample lies at its score's distance from its class centre
    pts = ax.collections[0].get_offsets()
    d = np.hypot(pts[:, 0] - th.live_stats.center, pts[:, 1])
    np.testing.assert_allclose(
        np.sort(d), np.sort(np.abs(ss.live - th.live_stats.center)), atol=1e-12
    )
    xs = {round(line.get_xdata()[0], 12) for line in ax.lines if len(line.get_xdata()) == 2}
    assert round(th.balance, 12) in xs and round(th.cross, 12) in xs
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "R=" in legend and "N=" in legend and "D=" in legend
    again = domain_plot(ss.live, ss.attack, th, seed=3).axes[0].collections[0].get_offsets()
    np.testing.assert_array_equal(pts, again)


def test_save_png_svg_and_other_plots(tmp_path, rng):
    a, b = _ss(rng, name="A"), _ss(rng, shift=0.05, name="B")
    figs = {
        "grid": domain_grid(
            {("dev", "m1"): a, ("dev", "m2"): b, ("test", "m1"): (a.live, a.attack, "mean")}
        ),
        "roc": roc_det_plot({"A": a, "B": (b.live, b.attack)}),
        "hist": score_histogram(a, select_thresholds(a.live, a.attack)),
    }
    assert len(figs["grid"].axes) == 4
    for k, f in figs.items():
        png, svg = save_figure(f, tmp_path / k)
        assert png.read_bytes()[:8] == PNG_MAGIC
        assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()
    with pytest.raises(ValueError, match="at least one cell"):
        domain_grid({})


def test_write_report(tmp_path, rng):
    dev, test = _ss(rng, name="dev"), _ss(rng, shift=0.04, name="test")
    rep = write_report(tmp_path / "r", dev, test, center="balance", title="T")
    d = tmp_path / "r"
    loaded = json.loads((d / "report.json").read_text())
    assert loaded == rep
    assert loaded["title"] == "T" and loaded["center"] == "balance"
    assert set(loaded["splits"]) == {"select_on", "apply_to"}
    assert loaded["thresholds"]["balance"] == select_thresholds(dev.live, dev.attack).balance
    assert set(loaded["splits"]["select_on"]["stats"]) == {
        "mean",
        "median",
        "balance",
        "weighted_balance",
    }
    for paths in loaded["plots"].values():
        for p in paths:
            assert (d / p).is_file()
    assert {"domain_select_on", "domain_apply_to", "roc_det", "domain_grid_centres"} <= set(
        loaded["plots"]
    )
    html = (d / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    imgs = html.split("data:image/png;base64,")[1:]
    assert len(imgs) == len(loaded["plots"])
    assert base64.b64decode(imgs[0].split("'")[0])[:8] == PNG_MAGIC
    assert "src='plots/" not in html  # self-contained
    md = (d / "report.md").read_text()
    assert "| Balance point |" in md and "![roc_det](plots/roc_det.png)" in md
