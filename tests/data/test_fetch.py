"""Downloads against a real loopback HTTP server: mirrors, hash checks, resume, failures, stamps."""

from __future__ import annotations

import hashlib

import pytest

from medimg_kernel.data import _hashing
from medimg_kernel.data.fetcher import fetch, mirrors_from_env, verify
from medimg_kernel.errors import ChecksumError, DownloadError


def _leftovers(folder):
    """Every file under ``folder`` except stamps (temporary pooch files, partials, ...)."""
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".medimg-")
    )


def test_fetch_from_origin_extracts_and_stamps(manifest, data_dir, http_server):
    folder = fetch("test-mednist", data_dir=data_dir, manifests=[manifest], progressbar=False)
    assert folder == data_dir / "test-mednist"
    assert (folder / "MedNIST.tar.gz").is_file()
    jpegs = sorted((folder / "MedNIST").rglob("*.jpeg"))
    assert len(jpegs) == 60 and {p.parent.name for p in jpegs} == {
        "AbdomenCT",
        "BreastMRI",
        "CXR",
        "ChestCT",
        "Hand",
        "HeadCT",
    }
    assert [r["status"] for r in http_server.requests_for("/origin/MedNIST.tar.gz")] == [200]
    assert (folder / ".medimg-verified.json").is_file()
    assert (folder / ".medimg-extracted-MedNIST.tar.gz.json").is_file()


def test_mirror_is_tried_first(manifest, data_dir, http_server):
    fetch(
        "test-medmnist",
        data_dir=data_dir,
        manifests=[manifest],
        mirrors=[f"{http_server.url}/mirror"],
        progressbar=False,
    )
    paths = [r["path"] for r in http_server.state.log]
    assert paths == ["/mirror/pneumoniamnist.npz"]  # the origin was never contacted


def test_mirror_from_env_falls_back_to_origin(manifest, data_dir, http_server, monkeypatch, down_url):
    monkeypatch.setenv("MEDIMG_MIRROR", f"{down_url}/nothing-here, {http_server.url}/missing")
    assert mirrors_from_env() == [f"{down_url}/nothing-here", f"{http_server.url}/missing"]
    path = fetch("test-medmnist", data_dir=data_dir, manifests=[manifest], retries=0, progressbar=False)
    assert (path / "pneumoniamnist.npz").is_file()
    statuses = [(r["path"], r["status"]) for r in http_server.state.log]
    assert statuses == [("/missing/pneumoniamnist.npz", 404), ("/origin/pneumoniamnist.npz", 200)]


def test_hash_mismatch_leaves_nothing(manifest, data_dir, http_server):
    with pytest.raises(ChecksumError, match="hash differs"):
        fetch("test-badhash", data_dir=data_dir, manifests=[manifest], progressbar=False)
    folder = data_dir / "test-badhash"
    assert not (folder / "big.bin").exists()
    assert _leftovers(folder) == []  # no temporary file, no partial
    assert len(http_server.requests_for("/origin/big.bin")) == 1


def test_corrupt_cached_file_is_replaced(manifest, data_dir, http_server):
    folder = fetch("test-medmnist", data_dir=data_dir, manifests=[manifest], progressbar=False)
    target = folder / "pneumoniamnist.npz"
    good = target.read_bytes()
    target.write_bytes(b"garbage")  # size and mtime change: the stamp no longer vouches for it
    assert [r["status"] for r in verify("test-medmnist", data_dir=data_dir, manifests=[manifest])] == [
        "corrupt"
    ]
    fetch("test-medmnist", data_dir=data_dir, manifests=[manifest], progressbar=False)
    assert target.read_bytes() == good
    assert [r["status"] for r in verify("test-medmnist", data_dir=data_dir, manifests=[manifest])] == ["ok"]


