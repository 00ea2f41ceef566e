"""The emulated CUDA backend of the tests: csrc/cuda/*.cu compiled, unchanged, by g++ against
the emulated CUDA runtime (csrc/emu), loaded as ``torch.ops.fasfast_emu.*`` (CPU tensors).

Built on first use with ``torch.utils.cpp_extension.load`` into ``build/emu`` of the checkout
(``build/emu-asan`` for the AddressSanitizer + UndefinedBehaviorSanitizer build, chosen by
``FASFAST_EMU_SANITIZE=1``; that process must run with the ASan runtime preloaded, see
scripts/test_emu_asan.sh) and reused while the sources and flags are unchanged.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
SANITIZE = os.environ.get("FASFAST_EMU_SANITIZE", "0") == "1"
SCHEDULES = ("forward", "reverse", "random", "warps")
NARROW_MAX = 2**15 - 1  # the emulated narrow index type is a checked int16

_loaded = False


def _sources() -> list[str]:
    emu = ROOT / "csrc" / "emu"
    names = (
        "emu_module.cpp",
        "emu_runtime.cpp",
        "emu_selftest.cpp",
        "diirf_emu.cpp",
        "pyramid_emu.cpp",
    )
    return [str(emu / n) for n in names]


def load() -> None:
    """Builds (first time) and loads the emulated library; registers its fake kernels and
    autograd formulas (the same as the extension's, fasfast/ops)."""
    global _loaded
    if _loaded:
        return
    if shutil.which(os.environ.get("CXX", "c++")) is None:
        raise RuntimeError("the emulated CUDA tests need a C++ compiler (c++ or $CXX)")
    from torch.utils import cpp_extension

    name = "fasfast_emu_asan" if SANITIZE else "fasfast_emu"
    build = ROOT / "build" / ("emu-asan" if SANITIZE else "emu")
    build.mkdir(parents=True, exist_ok=True)
    cflags = ["-std=c++20", "-DFASFAST_CUDA_EMU", "-ffp-contract=off", "-g0"]
    ldflags: list[str] = []
    if SANITIZE:
        san = [
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer",
        ]
        cflags += ["-O1", *san]
        ldflags += san
    else:
        cflags += ["-O2"]
    cpp_extension.load(
        name=name,
        sources=_sources(),
        extra_cflags=cflags,
        extra_ldflags=ldflags,
        extra_include_paths=[str(ROOT / "csrc" / "emu"), str(ROOT / "csrc")],
        build_directory=str(build),
        is_python_module=False,
        verbose=os.environ.get("FASFAST_EMU_VERBOSE", "0") == "1",
    )
    from fasfast.ops.diirf import register_ops as register_diirf
    from fasfast.ops.pyramid import register_ops as register_pyramid

    register_diirf("fasfast_emu")
    register_pyramid("fasfast_emu")
    _loaded = True


def ops():
    load()
    return torch.ops.fasfast_emu


@contextlib.contextmanager
def config(
    schedule: str = "forward",
    seed: int = 0,
    max_grid: int = 2**62,
    index_limit: int = NARROW_MAX,
) -> Iterator[None]:
    """Within the block the emulator runs threads and blocks in ``schedule`` order
    (forward / reverse / seeded random), caps every grid at ``max_grid`` blocks (grid-stride
    loops run more passes) and uses the narrow index type only for tensors of at most
    ``index_limit`` elements (0: always the 64-bit path)."""
    lib = ops()
    before = lib.emu_config()
    lib.emu_configure(schedule, seed, max_grid, index_limit)
    try:
        yield
    finally:
        lib.emu_configure(*before)


def take_launches() -> list[tuple[str, int, int, str]]:
    """(kernel, blocks, threads per block, parameter types) of every launch since the last
    call; the parameter types show the index type (CheckedIndex16 = the narrow path)."""
    names, grids, threads, params = ops().emu_take_launches()
    return list(zip(names, grids, threads, params))
