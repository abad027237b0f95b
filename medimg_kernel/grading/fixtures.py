"""Simulated student submissions, generated from an assignment's source and released notebooks.

Every fixture starts from the *released* notebook (what a student downloads, with nbgrader's checksums)
and fills answer cells with the source solution (``BEGIN/END SOLUTION`` lines dropped, :mod:`.markers`) where the case
says so. Each fixture carries the score nbgrader must give every grade cell, so a pipeline run can be
checked cell by cell:

``solution``  every answer filled: every test cell full marks, written answers wait for manual grading.
``blank``     the released notebook unchanged: 0 everywhere.
``partial``   the first half of the exercises solved: exactly their points.
``tamper``    several attacks at once, each with its own expected outcome:
              exercise 1 solved but its answer emits a ``UserWarning`` and writes to stderr on every
              call, and its test cell deleted (restored by ``add_missing_cells``: full marks);
              exercise 2 unsolved with its test cells replaced by ``pass`` (locked cells are restored:
              0); exercise 3 solved but stuck in an endless loop (the check's time budget: 0, the
              rest still graded); the read-only setup cell made to raise, and every helper file
              overwritten (both restored from the source); later exercises solved (full marks).
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import markers

__all__ = [
    "Fixture",
    "AssignmentLayout",
    "layout",
    "make_fixtures",
    "write_submission",
    "FIXTURE_NAMES",
]

FIXTURE_NAMES = ("solution", "blank", "partial", "tamper")

TAMPERED_HELPER_PY = 'raise RuntimeError("this helper file was edited by the student")\n'

_WARN_WRAPPER = """

import functools as _fx_functools
import sys as _fx_sys
import warnings as _fx_warnings


def _fx_noisy(fn):
    @_fx_functools.wraps(fn)
    def wrapper(*args, **kwargs):
        _fx_warnings.warn("a harmless warning from the answer", UserWarning, stacklevel=2)
        print("debug output on stderr", file=_fx_sys.stderr)
        return fn(*args, **kwargs)
    return wrapper
"""

_LOOP_WRAPPER = """

def _fx_endless(fn):
    def wrapper(*args, **kwargs):
        n = 0
        while True:  # an answer that never returns
            n += 1
    return wrapper
"""


@dataclass
class Fixture:
    """One simulated submission: its notebook, replaced helper files and the expected grade per cell.

    ``expected`` maps grade_id -> expected auto score, or ``None`` for a written answer that must be
    left for manual grading. ``notes`` says what was done to which cell.
    """

    student: str
    notebook: Any  # nbformat.NotebookNode
    expected: dict[str, float | None]
    files: dict[str, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    cases: dict[str, Any] = field(default_factory=dict)  # attack -> exercise / grade_id / files

    @property
    def expected_auto_total(self) -> float:
        """Sum of the expected automatic scores."""
        return float(sum(v or 0 for v in self.expected.values()))


@dataclass
class AssignmentLayout:
    """Where each exercise's answer and test cells are, read from the source notebook's metadata."""

    exercises: list[str]
    solutions: dict[str, list[str]]  # exercise -> solution grade_ids
    tests: dict[str, list[str]]  # exercise -> tests grade_ids
    points: dict[str, float]  # grade_id -> points (grade cells)
    manual: list[str]  # manually graded answers (grade + solution)
    tasks: list[str]
    readonly_code: list[str]
    sources: dict[str, str]  # grade_id -> source (source notebook)
    requires: dict[str, list[str]] = field(default_factory=dict)  # tests grade_id -> other exercises

    def passes(self, gid: str, solved: set[str], exercise: str) -> bool:
        """Whether tests cell ``gid`` of ``exercise`` passes when exactly ``solved`` are correct."""
        return exercise in solved and all(r in solved for r in self.requires.get(gid, []))

    @property
    def max_points(self) -> float:
        """Total points of the assignment (auto + manual + tasks)."""
        return float(sum(self.points.values()))


def _nbg(cell: Any) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def layout(source_nb: Any) -> AssignmentLayout:
    """Read exercises, points and roles from a source notebook built by :mod:`.builder`."""
    exercises: list[str] = []
    solutions: dict[str, list[str]] = {}
    tests: dict[str, list[str]] = {}
    points: dict[str, float] = {}
    manual: list[str] = []
    tasks: list[str] = []
    readonly_code: list[str] = []
    sources: dict[str, str] = {}
    requires: dict[str, list[str]] = {}
    for cell in source_nb.cells:
        meta = _nbg(cell)
        gid = meta.get("grade_id")
        if not gid:
            continue
        sources[gid] = cell.source
        ex = cell.get("metadata", {}).get("medimg", {}).get("exercise")
        if meta.get("grade") or meta.get("task"):
            points[gid] = float(meta.get("points", 0))
        if meta.get("task"):
            tasks.append(gid)
        elif meta.get("grade") and meta.get("solution"):
            manual.append(gid)
        elif meta.get("solution") and ex:
            solutions.setdefault(ex, []).append(gid)
            if ex not in exercises:
                exercises.append(ex)
        elif meta.get("grade") and ex:
            tests.setdefault(ex, []).append(gid)
            requires[gid] = list(cell.get("metadata", {}).get("medimg", {}).get("requires", []))
            if ex not in exercises:
                exercises.append(ex)
        elif meta.get("locked") and cell.cell_type == "code":
            readonly_code.append(gid)
    return AssignmentLayout(
        exercises, solutions, tests, points, manual, tasks, readonly_code, sources, requires
    )


def _top_level_functions(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]


def _budget_of(lay: AssignmentLayout, exercise: str) -> float:
    """The largest ``budget=`` given to ``mk.check`` in the exercise's tests (default budget if none)."""
    from .check import DEFAULT_BUDGET_S

    found = [
        float(b)
        for g in lay.tests.get(exercise, [])
        for b in re.findall(r"budget\s*=\s*([0-9.]+)", lay.sources[g])
    ]
    return max(found) if found else DEFAULT_BUDGET_S


