"""Safe, idempotent extraction of tar / tar.gz / zip archives into a dataset's folder.

Every member is checked before anything is written: absolute paths, ``..`` escapes, links whose
target leaves the folder, and device/FIFO files make the whole archive refused with
:class:`~medimg_kernel.errors.UnsafeArchiveError`. Extraction goes into a hidden temporary folder
inside the destination and its top-level entries are moved into place only when every member is out;
then a completion stamp keyed by the archive's hash lists the members. A run that died half-way leaves
no stamp (or a stale temporary folder), so the next call redoes it instead of trusting it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import UnsafeArchiveError

__all__ = ["extract_archive", "extraction_ok", "check_members", "stamp_path"]

log = logging.getLogger(__name__)


def stamp_path(dest: Path, archive_name: str) -> Path:
    """Path of the completion stamp of ``archive_name`` extracted into ``dest``."""
    return dest / f".medimg-extracted-{archive_name}.json"


def _tmp_dir(dest: Path, archive_name: str) -> Path:
    return dest / f".extracting-{archive_name}"


def _check_name(name: str, archive: str) -> PurePosixPath:
    norm = name.replace("\\", "/")
    p = PurePosixPath(norm)
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise UnsafeArchiveError(
            f"{archive}: member {name!r} has an absolute path; refusing to extract the archive"
        )
    if ".." in p.parts:
        raise UnsafeArchiveError(
            f"{archive}: member {name!r} escapes the folder with '..'; refusing to extract the archive"
        )
    return p


def _inside(base: PurePosixPath, target: str) -> bool:
    """True when ``target`` (relative to ``base``) stays inside the extraction root."""
    if target.startswith("/") or (len(target) > 1 and target[1] == ":"):
        return False
    depth = 0
    for part in (base / target.replace("\\", "/")).parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return False
        elif part not in (".", ""):
            depth += 1
    return True


def check_members(archive: Path) -> list[str]:
    """Validate every member of ``archive`` and return their names; raise UnsafeArchiveError if any is hostile."""
    name = archive.name
    names: list[str] = []
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _check_name(info.filename, name)
                ftype = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip records no Unix type
                if ftype == stat.S_IFLNK:
                    raise UnsafeArchiveError(
                        f"{name}: member {info.filename!r} is a symbolic link; refusing to extract"
                    )
                if ftype and ftype not in (stat.S_IFREG, stat.S_IFDIR):
                    raise UnsafeArchiveError(
                        f"{name}: member {info.filename!r} is a special file; refusing to extract"
                    )
                names.append(info.filename)
        return names
    try:
        tf = tarfile.open(archive)
    except tarfile.TarError as err:
        raise UnsafeArchiveError(f"{name}: not a readable tar or zip archive ({err})") from err
    with tf:
        for m in tf.getmembers():
            p = _check_name(m.name, name)
            if m.issym():
                if not _inside(p.parent, m.linkname):
                    raise UnsafeArchiveError(
                        f"{name}: symlink {m.name!r} -> {m.linkname!r} points outside the folder; refusing to extract"
                    )
            elif m.islnk():
                if not _inside(PurePosixPath(), m.linkname):
                    raise UnsafeArchiveError(
                        f"{name}: hard link {m.name!r} -> {m.linkname!r} points outside the folder; refusing to extract"
                    )
            elif m.ischr() or m.isblk() or m.isfifo() or m.isdev():
                raise UnsafeArchiveError(
                    f"{name}: member {m.name!r} is a device or FIFO file; refusing to extract"
                )
            elif not (m.isfile() or m.isdir()):
                raise UnsafeArchiveError(
                    f"{name}: member {m.name!r} has an unsupported type; refusing to extract"
                )
            names.append(m.name)
    return names


def _read_stamp(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def extraction_ok(dest: Path, archive_name: str, archive_hash: str) -> bool:
    """True when ``archive_name`` (with ``archive_hash``) was fully extracted into ``dest`` and is still there."""
    rec = _read_stamp(stamp_path(dest, archive_name))
    if rec.get("archive_hash") != archive_hash or not rec.get("complete"):
        return False
    if _tmp_dir(dest, archive_name).exists():
        return False
    return all((dest / m).exists() or (dest / m).is_symlink() for m in rec.get("members", []))


def extract_archive(
    archive: str | os.PathLike[str], dest: str | os.PathLike[str], *, archive_hash: str | None = None
) -> Path:
    """Extract ``archive`` into ``dest`` safely, once per ``archive_hash``; return ``dest``.

    Parameters
    ----------
    archive : path
        A ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2``/``.tar.xz`` or ``.zip`` file.
    dest : path
        Folder to extract into (created if needed).
    archive_hash : str, optional
        ``"alg:hex"`` of the verified archive; keys the completion stamp. Default: its size and mtime.

    Raises
    ------
    UnsafeArchiveError
        A member has an absolute path, a ``..`` escape, a link out of ``dest`` or is a device file;
        nothing is written.
    """
    archive, dest = Path(archive), Path(dest)
    if archive_hash is None:
        st = archive.stat()
        archive_hash = f"stat:{st.st_size}:{st.st_mtime_ns}"
    if extraction_ok(dest, archive.name, archive_hash):
        log.debug("%s already extracted into %s", archive.name, dest)
        return dest
    names = check_members(archive)  # raises before anything is written
    tops = sorted(
        {
            PurePosixPath(n.replace("\\", "/")).parts[0]
            for n in names
            if PurePosixPath(n.replace("\\", "/")).parts
        }
    )
    clash = [t for t in tops if t == archive.name or t.startswith((".medimg-", ".extracting-", ".partial"))]
    if clash:
        raise UnsafeArchiveError(
            f"{archive.name}: member {clash[0]!r} would replace the archive or the cache's bookkeeping; refusing to extract"
        )
    dest.mkdir(parents=True, exist_ok=True)
    stamp = stamp_path(dest, archive.name)
    stamp.unlink(missing_ok=True)
    tmp = _tmp_dir(dest, archive.name)
    if tmp.exists():
        log.info("removing a half-finished extraction of %s", archive.name)
        shutil.rmtree(tmp)
    tmp.mkdir()
    log.info("extracting %s into %s", archive.name, dest)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    zf.extract(info, tmp)
        else:
            with tarfile.open(archive) as tf:
                _extract_tar(tf, tmp)
        for top in tops:
            src, dst = tmp / top, dest / top
            if dst.is_dir() and not dst.is_symlink():
                shutil.rmtree(dst)
            elif dst.exists() or dst.is_symlink():
                dst.unlink()
            os.replace(src, dst)
        shutil.rmtree(tmp)
    except BaseException:
        log.warning("extraction of %s did not finish; it will be redone on the next call", archive.name)
        raise
    members = sorted({str(PurePosixPath(n.replace("\\", "/"))) for n in names} - {"."})
    stamp.write_text(
        json.dumps(
            {"archive": archive.name, "archive_hash": archive_hash, "complete": True, "members": members},
            indent=1,
        ),
        encoding="utf-8",
    )
    return dest


def _extract_tar(tf: tarfile.TarFile, tmp: Path) -> None:
    """Extract all (already checked) members, with the stdlib ``data`` filter where available (3.11.4+)."""
    if hasattr(tarfile, "data_filter"):
        tf.extractall(tmp, filter="data")
    else:  # pragma: no cover - Python < 3.11.4; members were checked by check_members
        tf.extractall(tmp)
