"""Datasets that live in a public object-store bucket as DICOM series (NCI Imaging Data Commons and the like).

A ``source: bucket`` registry entry pins a list of series: each with its folder in the bucket (IDC's
``crdc_series_uuid``), its ``SeriesInstanceUID`` and its number of instances, as read from the provider's
index (``idc-index`` for IDC; see ``datasets/_pin_idc.py``). :func:`fetch_bucket` copies the objects
through fsspec (``s3fs``; anonymous access for public buckets) into ``<cache>/<name>/<folder>/``, and
verifies them in three ways:

1. every object's bytes against the MD5 the server reports (its ETag, for single-part uploads);
2. every file is DICOM, of the pinned series, and the series has exactly its pinned number of instances;
3. a lock file (``.medimg-lock.json``) records each file's sha256 at the first complete download; later
   fetches trust a file only while it still matches its lock, and a re-download must match it too.

IDC's index publishes no per-file hashes, so (3) is trust on first use: the lock proves that a course
run uses the bytes that were first verified, not that those bytes equal IDC's. IDC versions its data
(a revised series gets a new ``crdc_series_uuid``), so a pinned folder does not change under the same id.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from ..errors import ChecksumError, DownloadError, RegistryError
from ._hashing import file_hash
from .registry import DatasetEntry

__all__ = ["fetch_bucket", "bucket_storage_options", "series_of", "is_complete", "LOCK_NAME"]

log = logging.getLogger(__name__)

LOCK_NAME = ".medimg-lock.json"


def series_of(entry: DatasetEntry) -> list[dict[str, Any]]:
    """The pinned series of a ``source: bucket`` entry (the registry has checked their keys)."""
    return list(entry.options["series"])


def bucket_storage_options(entry: DatasetEntry) -> dict[str, Any]:
    """fsspec/s3fs options for the entry's bucket: anonymous for a public one, its endpoint if it names one."""
    o = entry.options
    opts: dict[str, Any] = {"anon": bool(o.get("anonymous", True))}
    if o.get("endpoint_url"):
        opts["client_kwargs"] = {"endpoint_url": str(o["endpoint_url"])}
    if o.get("region"):
        opts.setdefault("client_kwargs", {})["region_name"] = str(o["region"])
    return opts


def _md5(path: Path) -> str:
    return file_hash(path, "md5")


def _sha256(path: Path) -> str:
    return file_hash(path, "sha256")


def _source(entry: DatasetEntry) -> str:
    """Where the objects come from: the bucket and its endpoint (a mirror or a twin is a different source)."""
    return f"s3://{entry.options.get('bucket')}@{entry.options.get('endpoint_url') or 'aws'}"


