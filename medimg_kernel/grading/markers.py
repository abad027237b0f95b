"""The nbgrader region markers, in one place: ``### BEGIN/END SOLUTION`` and ``### BEGIN/END HIDDEN TESTS``.

nbgrader finds a marker anywhere in a line (its ``begin_solution_delimeter`` test is a substring match),
and so does every function here. The authoring checks, the notebook builder and the grading fixtures
all read and write the markers through this module.
"""

from __future__ import annotations

__all__ = ["SOLUTION", "HIDDEN_TESTS", "regions", "has_begin", "is_balanced", "strip", "wrap"]

#: (begin, end) marker text of each kind of region
SOLUTION = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_TESTS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def has_begin(source: str, kind: tuple[str, str]) -> bool:
    """True when ``source`` holds the begin marker of ``kind``."""
    return kind[0] in source


def is_balanced(source: str, kind: tuple[str, str]) -> bool:
    """True when every region of ``kind`` that opens also closes (and none closes unopened)."""
    depth = 0
    for ln in source.splitlines():
        if kind[0] in ln:
            if depth:
                return False
            depth = 1
        elif kind[1] in ln:
            if not depth:
                return False
            depth = 0
    return depth == 0


def regions(source: str, kind: tuple[str, str]) -> list[str]:
    """Return the text of each region of ``kind`` in ``source`` (marker lines excluded)."""
    found: list[str] = []
    current: list[str] | None = None
    for ln in source.splitlines():
        if kind[0] in ln:
            current = []
        elif kind[1] in ln:
            if current is not None:
                found.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(ln)
    return found


def strip(source: str, kind: tuple[str, str]) -> str:
    """Return ``source`` without the marker lines of ``kind`` (the region's text stays)."""
    return "\n".join(ln for ln in source.splitlines() if kind[0] not in ln and kind[1] not in ln)


def wrap(source: str, kind: tuple[str, str]) -> str:
    """Return ``source`` inside a ``### BEGIN ...`` / ``### END ...`` region of ``kind``."""
    return f"### {kind[0]}\n{source}\n### {kind[1]}"
