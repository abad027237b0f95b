"""Parse the reviewable source form of an assignment: a percent script with nbgrader roles in cell markers.

An authoring file ``assignments/authoring/<assignment>.py`` is a Python file (readable in any diff,
runnable as a script) made of cells. Each cell starts with a marker line::

    # %% [markdown] readonly id=intro
    # %% solution id=window_answer exercise=window
    # %% tests id=window_tests points=3

``[markdown]`` makes a markdown cell (its lines are ``# ``-prefixed, as in jupytext); the first bare
word is the nbgrader role, then ``key=value`` options. Lines before the first marker are a file header
(comments) and are not copied into the notebook. See ``assignments/README.md`` for the full format.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from . import markers

__all__ = ["ROLES", "AuthoredCell", "AuthoredAssignment", "parse_authoring", "parse_text"]

# role -> (grade, solution, locked, task, needs points)
ROLES: dict[str, tuple[bool, bool, bool, bool, bool]] = {
    "readonly": (False, False, True, False, False),  # locked instructions / setup code
    "solution": (False, True, False, False, False),  # autograded answer (code with BEGIN/END SOLUTION)
    "tests": (True, False, True, False, True),  # autograder tests (visible, optional hidden region)
    "hidden": (True, False, True, False, True),  # autograder tests, whole cell hidden from students
    "manual": (True, True, False, False, True),  # manually graded answer (markdown or code)
    "task": (False, False, True, True, True),  # manually graded task (markdown)
    "rubric": (False, False, True, False, False),  # locked marking scheme of a manual cell (for=<id>)
}
OPTIONS = ("id", "points", "exercise", "requires", "for")
_RUBRIC_LINE = re.compile(r"^\s*[-*]\s*(?P<points>\d+(?:\.\d+)?)\s*(?:pts?|points?)?\s*[:\u2014-]\s*(?P<text>\S.*)$")
_MARKER = re.compile(r"^# %%(?P<rest>.*)$")
_GRADE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class AuthoredCell:
    """One cell of an authoring file: type, nbgrader role and options, source, and where it starts."""

    cell_type: str  # "code" | "markdown"
    role: str | None
    source: str
    line: int
    grade_id: str | None = None
    points: float | None = None
    exercise: str | None = None
    requires: tuple[str, ...] = ()
    rubric_for: str | None = None  # a rubric cell: the manual cell it marks
    rubric: list[tuple[float, str]] = field(default_factory=list)  # (points, criterion)


@dataclass
class AuthoredAssignment:
    """A parsed authoring file: the assignment name, its cells and the file it came from."""

    name: str
    path: Path | None
    cells: list[AuthoredCell] = field(default_factory=list)

    @property
    def exercises(self) -> list[str]:
        """Autograded exercises in order of first appearance."""
        seen: list[str] = []
        for c in self.cells:
            if c.role in ("solution", "tests", "hidden") and c.exercise and c.exercise not in seen:
                seen.append(c.exercise)
        return seen

    @property
    def max_points(self) -> float:
        """Total points of the assignment (tests, manual answers and tasks)."""
        return float(sum(c.points or 0 for c in self.cells))


def _fail(where: str, line: int, msg: str) -> ConfigError:
    return ConfigError(f"{where}:{line}: {msg}")


def _parse_marker(rest: str, where: str, line: int) -> tuple[str, str | None, dict[str, str]]:
    rest = rest.strip()
    cell_type = "code"
    if rest.startswith("[markdown]") or rest.startswith("[md]"):
        cell_type = "markdown"
        rest = rest.split("]", 1)[1]
    try:
        words = shlex.split(rest)
    except ValueError as err:
        raise _fail(where, line, f"cannot read cell marker options ({err})") from None
    role: str | None = None
    options: dict[str, str] = {}
    for w in words:
        if "=" in w:
            key, _, value = w.partition("=")
            if key not in OPTIONS:
                raise _fail(where, line, f"unknown option {key!r}; valid options: {', '.join(OPTIONS)}")
            options[key] = value
        elif role is None:
            if w not in ROLES:
                raise _fail(
                    where,
                    line,
                    f"unknown role {w!r}; valid roles: {', '.join(ROLES)} (or none for an ordinary cell)",
                )
            role = w
        else:
            raise _fail(where, line, f"a cell has one role, found {role!r} and {w!r}")
    return cell_type, role, options


def _markdown_source(lines: list[str], where: str, first_line: int) -> str:
    out = []
    for i, ln in enumerate(lines):
        if ln == "#" or ln.startswith("# "):
            out.append(ln[2:])
        elif ln.strip() == "":
            out.append("")
        else:
            raise _fail(where, first_line + i, "markdown lines must start with '# ' (or be '#')")
    return "\n".join(out).strip("\n")


def parse_text(text: str, name: str, path: Path | None = None) -> AuthoredAssignment:
    """Parse authoring ``text`` of assignment ``name`` into cells (see the module docstring)."""
    where = str(path or f"<{name}>")
    lines = text.splitlines()
    starts = [(i, m) for i, ln in enumerate(lines) if (m := _MARKER.match(ln))]
    if not starts:
        raise ConfigError(f"{where}: no cells found; start each cell with a '# %%' marker line")
    result = AuthoredAssignment(name=name, path=path)
    for k, (i, m) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(lines)
        body = lines[i + 1 : end]
        cell_type, role, options = _parse_marker(m.group("rest"), where, i + 1)
        if cell_type == "markdown":
            source = _markdown_source(body, where, i + 2)
        else:
            source = "\n".join(body).strip("\n")
        cell = AuthoredCell(cell_type, role, source, i + 1, options.get("id"), None, options.get("exercise"))
        cell.requires = tuple(r for r in options.get("requires", "").split(",") if r)
        cell.rubric_for = options.get("for")
        if "points" in options:
            try:
                cell.points = float(options["points"])
            except ValueError:
                raise _fail(where, i + 1, f"points must be a number, found {options['points']!r}") from None
        result.cells.append(cell)
    _validate(result, where)
    return result


def parse_authoring(path: str | Path) -> AuthoredAssignment:
    """Read and parse the authoring file at ``path``; the assignment name is the file's stem."""
    p = Path(path)
    return parse_text(p.read_text(encoding="utf-8"), p.stem, p)


