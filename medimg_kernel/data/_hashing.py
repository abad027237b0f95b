"""File hashing at disk speed and the verification stamps that let verified files skip re-hashing.

A stamp (``.medimg-verified.json`` in a dataset's cache folder) records, per file, the registry hash it
was verified against plus its size and modification time. While all three still match, the file is
trusted without reading it again; any change (new registry hash, touched or resized file) forces a
full re-hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["file_hash", "hash_matches", "read_stamps", "stamp_ok", "write_stamp", "drop_stamp", "STAMP_NAME"]

STAMP_NAME = ".medimg-verified.json"
_BUF = 8 << 20  # 8 MiB reads: large enough that hashlib, not syscalls, sets the pace


def file_hash(path: str | os.PathLike[str], alg: str = "sha256") -> str:
    """Return the hex digest of ``path`` with hashlib algorithm ``alg``, reading 8 MiB at a time."""
    h = hashlib.new(alg)
    buf = bytearray(_BUF)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(view[:n])
    return h.hexdigest()


def hash_matches(path: str | os.PathLike[str], known_hash: str) -> tuple[bool, str]:
    """Check ``path`` against ``"alg:hex"``; return (matches, actual hex digest)."""
    alg, _, expected = known_hash.partition(":")
    actual = file_hash(path, alg)
    return actual == expected.lower(), actual


def read_stamps(folder: Path) -> dict[str, Any]:
    """Return the stamps recorded in ``folder`` (empty when none or unreadable)."""
    try:
        data = json.loads((folder / STAMP_NAME).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def stamp_ok(path: Path, known_hash: str) -> bool:
    """True when ``path`` was verified against ``known_hash`` and has not changed since."""
    rec = read_stamps(path.parent).get(path.name)
    if not rec or rec.get("hash") != known_hash:
        return False
    try:
        st = path.stat()
    except OSError:
        return False
    return rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns


def write_stamp(path: Path, known_hash: str) -> None:
    """Record that ``path`` has just been verified against ``known_hash`` (atomic rewrite)."""
    st = path.stat()
    stamps = read_stamps(path.parent)
    stamps[path.name] = {"hash": known_hash, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    tmp = path.parent / f"{STAMP_NAME}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(stamps, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path.parent / STAMP_NAME)


def drop_stamp(path: Path) -> None:
    """Forget the stamp of ``path`` (after it was found corrupt or removed)."""
    stamps = read_stamps(path.parent)
    if stamps.pop(path.name, None) is not None:
        if not stamps:  # the last stamp: leave no bookkeeping behind in an otherwise empty folder
            (path.parent / STAMP_NAME).unlink(missing_ok=True)
            return
        tmp = path.parent / f"{STAMP_NAME}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(stamps, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path.parent / STAMP_NAME)
