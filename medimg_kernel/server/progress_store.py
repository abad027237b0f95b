"""The student's own progress record: notebooks opened and the latest "Check my work" result per notebook.

One small JSON file per course folder under ``<data folder>/progress/`` (``$MEDIMG_DATA``), written
atomically (temporary file, then rename) so a crash never leaves half a record.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ..paths import data_dir

__all__ = ["ProgressStore"]

_LOCK = threading.Lock()


class ProgressStore:
    """Read and update the progress record of the course folder ``root``."""

    def __init__(self, root: str | Path, folder: str | Path | None = None) -> None:
        self.root = Path(root).resolve()
        key = hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        self.path = Path(folder or data_dir() / "progress") / f"{self.root.name or 'course'}-{key}.json"

    def __repr__(self) -> str:
        return f"ProgressStore(root={str(self.root)!r}, file={str(self.path)!r})"

    def load(self) -> dict[str, Any]:
        """Return ``{"opened": {path: unix time}, "selfcheck": {path: result}}`` (empty when nothing is stored)."""
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            doc = {}
        return {"opened": dict(doc.get("opened") or {}), "selfcheck": dict(doc.get("selfcheck") or {})}

    def _save(self, doc: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".progress-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=1)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def mark_opened(self, rel: str) -> None:
        """Record that the notebook ``rel`` (relative to the course folder) was opened now."""
        with _LOCK:
            doc = self.load()
            doc["opened"].setdefault(rel, time.time())
            self._save(doc)

    def record_selfcheck(self, rel: str, result: dict[str, Any]) -> dict[str, Any]:
        """Store the latest self-check ``result`` of notebook ``rel``; return it with its time stamp."""
        with _LOCK:
            doc = self.load()
            stored = {**result, "time": time.time()}
            doc["selfcheck"][rel] = stored
            doc["opened"].setdefault(rel, stored["time"])
            self._save(doc)
        return stored
