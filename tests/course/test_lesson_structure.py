"""Every lesson practises what it teaches (issue 20): self-checked "your turn" cells, key points, time, references.

Rules, per lesson notebook (all but 00_welcome):

* the first cell states an **Estimated time:**;
* at least two "your turn" exercises: a markdown cell whose heading starts ``### Your turn``, a code cell
  with a ``# TODO`` for the student, a solution cell that is collapsed (``metadata.jupyter.source_hidden``)
  and starts with ``# Solution`` and only fills in an answer that is still ``None`` (so the course runner
  executes the solution in CI, and a student's own answer is never overwritten), and a self-check that
  calls ``mk.check(...)``;
* a markdown cell with **Key points**;
* at least three distinct linked references (``https://...``, a DOI link counts) in the markdown cells.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from medimg_kernel.runtime.runner import course_notebooks

LESSONS = [p for p in course_notebooks() if not p.name.startswith("00_")]
URL = re.compile(r"https?://[^\s)\]>\"']+")


def _cells(path: Path) -> list:
    return nbformat.read(path, as_version=4).cells


def structure_problems(path: Path) -> list[str]:
    """What this lesson lacks against the rules in the module docstring (empty when it has them all)."""
    cells = _cells(path)
    src = [c.source for c in cells]
    problems = []
    if not cells or "estimated time:" not in src[0].lower():
        problems.append("the first cell has no 'Estimated time:'")
    turns = [i for i, c in enumerate(cells) if c.cell_type == "markdown"
             and re.search(r"^#{2,4}\s*your turn", c.source, re.I | re.M)]
    if len(turns) < 2:
        problems.append(f"{len(turns)} 'Your turn' exercises (need >= 2)")
    for n, start in enumerate(turns):
        end = turns[n + 1] if n + 1 < len(turns) else len(cells)
        block = cells[start + 1:end]
        code = [c for c in block if c.cell_type == "code"]
        todo = [c for c in code if "# TODO" in c.source]
        sol = [c for c in code if c.source.lstrip().startswith("# Solution")]
        chk = [c for c in code if "mk.check(" in c.source]
        where = f"'Your turn' at cell {start}"
        if not todo:
            problems.append(f"{where}: no code cell with '# TODO' for the student")
        if not sol:
            problems.append(f"{where}: no '# Solution' cell")
        for c in sol:
            if not c.get("metadata", {}).get("jupyter", {}).get("source_hidden"):
                problems.append(f"{where}: the solution cell is not collapsed (metadata.jupyter.source_hidden)")
            if not re.search(r"^if .+ is None\b", c.source, re.M):
                problems.append(f"{where}: the solution must only fill an answer left at None ('if x is None:')")
        if not chk:
            problems.append(f"{where}: no self-check with mk.check(...)")
        if sol and chk and cells.index(chk[0]) < cells.index(sol[0]):
            problems.append(f"{where}: the self-check runs before the solution cell")
    if not any(c.cell_type == "markdown" and "key points" in c.source.lower() for c in cells):
        problems.append("no 'Key points' cell")
    urls = {u.rstrip(".,;:") for c in cells if c.cell_type == "markdown" for u in URL.findall(c.source)}
    if len(urls) < 3:
        problems.append(f"{len(urls)} linked references in markdown (need >= 3 distinct https:// links)")
    return problems


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_has_active_learning_key_points_time_and_references(path):
    problems = structure_problems(path)
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems) + "\n\n" + __doc__


def test_the_rules_can_fail(tmp_path):
    """A lesson without exercises, key points or references is reported on each count."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A lesson"),
                                         nbformat.v4.new_markdown_cell("### Your turn 1\nsee https://a.org"),
                                         nbformat.v4.new_code_cell("x = None  # TODO"),
                                         nbformat.v4.new_code_cell("# Solution\nx = 1")])
    p = tmp_path / "99_bad.ipynb"
    nbformat.write(nb, p)
    text = "\n".join(structure_problems(p))
    for needle in ("Estimated time", "1 'Your turn'", "not collapsed", "left at None", "mk.check", "Key points",
                   "1 linked references"):
        assert needle in text, (needle, text)
