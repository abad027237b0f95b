"""The course policy: assignment weights, the pass mark, late days and what the certificate requires.

It is data, kept beside the nbgrader config as ``course.yaml``::

    course: {id: medimg, title: "Machine learning in medical imaging", instructor: "Dr. A. Teacher"}
    pass_mark: 60            # percent of the weighted total
    required_pass_mark: 50   # percent each required assignment needs on its own (optional)
    late: {free_days: 3, penalty_per_day: 10, max_days: 7}
    assignments:
      01_medical_images: {weight: 1, required: true, due: 2027-01-15, objectives: {...}}

``objectives`` maps a learning objective to the exercises (``metadata.medimg.exercise`` of the grade
cells) that assess it. Every error names the key that is wrong.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError

POLICY_NAME = "course.yaml"

__all__ = ["AssignmentPolicy", "CoursePolicy", "LatePolicy", "load_policy", "POLICY_NAME"]


@dataclass(frozen=True)
class LatePolicy:
    """A pool of free late days for the whole course, then a penalty per day, then zero."""

    free_days: int = 0
    penalty_per_day: float = 0.0  # percentage points of the assignment's score lost per late day
    max_days: int | None = None  # later than this scores zero

    def penalty(self, days_late: int, free_left: int) -> tuple[float, int]:
        """Return ``(factor, free days used)`` for a submission ``days_late`` days late."""
        if days_late <= 0:
            return 1.0, 0
        if self.max_days is not None and days_late > self.max_days:
            return 0.0, 0
        used = min(free_left, days_late)
        charged = days_late - used
        return max(0.0, 1.0 - charged * self.penalty_per_day / 100.0), used


@dataclass(frozen=True)
class AssignmentPolicy:
    """How one assignment counts: its weight, whether the certificate requires it, its due date."""

    name: str
    weight: float = 1.0
    required: bool = False
    due: _dt.datetime | None = None
    objectives: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class CoursePolicy:
    """The whole course policy read from ``course.yaml``."""

    course_id: str
    title: str
    instructor: str
    pass_mark: float
    assignments: dict[str, AssignmentPolicy]
    late: LatePolicy = LatePolicy()
    required_pass_mark: float | None = None
    source: Path | None = None

    @property
    def total_weight(self) -> float:
        """The sum of all assignment weights."""
        return float(sum(a.weight for a in self.assignments.values()))

    def required(self) -> list[str]:
        """Names of the assignments the certificate requires."""
        return [a.name for a in self.assignments.values() if a.required]


def _err(where: str, key: str, msg: str) -> ConfigError:
    return ConfigError(f"{where}: key '{key}': {msg}")


def _number(value: Any, where: str, key: str, lo: float, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _err(where, key, f"expected a number, found {value!r}")
    if value < lo or (hi is not None and value > hi):
        rng = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise _err(where, key, f"must be {rng}, found {value}")
    return float(value)


def _date(value: Any, where: str, key: str) -> _dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        d = value
    elif isinstance(value, _dt.date):
        d = _dt.datetime.combine(value, _dt.time(23, 59, 59))
    elif isinstance(value, str):
        try:
            d = (_dt.datetime.combine(_dt.date.fromisoformat(value), _dt.time(23, 59, 59)) if len(value) == 10
                 else _dt.datetime.fromisoformat(value))
        except ValueError as err:
            raise _err(where, key, f"expected an ISO date like 2027-01-15, found {value!r}") from err
    else:
        raise _err(where, key, f"expected an ISO date like 2027-01-15, found {value!r}")
    return d if d.tzinfo else d.replace(tzinfo=_dt.timezone.utc)


def parse_policy(data: Any, where: str = POLICY_NAME, known: list[str] | None = None) -> CoursePolicy:
    """Validate a parsed ``course.yaml`` mapping and return the policy (``known``: existing assignments)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with keys course, pass_mark, assignments")
    allowed = {"course", "pass_mark", "required_pass_mark", "late", "assignments"}
    for key in data:
        if key not in allowed:
            raise _err(where, str(key), f"unknown key; valid keys: {', '.join(sorted(allowed))}")
    course = data.get("course")
    if not isinstance(course, dict) or not course.get("id"):
        raise _err(where, "course", "expected a mapping with at least 'id' (and 'title', 'instructor')")
    if "pass_mark" not in data:
        raise _err(where, "pass_mark", "missing: the percent of the weighted total needed to pass")
    pass_mark = _number(data["pass_mark"], where, "pass_mark", 0, 100)
    req_mark = data.get("required_pass_mark")
    req_mark = None if req_mark is None else _number(req_mark, where, "required_pass_mark", 0, 100)
    late_raw = data.get("late") or {}
    if not isinstance(late_raw, dict):
        raise _err(where, "late", "expected a mapping with free_days, penalty_per_day, max_days")
    for key in late_raw:
        if key not in {"free_days", "penalty_per_day", "max_days"}:
            raise _err(where, f"late.{key}", "unknown key; valid keys: free_days, penalty_per_day, max_days")
    late = LatePolicy(
        free_days=int(_number(late_raw.get("free_days", 0), where, "late.free_days", 0)),
        penalty_per_day=_number(late_raw.get("penalty_per_day", 0), where, "late.penalty_per_day", 0, 100),
        max_days=None if late_raw.get("max_days") is None
        else int(_number(late_raw["max_days"], where, "late.max_days", 0)),
    )
    raw = data.get("assignments")
    if not isinstance(raw, dict) or not raw:
        raise _err(where, "assignments", "expected a mapping of assignment name -> {weight, required, due}")
    out: dict[str, AssignmentPolicy] = {}
    for name, spec in raw.items():
        key = f"assignments.{name}"
        if known is not None and name not in known:
            raise _err(where, key, f"no such assignment in source/; known: {', '.join(known) or 'none yet'}")
        spec = spec or {}
        if not isinstance(spec, dict):
            raise _err(where, key, "expected a mapping with weight, required, due, objectives")
        for sub in spec:
            if sub not in {"weight", "required", "due", "objectives"}:
                raise _err(where, f"{key}.{sub}", "unknown key; valid keys: weight, required, due, objectives")
        objectives: dict[str, tuple[str, ...]] = {}
        for obj, exercises in (spec.get("objectives") or {}).items():
            if isinstance(exercises, str):
                exercises = [exercises]
            if not isinstance(exercises, list) or not all(isinstance(e, str) for e in exercises):
                raise _err(where, f"{key}.objectives.{obj}", "expected a list of exercise names")
            objectives[str(obj)] = tuple(exercises)
        required = spec.get("required", False)
        if not isinstance(required, bool):
            raise _err(where, f"{key}.required", f"expected true or false, found {required!r}")
        out[str(name)] = AssignmentPolicy(
            name=str(name),
            weight=_number(spec.get("weight", 1), where, f"{key}.weight", 0),
            required=required,
            due=_date(spec.get("due"), where, f"{key}.due"),
            objectives=objectives,
        )
    if sum(a.weight for a in out.values()) <= 0:
        raise _err(where, "assignments", "the weights add up to 0; give at least one assignment a weight")
    return CoursePolicy(
        course_id=str(course["id"]),
        title=str(course.get("title", course["id"])),
        instructor=str(course.get("instructor", "")),
        pass_mark=pass_mark,
        required_pass_mark=req_mark,
        assignments=out,
        late=late,
    )


def load_policy(course: str | Path, known: list[str] | None = None) -> CoursePolicy:
    """Read and validate ``<course>/course.yaml`` (or a given YAML file)."""
    import yaml

    path = Path(course)
    if path.is_dir():
        path = path / POLICY_NAME
    if not path.is_file():
        raise ConfigError(f"no course policy at {path}: write a {POLICY_NAME} with course, pass_mark and "
                          "assignments (see assignments/README.md)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{at}: not valid YAML ({getattr(err, 'problem', err)})") from err
    policy = parse_policy(data, str(path), known)
    return CoursePolicy(**{**policy.__dict__, "source": path})
