"""Offline course packs: one archive of verified cached files plus a manifest, for classrooms and air gaps.

``pack(["mednist", ...], "course.medimgpack")`` writes an uncompressed tar (the data files are already
compressed) holding ``medimg-pack.json`` and ``<dataset>/<filename>`` for every file. ``unpack`` checks
each member's name, copies it into the cache under a temporary name, verifies it against the
*registry* (not only the pack's own manifest), then moves it into place and stamps it, and finally
extracts archives as ``fetch`` would. A file that fails is deleted and reported.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import tarfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ChecksumError, ConfigError, UnsafeArchiveError
from ._hashing import hash_matches, stamp_ok, write_stamp
from .fetcher import cache_dir
from .registry import dataset_info

__all__ = ["pack", "unpack", "PACK_MANIFEST"]

log = logging.getLogger(__name__)

PACK_MANIFEST = "medimg-pack.json"
PACK_FORMAT = 1


def pack(
    names: Sequence[str],
    output: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    manifests: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Write the verified cached files of datasets ``names`` into the course pack ``output``; return its path.

    Raises :class:`ConfigError` when a dataset is not remote or a file is not in the cache (fetch it
    first) and :class:`ChecksumError` when a cached file no longer matches the registry.
    """
    output = Path(output)
    entries = [dataset_info(n, manifests) for n in names]
    plan: list[tuple[str, Path, dict[str, Any]]] = []
    for e in entries:
        if e.source == "bucket":
            raise ConfigError(f"{e.name!r} is a set of DICOM series in a bucket, which packs do not hold yet; "
                              "copy its cache folder (`medimg data path NAME`) instead")
        if e.source != "remote":
            raise ConfigError(
                f"{e.name!r} is {e.source} data, available offline already; pack remote datasets only"
            )
        folder = cache_dir(data_dir) / e.name
        for f in e.files:
            path = folder / f.filename
            if not path.exists():
                raise ConfigError(
                    f"{e.name}: {f.filename} is not in the cache ({folder}); run `medimg data fetch {e.name}` first"
                )
            if not stamp_ok(path, f.known_hash):
                ok, actual = hash_matches(path, f.known_hash)
                if not ok:
                    raise ChecksumError(
                        f"{path} has {actual}, registry expects {f.known_hash}; "
                        f"run `medimg data fetch {e.name}` to replace it"
                    )
                write_stamp(path, f.known_hash)
            plan.append((f"{e.name}/{f.filename}", path, f.to_dict()))
    manifest = {
        "format": PACK_FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "datasets": {e.name: [f.to_dict() for f in e.files] for e in entries},
        "registry": {e.name: e.to_dict() for e in entries},  # lets unpack install datasets from manifests
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with tarfile.open(tmp, "w") as tf:
        data = json.dumps(manifest, indent=1).encode("utf-8")
        info = tarfile.TarInfo(PACK_MANIFEST)
        info.size = len(data)
        info.mtime = int(time.time())
        tf.addfile(info, io.BytesIO(data))
        for arcname, path, _ in plan:
            tf.add(path, arcname=arcname, recursive=False)
    os.replace(tmp, output)
    log.info("wrote %s with %d files", output, len(plan))
    return output


def unpack(
    pack_file: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    manifests: Sequence[str | os.PathLike[str]] = (),
    extract: bool = True,
) -> list[str]:
    """Verify every file of ``pack_file`` against the registry and install it into the cache.

    Returns the names of the datasets installed. Raises :class:`ChecksumError` (the bad file is
    removed, files already verified stay) or :class:`UnsafeArchiveError` for a member outside the layout.
    """
    pack_file = Path(pack_file)
    try:
        tf = tarfile.open(pack_file)
    except (OSError, tarfile.TarError) as err:
        raise ConfigError(
            f"{pack_file} is not a medimg course pack ({err}); make one with `medimg data pack`"
        ) from err
    installed: list[str] = []
    with tf:
        try:
            manifest = json.load(tf.extractfile(PACK_MANIFEST))  # type: ignore[arg-type]
        except (KeyError, ValueError, TypeError) as err:
            raise ConfigError(f"{pack_file} has no valid {PACK_MANIFEST}; is it a course pack?") from err
        if manifest.get("format") != PACK_FORMAT:
            raise ConfigError(
                f"{pack_file}: pack format {manifest.get('format')!r}, this version reads {PACK_FORMAT}"
            )
        root = cache_dir(data_dir)
        for name in manifest.get("datasets", {}):
            entry = dataset_info(name, manifests)  # unknown names raise: the registry is the authority
            folder = root / entry.name
            folder.mkdir(parents=True, exist_ok=True)
            for f in entry.files:
                target = folder / f.filename
                if not stamp_ok(target, f.known_hash):
                    _install_member(tf, pack_file, entry.name, f, target)
                if extract and f.extract:
                    from .extract import extract_archive

                    extract_archive(target, folder, archive_hash=f.known_hash)
            installed.append(entry.name)
    return installed


def _install_member(tf: tarfile.TarFile, pack_file: Path, name: str, f: Any, target: Path) -> None:
    """Copy one pack member to a temporary file beside ``target``, verify it, then move and stamp it."""
    try:
        member = tf.getmember(f"{name}/{f.filename}")
    except KeyError as err:
        raise ConfigError(f"{pack_file} lacks {name}/{f.filename}; repack it") from err
    if not member.isfile():
        raise UnsafeArchiveError(f"{pack_file}: {member.name!r} is not a regular file; refusing it")
    tmp = target.parent / f".{f.filename}.unpack-{os.getpid()}"
    try:
        with tf.extractfile(member) as src, open(tmp, "wb") as dst:  # type: ignore[union-attr]
            shutil.copyfileobj(src, dst, 8 << 20)
        ok, actual = hash_matches(tmp, f.known_hash)
        if not ok:
            raise ChecksumError(
                f"{pack_file}: {name}/{f.filename} has {actual}, registry expects "
                f"{f.known_hash}; the file was not installed"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    write_stamp(target, f.known_hash)
