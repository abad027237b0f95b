"""Refuse paths that leave the course folder: ``..``, absolute paths and symlinks pointing outside.

Every path the server extension receives from the browser goes through :func:`resolve_inside`; nothing
else in :mod:`medimg_kernel.server` opens a client-supplied path.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from ..errors import BadPathError

__all__ = ["resolve_inside", "relative_to_root"]

_DRIVE = re.compile(r"^[A-Za-z]:")


def resolve_inside(root: str | Path, rel: str) -> Path:
    """Return the real path of ``rel`` (a ``/``-separated path relative to ``root``), or raise :class:`BadPathError`.

    Refused: empty paths, NUL bytes, absolute paths (POSIX, Windows drive or UNC), any ``..`` part and
    paths whose real location (after following symlinks) is outside ``root``.
    """
    if not isinstance(rel, str) or not rel.strip():
        raise BadPathError("a path relative to the course folder is required (got an empty one)")
    if "\x00" in rel:
        raise BadPathError("the path holds a NUL byte; send a plain relative path")
    if rel.startswith(("/", "\\")) or _DRIVE.match(rel):
        raise BadPathError(f"absolute paths are refused ({rel!r}); send a path relative to the course folder")
    parts = PurePosixPath(rel.replace("\\", "/")).parts
    if ".." in parts:
        raise BadPathError(f"'..' is refused in {rel!r}; send a path inside the course folder")
    base = Path(root).resolve()
    real = (base / Path(*parts)).resolve()
    if real != base and base not in real.parents:
        raise BadPathError(f"{rel!r} points outside the course folder (a symlink?); it is not served")
    return real


def relative_to_root(root: str | Path, path: Path) -> str:
    """``path`` relative to ``root`` with ``/`` separators (as the Jupyter contents API names files)."""
    return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
