"""One-way imports between fasfast's layers, read from the source (AST, function-level and
TYPE_CHECKING imports included, plus module names given as strings to importlib).

The layers and what each may import (itself, the layers listed, and what those may import):

    ops, labels, analysis    nothing else of fasfast (analysis never imports torch)
    data                     labels
    models                   ops
    engine                   models, data, labels, analysis
    diagnostics              engine (so models, data, ... too)
    reproduce                engine, analysis, data
    commands                 diagnostics, reproduce (everything); nothing imports commands
    cli, __main__            commands

``_compat`` (the timm / torchvision import shim) sits below data, models and engine; the
package root (``fasfast/__init__.py``: ``__version__``) imports nothing and anyone may use it.
Besides the layers: no import cycle between modules, and no module imports another module's
private (underscore) name.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fasfast"

DEPENDS = {
    "root": set(),
    "_compat": set(),
    "ops": set(),
    "labels": set(),
    "analysis": set(),
    "data": {"labels", "_compat"},
    "models": {"ops", "_compat"},
    "engine": {"models", "data", "labels", "analysis", "_compat"},
    "diagnostics": {"engine"},
    "reproduce": {"engine", "analysis", "data"},
    "commands": {"diagnostics", "reproduce"},
    "cli": {"commands"},
}
# top-level modules that belong to a layer
TOP_LEVEL = {"fasfast": "root", "fasfast._C": "ops", "fasfast.__main__": "cli"}


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        parts = f.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = f
    return out


MODULES = _modules()


def layer(module: str) -> str:
    if module in TOP_LEVEL:
        return TOP_LEVEL[module]
    return module.split(".")[1]


@cache
def allowed(name: str) -> frozenset[str]:
    """``name`` and every layer below it."""
    out = {name, "root"}
    for dep in DEPENDS[name]:
        out |= allowed(dep)
    return frozenset(out)


def _resolve(name: str) -> str | None:
    """The fasfast module ``name`` is (or lies in): ``fasfast.ops.diirf.diirf`` -> the module
    ``fasfast.ops.diirf``; None outside fasfast."""
    if name != "fasfast" and not name.startswith("fasfast."):
        return None
    while name not in MODULES and name not in TOP_LEVEL:
        name = name.rsplit(".", 1)[0]
    return name


def imports(module: str) -> list[tuple[int, str, str]]:
    """(line, imported module, imported name or "") of every fasfast import in ``module``."""
    path = MODULES[module]
    return imports_in(path.read_text(), module, path.name == "__init__.py")


def imports_in(source: str, module: str, is_package: bool = False):
    package = module if is_package else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, "") for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            for a in node.names:
                full = f"{base}.{a.name}"
                sub = full in MODULES or full in TOP_LEVEL
                out.append((node.lineno, full if sub else base, "" if sub else a.name))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in MODULES and node.value != "fasfast":  # importlib by name
                out.append((node.lineno, node.value, ""))
    return [
        (line, m, name)
        for line, target, name in out
        if (m := _resolve(target)) is not None and m != module
    ]


def test_the_layers_are_acyclic_and_known():
    assert set(DEPENDS) >= {layer(m) for m in MODULES}
    for name in DEPENDS:
        assert all(name not in allowed(dep) for dep in DEPENDS[name]), name


def test_imports_go_one_way():
    bad = []
    for module in MODULES:
        for line, target, _ in imports(module):
            if layer(target) not in allowed(layer(module)):
                bad.append(
                    f"{MODULES[module].relative_to(PACKAGE.parent)}:{line}: "
                    f"{layer(module)} imports {target} ({layer(target)})"
                )
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_nothing_imports_commands():
    users = [
        m
        for m in MODULES
        for _, t, _ in imports(m)
        if layer(t) == "commands" and layer(m) not in ("commands", "cli")
    ]
    assert not users


def test_no_import_cycles():
    graph = {m: {t for _, t, _ in imports(m) if t in MODULES} for m in MODULES}
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(m):
        state[m] = 1
        path.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycle = path[path.index(t) :] + [t]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_no_private_names_cross_modules():
    bad = [
        f"{MODULES[m].relative_to(PACKAGE.parent)}:{line}: {name} from {t}"
        for m in MODULES
        for line, t, name in imports(m)
        if name.startswith("_") and not name.startswith("__")
    ]
    assert not bad, "private names imported from another module:\n" + "\n".join(bad)


def test_analysis_never_imports_torch():
    bad = []
    for m, path in MODULES.items():
        if layer(m) != "analysis":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            bad += [f"{m}:{node.lineno}" for n in names if n.split(".")[0] == "torch"]
    assert not bad


def test_the_walker_sees_every_kind_of_import():
    """The checks above are not vacuous: function-level, relative, aliased, TYPE_CHECKING
    and importlib-by-name imports are all seen, and resolved to the module they reach."""
    source = """
import numpy
import fasfast.ops as ops
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from fasfast.models import EulerNet
def f():
    from ..labels.landmarks import template_68
    from . import checkpoint
    from fasfast.analysis.thresholds import _private
_LAZY = {"x": "fasfast.data.dataset"}
"""
    found = imports_in(source, "fasfast.engine.somewhere")
    assert [(t, n) for _, t, n in found] == [
        ("fasfast.ops", ""),
        ("fasfast.models", "EulerNet"),
        ("fasfast.labels.landmarks", "template_68"),
        ("fasfast.engine.checkpoint", ""),
        ("fasfast.analysis.thresholds", "_private"),
        ("fasfast.data.dataset", ""),
    ]
    assert layer("fasfast.engine.config") == "engine" and "ops" in allowed("engine")
    assert "engine" not in allowed("data") and "commands" not in allowed("reproduce")