def _parse_rubric(c: AuthoredCell, a: AuthoredAssignment, where: str) -> None:
    """Read a rubric cell's ``- <points>: <criterion>`` lines and check they add up to its manual cell."""
    if c.cell_type != "markdown" or not c.rubric_for:
        raise _fail(where, c.line, "a rubric is a markdown cell with for=<id of the manual cell it marks>")
    target = next((x for x in a.cells if x.grade_id == c.rubric_for), None)
    if target is None or target.role not in ("manual", "task") or a.cells.index(target) > a.cells.index(c):
        raise _fail(where, c.line, f"for={c.rubric_for!r} must name a manual or task cell above the rubric")
    for n, ln in enumerate(c.source.splitlines()):
        m = _RUBRIC_LINE.match(ln)
        if m:
            c.rubric.append((float(m.group("points")), m.group("text").strip()))
        elif ln.strip().startswith(("-", "*")):
            raise _fail(where, c.line + 1 + n, "rubric lines read '- <points>: <criterion>'")
    total = sum(p for p, _ in c.rubric)
    if not c.rubric or abs(total - (target.points or 0)) > 1e-9:
        raise _fail(where, c.line, f"the rubric for {c.rubric_for!r} gives {total:g} points; the answer is "
                    f"worth {target.points:g}: make the criteria add up")


