"""The certificate pipeline end to end, through the real nbgrader CLI, in a scratch copy of the course.

Five students, two assignments: alice solves both; bob hands in blanks; carol misses one; dave is six
days late with one (three free late days, then 10 % a day); erin is enrolled and never submits. Then
`medimg grade report | lms | certify | verify` run as commands.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from medimg_kernel.grading.course_folder import notebook_path
from medimg_kernel.grading.fixtures import make_fixtures, write_submission
from medimg_kernel.grading.pipeline import autograde, copy_course, generate, nbgrader

pytestmark = pytest.mark.slow

COURSE = Path(__file__).resolve().parents[2] / "assignments"
A1, A2 = "01_medical_images", "04_detection"


def _medimg(*args, env=None):
    return subprocess.run([sys.executable, "-m", "medimg_kernel", *args], capture_output=True, text=True,
                          env=env, timeout=600)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("cert")
    course = copy_course(COURSE, root / "course", [A1, A2])
    (course / "course.yaml").write_text(yaml.safe_dump({
        "course": {"id": "medimg-test", "title": "ML in medical imaging", "instructor": "Dr Test"},
        "pass_mark": 60, "required_pass_mark": 50,
        "late": {"free_days": 3, "penalty_per_day": 10, "max_days": 10},
        "assignments": {
            A1: {"weight": 1, "required": True, "due": "2026-01-14",
                 "objectives": {"HU and windows": ["to_hounsfield", "window"], "orientation": ["orientation"]}},
            A2: {"weight": 1, "required": True, "due": "2026-01-20"},
        },
    }))
    fx = {}
    for a in (A1, A2):
        generate(course, a)
        release = course / "release" / a
        helpers = sorted(str(p.relative_to(release)) for p in release.rglob("*")
                         if p.is_file() and p.suffix != ".ipynb")
        made = make_fixtures(nbformat.read(str(notebook_path(course, a)), as_version=4),
                             nbformat.read(str(release / f"{a}.ipynb"), as_version=4), helpers)
        fx[a] = {f.student: f for f in made}
    plan = {  # student -> {assignment: (fixture, timestamp)}
        "alice": {A1: ("solution", "2026-01-14 10:00:00.000000 UTC"), A2: ("solution", "2026-01-19 10:00:00 UTC")},
        "bob": {A1: ("blank", "2026-01-14 10:00:00 UTC"), A2: ("blank", "2026-01-19 10:00:00 UTC")},
        "carol": {A1: ("solution", "2026-01-14 10:00:00 UTC")},
        "dave": {A1: ("solution", "2026-01-20 12:00:00 UTC"), A2: ("solution", "2026-01-19 10:00:00 UTC")},
    }
    for student, items in plan.items():
        for a, (kind, ts) in items.items():
            sub = dataclasses.replace(fx[a][kind], student=student)
            write_submission(course, a, sub, course / "release" / a, timestamp=ts)
    # mallory hands in a corrupt file, trudy a notebook with a forged 100-point grade cell
    bad = course / "submitted" / "mallory" / A2
    bad.mkdir(parents=True)
    (bad / f"{A2}.ipynb").write_text('{"cells": [ this is not json')
    (bad / "timestamp.txt").write_text("2026-01-19 10:00:00 UTC")
    forged = dataclasses.replace(fx[A2]["blank"], student="trudy")
    forged.notebook = nbformat.from_dict(forged.notebook)
    fake = nbformat.v4.new_code_cell("print('full marks')")
    fake.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 100,
                                 "grade_id": "bonus_points", "schema_version": 3, "task": False}
    forged.notebook.cells.append(fake)
    write_submission(course, A2, forged, course / "release" / A2, timestamp="2026-01-19 10:00:00 UTC")
    nbgrader(["db", "student", "add", "erin", "--first-name", "Erin", "--last-name", "Absent",
              "--email", "erin@example.org"], course)
    nbgrader(["db", "student", "add", "alice", "--first-name", "Alice", "--last-name", "Liddell",
              "--email", "alice@example.org"], course)
    for a in (A1, A2):
        autograde(course, a)
    _grade_by_hand(course, A1, "q4_answer", {"alice": 2, "bob": 0, "carol": 2, "dave": 2})
    _grade_by_hand(course, A1, "q6_answer", {"alice": 2, "bob": 0, "carol": 2, "dave": 2})
    _grade_by_hand(course, A2, "q5_answer", {"alice": 2, "bob": 0, "dave": 2})
    return course, root


def _grade_by_hand(course, assignment, grade_id, scores):
    """What formgrader's grade API does when an instructor scores a written answer."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student, score in scores.items():
            grade = gb.find_grade(grade_id, assignment, assignment, student)
            assert grade.needs_manual_grade or not score  # an untouched blank answer scores 0 itself
            grade.manual_score = score
            grade.needs_manual_grade = False
        gb.db.commit()


