"""Offline course packs: pack verified cached files, unpack into an empty cache, reject tampered packs."""

from __future__ import annotations

import io
import tarfile

import pytest

from medimg_kernel.data.fetcher import fetch, verify
from medimg_kernel.data.packs import PACK_MANIFEST, pack, unpack
from medimg_kernel.errors import ChecksumError, ConfigError


def test_pack_unpack_round_trip(manifest, tmp_path, http_server):
    src, dst = tmp_path / "teacher", tmp_path / "classroom"
    for name in ("test-mednist", "test-medmnist"):
        fetch(name, data_dir=src, manifests=[manifest], progressbar=False)
    out = pack(
        ["test-mednist", "test-medmnist"], tmp_path / "course.medimgpack", data_dir=src, manifests=[manifest]
    )
    with tarfile.open(out) as tf:
        names = sorted(tf.getnames())
    assert names == [PACK_MANIFEST, "test-medmnist/pneumoniamnist.npz", "test-mednist/MedNIST.tar.gz"]

    http_server.state.log.clear()
    installed = unpack(out, data_dir=dst, manifests=[manifest])
    assert installed == ["test-mednist", "test-medmnist"]
    assert http_server.state.log == []  # offline: nothing downloaded
    records = verify(None, data_dir=dst, manifests=[manifest])
    assert {(r["dataset"], r["status"]) for r in records} == {("test-mednist", "ok"), ("test-medmnist", "ok")}
    assert all(r.get("extracted", True) for r in records)
    assert len(list((dst / "test-mednist" / "MedNIST").rglob("*.jpeg"))) == 60
    # fetch now finds everything in place and asks the network for nothing
    fetch("test-mednist", data_dir=dst, manifests=[manifest], progressbar=False)
    assert http_server.state.log == []


def test_tampered_pack_is_rejected(manifest, tmp_path):
    src = tmp_path / "teacher"
    fetch("test-medmnist", data_dir=src, manifests=[manifest], progressbar=False)
    good = pack(["test-medmnist"], tmp_path / "good.pack", data_dir=src, manifests=[manifest])
    bad = tmp_path / "bad.pack"
    with tarfile.open(good) as tin, tarfile.open(bad, "w") as tout:
        for m in tin.getmembers():
            data = tin.extractfile(m).read()
            if m.name.endswith(".npz"):
                data = data[:-10] + b"0123456789"
            m.size = len(data)
            tout.addfile(m, io.BytesIO(data))
    dst = tmp_path / "classroom"
    with pytest.raises(ChecksumError, match="registry expects"):
        unpack(bad, data_dir=dst, manifests=[manifest])
    folder = dst / "test-medmnist"
    assert not (folder / "pneumoniamnist.npz").exists()
    assert [p.name for p in folder.iterdir()] == []


def test_pack_needs_cached_files(manifest, tmp_path):
    with pytest.raises(ConfigError, match="medimg data fetch test-medmnist"):
        pack(["test-medmnist"], tmp_path / "x.pack", data_dir=tmp_path / "empty", manifests=[manifest])
    with pytest.raises(ConfigError, match="offline already"):
        pack(["synthetic-mednist"], tmp_path / "x.pack", data_dir=tmp_path / "empty")


def test_unpack_rejects_non_pack(tmp_path):
    junk = tmp_path / "junk.tar"
    with tarfile.open(junk, "w") as tf:
        tf.addfile(tarfile.TarInfo("hello.txt"), io.BytesIO(b""))
    with pytest.raises(ConfigError, match="medimg-pack.json"):
        unpack(junk, data_dir=tmp_path / "c")
