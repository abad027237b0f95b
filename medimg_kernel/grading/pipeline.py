"""Thin wrappers around the nbgrader command line, with the course's defaults.

Every step runs the real ``nbgrader`` CLI (``python -m nbgrader``) in the course folder, so the
course's ``nbgrader_config.py`` applies (CPU forced, timeouts, restored cells, hidden tests cleared
from feedback). :func:`autograde` can grade students in parallel processes (one ``nbgrader autograde
--student`` each); :func:`gradebook_scores` reads the resulting grades for comparison and reports.
:func:`dry_run` grades generated fixture submissions in a throw-away copy of the course.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, MedimgKernelError
from .course_folder import CONFIG_NAME, notebook_path

__all__ = [
    "GradingError",
    "nbgrader",
    "generate",
    "validate",
    "ValidateResult",
    "autograde",
    "feedback",
    "export",
    "submitted_students",
    "gradebook_scores",
    "copy_course",
    "DryRun",
    "dry_run",
]

log = logging.getLogger(__name__)

GRADING_ENV = {"MEDIMG_DEVICE": "cpu", "CUDA_VISIBLE_DEVICES": "", "PYTHONWARNINGS": "ignore"}


class GradingError(MedimgKernelError, RuntimeError):
    """An nbgrader step failed; the message holds the command and the end of its output."""


def _env(threads: int | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(GRADING_ENV)
    # nbgrader runs `alembic` (and kernels) from PATH: put this interpreter's bin folder first
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if threads:
        for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[key] = str(threads)
    return env


def nbgrader(
    args: list[str],
    course: Path,
    *,
    check: bool = True,
    threads: int | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args>`` in ``course`` with the grading environment; return the finished process."""
    if not (course / CONFIG_NAME).is_file():
        raise ConfigError(f"{course} is not a course folder (no {CONFIG_NAME})")
    cmd = [sys.executable, "-m", "nbgrader", *args]
    log.info("running %s in %s", " ".join(args), course)
    proc = subprocess.run(cmd, cwd=course, env=_env(threads), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise GradingError(f"`nbgrader {' '.join(args)}` failed with exit code {proc.returncode}:\n{tail}")
    return proc


def generate(course: Path, assignment: str, *, force: bool = True) -> subprocess.CompletedProcess:
    """``nbgrader generate_assignment``: source/ -> release/ (also registers it in the gradebook)."""
    return nbgrader(["generate_assignment", assignment, *(["--force"] if force else [])], course)


@dataclass(frozen=True)
class ValidateResult:
    """Outcome of ``nbgrader validate``: ``ok`` is True when it reported success."""

    ok: bool
    output: str


def validate(course: Path, notebook: Path, *, invert: bool = False) -> ValidateResult:
    """Run ``nbgrader validate [--invert]`` on ``notebook``.

    Plain: ``ok`` when every test passes. Inverted: ``ok`` when no test passes (a released notebook).
    """
    if not Path(notebook).is_file():
        raise ConfigError(f"notebook {notebook} not found")
    import nbformat

    try:
        nbformat.read(str(notebook), as_version=4)
    except (nbformat.reader.NotJSONError, ValueError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"{notebook} is not a readable Jupyter notebook ({str(err).splitlines()[0][:100]}); "
            "download the assignment again"
        ) from err
    proc = nbgrader(["validate", *(["--invert"] if invert else []), str(notebook)], course)
    text = proc.stdout + proc.stderr
    marker = (
        "Success! The notebook does not pass any tests."
        if invert
        else "Success! Your notebook passes all the tests."
    )
    return ValidateResult(marker in text, text)


def submitted_students(course: Path, assignment: str) -> list[str]:
    """Students with a submission of ``assignment`` in ``submitted/``."""
    root = course / "submitted"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / assignment).is_dir())