def test_report_and_lms_exports(graded):
    course, _ = graded
    res = _medimg("grade", "--course", str(course), "report", "--json")
    assert res.returncode == 0, res.stderr
    import json

    rows = {r["student"]: r for r in json.loads(res.stdout[res.stdout.index("["):])}
    assert set(rows) == {"alice", "bob", "carol", "dave", "erin", "mallory", "trudy"}
    for cheat in ("mallory", "trudy"):  # not gradable: zero with the reason, the others still graded
        assert rows[cheat]["status"][A2].startswith("not gradable: "), rows[cheat]
        assert not rows[cheat]["passed"]
    assert rows["alice"]["passed"] and rows["alice"]["total_percent"] == pytest.approx(100.0)
    assert not rows["bob"]["passed"] and rows["bob"]["total_percent"] == pytest.approx(0.0)
    assert rows["carol"]["missing"] == [A2] and not rows["carol"]["passed"]
    assert rows["erin"]["missing"] == [A1, A2]
    # dave: 01 six days late -> 3 free days, 3 charged at 10 % -> 70 %; 04 on time -> 100 %
    assert rows["dave"]["total_percent"] == pytest.approx(85.0) and rows["dave"]["passed"]
    reports = course / "reports"
    for s in rows:
        assert (reports / f"{s}.html").is_file() and (reports / f"{s}.pdf").read_bytes()[:5] == b"%PDF-"
    alice = (reports / "alice.html").read_text()
    assert "Alice Liddell" in alice and "HU and windows" in alice and "100%" in alice
    assert "no submission" in (reports / "erin.html").read_text()
    summary = (reports / "class_summary.html").read_text()
    assert "7 students, 2 passed" in summary and "data:image/png;base64," in summary

    for fmt in ("canvas", "moodle", "gradescope"):
        res = _medimg("grade", "--course", str(course), "lms", fmt)
        assert res.returncode == 0, res.stderr
    canvas = list(csv.reader((course / "grades_canvas.csv").open()))
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert canvas[1][0] == "Points Possible" and float(canvas[1][5]) > 0
    erin = next(r for r in canvas if r[2] == "erin")
    assert erin[5:] == ["", ""]
    moodle = list(csv.DictReader((course / "grades_moodle.csv").open()))
    assert next(r for r in moodle if r["ID number"] == "dave")["Course total (%)"] == "85.00"
    gs = list(csv.DictReader((course / "grades_gradescope.csv").open()))
    assert next(r for r in gs if r["SID"] == "dave")[f"{A1} - Lateness (H:M:S)"] == "144:00:00"


def test_certify_and_verify(graded):
    course, root = graded
    env = {**os.environ, "MEDIMG_SIGNING_KEY": str(root / "instructor-home" / "key.pem")}
    res = _medimg("grade", "--course", str(course), "certify", "--date", "2026-02-01", env=env)
    assert res.returncode == 0, res.stderr
    certs = course / "certificates"
    assert sorted(p.name for p in certs.glob("*.pdf")) == ["certificate_alice.pdf", "certificate_dave.pdf"]
    pub = certs / "instructor_public_key.pem"
    assert "PUBLIC KEY" in pub.read_text()
    assert not any("PRIVATE" in p.read_text(errors="ignore") for p in course.rglob("*") if p.is_file()
                   and p.suffix in (".html", ".pem", ".csv"))
    ok = _medimg("grade", "verify", str(certs / "certificate_alice.pdf"), "--public-key", str(pub))
    assert ok.returncode == 0 and "Alice Liddell" in ok.stdout and "100.0%" in ok.stdout, ok.stderr
    ok = _medimg("grade", "verify", str(certs / "certificate_dave.html"), "--public-key", str(pub))
    assert ok.returncode == 0 and "85.0%" in ok.stdout
    page = (certs / "certificate_dave.html").read_text()
    forged = root / "forged.html"
    forged.write_text(page.replace('data-field="score">85.0%', 'data-field="score">95.0%'))
    bad = _medimg("grade", "verify", str(forged), "--public-key", str(pub))
    assert bad.returncode != 0 and "field 'score'" in bad.stderr and "Traceback" not in bad.stderr
    # a key inside the course folder is refused
    env_in = {**os.environ, "MEDIMG_SIGNING_KEY": str(course / "key.pem")}
    refused = _medimg("grade", "--course", str(course), "certify", env=env_in)
    assert refused.returncode != 0 and "inside the course folder" in refused.stderr
    assert not (course / "key.pem").exists()
