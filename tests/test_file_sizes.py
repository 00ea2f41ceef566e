"""Small files (issue 17, Done means): a module of fasfast over about 450 lines says why in
its docstring (a ``Length:`` line, or "on purpose" with the reason)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fasfast"
GUIDE = 460  # "about 450"


def test_long_modules_say_why():
    bad = []
    for p in sorted(PACKAGE.rglob("*.py")):
        text = p.read_text()
        if len(text.splitlines()) <= GUIDE:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if "Length:" not in doc and "on purpose" not in doc:
            bad.append(f"{p.relative_to(PACKAGE.parent)} ({len(text.splitlines())} lines)")
    assert not bad, "over ~450 lines without a reason in the docstring: " + ", ".join(bad)
