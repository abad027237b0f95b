"""Where the kit keeps its files: the one data folder that downloads, caches and calibrations share."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir", "DATA_ENV"]

#: environment variable that overrides the data folder
DATA_ENV = "MEDIMG_DATA"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Return the data folder: ``override``, else ``$MEDIMG_DATA``, else the platform's user cache dir ``medimg``."""
    if override is None:
        override = os.environ.get(DATA_ENV) or None
    if override is None:
        import platformdirs

        override = platformdirs.user_cache_dir("medimg", appauthor=False)
    return Path(override).expanduser()
