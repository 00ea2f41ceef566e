"""Builds ``fasfast._C``: every ``csrc/*.cpp`` always (CPU kernels, OpenMP) and every
``csrc/cuda/*.cu`` when torch has CUDA and nvcc is found (or ``FASFAST_FORCE_CUDA=1``).

Build against the torch you have installed:
``pip install --no-build-isolation -e .``

The CUDA toolkit is ``$CUDA_HOME`` (or ``$CUDA_PATH``) when set, else the one the ``nvcc`` on
``PATH`` belongs to: found from nvcc's real path, through symbolic links and wrapper scripts
(``nvcc --dryrun`` names its toolkit). torch's own guess is the directory above nvcc's, which
for a ``/usr/local/bin/nvcc`` link or wrapper is ``/usr/local`` and fails the link with
"cannot find -lcudart".
"""

import glob
import os
import re
import shutil
import subprocess
import sys

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))


def _is_toolkit(root: str) -> bool:
    return os.path.isfile(os.path.join(root, "bin", "nvcc")) and os.path.isfile(
        os.path.join(root, "include", "cuda_runtime.h")
    )


def _toolkit_of_nvcc() -> str | None:
    """The CUDA toolkit of the nvcc on PATH, or None."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        return None
    root = os.path.dirname(os.path.dirname(os.path.realpath(nvcc)))
    if _is_toolkit(root):
        return root
    try:  # a wrapper script: nvcc --dryrun prints "#$ TOP=<toolkit>/bin/.."
        cmd = [nvcc, "--dryrun", "-E", "-x", "cu", os.devnull]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        m = re.search(r"^#\$ TOP=(.+)$", out.stdout + out.stderr, re.M)
    except (OSError, subprocess.SubprocessError):
        m = None
    if m:
        root = os.path.realpath(m.group(1).strip().strip('"'))
        if _is_toolkit(root):
            return root
    return None


def _find_cuda_home() -> None:
    """Sets CUDA_HOME for torch.utils.cpp_extension (which reads it at import)."""
    for var in ("CUDA_HOME", "CUDA_PATH"):
        given = os.environ.get(var)
        if given:
            if not _is_toolkit(given):
                sys.exit(
                    f"fasfast: {var}={given} is not a CUDA toolkit (no bin/nvcc and "
                    "include/cuda_runtime.h there); set it to the toolkit's root, e.g. "
                    "/usr/local/cuda-13.0, or unset it to use the nvcc on PATH"
                )
            return
    root = _toolkit_of_nvcc()
    if root is not None:
        os.environ["CUDA_HOME"] = root
    elif shutil.which("nvcc") is not None:
        print(
            "fasfast: cannot tell which CUDA toolkit the nvcc on PATH belongs to; set "
            "CUDA_HOME to its root (the directory holding bin/nvcc, include/ and lib64/)"
        )


_find_cuda_home()

import torch  # noqa: E402  (CUDA_HOME must be settled first)
from torch.utils.cpp_extension import (  # noqa: E402
    CUDA_HOME,
    BuildExtension,
    CppExtension,
    CUDAExtension,
)


def _want_cuda() -> bool:
    if os.environ.get("FASFAST_FORCE_CUDA", "0") == "1":
        return True
    if os.environ.get("FASFAST_NO_CUDA", "0") == "1":
        return False
    return torch.version.cuda is not None and CUDA_HOME is not None


def _extension():
    cpp = sorted(glob.glob(os.path.join("csrc", "*.cpp")))
    cu = sorted(glob.glob(os.path.join("csrc", "cuda", "*.cu")))
    openmp = ["-fopenmp"] if sys.platform.startswith("linux") else []
    cxx = ["-O3", "-std=c++20", *openmp]
    include = [os.path.join(HERE, "csrc")]
    if _want_cuda():
        print(f"fasfast: building CPU + CUDA backends ({len(cpp)} .cpp, {len(cu)} .cu; "
              f"CUDA_HOME={CUDA_HOME})")
        # --fmad=false: nvcc would contract a*b + c into one FMA (one rounding); the CPU
        # kernels and the tests' emulated CUDA build round the product and the sum
        # separately. Without contraction the GPU runs the same IEEE operations in the
        # same order as the CPU code the tests check (csrc/*_math.h), so CPU, emulated and
        # GPU results agree except for exp (expf's last bits). The kernels are memory- and
        # latency-bound; the extra multiply costs them little.
        nvcc = ["-O3", "-std=c++20", "--expt-relaxed-constexpr", "-lineinfo", "--fmad=false"]
        return CUDAExtension(
            "fasfast._C",
            cpp + cu,
            include_dirs=include,
            define_macros=[("FASFAST_WITH_CUDA", "1")],
            extra_compile_args={"cxx": cxx, "nvcc": nvcc},
            extra_link_args=openmp,
        )
    print(f"fasfast: building CPU backend only ({len(cpp)} .cpp; CUDA skipped: "
          f"torch.version.cuda={torch.version.cuda}, CUDA_HOME={CUDA_HOME})")
    return CppExtension(
        "fasfast._C",
        cpp,
        include_dirs=include,
        extra_compile_args={"cxx": cxx},
        extra_link_args=openmp,
    )


setup(
    ext_modules=[_extension()],
    cmdclass={"build_ext": BuildExtension.with_options(use_ninja=True)},
)
