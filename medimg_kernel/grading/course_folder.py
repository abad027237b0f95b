"""The nbgrader course folder: where it is and which assignments it holds.

The folder is, in order: an explicit path, ``$MEDIMG_COURSE``, the current directory when it holds
``nbgrader_config.py``, ``./assignments`` when that does, or the ``assignments/`` folder of this
repository checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError

__all__ = ["course_dir", "source_dir", "authoring_dir", "assignments", "notebook_path"]

CONFIG_NAME = "nbgrader_config.py"


def course_dir(path: str | Path | None = None) -> Path:
    """Return the course folder (the one holding ``nbgrader_config.py``)."""
    candidates: list[tuple[str, Path]] = []
    if path:
        candidates.append(("given path", Path(path)))
    elif os.environ.get("MEDIMG_COURSE"):
        candidates.append(("$MEDIMG_COURSE", Path(os.environ["MEDIMG_COURSE"])))
    else:
        cwd = Path.cwd()
        candidates += [
            ("current folder", cwd),
            ("./assignments", cwd / "assignments"),
            ("repository", Path(__file__).resolve().parents[2] / "assignments"),
        ]
    for _label, cand in candidates:
        if (cand / CONFIG_NAME).is_file():
            return cand.resolve()
    tried = ", ".join(f"{label} ({cand})" for label, cand in candidates)
    raise ConfigError(
        f"no nbgrader course folder found (a folder with {CONFIG_NAME}); tried {tried}. "
        "Pass --course DIR or set MEDIMG_COURSE"
    )


def source_dir(course: Path) -> Path:
    """``<course>/source``: the nbgrader source notebooks (generated) and helper files."""
    return course / "source"


def authoring_dir(course: Path) -> Path:
    """``<course>/authoring``: the reviewable percent-script form of each assignment."""
    return course / "authoring"


def notebook_path(course: Path, assignment: str) -> Path:
    """The source notebook of ``assignment`` (``source/<a>/<a>.ipynb``)."""
    return source_dir(course) / assignment / f"{assignment}.ipynb"


def assignments(course: Path) -> list[str]:
    """Names of the assignments in ``source/`` (folders holding ``<name>.ipynb``), sorted."""
    src = source_dir(course)
    if not src.is_dir():
        return []
    return sorted(p.name for p in src.iterdir() if p.is_dir() and (p / f"{p.name}.ipynb").is_file())
