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
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
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
    "DryRunContext",
    "Stage",
    "DRY_RUN_STAGES",
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
        for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MEDIMG_NUM_THREADS"):
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
    course: Path, assignment: str, *, students: list[str] | None = None, jobs: int = 1, force: bool = True,
    unsafe: bool = False,
) -> float:
    """``nbgrader autograde`` the submissions of ``assignment``; return the wall time in seconds.

    ``jobs=1`` grades in one nbgrader call. ``jobs>1`` runs one ``autograde --student`` process per
    student, ``jobs`` at a time, each kernel limited to one thread (parallelism across students, not
    inside one); the benchmark checks that this gives the same gradebook as a serial run.
    """
    if jobs < 1:
        raise ConfigError(f"jobs={jobs}: grade at least one student at a time (jobs >= 1)")
    from .sandbox import sandbox_available
    from .secure_execute import UNSAFE_ENV

    if unsafe:
        os.environ[UNSAFE_ENV] = "1"  # read by nbgrader_config.py in the nbgrader processes
    elif os.environ.get(UNSAFE_ENV) != "1" and not sandbox_available():
        raise GradingError("no sandbox for untrusted code on this machine (bubblewrap missing or unusable): "
                           "apt-get install bubblewrap, or pass --unsafe to grade without isolation")
    if not students and not submitted_students(course, assignment):
        raise GradingError(
            f"no submissions of {assignment!r} in {course / 'submitted'} (expected "
            f"submitted/<student>/{assignment}/); collect them first (nbgrader collect or zip_collect)"
        )
    t0 = time.perf_counter()
    extra = ["--force"] if force else []
    if jobs == 1:
        args = ["autograde", assignment, *extra]
        runs = ([nbgrader([*args, "--student", s], course, check=False) for s in students] if students
                else [nbgrader(args, course, check=False)])
        _record_failures(course, assignment, runs, students or submitted_students(course, assignment))
        return time.perf_counter() - t0
    todo = students or submitted_students(course, assignment)
    # the assignment is already in the gradebook (generate_assignment); each process adds one student
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        runs = list(
            pool.map(
                lambda s: nbgrader(["autograde", assignment, "--student", s, *extra], course, threads=1,
                                   check=False), todo
            )
        )
    _record_failures(course, assignment, runs, todo)
    return time.perf_counter() - t0


FAILURES_NAME = "autograde_failures.json"
_FAILED = re.compile(r"There was an error processing assignment '(?P<a>[^']+)' for student '(?P<s>[^']+)'")
_ERROR_LINE = re.compile(r"^\s*(?:[\w]+\.)*(?P<err>\w*(?:Error|Exception|Exit): .+)$", re.M)


def _failure_reason(output: str, student: str, assignment: str) -> str:
    """The last exception line nbgrader logged while processing ``student``'s submission."""
    start = output.find(f"submitted/{student}/{assignment}")
    chunk = output[start:] if start >= 0 else output
    nxt = re.search(r"\[AutogradeApp \| INFO\] Autograding .*submitted/", chunk[10:])
    if nxt:
        chunk = chunk[: nxt.start() + 10]
    lines = [m.group("err") for m in _ERROR_LINE.finditer(chunk)]
    return (lines[-1].strip() if lines else "nbgrader could not grade this notebook")[:300]


def _record_failures(course: Path, assignment: str, runs: list[subprocess.CompletedProcess],
                     students: list[str]) -> dict[str, str]:
    """Note each student whose notebook nbgrader could not grade (corrupt, doctored): they score 0 with a
    reason in ``autograde_failures.json``; the others keep their grades. Raise only if nbgrader failed
    without naming a student (a broken course, not a broken submission)."""
    import json

    path = course / FAILURES_NAME
    data = json.loads(path.read_text()) if path.is_file() else {}
    mine = data.setdefault(assignment, {})
    for s in students:
        mine.pop(s, None)  # a successful regrade clears an old failure
    failed: dict[str, str] = {}
    for proc in runs:
        out = proc.stdout + proc.stderr
        names = [m.group("s") for m in _FAILED.finditer(out) if m.group("a") == assignment]
        for s in names:
            failed[s] = _failure_reason(out, s, assignment)
        if proc.returncode != 0 and not names:
            tail = out[-3000:]
            raise GradingError(f"`nbgrader {' '.join(proc.args[3:])}` failed with exit code {proc.returncode}:\n{tail}")
    mine.update(failed)
    if not mine:
        data.pop(assignment, None)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for s, why in failed.items():
        log.warning("autograde: %s/%s scored 0: %s", assignment, s, why)
    return failed


def autograde_failures(course: Path, assignment: str | None = None) -> dict[str, Any]:
    """The notebooks nbgrader could not grade: ``{assignment: {student: reason}}`` (or one assignment's)."""
    import json

    path = course / FAILURES_NAME
    data = json.loads(path.read_text()) if path.is_file() else {}
    return data.get(assignment, {}) if assignment else data


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
    failures: dict[str, str] = field(default_factory=dict)

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
        for student, why in self.failures.items():
            lines.append(f"  {student:<9} could not be graded: {why}")
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


