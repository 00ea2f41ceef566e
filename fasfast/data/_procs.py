"""Process helpers of the data path's worker processes."""

from __future__ import annotations

import os
import sys


def die_with(parent: int | None) -> None:
    """SIGKILL this process when ``parent`` ends (Linux ``PR_SET_PDEATHSIG``; elsewhere a
    no-op); exits at once when ``parent`` has already ended."""
    if parent is None or not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)
