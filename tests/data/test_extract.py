"""Safe extraction: hostile tar/zip members are refused with nothing written; idempotent; resumable."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

import medimg_kernel.data.extract as extract_mod
from medimg_kernel.data.extract import extract_archive, extraction_ok
from medimg_kernel.data.fetcher import fetch
from medimg_kernel.errors import UnsafeArchiveError


def _tar(path, members):
    """Write a tar of (TarInfo kwargs, bytes or None) members."""
    with tarfile.open(path, "w") as tf:
        for kw, data in members:
            kw = dict(kw)
            info = tarfile.TarInfo(kw.pop("name"))
            for k, v in kw.items():
                setattr(info, k, v)
            if data is not None:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(info)
    return path


OK = ({"name": "data/ok.txt"}, b"fine")


@pytest.mark.parametrize(
    "member, reason",
    [
        (({"name": "/tmp/medimg-evil-abs.txt"}, b"x"), "absolute path"),
        (({"name": "../evil.txt"}, b"x"), "'..'"),
        (({"name": "data/../../evil.txt"}, b"x"), "'..'"),
        (
            ({"name": "data/link", "type": tarfile.SYMTYPE, "linkname": "../../evil.txt"}, None),
            "points outside",
        ),
        (({"name": "data/link", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, None), "points outside"),
        (({"name": "data/hard", "type": tarfile.LNKTYPE, "linkname": "../evil.txt"}, None), "points outside"),
        (({"name": "data/dev", "type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}, None), "device"),
        (({"name": "data/fifo", "type": tarfile.FIFOTYPE}, None), "device or FIFO"),
    ],
)
def test_hostile_tar_is_refused_and_nothing_written(tmp_path, member, reason):
    archive = _tar(tmp_path / "evil.tar", [OK, member])
    dest = tmp_path / "ds"
    with pytest.raises(UnsafeArchiveError, match=reason):
        extract_archive(archive, dest)
    assert not dest.exists()  # refused before anything was written
    assert not (tmp_path / "evil.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.tar"]


def test_symlink_inside_is_allowed(tmp_path):
    archive = _tar(
        tmp_path / "ok.tar",
        [OK, ({"name": "data/alias", "type": tarfile.SYMTYPE, "linkname": "ok.txt"}, None)],
    )
    dest = extract_archive(archive, tmp_path / "ds")
    assert (dest / "data" / "alias").read_bytes() == b"fine"


@pytest.mark.parametrize(
    "name", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt", "..\\evil.txt", "C:/evil.txt"]
)
def test_zip_slip_is_refused(tmp_path, name):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data/ok.txt", "fine")
        zf.writestr(zipfile.ZipInfo(name), "evil")
    with pytest.raises(UnsafeArchiveError):
        extract_archive(archive, tmp_path / "ds")
    assert not (tmp_path / "ds").exists() and not (tmp_path / "evil.txt").exists()


def test_zip_symlink_is_refused(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("data/link")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        extract_archive(archive, tmp_path / "ds")


def test_zip_extracts(tmp_path):
    archive = tmp_path / "ok.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("folder/a.txt", "A")
    dest = extract_archive(archive, tmp_path / "ds", archive_hash="md5:" + "1" * 32)
    assert (dest / "folder" / "a.txt").read_text() == "A"
    assert extraction_ok(dest, "ok.zip", "md5:" + "1" * 32)


def test_hostile_archive_via_fetch(tmp_path, served_dir, http_server, data_dir):
    import hashlib

    import yaml

    archive = _tar(served_dir / "origin" / "hostile.tar", [OK, ({"name": "../../escape.txt"}, b"x")])
    entry = {
        "name": "test-hostile",
        "title": "t",
        "source": "remote",
        "modality": "t",
        "task": "t",
        "license": "t",
        "loader": "mednist",
        "files": [
            {
                "filename": "hostile.tar",
                "urls": [f"{http_server.url}/origin/hostile.tar"],
                "sha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
                "extract": True,
            }
        ],
    }
    man = tmp_path / "m.yaml"
    man.write_text(yaml.safe_dump({"datasets": [entry]}))
    with pytest.raises(UnsafeArchiveError, match="'..'"):
        fetch("test-hostile", data_dir=data_dir, manifests=[man], progressbar=False)
    assert not (data_dir / "escape.txt").exists() and not (data_dir.parent / "escape.txt").exists()
    assert sorted(p.name for p in (data_dir / "test-hostile").iterdir()) == [
        ".medimg-verified.json",
        "hostile.tar",
    ]


def _good_tar(tmp_path):
    return _tar(tmp_path / "good.tar", [({"name": f"root/f{i}.txt"}, f"file {i}".encode()) for i in range(5)])


def test_extraction_is_idempotent(tmp_path, monkeypatch):
    archive = _good_tar(tmp_path)
    dest = extract_archive(archive, tmp_path / "ds", archive_hash="sha256:" + "a" * 64)
    first = (dest / "root" / "f0.txt").stat().st_mtime_ns

    def no_reextract(*a, **k):
        raise AssertionError("extracted again although the stamp is valid")

    monkeypatch.setattr(extract_mod, "_extract_tar", no_reextract)
    extract_archive(archive, dest, archive_hash="sha256:" + "a" * 64)
    assert (dest / "root" / "f0.txt").stat().st_mtime_ns == first
    # a different archive hash (new version) is extracted again
    with pytest.raises(AssertionError, match="extracted again"):
        extract_archive(archive, dest, archive_hash="sha256:" + "b" * 64)


def test_half_finished_extraction_is_redone(tmp_path, monkeypatch):
    archive = _good_tar(tmp_path)
    dest = tmp_path / "ds"
    real = extract_mod._extract_tar

    def dies_half_way(tf, tmp):
        members = tf.getmembers()
        tf.extractall(tmp, members=members[:2], filter="data")
        raise KeyboardInterrupt  # the kernel was interrupted mid-extraction

    monkeypatch.setattr(extract_mod, "_extract_tar", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        extract_archive(archive, dest, archive_hash="md5:" + "c" * 32)
    assert not extraction_ok(dest, "good.tar", "md5:" + "c" * 32)
    assert not (dest / "root").exists()  # nothing half-done was put in place

    monkeypatch.setattr(extract_mod, "_extract_tar", real)
    extract_archive(archive, dest, archive_hash="md5:" + "c" * 32)
    assert extraction_ok(dest, "good.tar", "md5:" + "c" * 32)
    assert sorted(p.name for p in (dest / "root").iterdir()) == [f"f{i}.txt" for i in range(5)]
    assert not any(p.name.startswith(".extracting") for p in dest.iterdir())


def test_deleted_member_makes_extraction_invalid(tmp_path):
    archive = _good_tar(tmp_path)
    dest = extract_archive(archive, tmp_path / "ds", archive_hash="md5:" + "d" * 32)
    (dest / "root" / "f3.txt").unlink()
    assert not extraction_ok(dest, "good.tar", "md5:" + "d" * 32)
    extract_archive(archive, dest, archive_hash="md5:" + "d" * 32)
    assert (dest / "root" / "f3.txt").read_text() == "file 3"


def test_member_may_not_replace_bookkeeping(tmp_path):
    archive = _tar(tmp_path / "x.tar", [OK, ({"name": ".medimg-verified.json"}, b"{}")])
    with pytest.raises(UnsafeArchiveError, match="bookkeeping"):
        extract_archive(archive, tmp_path)
    archive = _tar(tmp_path / "y.tar", [({"name": "y.tar"}, b"not the archive")])
    with pytest.raises(UnsafeArchiveError, match="bookkeeping"):
        extract_archive(archive, tmp_path)
    assert (tmp_path / "y.tar").stat().st_size > 100
