"""One-line reports of files a command skips or reads with a correction.

Commands that go over many files (``prepare``, ``label``, ``eval``) report every problem
with one file on one line that names the file and the problem, go on with the other
files, and end with a count. :func:`one_line_warnings` turns the data path's warnings
(:class:`~fasfast.data.video.DataWarning`: truncated videos, alpha or 16-bit images,
skipped images) into such lines: ``fasfast <command>: warning: <file>: <problem>``.
"""

from __future__ import annotations

import contextlib
import sys
import warnings


@contextlib.contextmanager
def one_line_warnings(prog: str, stream=None):
    """Within the block, every warning is printed as ``<prog>: warning: <message>`` (one
    line, no source line) on ``stream`` (default stderr); data warnings are never
    deduplicated away (each names its own file), any other line is printed once even when
    the registry is reset between two identical warnings (as any ``catch_warnings`` in a
    library does; eval's bootstrap warned twice)."""
    from fasfast.data.video import DataWarning

    out = stream if stream is not None else sys.stderr
    shown: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = f"{prog}: warning: {' '.join(str(message).split())}"
        if not issubclass(category, DataWarning):
            if text in shown:
                return
            shown.add(text)
        print(text, file=out, flush=True)

    with warnings.catch_warnings():
        warnings.simplefilter("always", DataWarning)
        warnings.showwarning = show
        yield


def describe_error(err: BaseException) -> str:
    """One line for an error: its message (our errors name the file), else its type too."""
    from fasfast.data.faces import LandmarkFileError
    from fasfast.data.video import VideoReadError

    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(
        err, (VideoReadError, LandmarkFileError, FileNotFoundError, ValueError, IndexError)
    ):
        return text
    return f"{type(err).__name__}: {text}"
