"""Fixtures of the data-layer tests: a real HTTP server on 127.0.0.1 and small archives in real formats.

The server (``http.server`` in a thread) serves a folder, honours ``Range`` requests, records every
request, and has per-path modes: ``normal``, ``drop_once`` (sends the headers of the whole file, half
the bytes, then closes the connection, once), ``404``. ``down_url`` is a port nobody listens on.
The archives are generated here: a miniature ``MedNIST.tar.gz`` (class folders of JPEGs), a miniature
MSD ``Task04_Hippocampus.tar`` (``dataset.json`` + NIfTI), a MedMNIST-style ``.npz`` and a larger
binary file for the resume test. ``manifest`` is a registry file carrying their hashes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import socket
import tarfile
import threading
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import yaml

MEDNIST_CLASSES = ["AbdomenCT", "BreastMRI", "CXR", "ChestCT", "Hand", "HeadCT"]


@dataclass
class ServerState:
    root: Path
    modes: dict[str, str] = field(default_factory=dict)  # url path -> mode
    log: list[dict] = field(default_factory=list)  # {"path", "range", "status"}
    dropped: set[str] = field(default_factory=set)


def _handler(state: ServerState):
    class Handler(SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(state.root), **kwargs)

        def log_message(self, *args):  # keep pytest output clean
            pass

        def do_GET(self):  # noqa: N802
            path = self.path.split("?")[0]
            rng = self.headers.get("Range")
            mode = state.modes.get(path, "normal")
            target = state.root / path.lstrip("/")
            if mode == "404" or not target.is_file():
                state.log.append({"path": path, "range": rng, "status": 404})
                self.send_error(404)
                return
            data = target.read_bytes()
            start = 0
            if rng and rng.startswith("bytes="):
                start = int(rng[len("bytes=") :].split("-")[0])
                if start >= len(data):
                    state.log.append({"path": path, "range": rng, "status": 416})
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if mode == "drop_once" and path not in state.dropped:
                state.dropped.add(path)
                state.log.append({"path": path, "range": rng, "status": "dropped"})
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            state.log.append({"path": path, "range": rng, "status": 206 if rng else 200})
            self.wfile.write(body)

        def do_HEAD(self):  # noqa: N802
            self.send_response(200)
            self.end_headers()

    return Handler


@dataclass
class Server:
    url: str
    state: ServerState

    def requests_for(self, path: str) -> list[dict]:
        return [r for r in self.state.log if r["path"] == path]


@pytest.fixture
def http_server(served_dir):
    """A threaded HTTP server on 127.0.0.1 serving ``served_dir`` (fresh log and modes per test)."""
    state = ServerState(root=served_dir)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{srv.server_address[1]}", state)
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def down_url():
    """Base URL of a loopback port with no server behind it (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# ------------------------------------------------------------------------------------------ archives
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def make_mednist(path: Path, per_class: int = 10) -> None:
    """A miniature MedNIST.tar.gz: MedNIST/<Class>/<n>.jpeg, 64x64 grey JPEGs, class-specific brightness."""
    from PIL import Image

    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as tf:
        for k, cls in enumerate(MEDNIST_CLASSES):
            for i in range(per_class):
                arr = np.clip(rng.normal(30 + 35 * k, 10, (64, 64)), 0, 255).astype(np.uint8)
                buf = io.BytesIO()
                Image.fromarray(arr, mode="L").save(buf, format="JPEG")
                info = tarfile.TarInfo(f"MedNIST/{cls}/{i:06d}.jpeg")
                info.size = buf.tell()
                buf.seek(0)
                tf.addfile(info, buf)


def make_msd(path: Path, n_train: int = 5, n_test: int = 2) -> None:
    """A miniature MSD Task04_Hippocampus.tar with dataset.json, imagesTr/labelsTr/imagesTs NIfTI files."""
    import nibabel as nib

    rng = np.random.default_rng(1)
    task = "Task04_Hippocampus"
    files: dict[str, bytes] = {}

    def nii(arr: np.ndarray) -> bytes:
        return gzip.compress(nib.Nifti1Image(arr, np.diag([1.0, 1.0, 1.0, 1.0])).to_bytes())

    training = []
    for i in range(n_train):
        lab = np.zeros((20, 24, 16), dtype=np.uint8)
        lab[6:12, 8:14, 4:10] = 1
        lab[12:15, 8:14, 4:10] = 2
        img = (rng.normal(100, 10, lab.shape) + 50 * lab).astype(np.float32)
        files[f"imagesTr/hippocampus_{i:03d}.nii.gz"] = nii(img)
        files[f"labelsTr/hippocampus_{i:03d}.nii.gz"] = nii(lab)
        training.append(
            {
                "image": f"./imagesTr/hippocampus_{i:03d}.nii.gz",
                "label": f"./labelsTr/hippocampus_{i:03d}.nii.gz",
            }
        )
    test = []
    for i in range(n_test):
        files[f"imagesTs/hippocampus_{100 + i:03d}.nii.gz"] = nii(
            rng.normal(100, 10, (20, 24, 16)).astype(np.float32)
        )
        test.append(f"./imagesTs/hippocampus_{100 + i:03d}.nii.gz")
    meta = {
        "name": "Hippocampus",
        "modality": {"0": "MRI"},
        "labels": {"0": "background", "1": "Anterior", "2": "Posterior"},
        "numTraining": n_train,
        "numTest": n_test,
        "training": training,
        "test": test,
    }
    files["dataset.json"] = json.dumps(meta, indent=1).encode()
    files["imagesTr/._hippocampus_000.nii.gz"] = b"AppleDouble junk as in the real MSD tars"
    with tarfile.open(path, "w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{task}/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def make_medmnist(path: Path) -> None:
    """A MedMNIST-style npz (train/val/test _images (N,28,28) uint8 and _labels (N,1))."""
    rng = np.random.default_rng(2)
    arrays = {}
    for split, n in (("train", 40), ("val", 10), ("test", 12)):
        labels = rng.integers(0, 2, size=(n, 1)).astype(np.uint8)
        arrays[f"{split}_images"] = (
            rng.integers(0, 100, size=(n, 28, 28)) + 100 * labels[:, :, None]
        ).astype(np.uint8)
        arrays[f"{split}_labels"] = labels
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


@pytest.fixture(scope="session")
def served_dir(tmp_path_factory) -> Path:
    """Folder served over HTTP: origin/ (registry URLs) and mirror/ (a mirror with the same files)."""
    root = tmp_path_factory.mktemp("served")
    origin = root / "origin"
    origin.mkdir()
    make_mednist(origin / "MedNIST.tar.gz")
    make_msd(origin / "Task04_Hippocampus.tar")
    make_medmnist(origin / "pneumoniamnist.npz")
    (origin / "big.bin").write_bytes(
        np.random.default_rng(3).integers(0, 256, 3 << 20, dtype=np.uint8).tobytes()
    )
    mirror = root / "mirror"
    mirror.mkdir()
    for f in origin.iterdir():
        os.link(f, mirror / f.name)
    return root


def _entry(
    name: str, loader: str, fname: str, digest: dict, *, extract: bool, urls: list[str], **extra
) -> dict:
    e = {
        "name": name,
        "title": f"test {name}",
        "source": "remote",
        "modality": "test",
        "task": "test",
        "license": "CC0",
        "loader": loader,
        "files": [{"filename": fname, "urls": urls, **digest, "extract": extract}],
    }
    e.update(extra)
    return e


@pytest.fixture
def manifest(served_dir, http_server, tmp_path) -> Path:
    """A registry file for the served archives, origin URLs on the live server; hashes are real."""
    o = served_dir / "origin"
    base = f"{http_server.url}/origin"
    entries = [
        _entry(
            "test-mednist",
            "mednist",
            "MedNIST.tar.gz",
            {"md5": _md5(o / "MedNIST.tar.gz"), "sha256": _sha256(o / "MedNIST.tar.gz")},
            extract=True,
            urls=[f"{base}/MedNIST.tar.gz"],
            labels=MEDNIST_CLASSES,
            splits={"train": 0.6, "val": 0.2, "test": 0.2},
        ),
        _entry(
            "test-msd",
            "msd",
            "Task04_Hippocampus.tar",
            {"md5": _md5(o / "Task04_Hippocampus.tar")},
            extract=True,
            urls=[f"{base}/Task04_Hippocampus.tar"],
            splits={"train": 0.6, "val": 0.4},
        ),
        _entry(
            "test-medmnist",
            "medmnist",
            "pneumoniamnist.npz",
            {"sha256": _sha256(o / "pneumoniamnist.npz")},
            extract=False,
            urls=[f"{base}/pneumoniamnist.npz"],
            labels=["normal", "pneumonia"],
            splits={"train": 40, "val": 10, "test": 12},
        ),
        _entry(
            "test-big",
            "medmnist",
            "big.bin",
            {"sha256": _sha256(o / "big.bin")},
            extract=False,
            urls=[f"{base}/big.bin"],
        ),
        _entry(
            "test-badhash",
            "medmnist",
            "big.bin",
            {"sha256": "0" * 64},
            extract=False,
            urls=[f"{base}/big.bin"],
        ),
    ]
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump({"datasets": entries}, sort_keys=False))
    return path


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """An empty cache folder for one test."""
    d = tmp_path / "cache"
    d.mkdir()
    return d


def make_ixi(path: Path) -> None:
    """A miniature IXI-T1.tar: IXI<id>-<site>-<n>-T1.nii.gz files at the archive root, as in the real one."""
    import nibabel as nib

    rng = np.random.default_rng(4)
    with tarfile.open(path, "w") as tf:
        for i, site in enumerate(["Guys", "HH", "IOP", "Guys", "HH", "Guys", "IOP", "HH", "Guys", "IOP"]):
            data = gzip.compress(
                nib.Nifti1Image(rng.normal(size=(12, 14, 10)).astype(np.float32), np.eye(4)).to_bytes()
            )
            info = tarfile.TarInfo(f"IXI{100 + i:03d}-{site}-{1000 + i}-T1.nii.gz")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


@pytest.fixture
def ixi_manifest(served_dir, http_server, tmp_path) -> Path:
    """A registry file with one IXI-style entry served from the loopback server."""
    archive = served_dir / "origin" / "IXI-T1.tar"
    if not archive.exists():
        make_ixi(archive)
    entry = _entry(
        "test-ixi",
        "ixi",
        "IXI-T1.tar",
        {"md5": _md5(archive)},
        extract=True,
        urls=[f"{http_server.url}/origin/IXI-T1.tar"],
        labels=["Guys", "HH", "IOP"],
        splits={"train": 0.8, "val": 0.1, "test": 0.1},
        options={"sites": ["Guys", "HH", "IOP"]},
    )
    path = tmp_path / "ixi.yaml"
    path.write_text(yaml.safe_dump({"datasets": [entry]}, sort_keys=False))
    return path
