"""The course as the navigator shows it: lessons in order, their assignments and the student's status.

Reads only the course folder: lessons are ``NN_*.ipynb`` in ``notebooks/`` (or the folder itself),
assignments are the nbgrader folders ``NN_*`` (the student's fetched copy ``<course>/NN_x/NN_x.ipynb``
first, then ``assignments/release/`` and ``assignments/source/``), executed copies from ``medimg course
run`` sit in ``course_runs/<tier>/``. A notebook's status is the strongest evidence found:

``passed`` / ``failed``
    a self-check result ("Check my work", or the saved outputs of every ``mk.check`` cell), with the score;
``run``
    the saved notebook has every code cell executed without an error, or ``medimg course run`` ran it
    to the end (its report lists it ``ok``, with the lesson's recorded metrics);
``opened``
    opened in Jupyter (recorded by the extension, or a Jupyter checkpoint exists);
``not_started``
    none of the above.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .progress_store import ProgressStore
from .safepaths import relative_to_root
from .schema import CourseIndex, LessonInfo, NotebookStatus

__all__ = ["course_index", "notebook_status", "lesson_folder", "classify_notebook", "selfcheck_from_outputs"]

_NUM = re.compile(r"^(\d\d)_")
_HEADING = re.compile(r"^#\s+(.+)$", re.M)
_TITLE_PREFIX = re.compile(r"^\d\d\s*[·.:\-–—]\s*")
_OBJECTIVES = re.compile(r"learning objectives|in this notebook you will|you will learn", re.I)
_LIST_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*])\s+(.*)$")
_EST_TIME = re.compile(r"(?:estimated time|\btime)\b[^0-9\n]{0,20}(\d+)(?:\s*[-–]\s*(\d+))?\s*(min|minutes|h|hours)\b", re.I)
_CHECK_CALL = re.compile(r"\bcheck\(\s*[\"']([^\"']+)[\"']")
_ALL_PASSED = re.compile(r"^(.+?): all (\d+) visible tests? passed\.", re.M)
_SOME_FAILED = re.compile(r"^(.+?): (\d+) of (\d+) visible tests failed", re.M)


def lesson_folder(root: Path) -> Path | None:
    """The folder holding the lessons: ``<root>/notebooks`` or ``root`` itself, or None outside a course."""
    for cand in (root / "notebooks", root):
        if cand.is_dir() and any(cand.glob("[0-9][0-9]_*.ipynb")):
            return cand
    return None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _src(cell: dict[str, Any]) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else str(s)


def _outputs_text(cell: dict[str, Any]) -> str:
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append(_src({"source": o.get("text", "")}))
        elif o.get("output_type") == "error":
            out.append(f"{o.get('ename')}: {o.get('evalue')}")
    return "".join(out)


def _minutes(text: str, meta: dict[str, Any]) -> int | None:
    est = meta.get("estimated_minutes")
    if isinstance(est, int | float):
        return int(est)
    m = _EST_TIME.search(text)
    if not m:
        return None
    value = int(m.group(2) or m.group(1))
    return value * 60 if (m.group(3) or "").lower().startswith("h") else value


def _describe_lesson(nb: dict[str, Any]) -> tuple[str | None, list[str], int | None]:
    md = "\n\n".join(_src(c) for c in nb.get("cells", [])[:4] if c.get("cell_type") == "markdown")
    head = _HEADING.search(md)
    title = _TITLE_PREFIX.sub("", head.group(1).strip()) if head else None
    objectives: list[str] = []
    lines = md.splitlines()
    for i, line in enumerate(lines):
        if _OBJECTIVES.search(line):
            for nxt in lines[i + 1 :]:
                item = _LIST_ITEM.match(nxt)
                if item:
                    objectives.append(re.sub(r"\s+", " ", item.group(1)).strip())
                elif objectives and nxt.startswith("   ") and nxt.strip():
                    objectives[-1] += " " + nxt.strip()  # a wrapped list item
                elif objectives or nxt.strip() == "":
                    if objectives:
                        break
            break
    meta = nb.get("metadata", {}).get("medimg", {}) or {}
    return title, objectives, _minutes(md, meta)


def selfcheck_from_outputs(nb: dict[str, Any]) -> dict[str, Any] | None:
    """The self-check result stored in a saved notebook's ``mk.check`` outputs, or None when they were not run.

    Returns ``{"passed", "failed", "total", "score", "source": "outputs"}`` counting visible tests.
    """
    checks = [c for c in nb.get("cells", []) if c.get("cell_type") == "code" and _CHECK_CALL.search(_src(c))]
    if not checks or any(c.get("execution_count") is None for c in checks):
        return None
    passed = total = 0
    for c in checks:
        text = _outputs_text(c)
        ok = _ALL_PASSED.findall(text)
        bad = _SOME_FAILED.findall(text)
        if not ok and not bad:
            return None  # executed but printed nothing we know (an error before the check)
        for _, n in ok:
            passed += int(n)
            total += int(n)
        for _, nfail, n in bad:
            passed += int(n) - int(nfail)
            total += int(n)
    return {"passed": passed, "failed": total - passed, "total": total,
            "score": passed / total if total else 0.0, "source": "outputs"}


def _ran_to_end(nb: dict[str, Any]) -> bool:
    code = [c for c in nb.get("cells", []) if c.get("cell_type") == "code" and _src(c).strip()]
    return bool(code) and all(
        c.get("execution_count") is not None and not any(o.get("output_type") == "error" for o in c.get("outputs", []))
        for c in code
    )


def _course_runs(root: Path) -> dict[str, dict[str, Any]]:
    """``{notebook file name: report entry}`` from ``course_runs/**/report.json`` files (newest wins)."""
    out: dict[str, dict[str, Any]] = {}
    runs = root / "course_runs"
    if not runs.is_dir():
        return out
    reports = sorted(runs.glob("*.json"), key=lambda p: p.stat().st_mtime) + sorted(
        runs.glob("*/*.json"), key=lambda p: p.stat().st_mtime)
    for rep in reports:
        doc = _read(rep)
        if not isinstance(doc, dict):
            continue
        for entry in doc.get("notebooks", []):
            if isinstance(entry, dict) and entry.get("path"):
                out[Path(entry["path"]).name] = {**entry, "tier": doc.get("tier")}
    return out


def notebook_status(root: Path, path: Path, store: dict[str, Any], runs: dict[str, dict[str, Any]]) -> NotebookStatus:
    """The student's status for one notebook ``path`` inside the course folder ``root``."""
    rel = relative_to_root(root, path)
    nb = _read(path) or {}
    status: NotebookStatus = {"state": "not_started", "score": None, "passed": None, "total": None,
                              "metrics": {}, "evidence": None}
    if rel in store["opened"] or (path.parent / ".ipynb_checkpoints" / f"{path.stem}-checkpoint.ipynb").exists():
        status.update(state="opened", evidence="opened in Jupyter")
    run = runs.get(path.name)
    if run is not None and run.get("status") == "ok":
        status.update(state="run", evidence=f"medimg course run ({run.get('tier')})",
                      metrics=dict(run.get("metrics") or {}))
    if _ran_to_end(nb):
        status.update(state="run", evidence="saved notebook executed to the end")
    result = store["selfcheck"].get(rel) or selfcheck_from_outputs(nb)
    if result and result.get("total"):
        status.update(state="passed" if result["passed"] == result["total"] else "failed",
                      score=result.get("score"), passed=result["passed"], total=result["total"],
                      evidence="Check my work" if result.get("source") != "outputs" else "saved self-check outputs")
    return status


