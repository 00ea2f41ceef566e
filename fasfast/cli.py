"""The ``fasfast`` command line.

Each sub-command lives in ``fasfast/commands/<name>.py`` with two functions:
``add_arguments(parser)`` and ``run(args) -> int``. Only the module of the command
being run is imported, so ``fasfast --help`` and ``fasfast --version`` are instant.
Command modules keep heavy imports (torch, numba, matplotlib) inside ``run``.

Errors (one style for every command, handled here, not in each command):

- bad input (a missing or unreadable file, a wrong format, a bad option value, a missing
  optional dependency): one line ``fasfast <command>: error: <what, which file, what to do>``
  on stderr, exit code 2. These are the project's error types (``CheckpointError``,
  ``ScoreFileError``, ``VideoReadError``, all ``ValueError``) and the usual OS / format errors
  (``OSError``, ``EOFError``, ``zipfile.BadZipFile``, ``ModuleNotFoundError``, YAML errors).
- argparse's usage errors: its usage line and message, exit code 2 (unchanged).
- anything else is a bug in fasfast: one line ``fasfast <command>: internal error: ...`` that
  says where it happened and how to get the traceback, exit code 1.
- ``--debug`` (before or after the command) or ``FASFAST_DEBUG=1``: no catching, the full
  Python traceback. Ctrl-C: ``interrupted``, exit code 130.

Warnings are printed as one line, ``fasfast <command>: warning: <message>`` (unless --debug).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from fasfast import FasfastDeprecationWarning, __version__

# name -> one-line help. Module: fasfast.commands.<name>.
COMMANDS: dict[str, str] = {
    "info": "torch version, whether fasfast._C loaded, its backends, CUDA usability",
    "demo": "synthetic data -> train tiny EulerNet -> evaluate dev->test -> report",
    "prepare": "fill the face crop / landmark cache of a data set (parallel, resumable, sharded)",
    "train": "train EulerNet or a ConvNeXt-V2 classifier (DDP via torchrun)",
    "eval": "score a split with a checkpoint, pick thresholds on dev, apply to test",
    "predict": "score unlabeled videos / image folders and print live-or-attack decisions",
    "protocol": "train + evaluate every sub-protocol (OULU-NPU, UniAttackData)",
    "analyze": "score-domain analysis and threshold selection on score files",
    "label": "detect faces + 68 landmarks, write crops, landmark files and label maps",
    "synth": "generate a synthetic OULU-NPU-shaped face anti-spoofing data set",
    "export": "export a checkpoint to ONNX or TorchScript",
    "bench": "run the operator / analysis benchmarks and print ratio tables",
    "reproduce": "reproduce the papers' experiments on synthetic data",
    "explain": "Grad-CAM overlays of the model's stages (EulerNet or classifier) for a video",
    "magnify": "Eulerian video magnification of a clip",
}


def _load(name: str):
    return importlib.import_module(f"fasfast.commands.{name}")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fasfast",
        description="fasfast: fast face anti-spoofing toolkit for PyTorch.",
    )
    parser.add_argument("--version", action="version", version=f"fasfast {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show Python tracebacks instead of one-line errors (also FASFAST_DEBUG=1)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            _load(name).add_arguments(p)
            _add_debug(p)
    return parser


def _add_debug(p: argparse.ArgumentParser) -> None:
    """``--debug`` after the command too (and after a sub-command's own sub-command)."""
    p.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show Python tracebacks instead of one-line errors",
    )
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _add_debug(child)


# pip names of the optional packages whose import name differs
_PIP_NAMES = {
    "cv2": "opencv-python-headless",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "dlib": "dlib-bin",
    "face_recognition_models": "face-recognition-models",
}


def _user_error_types() -> tuple[type[BaseException], ...]:
    """Exceptions that mean bad input (exit 2); the project's types where already imported."""
    import zipfile

    types: list[type[BaseException]] = [
        OSError,
        ValueError,
        EOFError,
        zipfile.BadZipFile,
        ModuleNotFoundError,
    ]
    video = sys.modules.get("fasfast.data.video")
    if video is not None:
        types.append(video.VideoReadError)
    yaml = sys.modules.get("yaml")
    if yaml is not None:
        types.append(yaml.YAMLError)
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "OutOfMemoryError"):
        types.append(torch.OutOfMemoryError)
    return tuple(types)


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())


def describe_error(e: BaseException) -> str:
    """The message of a bad-input error as one line: what, which file, what to do."""
    if isinstance(e, ModuleNotFoundError) and e.name and not e.name.startswith("fasfast"):
        top = e.name.split(".")[0]
        pip = _PIP_NAMES.get(top, top)
        return (
            f"the optional package {pip!r} is not installed (import {e.name!r} failed); "
            f"install it with: pip install {pip}"
        )
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        hint = {
            FileNotFoundError: " (check the path)",
            PermissionError: " (check the file's permissions)",
            IsADirectoryError: " (give a file, not a folder)",
        }.get(type(e), "")
        return f"{e.strerror}: {e.filename}{hint}"
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(e, getattr(torch, "OutOfMemoryError", ())):
        return f"out of memory ({_one_line(e)[:200]}): lower --batch-size or the image size"
    text = _one_line(e)
    return text if text else type(e).__name__


def _internal_error(e: BaseException) -> str:
    import traceback

    frames = traceback.extract_tb(e.__traceback__)
    where = ""
    if frames:
        f = frames[-1]
        where = f" at {os.path.basename(f.filename)}:{f.lineno} ({f.name})"
    return (
        f"internal error: {type(e).__name__}: {_one_line(e)[:300]}{where}. This is a bug "
        "in fasfast: rerun with --debug (or FASFAST_DEBUG=1) for the traceback and report "
        "it with the command line"
    )


def _format_warning(prog: str):
    """``warnings.formatwarning`` for one command: one line, and each distinct line once
    (a repeat formats as nothing), even when a library resets the warnings registry between
    two identical warnings (any ``catch_warnings`` or filter change does)."""
    shown: set[str] = set()

    def fmt(message, category, filename, lineno, line=None):
        text = f"{prog}: warning: {_one_line(message)}\n"
        if text in shown:
            return ""
        shown.add(text)
        return text

    return fmt


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in COMMANDS:
        command = None
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    debug = bool(getattr(args, "debug", False)) or os.environ.get("FASFAST_DEBUG", "") not in (
        "",
        "0",
    )
    prog = f"fasfast {args.command}"
    if isinstance(getattr(args, "experiment", None), str):
        prog += f" {args.experiment}"
    saved = warnings.formatwarning
    if not debug:
        warnings.formatwarning = _format_warning(prog)
    try:
        with warnings.catch_warnings():
            # fasfast's own deprecations (a former name or key the user typed or saved):
            # Python hides a DeprecationWarning raised inside a library, the user must see it
            warnings.simplefilter("default", FasfastDeprecationWarning)
            return int(_load(args.command).run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - every error ends as one line unless --debug
        if debug:
            raise
        if isinstance(e, _user_error_types()) and not (
            isinstance(e, ModuleNotFoundError) and (e.name or "").startswith("fasfast")
        ):
            print(f"{prog}: error: {describe_error(e)}", file=sys.stderr)
            return 2
        print(f"{prog}: {_internal_error(e)}", file=sys.stderr)
        return 1
    finally:
        warnings.formatwarning = saved


if __name__ == "__main__":
    sys.exit(main())
