"""Disk cache of face crops and landmarks, one file per (video, settings).

Two kinds of entries, both ``.npz`` files under ``<dir>/<key[:2]>/<key>.npz``:

- a *landmark* entry (:func:`landmarks_key`): the frame-pixel landmarks of every frame of a
  video (``frame_landmarks`` float32 [F,68,2], NaN = no face), keyed by the video and the
  detection settings only. The expensive part (detection) is done once per video whatever
  crop size a model wants.
- a *crop* entry (:func:`crops_key`): ``crops`` uint8 [F,S,S,3], ``landmarks`` float32
  [F,68,2] (crop pixels), ``found`` bool [F], ``boxes`` float32 [F,4], ``num_frames`` (the
  header's count) and ``decoded``; keyed by the video, the crop settings (size, margin,
  crop) and the detection settings (or the landmark file used instead).

A key hashes the video's absolute path, modification time (ns) and size in bytes (for an
image folder: its files' names, sizes and times), the landmark file's, and the settings,
so a changed video or setting misses the cache instead of returning stale data.

Writes are atomic: the entry is written to a temporary file in the same folder
(``.<key>@<host>@<pid>.tmp``) and renamed over the final name, so a reader (a DataLoader
worker, another ``fasfast prepare`` shard) sees either no entry or a whole one, even when
the writer is killed (``kill -9``) half-way. :meth:`CropCache.clean_stale` removes the
temporary files of writers on this host that no longer run.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import zipfile
from pathlib import Path

import numpy as np

CACHE_VERSION = 2


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
        # "natural": frames in natural name order (entries of the plain-order reader miss)
        return [str(p.resolve()), h.hexdigest(), len(files), "natural"]
    return [str(p.resolve()), st.st_mtime_ns, st.st_size]


def cache_key(path, settings: dict, extra_files=()) -> str:
    """Hex key of a video + its landmark file(s) + settings."""
    obj = {
        "v": CACHE_VERSION,
        "video": _stat(path),
        "extra": [_stat(p) for p in extra_files if p],
        "settings": settings,
    }
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def landmarks_key(path, detect_key: dict) -> str:
    """Key of the landmark entry of ``path`` detected with settings ``detect_key``
    (:meth:`DetectSettings.key <fasfast.labels.tracking.DetectSettings.key>`)."""
    return cache_key(path, {"kind": "landmarks", "detect": detect_key})


def crops_key(
    path, *, size: int, margin: float, crop: bool, detect_key: dict, landmark_file=None
) -> str:
    """Key of the crop entry; with a landmark file its content replaces the detection
    settings in the key."""
    settings = {
        "kind": "crops",
        "size": int(size),
        "margin": float(margin),
        "crop": bool(crop),
        "detect": "file" if landmark_file is not None else detect_key,
    }
    return cache_key(path, settings, [landmark_file])


class CropCache:
    """``get(key) -> dict | None``, ``has(key)``, ``put(key, **arrays)`` under ``directory``."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0

    def _file(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.npz"

    def has(self, key: str) -> bool:
        """True when a whole, readable entry exists (its zip directory is checked)."""
        f = self._file(key)
        if not f.is_file():
            return False
        try:
            with zipfile.ZipFile(f) as z:
                return bool(z.namelist())
        except (OSError, zipfile.BadZipFile):
            return False

    def get(self, key: str) -> dict | None:
        f = self._file(key)
        if not f.is_file():
            self.misses += 1
            return None
        try:
            with np.load(f, allow_pickle=False) as z:
                out = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):  # unreadable: rebuild it
            self.misses += 1
            return None
        self.hits += 1
        return out

    def put(self, key: str, **arrays) -> Path:
        f = self._file(key)
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.parent / f".{key}@{socket.gethostname()}@{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, f)
        finally:
            if tmp.exists():
                tmp.unlink()
        return f

    def clean_stale(self) -> int:
        """Remove temporary files left by killed writers of this host; returns the count."""
        host = socket.gethostname()
        n = 0
        for t in self.dir.glob("*/.*.tmp"):
            parts = t.name[1:-4].split("@")
            if len(parts) != 3 or parts[1] != host or not parts[2].isdigit():
                continue
            if _alive(int(parts[2])):
                continue
            try:
                t.unlink()
                n += 1
            except FileNotFoundError:
                pass
        return n

    def clear(self) -> None:
        for f in self.dir.glob("*/*.npz"):
            f.unlink()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