@dataclass
class DryRunContext:
    """What the stages of a dry run share: the course copy, the assignment, options and the report."""

    course: Path
    assignment: str
    report: DryRun
    jobs: int = 1
    lms_students: tuple[str, ...] = ()
    attacks: bool = True
    release: Path | None = None
    fixtures: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class Stage:
    """One step of a dry run, like an nbgrader preprocessor: a name (its key in ``report.seconds``) and a
    function of the shared :class:`DryRunContext`; ``timed=False`` stages record their own time or none."""

    name: str
    run: Callable[[DryRunContext], None]
    timed: bool = True


def _stage_validate_source(ctx: DryRunContext) -> None:
    res = validate(ctx.course, notebook_path(ctx.course, ctx.assignment))
    ctx.report.source_valid, ctx.report.outputs["validate_source"] = res.ok, res.output


def _stage_generate(ctx: DryRunContext) -> None:
    generate(ctx.course, ctx.assignment)
    ctx.release = ctx.course / "release" / ctx.assignment


def _stage_validate_release(ctx: DryRunContext) -> None:
    res = validate(ctx.course, ctx.release / f"{ctx.assignment}.ipynb", invert=True)
    ctx.report.release_fails_all, ctx.report.outputs["validate_release"] = res.ok, res.output


def _stage_submit_fixtures(ctx: DryRunContext) -> None:
    import nbformat

    from .attacks import make_attack_fixtures
    from .fixtures import make_fixtures, write_submission

    a, release, report = ctx.assignment, ctx.release, ctx.report
    source_nb = nbformat.read(str(notebook_path(ctx.course, a)), as_version=4)
    release_nb = nbformat.read(str(release / f"{a}.ipynb"), as_version=4)
    helpers = sorted(
        str(p.relative_to(release)) for p in release.rglob("*") if p.is_file() and p.suffix != ".ipynb"
    )
    ctx.fixtures = make_fixtures(source_nb, release_nb, helpers)
    if ctx.attacks:
        ctx.fixtures += make_attack_fixtures(ctx.fixtures)  # each must score exactly what blank scores
    report.max_points = sum(float(c.metadata.get("nbgrader", {}).get("points", 0)) for c in source_nb.cells)
    for fx in ctx.fixtures:
        if fx.student in ctx.lms_students:
            _deliver_by_lms(ctx.course, a, fx)
            fx.notes.append("delivered as an LMS zip, collected by nbgrader zip_collect")
        else:
            write_submission(ctx.course, a, fx, release)
        report.expected[fx.student] = fx.expected
        report.notes[fx.student] = fx.notes
        report.cases[fx.student] = fx.cases
    if any(fx.student in ctx.lms_students for fx in ctx.fixtures):
        nbgrader(["zip_collect", a, "--force"], ctx.course)


def _stage_autograde(ctx: DryRunContext) -> None:
    ctx.report.seconds["autograde"] = autograde(ctx.course, ctx.assignment, jobs=ctx.jobs)
    ctx.report.actual = gradebook_scores(ctx.course, ctx.assignment)
    ctx.report.failures = dict(autograde_failures(ctx.course, ctx.assignment))


def _stage_feedback(ctx: DryRunContext) -> None:
    feedback(ctx.course, ctx.assignment)


#: the dry run, in order (real nbgrader CLI in each stage)
DRY_RUN_STAGES: tuple[Stage, ...] = (
    Stage("validate", _stage_validate_source),
    Stage("generate", _stage_generate),
    Stage("validate_invert", _stage_validate_release),
    Stage("submit", _stage_submit_fixtures, timed=False),
    Stage("autograde", _stage_autograde, timed=False),
    Stage("feedback", _stage_feedback),
)


def dry_run(
    course: Path,
    assignment: str,
    workdir: Path | None = None,
    *,
    jobs: int = 1,
    with_feedback: bool = True,
    lms_students: tuple[str, ...] = ("partial",),
    attacks: bool = True,
    stages: Sequence[Stage] | None = None,
) -> DryRun:
    """Grade generated fixture submissions of ``assignment`` in a copy of the course.

    Runs :data:`DRY_RUN_STAGES` (or ``stages``) in order: validate the source; generate the release;
    ``validate --invert`` the release; write the solution/blank/partial/tamper fixtures to ``submitted/``;
    autograde them in one call (or ``jobs`` parallel ones); generate feedback (unless
    ``with_feedback=False``). Fixtures named in ``lms_students`` arrive as an LMS download (a zip of the
    notebook only) collected with ``nbgrader zip_collect``. ``attacks=False`` leaves out the three
    generic attack submissions (:mod:`medimg_kernel.grading.attacks`), which are the same for every
    assignment. ``workdir`` (kept) defaults to a new
    temporary folder.
    """
    if not notebook_path(course, assignment).is_file():
        raise ConfigError(f"no source notebook for {assignment!r} under {course / 'source'}")
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix=f"medimg-grade-{assignment}-"))
    tmp = copy_course(course, work, [assignment])
    ctx = DryRunContext(
        tmp, assignment, DryRun(assignment, tmp), jobs=jobs, lms_students=tuple(lms_students), attacks=attacks
    )
    for stage in DRY_RUN_STAGES if stages is None else stages:
        if stage.name == "feedback" and not with_feedback:
            continue
        t = time.perf_counter()
        stage.run(ctx)
        if stage.timed:
            ctx.report.seconds[stage.name] = time.perf_counter() - t
    return ctx.report
