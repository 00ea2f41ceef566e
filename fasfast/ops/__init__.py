"""fasfast operators: fused DIIRF / FCAM gate and residual-pyramid ops.

``fasfast.ops.<op>`` uses the compiled kernels of ``fasfast._C`` when they are built
(CPU always, CUDA when compiled in) and falls back to :mod:`fasfast.ops.reference`
(with one warning at import) when the extension is missing.

One process-wide switch picks the reference ops for all four (it is never saved with a
model): ``with fasfast.ops.use_reference(): ...``, ``fasfast.ops.set_reference(True)`` or
``FASFAST_REFERENCE_OPS=1`` in the environment (see :mod:`fasfast.ops._library`).
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
    reference_enabled,
    set_reference,
    use_reference,
    uses_kernel,
)
from fasfast.ops.diirf import diirf, fcam_gate
from fasfast.ops.pyramid import pool_concat, upsample_sub

__all__ = [
    "diirf",
    "fcam_gate",
    "upsample_sub",
    "pool_concat",
    "reference",
    "use_reference",
    "set_reference",
    "reference_enabled",
    "uses_kernel",
    "HAS_C",
    "compiled_backends",
    "cuda_usable",
    "has_kernel",
    "output_cache_info",
    "output_cache_clear",
    "output_cache_for_all",
]