def autograde(
    course: Path, assignment: str, *, students: list[str] | None = None, jobs: int = 1, force: bool = True
) -> float:
    """``nbgrader autograde`` the submissions of ``assignment``; return the wall time in seconds.

    ``jobs=1`` grades in one nbgrader call. ``jobs>1`` runs one ``autograde --student`` process per
    student, ``jobs`` at a time, each kernel limited to one thread (parallelism across students, not
    inside one); the benchmark checks that this gives the same gradebook as a serial run.
    """
    if jobs < 1:
        raise ConfigError(f"jobs={jobs}: grade at least one student at a time (jobs >= 1)")
    if not students and not submitted_students(course, assignment):
        raise GradingError(
            f"no submissions of {assignment!r} in {course / 'submitted'} (expected "
            f"submitted/<student>/{assignment}/); collect them first (nbgrader collect or zip_collect)"
        )
    t0 = time.perf_counter()
    extra = ["--force"] if force else []
    if jobs == 1:
        args = ["autograde", assignment, *extra]
        if students:
            for s in students:
                nbgrader([*args, "--student", s], course)
        else:
            nbgrader(args, course)
        return time.perf_counter() - t0
    todo = students or submitted_students(course, assignment)
    # the assignment is already in the gradebook (generate_assignment); each process adds one student
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(
            pool.map(
                lambda s: nbgrader(["autograde", assignment, "--student", s, *extra], course, threads=1), todo
            )
        )
    return time.perf_counter() - t0


def feedback(course: Path, assignment: str, *, force: bool = True) -> subprocess.CompletedProcess:
    """``nbgrader generate_feedback``: autograded/ -> feedback/ (HTML, hidden tests cleared)."""
    return nbgrader(["generate_feedback", assignment, *(["--force"] if force else [])], course)


def export(course: Path, to: Path | None = None) -> Path:
    """``nbgrader export``: write the grades CSV (default ``<course>/grades.csv``) and return its path."""
    target = (to or course / "grades.csv").resolve()
    nbgrader(["export", "--to", str(target)], course)
    return target


def gradebook_scores(course: Path, assignment: str | None = None) -> dict[str, dict[str, Any]]:
    """Read every grade from the gradebook: ``{student: {grade_id: (auto, manual, needs_manual), ...}}``.

    Each row also has ``"_total"`` (nbgrader's submission score) and ``"_max"``. Without
    ``assignment`` the keys are ``"<assignment>/<student>"``.
    """
    from nbgrader.api import Gradebook

    db = course / "gradebook.db"
    if not db.is_file():  # never create an empty gradebook just to read it
        raise GradingError(f"no gradebook at {db} yet: generate and autograde an assignment first")
    with Gradebook(f"sqlite:///{db}") as gb:
        names = [a.name for a in gb.assignments]
        if assignment and assignment not in names:
            raise GradingError(f"assignment {assignment!r} is not in the gradebook; it has: "
                               f"{', '.join(names) or 'none'}")
        return _read_scores(gb, assignment)


def _read_scores(gb: Any, assignment: str | None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for a in gb.assignments:
        if assignment and a.name != assignment:
            continue
        for sub in a.submissions:
            row: dict[str, Any] = {}
            for nb in sub.notebooks:
                for g in nb.grades:
                    row[g.name] = (g.auto_score, g.manual_score, bool(g.needs_manual_grade))
            row["_total"] = float(sub.score)
            row["_max"] = float(sub.max_score)
            out[sub.student.id if assignment else f"{a.name}/{sub.student.id}"] = row
    return out


def copy_course(course: Path, dest: Path, assignments: list[str] | None = None) -> Path:
    """Copy the config and the source of ``assignments`` (default all) into an empty course ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(course / CONFIG_NAME, dest / CONFIG_NAME)
    src = course / "source"
    names = assignments or sorted(p.name for p in src.iterdir() if p.is_dir())
    for name in names:
        shutil.copytree(
            src / name,
            dest / "source" / name,
            ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"),
        )
    return dest


@dataclass
class DryRun:
    """What a dry run of one assignment found: per-fixture expected vs actual grades and the timings."""

    assignment: str
    course: Path
    source_valid: bool = False
    release_fails_all: bool = False
    expected: dict[str, dict[str, float | None]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    actual: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_points: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    def mismatches(self) -> list[str]:
        """Grade cells whose actual score differs from the fixture's expectation (empty when all agree)."""
        bad: list[str] = []
        for student, exp in self.expected.items():
            got = self.actual.get(student, {})
            for gid, want in exp.items():
                auto, _manual, needs = got.get(gid, (None, None, None))
                if want is None:
                    if not needs:
                        bad.append(f"{student}/{gid}: expected 'needs manual grading', got auto={auto}")
                elif auto is None or abs(float(auto) - want) > 1e-9 or needs:
                    bad.append(f"{student}/{gid}: expected {want}, got auto={auto} needs_manual={needs}")
        return bad

    def summary(self) -> str:
        """A short table: student, expected and actual automatic totals."""
        lines = [
            f"{self.assignment}: source validates={self.source_valid}, "
            f"release fails every test={self.release_fails_all}, max points={self.max_points:g}"
        ]
        for student, exp in self.expected.items():
            want = sum(v or 0 for v in exp.values())
            got = self.actual.get(student, {}).get("_total")
            lines.append(
                f"  {student:<9} expected {want:>5g}  got {got if got is not None else '-':>5}  "
                f"({'; '.join(self.notes.get(student, []))})"
            )
        lines.append("  " + ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items()))
        return "\n".join(lines)