def _validate(a: AuthoredAssignment, where: str) -> None:
    """Check roles, ids, points and ordering rules that nbgrader 0.9 needs to grade correctly."""
    ids: set[str] = set()
    last_nbgrader_role: str | None = None
    current_exercise: str | None = None
    for c in a.cells:
        if c.role is None:
            if c.grade_id or c.points is not None or c.exercise or c.requires:
                raise _fail(where, c.line, "options need a role (readonly, solution, tests, ...)")
            continue
        if c.requires and c.role not in ("tests", "hidden"):
            raise _fail(where, c.line, "requires= belongs on a tests cell")
        if c.rubric_for and c.role != "rubric":
            raise _fail(where, c.line, "for= belongs on a rubric cell")
        if c.role == "rubric":
            _parse_rubric(c, a, where)
        grade, solution, _locked, task, needs_points = ROLES[c.role]
        if not c.grade_id:
            raise _fail(where, c.line, f"a {c.role} cell needs id=<unique grade id>")
        if not _GRADE_ID.match(c.grade_id):
            raise _fail(where, c.line, f"id {c.grade_id!r} must be 1-64 letters, digits, '_' or '-'")
        if c.grade_id in ids:
            raise _fail(where, c.line, f"duplicate id {c.grade_id!r}; every cell id must be unique")
        ids.add(c.grade_id)
        if needs_points:
            if c.points is None or c.points <= 0:
                raise _fail(where, c.line, f"a {c.role} cell needs points=<number > 0>")
        elif c.points is not None:
            raise _fail(
                where, c.line, f"a {c.role} cell carries no points (only tests, hidden, manual, task)"
            )
        if task and c.cell_type != "markdown":
            raise _fail(where, c.line, "a task cell must be a markdown cell")
        has_solution_region = markers.has_begin(c.source, markers.SOLUTION)
        if c.role == "solution":
            if c.cell_type != "code":
                raise _fail(
                    where,
                    c.line,
                    "an autograded solution cell must be code; use 'manual' for written answers",
                )
            if not has_solution_region or not markers.is_balanced(c.source, markers.SOLUTION):
                raise _fail(
                    where,
                    c.line,
                    "a solution cell needs ### BEGIN SOLUTION / ### END SOLUTION "
                    "around the answer (students keep the rest, e.g. the signature)",
                )
            c.exercise = c.exercise or c.grade_id
            current_exercise = c.exercise
        elif has_solution_region and not solution:
            raise _fail(
                where,
                c.line,
                f"BEGIN SOLUTION found in a {c.role} cell; only solution/manual cells may hold solutions",
            )
        if markers.has_begin(c.source, markers.HIDDEN_TESTS) and not grade:
            raise _fail(where, c.line, "hidden tests are only allowed in tests cells")
        if c.role in ("tests", "hidden"):
            if c.cell_type != "code":
                raise _fail(where, c.line, "tests cells must be code")
            if last_nbgrader_role not in ("solution", "tests", "hidden", "manual"):
                # nbgrader's add_missing_cells re-inserts a deleted test cell after the previous
                # solution/grade cell and fails if that neighbour is a read-only cell
                raise _fail(
                    where,
                    c.line,
                    "a tests cell must directly follow a solution or another tests "
                    "cell (nbgrader restores deleted test cells after that cell)",
                )
            c.exercise = c.exercise or current_exercise
            if not c.exercise:
                raise _fail(where, c.line, "a tests cell needs a preceding solution cell or exercise=<name>")
            known = {x.exercise for x in a.cells if x.role == "solution"}
            for req in c.requires:
                if req not in known or req == c.exercise:
                    raise _fail(
                        where,
                        c.line,
                        f"requires={req!r} must name another exercise defined by a "
                        f"solution cell; known: {', '.join(sorted(known))}",
                    )
            if c.role == "tests" and not markers.is_balanced(c.source, markers.HIDDEN_TESTS):
                raise _fail(where, c.line, "unbalanced ### BEGIN/END HIDDEN TESTS markers")
        last_nbgrader_role = c.role