def _read_lock(folder: Path, entry: DatasetEntry) -> dict[str, str]:
    """The locked sha256 per file, if the lock was written for this entry's source (else empty)."""
    try:
        data = json.loads((folder / LOCK_NAME).read_text(encoding="utf-8"))
        if data.get("source") != _source(entry):
            return {}
        return {str(k): str(v) for k, v in data.get("files", {}).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def _write_lock(folder: Path, files: dict[str, str], entry: DatasetEntry) -> None:
    tmp = folder / (LOCK_NAME + ".part")
    tmp.write_text(json.dumps({"dataset": entry.name, "source": _source(entry),
                               "note": "sha256 of each file at its first verified download (trust on first use)",
                               "files": dict(sorted(files.items()))}, indent=1), encoding="utf-8")
    tmp.replace(folder / LOCK_NAME)


def _check_dicom(path: Path, series_uid: str) -> str | None:
    """Why ``path`` is not an instance of ``series_uid`` (None when it is)."""
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as err:  # noqa: BLE001 - any parse failure means "not a usable DICOM file"
        return f"not a readable DICOM file ({type(err).__name__})"
    uid = str(getattr(ds, "SeriesInstanceUID", ""))
    if uid != series_uid:
        return f"of series {uid or '(none)'}, not the pinned {series_uid}"
    return None


def fetch_bucket(entry: DatasetEntry, folder: Path, *, retries: int = 3, progressbar: bool = True) -> Path:
    """Copy and verify the pinned series of ``entry`` into ``folder``; return ``folder``.

    Files that match the lock are not downloaded again, so a second call works offline.
    """
    from tqdm.auto import tqdm

    series = series_of(entry)
    bucket = str(entry.options.get("bucket") or "")
    if not bucket:
        raise RegistryError(f"{entry.name}: a bucket dataset needs options.bucket")
    folder.mkdir(parents=True, exist_ok=True)
    if is_complete(entry, folder):
        return folder
    lock = _read_lock(folder, entry)  # a lock of another source (a twin, a mirror) is not this one's
    opts = bucket_storage_options(entry)
    try:
        import fsspec

        fs = fsspec.filesystem("s3", **opts)
    except ImportError:
        raise DownloadError(f"{entry.name} lives in an S3 bucket: pip install s3fs") from None
    where = f"s3://{bucket}" + (f" at {opts['client_kwargs']['endpoint_url']}" if "client_kwargs" in opts else "")
    hashes: dict[str, str] = {}
    bar = tqdm(total=sum(int(s["instances"]) for s in series), desc=f"{entry.name}", unit="file",
               disable=not progressbar)
    try:
        for s in series:
            prefix = f"{bucket}/{s['folder']}"
            try:
                objects = sorted(o for o in fs.find(prefix, detail=True).items())
            except (OSError, ValueError) as err:
                raise DownloadError(f"{entry.name}: cannot list {prefix} in {where} ({type(err).__name__}: "
                                    f"{str(err)[:120]}); check the network, or point options.endpoint_url at a mirror") from None
            if len(objects) != int(s["instances"]):
                raise ChecksumError(f"{entry.name}: series {s['folder']} has {len(objects)} objects in {where}, "
                                    f"the registry pins {s['instances']}; the bucket's copy changed or the entry "
                                    "is wrong: re-pin it (datasets/_pin_idc.py)")
            sub = folder / str(s["folder"])
            sub.mkdir(exist_ok=True)
            for key, info in objects:
                rel = f"{s['folder']}/{key.rsplit('/', 1)[-1]}"
                hashes[rel] = _fetch_object(fs, key, info, folder / rel, lock.get(rel), s["series_uid"], retries,
                                            entry.name)
                bar.update(1)
            keep = {key.rsplit("/", 1)[-1] for key, _ in objects}
            for stale in _files(sub):  # files of another source (a twin, an older copy) are not this series
                if stale.name not in keep:
                    stale.unlink()
            _write_lock(folder, {**lock, **hashes}, entry)  # after each series: a crash keeps what was verified
    finally:
        bar.close()
    _write_lock(folder, {**lock, **hashes}, entry)
    log.info("verified %d files of %s from %s", len(hashes), entry.name, where)
    return folder


def _files(sub: Path) -> list[Path]:
    return [p for p in sub.glob("*") if p.is_file() and not p.name.endswith(".part")] if sub.is_dir() else []


def is_complete(entry: DatasetEntry, folder: Path, *, deep: bool = True) -> bool:
    """True when every pinned series of ``entry`` is in ``folder`` with its instance count and a lock entry;
    with ``deep``, each file's sha256 is also compared with its lock."""
    lock = _read_lock(folder, entry)
    if not lock:
        return False
    for s in series_of(entry):
        files = _files(folder / str(s["folder"]))
        if len(files) != int(s["instances"]):
            return False
        for p in files:
            rel = f"{s['folder']}/{p.name}"
            if rel not in lock or (deep and _sha256(p) != lock[rel]):
                if rel in lock:
                    log.warning("%s does not match its lock; downloading it again", p)
                return False
    return True


def _fetch_object(fs: Any, key: str, info: dict[str, Any], target: Path, locked: str | None, series_uid: str,
                  retries: int, name: str) -> str:
    """Make ``target`` a verified copy of object ``key``; return its sha256."""
    if target.is_file() and locked and _sha256(target) == locked:
        return locked
    etag = str(info.get("ETag") or info.get("etag") or "").strip('"')
    part = target.with_name(target.name + ".part")
    last = ""
    for _ in range(max(1, retries)):
        try:
            fs.get_file(key, str(part))
        except (OSError, ValueError) as err:
            last = f"{type(err).__name__}: {str(err)[:120]}"
            continue
        md5 = _md5(part) if etag and "-" not in etag else etag  # a multipart ETag is not an MD5
        if md5 != etag:
            last = f"MD5 {md5} differs from the server's ETag {etag}"
            continue
        break
    else:
        with contextlib.suppress(OSError):
            part.unlink()
        raise DownloadError(f"{name}: could not download {key} ({last}); check the network and run again "
                            "(verified files are kept)")
    why = _check_dicom(part, str(series_uid))
    digest = _sha256(part)
    if why is None and locked and digest != locked:
        why = f"sha256 {digest[:16]}… differs from the lock's {locked[:16]}… (first verified download)"
    if why is not None:
        os.unlink(part)
        raise ChecksumError(f"{name}: {key} is {why}; nothing was kept. The bucket's copy changed: re-pin the "
                            "entry, or delete the dataset folder to trust the new copy")
    part.replace(target)
    return digest
