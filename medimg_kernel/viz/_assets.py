"""Locate the front-end sources (ESM/CSS) of our widgets, kept in the top-level ``widgets/`` folder.

In a source checkout or an editable install they are read from ``<repo>/widgets``; an installed wheel
carries them as data files under ``<prefix>/share/medimg/widgets`` (``[tool.setuptools.data-files]``
in pyproject.toml). No npm build, no CDN: the files are plain ES modules.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

from ..errors import MedimgKernelError

__all__ = ["asset_path", "asset_dirs"]


def asset_dirs() -> list[Path]:
    """Folders searched for widget sources, in order."""
    dirs = []
    if os.environ.get("MEDIMG_WIDGETS_DIR"):
        dirs.append(Path(os.environ["MEDIMG_WIDGETS_DIR"]))
    dirs.append(Path(__file__).resolve().parents[2] / "widgets")  # source checkout / editable install
    for scheme in (None, f"{os.name}_user"):
        try:
            data = sysconfig.get_path("data", scheme) if scheme else sysconfig.get_path("data")
        except KeyError:
            continue
        dirs.append(Path(data) / "share" / "medimg" / "widgets")
    return dirs


def asset_path(name: str) -> Path:
    """Path of the widget source file ``name`` (e.g. ``"light_viewer.js"``)."""
    for folder in asset_dirs():
        if (folder / name).is_file():
            return folder / name
    raise MedimgKernelError(
        f"widget source {name!r} not found in {', '.join(str(d) for d in asset_dirs())}; "
        "reinstall medimg-kernel (pip install -e . in the repository) or set MEDIMG_WIDGETS_DIR"
    )