def _deliver_by_lms(course: Path, assignment: str, fixture: Any) -> None:
    """Put a fixture's notebook in an LMS-style zip under downloaded/<a>/archive/ (for zip_collect)."""
    import zipfile

    import nbformat

    archive = course / "downloaded" / assignment / "archive"
    archive.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive / f"{fixture.student}.zip", "w") as zf:
        zf.writestr(f"{fixture.student}__{assignment}.ipynb", nbformat.writes(fixture.notebook))


def dry_run(
    course: Path,
    assignment: str,
    workdir: Path | None = None,
    *,
    jobs: int = 1,
    with_feedback: bool = True,
    lms_students: tuple[str, ...] = ("partial",),
) -> DryRun:
    """Grade generated fixture submissions of ``assignment`` in a copy of the course.

    Steps (real nbgrader CLI): validate the source; generate the release; ``validate --invert`` the
    release; write the solution/blank/partial/tamper fixtures to ``submitted/``; autograde them in one
    call (or ``jobs`` parallel ones); optionally generate feedback. Fixtures named in ``lms_students``
    arrive as an LMS download (a zip of the notebook only) collected with ``nbgrader zip_collect``.
    ``workdir`` (kept) defaults to a new temporary folder.
    """
    import nbformat

    from .fixtures import make_fixtures, write_submission

    if not notebook_path(course, assignment).is_file():
        raise ConfigError(f"no source notebook for {assignment!r} under {course / 'source'}")
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix=f"medimg-grade-{assignment}-"))
    tmp = copy_course(course, work, [assignment])
    report = DryRun(assignment, tmp)
    t = time.perf_counter()
    res = validate(tmp, notebook_path(tmp, assignment))
    report.source_valid, report.outputs["validate_source"] = res.ok, res.output
    report.seconds["validate"] = time.perf_counter() - t
    t = time.perf_counter()
    generate(tmp, assignment)
    report.seconds["generate"] = time.perf_counter() - t
    release = tmp / "release" / assignment
    t = time.perf_counter()
    res = validate(tmp, release / f"{assignment}.ipynb", invert=True)
    report.release_fails_all, report.outputs["validate_release"] = res.ok, res.output
    report.seconds["validate_invert"] = time.perf_counter() - t
    source_nb = nbformat.read(str(notebook_path(tmp, assignment)), as_version=4)
    release_nb = nbformat.read(str(release / f"{assignment}.ipynb"), as_version=4)
    helpers = sorted(
        str(p.relative_to(release)) for p in release.rglob("*") if p.is_file() and p.suffix != ".ipynb"
    )
    fixtures = make_fixtures(source_nb, release_nb, helpers)
    report.max_points = sum(float(c.metadata.get("nbgrader", {}).get("points", 0)) for c in source_nb.cells)
    for fx in fixtures:
        if fx.student in lms_students:
            _deliver_by_lms(tmp, assignment, fx)
            fx.notes.append("delivered as an LMS zip, collected by nbgrader zip_collect")
        else:
            write_submission(tmp, assignment, fx, release)
        report.expected[fx.student] = fx.expected
        report.notes[fx.student] = fx.notes
        report.cases[fx.student] = fx.cases
    if any(fx.student in lms_students for fx in fixtures):
        nbgrader(["zip_collect", assignment, "--force"], tmp)
    report.seconds["autograde"] = autograde(tmp, assignment, jobs=jobs)
    report.actual = gradebook_scores(tmp, assignment)
    if with_feedback:
        t = time.perf_counter()
        feedback(tmp, assignment)
        report.seconds["feedback"] = time.perf_counter() - t
    return report
