"""benchmarks/RESULTS.md holds current tables only (issue 17, item 6): about 150 lines, and
each topic says when (date), at which commit, on what machine and by which command."""

from __future__ import annotations

import re
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
MACHINES = ("Xeon", "EPYC", "H200")


def _sections() -> dict[str, str]:
    text = (BENCH / "RESULTS.md").read_text()
    parts = re.split(r"^## ", text, flags=re.M)[1:]
    return {p.splitlines()[0]: p for p in parts}


def test_results_is_short():
    assert len((BENCH / "RESULTS.md").read_text().splitlines()) <= 160


def test_every_topic_says_date_commit_machine_command():
    sections = _sections()
    assert len(sections) >= 6
    bad = []
    for title, body in sections.items():
        head = " ".join(body.split("\n\n")[1].split()) if "\n\n" in body else ""
        flat = " ".join(body.split())
        if not re.search(r"\b20\d\d-\d\d-\d\d\b", head):
            bad.append(f"{title}: no date")
        if not re.search(r"\bcommit [0-9a-f]{7,}\b", head):
            bad.append(f"{title}: no commit")
        if not any(m in head for m in MACHINES):
            bad.append(f"{title}: no machine ({', '.join(MACHINES)})")
        if not re.search(r"`(python|bash|time) [^`]+`", flat):
            bad.append(f"{title}: no command")
    assert not bad, "\n".join(bad)


def test_the_readme_says_which_script_to_run():
    readme = (BENCH / "README.md").read_text()
    assert "## Which to run" in readme and "## How to record a result" in readme
    scripts = {p.name for p in BENCH.glob("*.py") if not p.name.startswith("_")}
    missing = [s for s in sorted(scripts) if s not in readme]
    assert not missing, f"scripts benchmarks/README.md does not describe: {missing}"
