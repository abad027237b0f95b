"""The course gradebook: every student's weighted total, late days and pass status, from nbgrader's.

nbgrader keeps one score per grade cell and submission. :func:`course_records` reads them once, maps
grade cells to exercises and learning objectives, applies the course's late-day policy and weights, and
returns one :class:`StudentRecord` per student, with a row marked "no submission" wherever a student
has none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MedimgKernelError
from .policy import CoursePolicy

__all__ = ["AssignmentResult", "StudentRecord", "course_records", "exercise_map"]


class GradebookError(MedimgKernelError, RuntimeError):
    """The nbgrader gradebook is missing or cannot be read."""


@dataclass
class AssignmentResult:
    """One student's result on one assignment, after the late-day policy."""

    assignment: str
    status: str  # "graded", "no submission", "needs manual grading"
    raw: float = 0.0
    max: float = 0.0
    days_late: int = 0
    free_days_used: int = 0
    late_factor: float = 1.0
    exercises: dict[str, tuple[float, float]] = field(default_factory=dict)  # exercise -> (score, max)

    @property
    def score(self) -> float:
        """The score after the late penalty."""
        return self.raw * self.late_factor

    @property
    def percent(self) -> float:
        """The score as a percent of the maximum (0 with no submission)."""
        return 100.0 * self.score / self.max if self.max else 0.0


@dataclass
class StudentRecord:
    """A student's whole course: per-assignment results, the weighted total and the pass decision."""

    student_id: str
    name: str
    email: str
    results: dict[str, AssignmentResult]
    total_percent: float = 0.0
    passed: bool = False
    reasons: list[str] = field(default_factory=list)  # why not passed (or what is still missing)
    objectives: dict[str, float] = field(default_factory=dict)  # objective -> percent

    def missing(self) -> list[str]:
        """Assignments with no submission."""
        return [a for a, r in self.results.items() if r.status == "no submission"]


def exercise_map(course: Path, assignment: str) -> dict[str, tuple[str, float]]:
    """Map each grade cell id of an assignment's source notebook to ``(exercise, points)``."""
    import nbformat

    path = course / "source" / assignment / f"{assignment}.ipynb"
    if not path.is_file():
        return {}
    out: dict[str, tuple[str, float]] = {}
    for cell in nbformat.read(str(path), as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            gid = meta.get("grade_id")
            exercise = cell.metadata.get("medimg", {}).get("exercise") or gid
            out[gid] = (exercise, float(meta.get("points", 0)))
    return out


def _days_late(timestamp: Any, due: Any) -> int:
    if timestamp is None or due is None:
        return 0
    ts = timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=due.tzinfo)
    seconds = (ts - due).total_seconds()
    return max(0, math.ceil(seconds / 86400.0))


def course_records(course: str | Path, policy: CoursePolicy) -> list[StudentRecord]:
    """Read nbgrader's gradebook in ``course`` and return one record per student, sorted by id."""
    from nbgrader.api import Gradebook

    course = Path(course)
    db = course / "gradebook.db"
    if not db.is_file():
        raise GradebookError(f"no gradebook at {db}: run `medimg grade generate` and `autograde` first")
    from ..grading.pipeline import autograde_failures

    maps = {a: exercise_map(course, a) for a in policy.assignments}
    failures = autograde_failures(course)
    for aname, apol in policy.assignments.items():
        known = {ex for ex, _ in maps[aname].values()}
        for obj, exercises in apol.objectives.items():
            unknown = [e for e in exercises if known and e not in known]
            if unknown:
                from ..errors import ConfigError

                raise ConfigError(f"course.yaml: key 'assignments.{aname}.objectives.{obj}': no exercise "
                                  f"{unknown[0]!r} in {aname}; it has: {', '.join(sorted(known))}")
    records: list[StudentRecord] = []
    with Gradebook(f"sqlite:///{db}") as gb:
        subs: dict[tuple[str, str], Any] = {}
        max_by_assignment: dict[str, float] = {}
        for a in gb.assignments:
            if a.name not in policy.assignments:
                continue
            max_by_assignment[a.name] = float(a.max_score)
            for sub in a.submissions:
                subs[(a.name, sub.student.id)] = sub
        for student in sorted(gb.students, key=lambda s: s.id):
            name = " ".join(p for p in (student.first_name, student.last_name) if p) or student.id
            results: dict[str, AssignmentResult] = {}
            free_left = policy.late.free_days
            for aname, apol in policy.assignments.items():  # course order: late days are used in order
                emap = maps.get(aname, {})
                amax = max_by_assignment.get(aname) or sum(p for _, p in emap.values())
                sub = subs.get((aname, student.id))
                failed = failures.get(aname, {}).get(student.id)
                if failed:
                    results[aname] = AssignmentResult(aname, f"not gradable: {failed}", max=amax)
                    continue
                if sub is None:
                    empty: dict[str, tuple[float, float]] = {}
                    for exercise, pts in emap.values():
                        empty[exercise] = (0.0, empty.get(exercise, (0.0, 0.0))[1] + pts)
                    results[aname] = AssignmentResult(aname, "no submission", max=amax, exercises=empty)
                    continue
                exercises: dict[str, tuple[float, float]] = {}
                needs_manual = False
                for nb in sub.notebooks:
                    for g in nb.grades:
                        exercise = emap.get(g.name, (g.name, 0.0))[0]
                        got, mx = exercises.get(exercise, (0.0, 0.0))
                        exercises[exercise] = (got + float(g.score or 0.0), mx + float(g.max_score or 0.0))
                        needs_manual |= bool(g.needs_manual_grade)
                days = _days_late(sub.timestamp, apol.due)
                factor, used = policy.late.penalty(days, free_left)
                free_left -= used
                results[aname] = AssignmentResult(
                    aname, "needs manual grading" if needs_manual else "graded",
                    raw=float(sub.score or 0.0), max=float(sub.max_score or amax), days_late=days,
                    free_days_used=used, late_factor=factor, exercises=exercises,
                )
            records.append(_decide(StudentRecord(student.id, name, student.email or "", results), policy))
    return records


def _decide(rec: StudentRecord, policy: CoursePolicy) -> StudentRecord:
    """Fill in the weighted total, objectives and the pass decision."""
    total_w = policy.total_weight
    rec.total_percent = sum(
        policy.assignments[a].weight * r.percent for a, r in rec.results.items()
    ) / total_w
    reasons: list[str] = []
    for a in policy.required():
        r = rec.results[a]
        if r.status == "no submission":
            reasons.append(f"required assignment {a} has no submission")
        elif r.status == "needs manual grading":
            reasons.append(f"required assignment {a} still needs manual grading")
        elif policy.required_pass_mark is not None and r.percent < policy.required_pass_mark:
            reasons.append(f"required assignment {a}: {r.percent:.0f}% < {policy.required_pass_mark:.0f}%")
    if rec.total_percent < policy.pass_mark:
        reasons.append(f"weighted total {rec.total_percent:.1f}% < pass mark {policy.pass_mark:.0f}%")
    rec.reasons = reasons
    rec.passed = not reasons
    objectives: dict[str, tuple[float, float]] = {}
    for a, apol in policy.assignments.items():
        r = rec.results[a]
        for obj, exercises in apol.objectives.items():
            got, mx = objectives.get(obj, (0.0, 0.0))
            for ex in exercises:
                s, m = r.exercises.get(ex, (0.0, 0.0))
                got, mx = got + s * r.late_factor, mx + m
            objectives[obj] = (got, mx)
    rec.objectives = {o: (100.0 * g / m if m else 0.0) for o, (g, m) in objectives.items()}
    return rec

