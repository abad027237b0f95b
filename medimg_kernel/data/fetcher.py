"""Verified downloads into one cache: mirrors first, then the origin, resumable, hash-checked by pooch.

This is the only module that imports pooch. Files land in ``<cache>/<dataset>/<filename>`` where the
cache is ``$MEDIMG_DATA`` (default: the platform user cache dir ``medimg``). For every file the URLs
tried are, in order: ``<mirror>/<filename>`` for each mirror (``mirrors=`` / ``--mirror``, else
``$MEDIMG_MIRROR``, separated by spaces or commas), then the registry URLs. pooch streams each attempt
to a temporary file, checks the hash and only then moves it under its final name; the downloader
(:class:`~medimg_kernel.data._resume.ResumableHTTPDownloader`) retries with back-off and resumes a
dropped transfer with an HTTP Range request. A verified file gets a stamp so it is never hashed or
downloaded again while it stays unchanged.

Download limits: a registry ``size:`` is enforced while the body streams, and a file of unknown size is
capped at ``max_bytes`` (default ``$MEDIMG_MAX_DOWNLOAD``, else 50 GiB; ``"500M"``, ``"2G"`` or a byte
count). Past either the transfer is aborted with a :class:`DownloadError` and no partial file is left.
Hashes are computed over the raw bytes the server sent, whatever its ``Content-Encoding``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ChecksumError, ConfigError, DataError, DownloadError, DownloadTooLargeError
from ..paths import data_dir as cache_dir  # the one data folder; data-layer callers name it cache_dir
from ._hashing import drop_stamp, hash_matches, stamp_ok, write_stamp
from .registry import DatasetEntry, FileEntry, dataset_info

__all__ = [
    "cache_dir",
    "dataset_path",
    "mirrors_from_env",
    "max_download_bytes",
    "fetch",
    "fetch_file",
    "verify",
    "is_cached",
]

log = logging.getLogger(__name__)

PARTIAL_DIR = ".partial"

#: cap on a file whose registry entry has no ``size`` (overridden by $MEDIMG_MAX_DOWNLOAD or max_bytes=)
DEFAULT_MAX_DOWNLOAD = 50 << 30

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def max_download_bytes(value: int | str | None = None) -> int:
    """The download cap for files of unknown size: ``value``, else ``$MEDIMG_MAX_DOWNLOAD``, else 50 GiB.

    Accepts a byte count or a number with a ``K``/``M``/``G``/``T`` suffix (powers of 1024, e.g. ``"2G"``).
    """
    raw = value if value is not None else os.environ.get("MEDIMG_MAX_DOWNLOAD") or DEFAULT_MAX_DOWNLOAD
    if isinstance(raw, int) and not isinstance(raw, bool):
        n = raw
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", str(raw), re.IGNORECASE)
        if not m:
            raise ConfigError(
                f"download cap {raw!r} is not a size: use a byte count or a number with K, M, G or T "
                "(e.g. MEDIMG_MAX_DOWNLOAD=20G)"
            )
        n = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    if n <= 0:
        raise ConfigError(f"download cap must be positive, got {raw!r}")
    return n


def dataset_path(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    manifests: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Return the folder of dataset ``name`` in the cache (it may not exist yet); shipped samples give their file."""
    entry = dataset_info(name, manifests)
    if entry.source == "package":
        from .samples import _nilearn_data_dir, sample_path

        if "table" in entry.options:  # a survival table scikit-survival ships: its data folder
            import importlib.util

            spec = importlib.util.find_spec("sksurv")
            if spec is None or not spec.origin:
                raise ConfigError(f"{name!r} ships with scikit-survival: pip install scikit-survival")
            return Path(spec.origin).parent / "datasets" / "data"
        if entry.options["sample"] == "mni152":  # shipped with nilearn: its data folder
            folder = _nilearn_data_dir()
            if folder is None:
                raise ConfigError("nilearn's MNI152 files are missing; reinstall nilearn")
            return folder
        return sample_path(entry.options["sample"])
    return cache_dir(data_dir) / entry.name


def mirrors_from_env() -> list[str]:
    """Mirror base URLs from ``$MEDIMG_MIRROR`` (separated by whitespace or commas)."""
    return [m for m in re.split(r"[\s,]+", os.environ.get("MEDIMG_MIRROR", "")) if m]


def _candidate_urls(f: FileEntry, mirrors: Sequence[str]) -> list[str]:
    urls = [f"{m.rstrip('/')}/{f.filename}" for m in mirrors]
    return urls + [u for u in f.urls if u not in urls]


def is_cached(entry: DatasetEntry, data_dir: str | os.PathLike[str] | None = None) -> bool:
    """True when every file of ``entry`` is in the cache with a valid verification stamp (no hashing)."""
    folder = cache_dir(data_dir) / entry.name
    if entry.source == "bucket":  # every pinned series present and locked (no hashing)
        from .buckets import is_complete

        return is_complete(entry, folder, deep=False)
    if entry.source != "remote":
        return True
    return all(stamp_ok(folder / f.filename, f.known_hash) for f in entry.files)


