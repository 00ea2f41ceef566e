import json
import subprocess
import sys

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
    code = ("import sys; from fasfast.cli import COMMANDS, build_parser\n"
            "heavy = []\n"
            "for name in COMMANDS:\n"
            "    build_parser(name)\n"
            "    if 'torch' in sys.modules: heavy.append(name); break\n"
            "print(heavy)")
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
    assert info["cuda_kernels_usable"] == (torch.cuda.is_available() and "cuda" in info["compiled_backends"])


def test_info_plain(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "extension_loaded" in out and "torch" in out
