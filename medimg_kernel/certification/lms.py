"""Grade exports in the column conventions of Canvas, Moodle and Gradescope.

- **Canvas** (Grades → Import): ``Student, ID, SIS User ID, SIS Login ID, Section``, one column per
  assignment, and a ``Points Possible`` row under the header.
- **Moodle** (Grades → Import → CSV): ``Email address`` (the mapping field), ``ID number``, one column
  per grade item, the final course total last.
- **Gradescope** (its own "Download Grades" layout): ``First Name, Last Name, SID, Email``, then per
  assignment ``<name>``, ``<name> - Max Points``, ``<name> - Lateness (H:M:S)``.

Scores are after the late-day policy. A student with no submission gets an empty cell (Canvas and
Moodle then leave the grade untouched) and is still listed.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import ConfigError
from .policy import CoursePolicy
from .records import StudentRecord

LMS_FORMATS = ("canvas", "moodle", "gradescope")

__all__ = ["export_lms", "LMS_FORMATS"]


def _cell(rec: StudentRecord, a: str) -> str:
    r = rec.results[a]
    return "" if r.status == "no submission" else f"{r.score:.2f}"


def _split(name: str) -> tuple[str, str]:
    first, _, last = name.partition(" ")
    return first, last


def export_lms(records: list[StudentRecord], policy: CoursePolicy, fmt: str, to: str | Path) -> Path:
    """Write ``records`` as an LMS import CSV (``fmt``: canvas, moodle or gradescope) and return the path."""
    fmt = fmt.lower()
    if fmt not in LMS_FORMATS:
        raise ConfigError(f"unknown LMS format {fmt!r}: choose one of {', '.join(LMS_FORMATS)}")
    names = list(policy.assignments)
    maxima = {a: max((r.results[a].max for r in records), default=0.0) for a in names}
    path = Path(to)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        if fmt == "canvas":
            w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *names])
            w.writerow(["Points Possible", "", "", "", "", *(f"{maxima[a]:.2f}" for a in names)])
            for rec in records:
                w.writerow([rec.name, "", rec.student_id, rec.email or rec.student_id, "",
                            *(_cell(rec, a) for a in names)])
        elif fmt == "moodle":
            w.writerow(["Email address", "ID number", *names, "Course total (%)"])
            for rec in records:
                w.writerow([rec.email, rec.student_id, *(_cell(rec, a) for a in names), f"{rec.total_percent:.2f}"])
        else:
            header = ["First Name", "Last Name", "SID", "Email"]
            for a in names:
                header += [a, f"{a} - Max Points", f"{a} - Lateness (H:M:S)"]
            w.writerow(header)
            for rec in records:
                row = [*_split(rec.name), rec.student_id, rec.email]
                for a in names:
                    r = rec.results[a]
                    row += [_cell(rec, a), f"{maxima[a]:.2f}", f"{24 * r.days_late}:00:00"]
                w.writerow(row)
    return path
