"""The demo (reduced through its flags): data -> train -> dev->test report -> summary."""

from __future__ import annotations

import json

from engine_support import tiny_data

from fasfast.cli import main


def test_demo_reduced(tmp_path_factory, tmp_path, capsys):
    root = tiny_data(tmp_path_factory)
    out = tmp_path / "demo"
    rc = main(
        [
            "demo",
            "--out",
            str(out),
            "--data-root",
            str(root),
            "--epochs",
            "1",
            "--image-size",
            "32",
            "--batch-size",
            "4",
            "--max-steps",
            "2",
            "--workers",
            "0",
            "--no-progress",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "fasfast demo finished" in text and "test @ balance point" in text
    assert "report:" in text
    demo = json.loads((out / "demo.json").read_text())
    assert demo["epochs_run"] == 1
    for key in ("balance", "acer_point", "cross"):
        m = demo["test"][key]
        assert 0.0 <= m["acer"] <= 1.0
        assert m["acer"] == (m["apcer"] + m["bpcer"]) / 2
    assert (out / "eval" / "report" / "report.html").is_file()
    assert (out / "eval" / "table7.md").is_file()
    assert (out / "train" / "best.pt").is_file()
    # the demo's recipe reaches the training run (colour jitter against session 3's light)
    import yaml

    from fasfast.engine.demo import DemoConfig

    tcfg = yaml.safe_load((out / "train" / "config.yaml").read_text())
    want = DemoConfig()
    assert want.color_jitter > 0 and tcfg["color_jitter"] == want.color_jitter
    assert tcfg["schedule"] == want.schedule and tcfg["optimizer"] == want.optimizer


def test_demo_help_is_light():
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "fasfast", "demo", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and "--out" in r.stdout and "--time-limit" in r.stdout