def _assignment_for(root: Path, number: str) -> Path | None:
    """The student's copy of assignment ``number``: fetched copy, then release, then source."""
    candidates = sorted(root.glob(f"{number}_*/{number}_*.ipynb"))
    for sub in ("release", "source"):
        candidates += sorted((root / "assignments" / sub).glob(f"{number}_*/{number}_*.ipynb"))
    return next((c for c in candidates if ".ipynb_checkpoints" not in c.parts), None)


def classify_notebook(root: Path, path: Path) -> dict[str, Any]:
    """Whether ``path`` belongs to the course: ``{"kind": "lesson"|"assignment"|None, "number", "selfcheck"}``."""
    nb = _read(path) or {}
    meta = nb.get("metadata", {}).get("medimg", {}) or {}
    lessons = lesson_folder(root)
    m = _NUM.match(path.name)
    has_checks = any(c.get("cell_type") == "code" and _CHECK_CALL.search(_src(c)) for c in nb.get("cells", []))
    kind = None
    if meta.get("assignment") or any("nbgrader" in c.get("metadata", {}) for c in nb.get("cells", [])):
        kind = "assignment"
    elif lessons is not None and path.parent == lessons.resolve() and m:
        kind = "lesson"
    return {"path": relative_to_root(root, path), "kind": kind, "number": m.group(1) if m else None,
            "selfcheck": has_checks and kind is not None}


def course_index(root: str | Path, store: ProgressStore | None = None, tier: str | None = None) -> CourseIndex:
    """Return the lessons in order with title, objectives, estimated time, tier, assignment and status."""
    root = Path(root).resolve()
    store = store or ProgressStore(root)
    progress = store.load()
    runs = _course_runs(root)
    folder = lesson_folder(root)
    lessons: list[LessonInfo] = []
    if folder is not None:
        for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
            nb = _read(path.resolve())
            if nb is None:
                continue
            title, objectives, minutes = _describe_lesson(nb)
            number = path.name[:2]
            meta = nb.get("metadata", {}).get("medimg", {}) or {}
            assignment = _assignment_for(root, number) if number != "00" else None
            lessons.append({
                "number": number,
                "path": relative_to_root(root, path),
                "title": title or path.stem,
                "objectives": objectives,
                "estimated_minutes": minutes,
                "tier": tier,
                "budget_s": meta.get("budget_s"),
                "status": notebook_status(root, path.resolve(), progress, runs),
                "assignment": None if assignment is None else {
                    "name": assignment.parent.name,
                    "path": relative_to_root(root, assignment),
                    "status": notebook_status(root, assignment.resolve(), progress, runs),
                },
            })
    return {"root": str(root), "lessons_dir": relative_to_root(root, folder) if folder else None,
            "tier": tier, "lessons": lessons,
            "welcome": next((le["path"] for le in lessons if le["number"] == "00"), None)}
