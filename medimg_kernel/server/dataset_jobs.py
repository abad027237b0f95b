"""The registry as the dataset panel shows it, and background fetches whose progress the panel polls.

A fetch runs :func:`medimg_kernel.data.fetch` in a worker thread (the data layer does the download,
hash check and extraction); its progress is the number of bytes in the dataset's cache folder, final
and partial files together, against the sizes the registry lists. A failure keeps the data layer's
one-line message.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from .schema import DatasetRow, FetchJob

__all__ = ["registry_rows", "FetchJobs", "verify_dataset", "find_packs", "import_pack", "PACK_SUFFIX"]

#: file name ending of offline course packs (``medimg data pack NAME... course.medimgpack``)
PACK_SUFFIX = ".medimgpack"


def _folder_bytes(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    total = 0
    for p in folder.rglob("*"):
        try:
            if p.is_file() and not p.is_symlink() and not p.name.startswith(".medimg-verified"):
                total += p.stat().st_size
        except OSError:
            continue
    return total


def _download_bytes(folder: Path, filenames: list[str]) -> int:
    """Bytes of the registry's files (final or partial) in ``folder``; extracted contents do not count."""
    total = 0
    for name in filenames:
        p = folder / name
        if p.is_file():
            total += p.stat().st_size
            continue
        for part in (folder / ".partial").glob(f"{name}.*") if (folder / ".partial").is_dir() else ():
            total += part.stat().st_size
    tmp = [p for p in folder.glob("tmp*") if p.is_file()] if folder.is_dir() else []
    return total + sum(p.stat().st_size for p in tmp)  # pooch's temporary file while a download streams


def registry_rows(data_dir: str | Path | None = None) -> dict[str, Any]:
    """Return ``{"cache_dir", "datasets": [DatasetRow, ...]}`` for every registry entry (no hashing)."""
    from ..data._hashing import stamp_ok
    from ..data.fetcher import cache_dir
    from ..data.registry import registry

    root = cache_dir(data_dir)
    rows: list[DatasetRow] = []
    for name, e in sorted(registry().items()):
        folder = root / e.name
        if e.source != "remote":
            cached, verified, size = True, True, None
        else:
            present = [(folder / f.filename).is_file() for f in e.files]
            cached = all(present)
            verified = all(stamp_ok(folder / f.filename, f.known_hash) for f in e.files) if any(present) else None
            sizes = [f.size for f in e.files]
            size = sum(sizes) if all(s is not None for s in sizes) else None
        rows.append({"name": name, "title": e.title, "source": e.source, "modality": e.modality, "task": e.task,
                     "license": e.license, "size": size,
                     "on_disk": _folder_bytes(folder) if e.source == "remote" else 0,
                     "cached": cached, "verified": verified})
    return {"cache_dir": str(root), "datasets": rows}


def verify_dataset(name: str, data_dir: str | Path | None = None) -> dict[str, Any]:
    """Re-hash the cached files of ``name``; return ``{"name", "ok", "files": [records]}``."""
    from ..data.fetcher import verify

    records = verify(name, data_dir=data_dir)
    ok = bool(records) and all(r["status"] == "ok" and r.get("extracted", True) for r in records)
    return {"name": name, "ok": ok, "files": records}


class FetchJobs:
    """At most one running fetch per dataset; the state of the last one is kept for the panel to read."""

    def __init__(self, data_dir: str | Path | None = None) -> None:
        self.data_dir = data_dir
        self._jobs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FetchJobs({len(self._jobs)} jobs, data_dir={self.data_dir!r})"

    def start(self, name: str) -> FetchJob:
        """Start fetching ``name`` in a worker thread (a no-op while one runs); unknown names raise."""
        from ..data.registry import dataset_info

        entry = dataset_info(name)  # UnknownDatasetError before any thread starts
        with self._lock:
            job = self._jobs.get(name)
            if job is None or job["state"] != "running":
                sizes = [f.size for f in entry.files]
                job = {"name": name, "state": "running", "error": None, "t0": time.monotonic(), "t1": None,
                       "bytes_total": sum(sizes) if sizes and all(s is not None for s in sizes) else None,
                       "files": [f.filename for f in entry.files]}
                self._jobs[name] = job
                threading.Thread(target=self._run, args=(name, job), daemon=True, name=f"medimg-fetch-{name}").start()
        return self.status(name)

    def _run(self, name: str, job: dict[str, Any]) -> None:
        from ..data import fetch
        from ..errors import MedimgKernelError

        try:
            fetch(name, data_dir=self.data_dir, progressbar=False)
            job["state"] = "done"
        except MedimgKernelError as err:
            job.update(state="error", error=str(err).splitlines()[0] if str(err) else type(err).__name__)
        except Exception as err:  # noqa: BLE001 - reported to the panel, never lost in a thread
            job.update(state="error", error=f"{type(err).__name__}: {err}".splitlines()[0])
        finally:
            job["t1"] = time.monotonic()

    def status(self, name: str) -> FetchJob:
        """The state of the last fetch of ``name`` with bytes done so far (``idle`` when none ran)."""
        from ..data.fetcher import cache_dir
        from ..data.registry import dataset_info

        entry = dataset_info(name)
        job = self._jobs.get(name)
        folder = cache_dir(self.data_dir) / entry.name
        done = _download_bytes(folder, [f.filename for f in entry.files])
        if job is None:
            sizes = [f.size for f in entry.files]
            total = sum(sizes) if sizes and all(s is not None for s in sizes) else None
            return {"name": name, "state": "idle", "bytes_done": done, "bytes_total": total, "error": None,
                    "seconds": 0.0}
        end = job["t1"] if job["t1"] is not None else time.monotonic()
        return {"name": name, "state": job["state"], "bytes_done": done, "bytes_total": job["bytes_total"],
                "error": job["error"], "seconds": round(end - job["t0"], 2)}


def find_packs(root: str | Path) -> list[dict[str, Any]]:
    """Offline course packs in the course folder (top level and ``packs/``), as ``{"path", "size"}``."""
    from .safepaths import relative_to_root

    root = Path(root).resolve()
    out = []
    for folder in (root, root / "packs"):
        for p in sorted(folder.glob(f"*{PACK_SUFFIX}")) if folder.is_dir() else ():
            real = p.resolve()
            if p.is_file() and (real == root or root in real.parents):  # no symlinks out
                out.append({"path": relative_to_root(root, p), "size": p.stat().st_size})
    return out


def import_pack(path: Path, data_dir: str | Path | None = None) -> dict[str, Any]:
    """Verify the course pack ``path`` against the registry and install it into the cache (``medimg data unpack``)."""
    from ..data.packs import unpack

    return {"path": str(path), "installed": unpack(path, data_dir=data_dir)}
