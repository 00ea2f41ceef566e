"""The values of a ``--config`` file read as the types of :class:`TrainConfig`'s fields.

PyYAML reads YAML 1.1: ``1e-3`` (no dot) is text, ``3_2`` is the number 32, ``yes`` is true.
Text that parses as the field's type is taken (``"1e-3"``, ``"0.4"`` for a float, ``"3"``
for an int), an integral float for an int (``64.0``), and a number for a text field in the
file's own spelling (``protocol: 3_2`` is ``"3_2"``, ``protocol: 1`` is ``"1"``). Anything
else is a one-line ValueError ``<file>: <key>: expected <type>, got <value>``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def typed_values(path: Path, data: dict, types: dict[str, str], raw: dict[str, str]) -> dict:
    """``data`` (a file's mapping) with each known key's value as its field's type.

    ``types``: field name -> annotation text (``"float | None"``); ``raw``: key -> the
    scalar as written in the file (:func:`raw_scalars`; empty for JSON); unknown keys are
    kept for :meth:`TrainConfig.from_dict` to name."""
    out = {}
    for key, value in data.items():
        if key not in types:
            out[key] = value
            continue
        out[key] = _typed(path, key, value, types[key])
        if isinstance(out[key], str) and not isinstance(value, str) and key in raw:
            out[key] = raw[key]  # a number for a text field: as written (3_2, not 32)
    return out


def raw_scalars(text: str) -> dict[str, str]:
    """Top-level ``key: scalar`` pairs of a YAML text as written (before YAML 1.1 typing)."""
    import yaml

    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {
        k.value: v.value
        for k, v in node.value
        if isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode)
    }


def _typed(path: Path, key: str, value: Any, annotation: str) -> Any:
    if value is None and "None" in annotation:
        return None
    want = annotation.split(" |")[0].split("[")[0]  # bool, int, float, str, tuple, dict
    try:
        if isinstance(value, bool) and want != "bool":
            raise ValueError
        return _CONVERT[want](value)
    except (TypeError, ValueError):
        kind = {"tuple": "a list of int", "dict": "a mapping"}.get(want, want)
        raise ValueError(f"{path}: {key}: expected {kind}, got {value!r}") from None


def _as_int(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (int, str)):
        return int(value)  # int("1.5") and int("abc") raise
    raise TypeError


def _only(*types: type, convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, types):
            raise TypeError
        return convert(value)

    return check


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "bool": _only(bool, convert=bool),
    "int": _as_int,
    "float": _only(int, float, str, convert=float),
    "str": _only(str, int, float, convert=str),
    "dict": _only(dict, convert=dict),
    "tuple": _only(list, tuple, convert=lambda v: tuple(_as_int(w) for w in v)),
}
