"""fasfast operators: fused DIIRF / FCAM gate and residual-pyramid ops.

``fasfast.ops.<op>`` uses the compiled kernels of ``fasfast._C`` when they are built
(CPU always, CUDA when compiled in) and falls back to :mod:`fasfast.ops.reference`
(with one warning at import) when the extension is missing.
"""

from fasfast.ops import reference
from fasfast.ops._library import (
    HAS_C,
    compiled_backends,
    cuda_usable,
    has_kernel,
    output_cache_clear,
    output_cache_for_all,
    output_cache_info,
)
from fasfast.ops.diirf import diirf, fcam_gate
from fasfast.ops.pyramid import pool_concat, upsample_sub

__all__ = [
    "diirf",
    "fcam_gate",
    "upsample_sub",
    "pool_concat",
    "reference",
    "HAS_C",
    "compiled_backends",
    "cuda_usable",
    "has_kernel",
    "output_cache_info",
    "output_cache_clear",
    "output_cache_for_all",
]
