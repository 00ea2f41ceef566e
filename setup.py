"""Builds ``fasfast._C``: every ``csrc/*.cpp`` always (CPU kernels, OpenMP) and every
``csrc/cuda/*.cu`` when torch has CUDA and nvcc is found (or ``FASFAST_FORCE_CUDA=1``).

Build against the torch you have installed:
``pip install --no-build-isolation -e .``
"""

import glob
import os
import sys

from setuptools import setup

import torch
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension

HERE = os.path.dirname(os.path.abspath(__file__))


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
        print(f"fasfast: building CPU + CUDA backends ({len(cpp)} .cpp, {len(cu)} .cu)")
        nvcc = ["-O3", "-std=c++20", "--expt-relaxed-constexpr", "-lineinfo"]
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