def _file_copy_downloader(limit: int, why: str) -> Any:
    def copy(url: str, output_file: Any, pooch: Any = None) -> None:
        src = Path(url[len("file://") :])
        if not src.is_file():
            raise DownloadError(f"{url}: no such file")
        if src.stat().st_size > limit:
            raise DownloadTooLargeError(
                f"{url}: the file holds {src.stat().st_size} bytes, more than {why}; nothing was copied"
            )
        shutil.copyfile(src, output_file)

    return copy


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # missing, or holds a partial download kept for resuming


def fetch_file(
    f: FileEntry,
    folder: Path,
    *,
    mirrors: Sequence[str] = (),
    retries: int = 3,
    timeout: float = 30.0,
    progressbar: bool = True,
    max_bytes: int | str | None = None,
) -> Path:
    """Make ``folder/f.filename`` a verified copy of ``f``: trust a valid stamp, else check, else download.

    The body may not exceed the registry's ``f.size``, or :func:`max_download_bytes` when that is unknown.
    """
    import pooch
    import requests

    from ._resume import ResumableHTTPDownloader, short_reason

    target = folder / f.filename
    known = f.known_hash
    if stamp_ok(target, known):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    if target.exists():
        ok, actual = hash_matches(target, known)
        if ok:
            write_stamp(target, known)
            return target
        log.warning(
            "%s is corrupt (expected %s, found %s); removing it and downloading again", target, known, actual
        )
        target.unlink()
        drop_stamp(target)
    partial = folder / PARTIAL_DIR / f"{f.filename}.{known.split(':')[1][:16]}.part"
    errors: list[str] = []
    mismatches: list[str] = []
    oversize: list[str] = []
    cap = max_download_bytes(max_bytes)
    limit, why = (f.size, "the registry's size") if f.size is not None else (cap, "the download cap")
    for url in _candidate_urls(f, mirrors):
        downloader = (
            _file_copy_downloader(limit, f"{why} ({limit} bytes)")
            if url.startswith("file://")
            else ResumableHTTPDownloader(
                partial,
                retries=retries,
                timeout=timeout,
                progressbar=progressbar,
                expected_size=f.size,
                max_bytes=None if f.size is not None else cap,
            )
        )
        pooch_log = pooch.get_logger()
        level = pooch_log.level
        pooch_log.setLevel(logging.WARNING)  # our own log and progress bar report the download
        try:
            pooch.retrieve(
                url, known_hash=known, fname=f.filename, path=folder, downloader=downloader, progressbar=False
            )
        except ValueError as err:  # pooch: hash mismatch (the temporary file is already deleted)
            mismatches.append(url)
            errors.append(f"{url}: {str(err).splitlines()[0]}")
            log.warning("hash mismatch for %s from %s", f.filename, url)
            continue
        except DownloadTooLargeError as err:
            oversize.append(url)
            errors.append(str(err))
            log.warning("aborted %s from %s: more bytes than %s", f.filename, url, why)
            continue
        except (DownloadError, requests.exceptions.RequestException, OSError) as err:
            reason = str(err) if isinstance(err, DownloadError) else short_reason(err)
            errors.append(f"{url}: {reason}")
            log.info("could not download %s from %s: %s", f.filename, url, reason)
            continue
        finally:
            pooch_log.setLevel(level)
        write_stamp(target, known)
        _remove_if_empty(partial.parent)
        log.info("verified %s (%s) from %s", target, known, url)
        return target
    _remove_if_empty(partial.parent)
    if target.exists():  # never leave an unverified file under the final name
        target.unlink()
    if mismatches and len(mismatches) == len(errors):
        raise ChecksumError(
            f"{f.filename}: every source served a file whose hash differs from the registry's {known} "
            f"({'; '.join(errors)}); nothing was kept. Check the mirror's copy or the registry entry."
        )
    if oversize and len(oversize) == len(errors):
        fix = (
            "Check the registry entry's size"
            if f.size is not None
            else "If the file really is that large, raise the cap (MEDIMG_MAX_DOWNLOAD=100G or max_bytes=)"
        )
        raise DownloadTooLargeError(
            f"{f.filename}: every source sent more than {why} ({limit} bytes) ({'; '.join(errors)}). {fix}."
        )
    raise DownloadError(
        f"could not download {f.filename} from any source ({'; '.join(errors)}). Check the network, "
        "set MEDIMG_MIRROR / --mirror to a reachable mirror, or install a course pack with `medimg data unpack`."
    )


