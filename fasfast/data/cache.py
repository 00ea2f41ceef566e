"""Disk cache of face crops and landmarks, one file per (video, settings).

The key hashes the video's absolute path, modification time (ns), size in bytes, the
landmark file's (if any) and the crop settings, so a changed video or setting misses
the cache instead of returning stale crops. Entries are ``.npz`` files written
atomically (temporary file + rename), safe with several DataLoader workers.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

CACHE_VERSION = 1


def _stat(path) -> list:
    p = Path(path)
    if not p.exists():
        return [str(p), None, None]
    st = p.stat()
    if p.is_dir():  # image folder: its files' names, sizes and times
        files = sorted(q for q in p.iterdir() if q.is_file())
        h = hashlib.sha1()
        for q in files:
            s = q.stat()
            h.update(f"{q.name}:{s.st_size}:{s.st_mtime_ns};".encode())
        return [str(p.resolve()), h.hexdigest(), len(files)]
    return [str(p.resolve()), st.st_mtime_ns, st.st_size]


def cache_key(path, settings: dict, extra_files=()) -> str:
    """Hex key of a video + its landmark file(s) + crop settings."""
    obj = {"v": CACHE_VERSION, "video": _stat(path), "extra": [_stat(p) for p in extra_files if p],
           "settings": settings}
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


class CropCache:
    """``get(key) -> dict | None`` and ``put(key, **arrays)`` under ``directory``."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0

    def _file(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.npz"

    def get(self, key: str) -> dict | None:
        f = self._file(key)
        if not f.is_file():
            self.misses += 1
            return None
        try:
            with np.load(f, allow_pickle=False) as z:
                out = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError):  # truncated entry: rebuild it
            self.misses += 1
            return None
        self.hits += 1
        return out

    def put(self, key: str, **arrays) -> Path:
        f = self._file(key)
        f.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=f.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, f)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return f

    def clear(self) -> None:
        for f in self.dir.glob("*/*.npz"):
            f.unlink()
