"""Object storage through fsspec: local paths, ``s3://`` (s3fs) and ``gs://`` (gcsfs) behind one interface.

Credentials come from ``storage_options`` (``key``/``secret``/``token``, ``endpoint_url`` for an
S3-compatible server such as MinIO or Ceph) or from the usual environment/config files of each client.
They are never put into a message or a log line: errors name the bucket and the endpoint only.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import StorageError

__all__ = ["filesystem", "list_files", "upload", "check_bucket", "redact", "StorageOptions"]

log = logging.getLogger(__name__)

_SECRET_KEYS = ("secret", "key", "token", "password", "session_token", "aws_secret_access_key",
                "aws_access_key_id", "aws_session_token", "credentials")


def redact(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of ``storage_options`` safe to show: every credential value replaced by ``***``."""
    out: dict[str, Any] = {}
    for k, v in (options or {}).items():
        if isinstance(v, Mapping):
            out[k] = redact(v)
        else:
            out[k] = "***" if any(s in k.lower() for s in _SECRET_KEYS) else v
    return out


class StorageOptions(dict):
    """``storage_options`` whose ``repr`` hides the credentials (safe in task graphs, logs and tracebacks)."""

    def __repr__(self) -> str:
        return f"StorageOptions({redact(self)!r})"

    __str__ = __repr__


def _endpoint(options: Mapping[str, Any] | None) -> str:
    options = options or {}
    ep = options.get("endpoint_url") or (options.get("client_kwargs") or {}).get("endpoint_url")
    return f" at {ep}" if ep else ""


def filesystem(url: str, storage_options: Mapping[str, Any] | None = None) -> tuple[Any, str]:
    """Return ``(fsspec filesystem, path inside it)`` for a local path or a ``protocol://`` URL."""
    import fsspec

    url = os.fspath(url)
    if "://" not in url:
        return fsspec.filesystem("file"), str(Path(url).absolute())
    protocol = url.split("://", 1)[0]
    try:
        fs, path = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except ImportError:
        pkg = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}.get(protocol, protocol)
        raise StorageError(f"{protocol}:// needs the {pkg} package: pip install {pkg}") from None
    except ValueError as err:
        raise StorageError(f"{url}: {err}") from None
    return fs, path


def _bucket(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


@contextlib.contextmanager
def _errors(url: str, options: Mapping[str, Any] | None, action: str) -> Iterator[None]:
    where = f"{_bucket(url)!r}{_endpoint(options)}"
    try:
        yield
    except StorageError:
        raise
    except FileNotFoundError:
        raise StorageError(f"cannot {action} {url}: bucket {where} or the prefix does not exist; create it "
                           "or check the name") from None
    except PermissionError:
        raise StorageError(f"cannot {action} {url}: access denied to bucket {where} (read-only or wrong "
                           "credentials); use a bucket you may write to, or other credentials") from None
    except OSError as err:
        raise StorageError(f"cannot {action} {url}: {type(err).__name__} talking to {where}; check the "
                           "endpoint and the network") from None


def check_bucket(url: str, storage_options: Mapping[str, Any] | None = None, *, write: bool = False) -> None:
    """Raise :class:`StorageError` unless the bucket of ``url`` exists (and, with ``write``, accepts writes)."""
    fs, path = filesystem(url, storage_options)
    bucket = path.split("/", 1)[0]
    with _errors(url, storage_options, "read"):
        if not fs.exists(bucket):
            raise FileNotFoundError(bucket)
    if write:
        probe = f"{path.rstrip('/')}/.medimg-write-probe"
        with _errors(url, storage_options, "write to"):
            fs.pipe(probe, b"")
            fs.rm(probe)


def list_files(url: str, storage_options: Mapping[str, Any] | None = None) -> list[str]:
    """All file URLs under a prefix (recursively), with the protocol, sorted."""
    fs, path = filesystem(url, storage_options)
    if "://" not in url:
        p = Path(path)
        if not p.exists():
            raise StorageError(f"{url} does not exist: give a folder, a manifest .csv or an s3:// prefix")
        return [str(q) for q in sorted(p.rglob("*")) if q.is_file()] if p.is_dir() else [str(p)]
    check_bucket(url, storage_options)
    protocol = url.split("://", 1)[0]
    with _errors(url, storage_options, "list"):
        if fs.isfile(path):
            return [url]
        files = sorted(fs.find(path))
    if not files:
        raise StorageError(f"no files under {url}: check the prefix")
    return [f"{protocol}://{f}" for f in files]


def upload(folder: str | os.PathLike, url: str, storage_options: Mapping[str, Any] | None = None,
           *, progress: bool = True) -> list[str]:
    """Copy every file under a local ``folder`` to the prefix ``url``; returns the object URLs."""
    from tqdm.auto import tqdm

    folder = Path(folder)
    files = [p for p in sorted(folder.rglob("*")) if p.is_file()]
    check_bucket(url, storage_options)
    fs, prefix = filesystem(url, storage_options)
    protocol = url.split("://", 1)[0]
    out = []
    with _errors(url, storage_options, "write to"):
        for p in tqdm(files, desc="uploading", unit="file", disable=not progress):
            key = f"{prefix.rstrip('/')}/{p.relative_to(folder).as_posix()}"
            fs.put_file(str(p), key)
            out.append(f"{protocol}://{key}")
    log.info("uploaded %d files to %s", len(out), url)
    return out