def test_interrupted_transfer_resumes_with_range(manifest, data_dir, http_server, served_dir):
    http_server.state.modes["/origin/big.bin"] = "drop_once"
    folder = fetch("test-big", data_dir=data_dir, manifests=[manifest], progressbar=False, timeout=10)
    log = http_server.requests_for("/origin/big.bin")
    assert [r["status"] for r in log] == ["dropped", 206]
    assert log[0]["range"] is None and log[1]["range"].startswith("bytes=")
    resumed_at = int(log[1]["range"][len("bytes=") : -1])
    assert 0 < resumed_at <= (3 << 20) // 2  # continued from the bytes kept, not from zero
    data = (folder / "big.bin").read_bytes()
    assert data == (served_dir / "origin" / "big.bin").read_bytes()
    assert _leftovers(folder) == ["big.bin"]  # the partial file was consumed


def test_partial_from_earlier_session_is_resumed(manifest, data_dir, http_server, served_dir):
    src = (served_dir / "origin" / "big.bin").read_bytes()
    digest = hashlib.sha256(src).hexdigest()
    partial = data_dir / "test-big" / ".partial" / f"big.bin.{digest[:16]}.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(src[:1000])
    fetch("test-big", data_dir=data_dir, manifests=[manifest], progressbar=False)
    assert [r["range"] for r in http_server.requests_for("/origin/big.bin")] == ["bytes=1000-"]
    assert (data_dir / "test-big" / "big.bin").read_bytes() == src


def test_server_down_is_a_clear_error(manifest, data_dir, down_url, http_server, tmp_path):
    text = manifest.read_text().replace(f"{http_server.url}/origin", f"{down_url}/origin")
    down_manifest = tmp_path / "down.yaml"
    down_manifest.write_text(text)
    with pytest.raises(DownloadError) as err:
        fetch("test-medmnist", data_dir=data_dir, manifests=[down_manifest], retries=0, progressbar=False)
    msg = str(err.value)
    assert "could not download pneumoniamnist.npz" in msg and down_url in msg and "MEDIMG_MIRROR" in msg
    assert not (data_dir / "test-medmnist" / "pneumoniamnist.npz").exists()


def test_404_everywhere_is_a_download_error(manifest, data_dir, http_server):
    http_server.state.modes["/origin/pneumoniamnist.npz"] = "404"
    with pytest.raises(DownloadError, match="404"):
        fetch("test-medmnist", data_dir=data_dir, manifests=[manifest], progressbar=False)


def test_verified_file_is_not_rehashed_or_downloaded(manifest, data_dir, http_server, monkeypatch):
    fetch("test-mednist", data_dir=data_dir, manifests=[manifest], progressbar=False)
    n_requests = len(http_server.state.log)

    def boom(*a, **k):
        raise AssertionError("a stamped file was hashed again")

    monkeypatch.setattr(_hashing, "file_hash", boom)
    import medimg_kernel.data.fetcher as fetch_mod

    monkeypatch.setattr(fetch_mod, "hash_matches", boom)
    fetch("test-mednist", data_dir=data_dir, manifests=[manifest], progressbar=False)
    assert len(http_server.state.log) == n_requests


def test_file_mirror_for_usb_sticks(manifest, data_dir, http_server, served_dir):
    folder = fetch(
        "test-medmnist",
        data_dir=data_dir,
        manifests=[manifest],
        mirrors=[(served_dir / "mirror").as_uri()],
        progressbar=False,
    )
    assert (folder / "pneumoniamnist.npz").read_bytes() == (
        served_dir / "origin" / "pneumoniamnist.npz"
    ).read_bytes()
    assert http_server.state.log == []


def test_a_large_download_says_its_size_and_destination_first(manifest, data_dir, http_server, monkeypatch,
                                                              capsys):
    """Above MEDIMG_ANNOUNCE_BYTES (1 GB by default; lowered here) the size and the folder are printed first."""
    monkeypatch.setenv("MEDIMG_ANNOUNCE_BYTES", "10")
    fetch("test-mednist", data_dir=data_dir, manifests=[manifest], progressbar=False)
    out = capsys.readouterr().out
    assert out.count("downloading ") == 1 and str(data_dir / "test-mednist") in out and "MEDIMG_DATA" in out
    monkeypatch.delenv("MEDIMG_ANNOUNCE_BYTES")
    fetch("test-mednist", data_dir=data_dir / "again", manifests=[manifest], progressbar=False)
    assert "downloading " not in capsys.readouterr().out  # a small file downloads quietly
