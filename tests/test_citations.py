"""The two papers are named where they are used (issue 17, item 5): the README's References
give both in full (title, authors, venue, year, link), every module that implements one
opens by naming it, and no text of the package cites them by the project's file numbers
("paper 000" / "paper 003"), which mean nothing to a reader."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "fasfast"

HUANG = {
    "title": "A visualization method for data domain changes in CNN networks and the "
    "optimization method for selecting thresholds in classification tasks",
    "authors": ("Minzhe Huang", "Changwei Nie", "Weihong Zhong"),
    "year": "2024",
    "link": "https://arxiv.org/abs/2404.12602",
    "short": "Huang et al. 2024",
}
CONG = {
    "title": "Multi-Frames Temporal Abnormal Clues Learning Method for Face Anti-Spoofing",
    "authors": ("Heng Cong", "Rongyu Zhang", "Jiarong He", "Jin Gao"),
    "year": "2022",
    "link": "https://arxiv.org/abs/2208.04076",
    "short": "Cong et al. 2022",
}
# module -> the paper it implements
IMPLEMENTS = {
    "ops/diirf.py": CONG,
    "ops/pyramid.py": CONG,
    "ops/reference.py": CONG,
    "models/eulernet.py": CONG,
    "models/layers.py": CONG,
    "labels/maps.py": CONG,
    "reproduce/ablation.py": CONG,
    "engine/protocol.py": CONG,
    "models/classifier.py": HUANG,
    "data/augment.py": HUANG,
    "analysis/stats.py": HUANG,
    "analysis/eer.py": HUANG,
    "analysis/table.py": HUANG,
    "analysis/thresholds.py": HUANG,
    "analysis/plots.py": HUANG,
    "reproduce/augmentation.py": HUANG,
    "reproduce/thresholds.py": HUANG,
}


def _flat(text: str) -> str:
    return " ".join(text.split())


def _references() -> str:
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"^## References\n(.*?)(?=^## |\Z)", readme, re.S | re.M)
    assert m, "README.md has no '## References' section"
    return _flat(m.group(1))


def test_readme_references_cite_both_papers_in_full():
    refs = _references()
    for paper in (HUANG, CONG):
        entry = refs[refs.index(paper["short"]) :]
        entry = entry[: entry.find("- **", 1) if "- **" in entry[1:] else None]
        assert paper["title"] in entry, paper["short"]
        assert all(a in entry for a in paper["authors"]), paper["short"]
        assert paper["year"] in entry and paper["link"] in entry, paper["short"]
    # the venue: the arXiv preprint of one, the conference (with its DOI) of the other
    assert "arXiv:2404.12602" in refs
    assert "SEKE 2022" in refs and "10.18293/SEKE2022-076" in refs


def test_each_module_that_implements_a_paper_opens_by_naming_it():
    bad = []
    for rel, paper in IMPLEMENTS.items():
        doc = _flat(ast.get_docstring(ast.parse((PACKAGE / rel).read_text())) or "")
        opening = doc[:600]  # the summary line and the "Paper:" line under it
        if paper["title"] not in opening and paper["short"] not in opening:
            bad.append(rel)
    assert not bad, f"modules that do not open by naming their paper: {bad}"


def test_no_citation_by_file_number():
    pattern = re.compile(r"paper[ -]?00[03]", re.I)
    bad = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in sorted(PACKAGE.rglob("*.py"))
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    bad += [
        f"README.md:{n}"
        for n, line in enumerate((ROOT / "README.md").read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not bad, "cite the papers by name (Huang et al. 2024, Cong et al. 2022):\n" + "\n".join(
        bad
    )