def _cells_by_id(nb: Any) -> dict[str, Any]:
    return {_nbg(c)["grade_id"]: c for c in nb.cells if _nbg(c).get("grade_id")}


def _solve(nb: Any, lay: AssignmentLayout, exercise: str) -> None:
    cells = _cells_by_id(nb)
    for gid in lay.solutions.get(exercise, []):
        cells[gid].source = markers.strip(lay.sources[gid], markers.SOLUTION)


def _base(release_nb: Any) -> Any:
    nb = copy.deepcopy(release_nb)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    return nb


def _wrap_functions(nb: Any, lay: AssignmentLayout, exercise: str, wrapper_src: str, wrapper: str) -> bool:
    """Append ``name = wrapper(name)`` for each top-level function of the exercise's solved answer."""
    cells = _cells_by_id(nb)
    done = False
    for gid in lay.solutions.get(exercise, []):
        names = _top_level_functions(cells[gid].source)
        if names:
            cells[gid].source += wrapper_src + "".join(f"{n} = {wrapper}({n})\n" for n in names)
            done = True
    return done


def make_fixtures(source_nb: Any, release_nb: Any, helper_files: list[str] | None = None) -> list[Fixture]:
    """Build the four fixture submissions (see the module docstring) for one assignment."""
    lay = layout(source_nb)
    exs = lay.exercises
    if len(exs) < 1:
        raise ConfigError("the assignment has no autograded exercise: add a solution cell and a tests cell after it")

    def exp(solved: set[str]) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for ex in exs:
            for gid in lay.tests.get(ex, []):
                out[gid] = lay.points[gid] if lay.passes(gid, solved, ex) else 0.0
        return out

    fixtures: list[Fixture] = []

    # solution: everything answered; written answers need a person
    nb = _base(release_nb)
    for ex in exs:
        _solve(nb, lay, ex)
    cells = _cells_by_id(nb)
    for gid in lay.manual:
        cells[gid].source = markers.strip(lay.sources[gid], markers.SOLUTION)
    expected = exp(set(exs)) | {gid: None for gid in lay.manual}
    fixtures.append(Fixture("solution", nb, expected, notes=["all answers from the source"]))

    # blank: the released notebook as downloaded
    fixtures.append(
        Fixture(
            "blank",
            _base(release_nb),
            exp(set()) | {gid: 0.0 for gid in lay.manual},
            notes=["released notebook unchanged"],
        )
    )

    # partial: first half of the exercises
    half = exs[: max(1, len(exs) // 2)] if len(exs) > 1 else []
    nb = _base(release_nb)
    for ex in half:
        _solve(nb, lay, ex)
    fixtures.append(
        Fixture(
            "partial",
            nb,
            exp(set(half)) | {gid: 0.0 for gid in lay.manual},
            notes=[f"solved: {', '.join(half) or '(none)'}"],
        )
    )

    # tamper: several attacks, each on its own exercise
    nb = _base(release_nb)
    notes: list[str] = []
    cases: dict[str, Any] = {}
    solved = set(exs)
    for ex in exs:
        _solve(nb, lay, ex)
    cand = [ex for ex in exs if any(_top_level_functions(lay.sources[g]) for g in lay.solutions.get(ex, []))]

    def reqs(ex: str | None) -> set[str]:
        return {r for g in lay.tests.get(ex or "", []) for r in lay.requires.get(g, [])}

    # the warning exercise must pass on its own, so it and its requirements stay solved
    warn_ex = next((ex for ex in cand if not reqs(ex)), cand[0] if cand else None)
    keep = {warn_ex, *reqs(warn_ex)}
    # the endless loop costs the exercise's whole time budget: put it where the budget is smallest
    loop_cands = [ex for ex in reversed(cand) if ex not in keep]
    loop_ex = min(loop_cands, key=lambda ex: _budget_of(lay, ex)) if loop_cands else None
    stub_ex = next((ex for ex in exs if ex not in keep and ex != loop_ex), None)
    if warn_ex:
        _wrap_functions(nb, lay, warn_ex, _WARN_WRAPPER, "_fx_noisy")
        notes.append(f"{warn_ex}: answer emits a UserWarning and stderr output")
        first_test = lay.tests[warn_ex][0]
        nb.cells = [c for c in nb.cells if _nbg(c).get("grade_id") != first_test]
        notes.append(f"{warn_ex}: test cell {first_test} deleted")
        cases.update(warning=warn_ex, deleted_test=first_test)
    if loop_ex:
        _wrap_functions(nb, lay, loop_ex, _LOOP_WRAPPER, "_fx_endless")
        solved.discard(loop_ex)
        notes.append(f"{loop_ex}: answer never returns")
        cases["endless_loop"] = loop_ex
    if stub_ex:
        cells = _cells_by_id(nb)
        release_cells = _cells_by_id(release_nb)
        for gid in lay.solutions.get(stub_ex, []):
            cells[gid].source = release_cells[gid].source
        for gid in lay.tests.get(stub_ex, []):
            cells[gid].source = "pass  # the student emptied this locked test cell"
        solved.discard(stub_ex)
        notes.append(f"{stub_ex}: unsolved, its locked test cells replaced by `pass`")
        cases["edited_tests"] = list(lay.tests.get(stub_ex, []))
    if lay.readonly_code:
        cells = _cells_by_id(nb)
        setup = lay.readonly_code[0]
        cells[setup].source = (
            'raise RuntimeError("student edited the locked setup cell")\n' + cells[setup].source
        )
        notes.append(f"locked cell {setup} edited to raise")
        cases["edited_locked"] = setup
    files: dict[str, bytes] = {}
    for rel in helper_files or []:
        files[rel] = TAMPERED_HELPER_PY.encode() if rel.endswith(".py") else b"tampered by the student\n"
        notes.append(f"helper file {rel} overwritten")
    if files:
        cases["helper_files"] = sorted(files)
    fixtures.append(
        Fixture("tamper", nb, exp(solved) | {gid: 0.0 for gid in lay.manual}, files, notes, cases)
    )
    return fixtures


def write_submission(
    course: Path,
    assignment: str,
    fixture: Fixture,
    release_dir: Path,
    timestamp: str = "2026-01-15 12:00:00.000000 UTC",
) -> Path:
    """Lay a fixture out as nbgrader expects: ``submitted/<student>/<a>/`` with ``timestamp.txt``.

    Helper files come from ``release_dir`` (as the student downloaded them) unless the fixture
    replaces them.
    """
    import nbformat

    dest = course / "submitted" / fixture.student / assignment
    dest.mkdir(parents=True, exist_ok=True)
    for f in release_dir.rglob("*"):
        if f.is_file() and f.suffix != ".ipynb":
            target = dest / f.relative_to(release_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.read_bytes())
    for rel, data in fixture.files.items():
        (dest / rel).write_bytes(data)
    nbformat.write(fixture.notebook, str(dest / f"{assignment}.ipynb"))
    (dest / "timestamp.txt").write_text(timestamp, encoding="utf-8")
    return dest
