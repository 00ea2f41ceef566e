"""fasfast: fast face anti-spoofing for PyTorch.

Sub-packages are imported lazily so that ``import fasfast`` and ``fasfast --help``
stay instant: ``fasfast.ops`` (compiled DIIRF/FCAM and residual-pyramid operators),
``fasfast.models`` (EulerNet, ConvNeXt-V2 classifier), ``fasfast.labels``,
``fasfast.data``, ``fasfast.analysis`` (numba score analysis, no torch needed),
``fasfast.engine``.
"""

__version__ = "0.1.0"


class FasfastDeprecationWarning(DeprecationWarning):
    """A former fasfast name or checkpoint key, still accepted for one release. A
    DeprecationWarning (``pytest.warns(DeprecationWarning)`` and ``-W error`` see it) that
    the ``fasfast`` command line shows, where Python would hide one raised in a library."""


__all__ = ["__version__", "FasfastDeprecationWarning"]
