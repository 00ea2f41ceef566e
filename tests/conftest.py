"""Shared pytest fixtures and markers."""

import os
import warnings

import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
torch.manual_seed(0)
# Keep the 2-core CI machine responsive and results reproducible.
torch.set_num_threads(min(2, os.cpu_count() or 1))

with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    import fasfast.ops  # noqa: F401  (the one "no extension" warning, if any, is shown by the tests)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng():
    """A seeded numpy Generator."""
    import numpy as np

    return np.random.default_rng(1234)
