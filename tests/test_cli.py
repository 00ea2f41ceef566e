import json
import os
import subprocess
import sys

import pytest

import fasfast
from fasfast.cli import COMMANDS, main


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "fasfast", *args], capture_output=True, text=True, timeout=120
    )


def test_version():
    r = _run("--version")
    assert r.returncode == 0
    assert fasfast.__version__ in r.stdout


def test_help_lists_every_command():
    r = _run("--help")
    assert r.returncode == 0
    for name in COMMANDS:
        assert name in r.stdout


def test_help_does_not_import_torch():
    code = "import sys; from fasfast.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "False"


def test_command_help_does_not_import_torch():
    """Every sub-command's ``--help`` builds its parser without torch (it stays instant)."""
    code = (
        "import sys; from fasfast.cli import COMMANDS, build_parser\n"
        "heavy = []\n"
        "for name in COMMANDS:\n"
        "    build_parser(name)\n"
        "    if 'torch' in sys.modules: heavy.append(name); break\n"
        "print(heavy)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_every_command_module_builds_its_parser():
    from fasfast.cli import build_parser

    for name in COMMANDS:
        parser = build_parser(name)
        assert parser is not None


def test_info_json_reports_extension():
    r = _run("info", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    import torch

    assert info["torch"] == torch.__version__
    assert info["extension_loaded"] is True, info.get("extension_error")
    assert "cpu" in info["compiled_backends"]
    assert info["cuda_kernels_usable"] == (
        torch.cuda.is_available() and "cuda" in info["compiled_backends"]
    )
    assert info["reference_ops"] is (os.environ.get("FASFAST_REFERENCE_OPS", "0") == "1")


def test_info_plain(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "extension_loaded" in out and "torch" in out


# ------------------------------------------------------------------ one error style
# Every command, given a missing file and a corrupt one, ends with ONE line
# "fasfast <command>: error: ..." on stderr and exit code 2, no traceback.
# (info reads no file: its bad-input case is an unknown option, argparse's exit 2.)
def _files(tmp):
    """The inputs the cases below name (relative to ``tmp``)."""
    garbage = b"garbage\x00\x01 this is not what the name says" * 4
    for name in ("bad.pt", "bad.avi", "bad.csv", "faces/a.png"):
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(garbage)
    (tmp / "bad.yaml").write_text("epochs: [1, 2\n")
    (tmp / "notes.txt").write_text("not a folder of benchmarks\n")
    import torch

    from fasfast.engine import checkpoint as ck
    from fasfast.models import EulerNet, EulerNetConfig

    m = EulerNet(EulerNetConfig.preset("tiny", image_size=16, widths=(4, 6, 4)))
    ck.save_checkpoint(
        tmp / "good.pt",
        {
            "kind": "eulernet",
            "model_config": m.config.to_dict(),
            "model": m.state_dict(),
            "epoch": 1,
        },
    )
    torch.save(m.state_dict(), tmp / "plain.pt")


# command -> {"missing": argv, "corrupt": argv, ...} -> fragment of the one error line
CASES = {
    "demo": {
        ("demo", "--data-root", "nope", "--out", "o"): "data root not found: nope",
        ("demo", "--data-root", "bad.pt", "--out", "o"): "bad.pt",
    },
    "train": {
        ("train", "--data-root", "nope", "--out", "o"): "data root not found: nope",
        ("train", "--config", "bad.yaml"): "config file bad.yaml is not valid YAML",
        ("train", "--config", "nope.yaml"): "config file not found: nope.yaml",
        ("train", "--data-root", ".", "--init", "nope.pt"): "not found: nope.pt",
        ("train", "--data-root", ".", "--init", "bad.pt"): "bad.pt is not a PyTorch",
    },
    "eval": {
        ("eval", "nope.pt", "--data-root", "."): "checkpoint not found: nope.pt",
        ("eval", "bad.pt", "--data-root", "."): "bad.pt is not a PyTorch",
        ("eval", "good.pt", "--data-root", "nope"): "nope",
    },
    "predict": {
        ("predict", "bad.avi", "-c", "nope.pt"): "checkpoint not found: nope.pt",
        ("predict", "bad.avi", "-c", "bad.pt"): "bad.pt is not a PyTorch",
        ("predict", "nope.avi", "-c", "good.pt"): "input not found: nope.avi",
        ("predict", "bad.avi", "-c", "good.pt", "--threshold", "nan"): "finite number, got nan",
    },
    "protocol": {
        ("protocol", "oulu", "--data-root", "nope", "--out", "o"): "not found: nope",
        ("protocol", "oulu", "--data-root", "bad.pt", "--out", "o"): "bad.pt",
    },
    "analyze": {
        ("analyze", "nope.csv"): "nope.csv",
        ("analyze", "bad.csv"): "bad.csv:1: cannot tell the format",
    },
    "label": {
        ("label", "nope.avi", "--out", "o"): "not found: nope.avi",
        ("label", "bad.avi", "--out", "o"): "cannot open video bad.avi",
    },
    "synth": {
        ("synth", "--out", "o", "--faces", "nope"): "not found: nope",
        (
            "synth",
            "--out",
            "o",
            "--faces",
            "faces",
            "--no-progress",
        ): "cannot decode image faces/a.png",
    },
    "export": {
        ("export", "nope.pt"): "checkpoint not found: nope.pt",
        ("export", "bad.pt"): "bad.pt is not a PyTorch",
    },
    "bench": {
        ("bench", "--benchmarks-dir", "nope", "ops"): "--benchmarks-dir nope is not",
        ("bench", "--benchmarks-dir", "notes.txt", "ops"): "notes.txt is not a folder",
    },
    "reproduce": {
        (
            "reproduce",
            "thresholds",
            "--tiny",
            "--checkpoint",
            "nope.pt",
            "--data",
            ".",
            "--out",
            "o",
        ): "not found: nope.pt",
        (
            "reproduce",
            "thresholds",
            "--tiny",
            "--checkpoint",
            "bad.pt",
            "--data",
            ".",
            "--out",
            "o",
        ): "bad.pt is not a PyTorch",
    },
    "explain": {
        ("explain", "nope.pt", "bad.avi", "--out", "o"): "not found: nope.pt",
        ("explain", "bad.pt", "bad.avi", "--out", "o"): "bad.pt is not a PyTorch",
        ("explain", "good.pt", "nope.avi", "--out", "o"): "nope.avi",
        ("explain", "good.pt", "bad.avi", "--out", "o"): "cannot open video bad.avi",
        (
            "explain",
            "plain.pt",
            "bad.avi",
            "--out",
            "o",
            "--model",
            "resnet_nope",
        ): "unknown timm model 'resnet_nope'",
    },
    "prepare": {
        ("prepare", "--data-root", "nope", "--cache-dir", "c"): "data root not found: nope",
        (
            "prepare",
            "--data-root",
            "bad.pt",
            "--cache-dir",
            "c",
        ): "data root bad.pt is a file, not a folder",
        ("prepare", "--data-root", ".", "--cache-dir", "c", "--shard", "3/2"): "3/2",
    },
    "magnify": {
        ("magnify", "nope.avi", "--out", "o.avi"): "not found: nope.avi",
        ("magnify", "bad.avi", "--out", "o.avi"): "cannot open video bad.avi",
    },
}
NO_FILE_INPUT = {"info"}


def test_every_command_has_error_cases():
    assert set(COMMANDS) - NO_FILE_INPUT <= set(CASES), "add the new command's rows to CASES"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli_errors")
    _files(tmp)
    return tmp


@pytest.mark.parametrize(
    "argv,fragment",
    [(a, f) for c in CASES.values() for a, f in c.items()],
    ids=lambda v: "_".join(v)[:60] if isinstance(v, tuple) else "",
)
def test_bad_input_is_one_line_exit_2(workdir, monkeypatch, capsys, argv, fragment):
    monkeypatch.chdir(workdir)
    rc = main(list(argv))
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"fasfast {argv[0]}") and ": error: " in lines[0], lines[0]
    assert fragment in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("bad", ["bad.avi", "faces/a.png"])
def test_predict_exit_2_only_when_no_input_could_be_read(workdir, monkeypatch, capsys, bad):
    """A corrupt video (unreadable when counted) and a corrupt image (unreadable when
    decoded) end the same way: an ``error`` row and exit 2 when nothing else was given;
    beside a readable input, an ``error`` row and exit 0. The reason is on stderr."""
    import numpy as np
    from PIL import Image

    from fasfast.data.video import DataWarning

    monkeypatch.chdir(workdir)
    with pytest.warns(DataWarning, match=f"unreadable sample {bad}"):  # the reason, one line
        rc = main(["predict", bad, "-c", "good.pt", "--no-progress", "--workers", "0"])
    out, err = capsys.readouterr()
    assert rc == 2, err
    row = next(x for x in out.splitlines() if x.rstrip().endswith(bad))
    assert row.split()[0] == "error"
    assert "Traceback" not in err
    Image.fromarray(np.full((24, 24, 3), 128, np.uint8)).save(workdir / "plain.png")
    # a missing input among readable ones is an error row too, in its place
    rc = main(["predict", bad, "nope.mp4", "plain.png", "-c", "good.pt", "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    rows = [(x.split()[-1], x.split()[0]) for x in out.splitlines()[1:4]]
    assert [r[0] for r in rows] == [bad, "nope.mp4", "plain.png"]
    assert rows[0][1] == rows[1][1] == "error" and rows[2][1] in ("no-face", "live", "attack")
    assert "error: nope.mp4: input not found: nope.mp4" in out  # the reason under the table


def test_info_bad_option_is_argparse_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["info", "--bogus"])
    assert e.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_subprocess_no_traceback_and_debug_shows_it(workdir):
    """The installed entry point: one line and exit 2; --debug / FASFAST_DEBUG=1 give the
    traceback (exit 1, Python's own)."""
    import os

    def run(*args, env=None):
        return subprocess.run(
            [sys.executable, "-m", "fasfast", *args],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=workdir,
            env={**os.environ, **(env or {})},
        )

    r = run("export", "bad.pt")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert r.stderr.startswith("fasfast export: error: bad.pt is not a PyTorch")
    for r in (
        run("--debug", "export", "bad.pt"),
        run("export", "bad.pt", "--debug"),
        run("export", "bad.pt", env={"FASFAST_DEBUG": "1"}),
    ):
        assert r.returncode == 1 and "Traceback (most recent call last)" in r.stderr
        assert "CheckpointError: bad.pt is not a PyTorch" in r.stderr


def test_internal_error_is_one_line_exit_1(monkeypatch, capsys):
    from fasfast.commands import info

    def broken(args):
        return 1 // 0

    monkeypatch.setattr(info, "run", broken)
    assert main(["info"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(
        "fasfast info: internal error: ZeroDivisionError: integer division "
        "or modulo by zero at test_cli.py:"
    )
    assert "bug in fasfast" in err and "--debug" in err
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "info"])


def test_missing_optional_dependency(workdir, monkeypatch, capsys):
    """onnxruntime missing: export says which package and how to install it."""
    monkeypatch.chdir(workdir)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import raises ModuleNotFoundError
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert main(["export", "good.pt", "--out", "m.onnx"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "optional package 'onnx" in err and "pip install onnx" in err


def _run_info_as(run_source: str) -> subprocess.CompletedProcess:
    """``fasfast info`` in a fresh interpreter with its ``run`` replaced by ``run_source``
    (Python text defining ``run(args)``; ``sys`` and ``warnings`` are imported): what the
    CLI itself makes of a command's warnings."""
    code = (
        "import sys, warnings\n"
        "from fasfast.commands import info\n"
        f"{run_source}\n"
        "info.run = run\n"
        "from fasfast.cli import main\n"
        "sys.exit(main(['info']))"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_warnings_are_one_line():
    r = _run_info_as("run = lambda args: warnings.warn('something to know\\nover two lines') or 0")
    assert r.returncode == 0
    assert r.stderr == "fasfast info: warning: something to know over two lines\n"


def test_a_warning_line_is_printed_once_per_command():
    """The same warning twice, with the registry reset between them (as any
    ``catch_warnings`` in a library does), prints one line; a different one prints too."""
    r = _run_info_as(
        "def run(args):\n"
        "    for text in ('class x has one video', 'class x has one video', 'other'):\n"
        "        with warnings.catch_warnings():\n"
        "            warnings.simplefilter('default')\n"
        "            warnings.warn(text)\n"
        "    return 0"
    )
    assert r.returncode == 0
    assert r.stderr == (
        "fasfast info: warning: class x has one video\nfasfast info: warning: other\n"
    )


def test_a_command_own_warning_lines_are_printed_once_data_lines_always():
    """``one_line_warnings`` (eval, label): a repeated line is printed once, even with the
    registry reset between (eval printed its bootstrap warning twice); a data warning line
    every time (each names its own file, and the count of them is the news)."""
    import io
    import warnings

    from fasfast.data.report import one_line_warnings
    from fasfast.data.video import DataWarning

    buf = io.StringIO()
    with one_line_warnings("fasfast eval", stream=buf):
        for text, cat in [("class 'live' has one video", UserWarning)] * 2 + [
            ("a.avi: truncated", DataWarning)
        ] * 2:
            with warnings.catch_warnings():
                warnings.simplefilter("always")
                warnings.warn(text, cat, stacklevel=1)
    assert buf.getvalue().splitlines() == [
        "fasfast eval: warning: class 'live' has one video",
        "fasfast eval: warning: a.avi: truncated",
        "fasfast eval: warning: a.avi: truncated",
    ]


def test_deprecations_reach_the_command_line_user(tmp_path):
    """A former name on the command line (``predict --method acer``) or an older
    checkpoint's ``fused`` key gives its one-line deprecation note, although Python hides a
    DeprecationWarning raised inside a library by default (issue 17: the old names accepted
    with a deprecation warning; the key ignored with a note)."""
    report = tmp_path / "summary.json"
    report.write_text(json.dumps({"thresholds": {"acer_point": 0.25}}))
    r = _run_info_as(
        "from fasfast.engine.predict import _choose_threshold\n"
        "from fasfast.models import config_from_dict\n"
        "def run(args):\n"
        f"    assert _choose_threshold(None, {str(report)!r}, 'acer', {{}})[0] == 0.25\n"
        "    config_from_dict('eulernet', {'fused': True})\n"
        "    return 0"
    )
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 2, r.stderr
    assert lines[0].startswith("fasfast info: warning: the threshold name 'acer' is deprecated")
    assert lines[1].startswith("fasfast info: warning: EulerNetConfig: the 'fused' key is ignored")


def test_bad_device_is_a_bad_option(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    assert main(["explain", "good.pt", "bad.avi", "--out", "o", "--device", "gpu0"]) == 2
    assert "unknown device 'gpu0'" in capsys.readouterr().err


def test_options_are_checked_before_the_score_files_are_read(tmp_path, capsys):
    """analyze --ci 2 on a file with NaN scores: the option's one line only, not the
    file's NaN warning first (the check used to run after the files were read)."""
    scores = tmp_path / "nan.csv"
    scores.write_text("id,label,attack_type,score\na,live,,0.9\nb,live,,nan\nc,attack,print,0.1\n")
    with pytest.raises(SystemExit) as e:
        main(["analyze", str(scores), "--ci", "2", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.strip().splitlines()[-1].startswith("fasfast analyze: error: argument --ci: ")
    assert "NaN" not in err and "nan.csv" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("workers,ok", [("0", True), ("2", True), ("-1", False), ("x", False)])
def test_predict_workers_zero_loads_in_this_process(workers, ok):
    """-j 0 is PyTorch's num_workers=0 (load in this process; said in --help), -j -1 is
    refused while the command line is parsed."""
    from fasfast.cli import build_parser

    argv = ["predict", "x.avi", "-c", "y.pt", "-j", workers]
    if ok:
        assert build_parser("predict").parse_args(argv).workers == int(workers)
    else:
        with pytest.raises(SystemExit):
            build_parser("predict").parse_args(argv)
