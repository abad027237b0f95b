"""`medimg grade generate|autograde|feedback|export|dryrun` as commands, on one assignment.

A temporary copy of the course; the real CLI (``python -m medimg_kernel grade ...``) and nbgrader underneath.
Submissions are two of the generated fixtures (solution, partial). ``autograde --jobs 2`` must leave a
gradebook identical, cell by cell, to the serial run, and ``--student`` must grade that student only.
The gradebook is read with plain sqlite, not with the package's own reader.
"""

from __future__ import annotations

import csv
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from medimg_kernel.grading.course_folder import notebook_path
from medimg_kernel.grading.fixtures import make_fixtures, write_submission
from medimg_kernel.grading.pipeline import copy_course

COURSE = Path(__file__).resolve().parents[2] / "assignments"
NAME = "01_medical_images"
STUDENTS = ("solution", "partial")  # two are enough to compare; tests/assignments/test_pipeline.py grades all

pytestmark = pytest.mark.slow


def grade(course: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "-m", "medimg_kernel", "grade", "--course", str(course), *args],
                         capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"medimg grade {' '.join(args)}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


def gradebook(course: Path) -> dict[tuple[str, str, str], tuple[float | None, float | None]]:
    """(student, notebook, grade cell) -> (auto score, max score), straight from gradebook.db."""
    con = sqlite3.connect(course / "gradebook.db")
    try:
        rows = con.execute("""
            SELECT st.id, n.name, bc.name, g.auto_score, gc.max_score
            FROM grade g
            JOIN submitted_notebook sn ON g.notebook_id = sn.id
            JOIN submitted_assignment sa ON sn.assignment_id = sa.id
            JOIN student st ON sa.student_id = st.id
            JOIN notebook n ON sn.notebook_id = n.id
            JOIN grade_cells gc ON g.cell_id = gc.id
            JOIN base_cell bc ON bc.id = gc.id
        """).fetchall()
    finally:
        con.close()
    return {(s, nb, cell): (auto, mx) for s, nb, cell, auto, mx in rows}


@pytest.fixture(scope="module")
def courses(tmp_path_factory):
    """Serial, parallel and single-student copies of one generated course with the same submissions."""
    base = copy_course(COURSE, tmp_path_factory.mktemp("serial") / "course", [NAME])
    grade(base, "generate", NAME)
    release = base / "release" / NAME
    source = nbformat.read(str(notebook_path(base, NAME)), as_version=4)
    released = nbformat.read(str(release / f"{NAME}.ipynb"), as_version=4)
    helpers = sorted(str(p.relative_to(release)) for p in release.rglob("*") if p.is_file() and p.suffix != ".ipynb")
    fixtures = {f.student: f for f in make_fixtures(source, released, helpers)}
    for student in STUDENTS:
        write_submission(base, NAME, fixtures[student], release)
    others = {}
    for kind in ("parallel", "single"):
        others[kind] = tmp_path_factory.mktemp(kind) / "course"
        shutil.copytree(base, others[kind])
    grade(base, "autograde", NAME)
    grade(others["parallel"], "autograde", NAME, "--jobs", "2")
    grade(others["single"], "autograde", NAME, "--student", "partial")
    return {"serial": base, **others, "fixtures": fixtures}


def test_generate_releases_without_solutions(courses):
    text = (courses["serial"] / "release" / NAME / f"{NAME}.ipynb").read_text()
    assert "### BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert "YOUR CODE HERE" in text or "raise NotImplementedError" in text


def test_autograde_matches_the_fixture_expectations(courses):
    book = gradebook(courses["serial"])
    assert {s for s, _, _ in book} == set(STUDENTS)
    for student in STUDENTS:
        expected = courses["fixtures"][student].expected
        got = {cell: auto for (s, _, cell), (auto, _) in book.items() if s == student}
        for cell, want in expected.items():
            if want is not None:
                assert got[cell] == pytest.approx(want), (student, cell, got[cell], want)
    totals = {s: sum(a or 0 for (st, _, _), (a, _) in book.items() if st == s) for s in STUDENTS}
    assert totals["solution"] > totals["partial"] > 0


def test_parallel_autograde_gives_the_same_gradebook(courses):
    serial, parallel = gradebook(courses["serial"]), gradebook(courses["parallel"])
    assert serial and parallel == serial


def test_student_option_grades_only_that_student(courses):
    single, serial = gradebook(courses["single"]), gradebook(courses["serial"])
    assert {s for s, _, _ in single} == {"partial"}
    assert single == {k: v for k, v in serial.items() if k[0] == "partial"}


def test_feedback_and_export(courses):
    course = courses["serial"]
    grade(course, "feedback", NAME)
    for student in STUDENTS:
        html = (course / "feedback" / student / NAME / f"{NAME}.html").read_text()
        assert "BEGIN HIDDEN TESTS" not in html and "Score:" in html
    out = course / "grades.csv"
    grade(course, "export", "--to", str(out))
    rows = {r["student_id"]: r for r in csv.DictReader(out.open()) if r["assignment"] == NAME}
    book = gradebook(course)
    for student in STUDENTS:
        auto = sum(a or 0 for (s, _, _), (a, _) in book.items() if s == student)
        assert float(rows[student]["score"]) == pytest.approx(auto), (student, rows[student])


def test_dryrun_command_passes(courses):
    res = grade(COURSE, "dryrun", NAME)
    assert NAME in res.stdout
