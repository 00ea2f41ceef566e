"""``fasfast.engine`` imports lazily: the package and ``TrainConfig`` cost no torch import, and
the public functions keep their names even where a module of the same name exists."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_engine_and_train_config_import_no_torch():
    code = (
        "import sys\n"
        "import fasfast.engine\n"
        "from fasfast.engine import TrainConfig\n"
        "from fasfast.engine.config import add_train_arguments\n"
        "TrainConfig().resolved()\n"
        "print(sorted(m for m in ('torch', 'numpy', 'timm') if m in sys.modules))"
    )
    assert _run(code) == "[]"


def test_public_names_are_the_functions_whatever_was_imported_first():
    # the submodules of the same name imported first, then the package's names read
    code = (
        "import types\n"
        "from fasfast.engine.evaluate import score_split\n"
        "from fasfast.engine.predict import write_predictions\n"
        "import fasfast.engine.export\n"
        "import fasfast.engine as E\n"
        "from fasfast.engine import evaluate, export, predict, train, TrainResult\n"
        "names = (evaluate, export, predict, train, E.evaluate, E.export, E.predict)\n"
        "print(all(isinstance(f, types.FunctionType) for f in names),\n"
        "      evaluate.__module__, export.__module__, predict.__module__,\n"
        "      train.__module__, TrainResult.__module__)"
    )
    assert _run(code).split() == [
        "True",
        "fasfast.engine.evaluate",
        "fasfast.engine.export",
        "fasfast.engine.predict",
        "fasfast.engine.training",
        "fasfast.engine.training",
    ]


def test_every_public_name_resolves():
    import fasfast.engine as E

    for name in E.__all__:
        assert getattr(E, name).__name__ == name
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        E.nope  # noqa: B018