def fetch(
    name: str | DatasetEntry,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    mirrors: Sequence[str] | None = None,
    manifests: Sequence[str | os.PathLike[str]] = (),
    extract: bool = True,
    retries: int = 3,
    timeout: float = 30.0,
    progressbar: bool = True,
    max_bytes: int | str | None = None,
) -> Path:
    """Download, verify and (for archives) safely extract dataset ``name``; return its cache folder.

    Parameters
    ----------
    name : str or DatasetEntry
        A registry name (``mk.datasets()``), or its entry (as ``mk.load`` passes it: no second look-up).
    data_dir : path, optional
        Cache root; default ``$MEDIMG_DATA`` or the platform cache dir.
    mirrors : list of str, optional
        Base URLs tried before the origin (default ``$MEDIMG_MIRROR``).
    manifests : list of path
        Extra registry files (same schema) to look the name up in.
    extract : bool
        Extract archives (files with ``extract: true``) into the dataset folder, once per archive hash.
    retries, timeout : int, float
        Network retries per URL (each resumes the partial file) and the per-read timeout in seconds.
    progressbar : bool
        Show tqdm progress bars.
    max_bytes : int or str, optional
        Cap for files whose registry entry has no ``size`` (default :func:`max_download_bytes`).

    Returns
    -------
    Path
        ``<cache>/<name>`` holding the verified files (and their extracted contents). For a shipped
        sample, the file inside the installed package.

    Raises
    ------
    DownloadError
        No source could deliver a file (every URL and the reasons are listed), e.g. each sent more
        bytes than the registry's size or the cap.
    ChecksumError
        Every source delivered bytes whose hash differs from the registry's; nothing is kept.
    UnsafeArchiveError
        An archive holds members that would escape the dataset folder, links or device files.
    """
    from .._log import ensure_handler

    ensure_handler()  # warnings (a mirror that failed, a hash mismatch) print as "medimg: warning: ..."
    entry = name if isinstance(name, DatasetEntry) else dataset_info(name, manifests)
    name = entry.name
    if entry.source == "synthetic":
        raise ConfigError(f"{name!r} is synthetic: nothing to download, use mk.load({name!r}) to generate it")
    if entry.source == "package":
        return dataset_path(name, data_dir, manifests)
    folder = cache_dir(data_dir) / entry.name
    if entry.source == "bucket":  # DICOM series in an object-store bucket (NCI IDC): data/buckets.py
        from .buckets import fetch_bucket

        return fetch_bucket(entry, folder, retries=retries, progressbar=progressbar)
    mirrors = list(mirrors) if mirrors else mirrors_from_env()
    for f in entry.files:
        path = fetch_file(
            f,
            folder,
            mirrors=mirrors,
            retries=retries,
            timeout=timeout,
            progressbar=progressbar,
            max_bytes=max_bytes,
        )
        _check_layout_once(entry, f, path, folder)
        if extract and f.extract:
            from .extract import extract_archive

            extract_archive(path, folder, archive_hash=f.known_hash)
    return folder


def _check_layout_once(entry: DatasetEntry, f: FileEntry, path: Path, folder: Path) -> None:
    """Check a new download's layout (not again once extracted); a wrong one is removed, then raised."""
    from .extract import extraction_ok
    from .layouts import check_layout

    if f.extract and extraction_ok(folder, f.filename, f.known_hash):
        return
    try:
        check_layout(entry, path)
    except DataError:
        path.unlink(missing_ok=True)
        drop_stamp(path)
        _remove_if_empty(folder)
        raise


def verify(
    name: str | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    manifests: Sequence[str | os.PathLike[str]] = (),
    deep: bool = True,
) -> list[dict[str, Any]]:
    """Check cached files against the registry; return one record per file.

    Each record has ``dataset``, ``filename``, ``path`` and ``status``: ``ok``, ``missing`` or
    ``corrupt`` (hash differs; its stamp is dropped so the next fetch replaces it). With
    ``deep=False`` a valid stamp is trusted instead of re-hashing. Archives also report ``extracted``.
    ``name=None`` checks every remote dataset that has at least one file in the cache.
    """
    from .extract import extraction_ok
    from .registry import registry

    reg = registry(manifests)
    names = [name] if name else sorted(n for n, e in reg.items() if e.source == "remote")
    records: list[dict[str, Any]] = []
    for n in names:
        entry = dataset_info(n, manifests)
        folder = cache_dir(data_dir) / entry.name
        if name is None and not any((folder / f.filename).exists() for f in entry.files):
            continue
        for f in entry.files:
            path = folder / f.filename
            rec: dict[str, Any] = {"dataset": entry.name, "filename": f.filename, "path": str(path)}
            if not path.exists():
                rec["status"] = "missing"
            elif not deep and stamp_ok(path, f.known_hash):
                rec["status"] = "ok"
            else:
                ok, actual = hash_matches(path, f.known_hash)
                rec["status"] = "ok" if ok else "corrupt"
                if ok:
                    write_stamp(path, f.known_hash)
                else:
                    rec["expected"], rec["actual"] = f.known_hash, actual
                    drop_stamp(path)
            if f.extract:
                rec["extracted"] = extraction_ok(folder, f.filename, f.known_hash)
            records.append(rec)
    return records
