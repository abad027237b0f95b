"""Download limits and raw-byte hashing against a real loopback HTTP server (127.0.0.1).

The server here misbehaves on purpose: it sends an endless body (with no length, or a false length),
announces more bytes than the registry allows, or serves a correct ``.tar.gz`` with
``Content-Encoding: gzip`` (a common misconfiguration). The fetcher must stop at the registry ``size`` (or
the cap for unknown sizes) with a clear error and nothing left on disk, and must hash the bytes as sent.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from medimg_kernel.data.fetcher import fetch, max_download_bytes
from medimg_kernel.errors import ChecksumError, ConfigError, DownloadTooLargeError

REPO = Path(__file__).resolve().parents[2]
MEDIMG = str(Path(sys.executable).with_name("medimg"))
SAFETY = 64 << 20  # the endless body stops here if the client never aborts (a failing test, not a full disk)


def _archive() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        data = b"hello from a real archive\n" * 100  # named in MedNIST's layout: fetch checks it before extracting
        info = tarfile.TarInfo("MedNIST/Hand/000000.jpeg")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


ARCHIVE = _archive()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sent: dict[str, int] = {}

    def log_message(self, *args):
        pass

    def _endless(self, announce: int | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if announce is not None:
            self.send_header("Content-Length", str(announce))
        else:
            self.send_header("Connection", "close")  # close-delimited body of unknown length
        self.end_headers()
        chunk, n = b"\0" * (64 << 10), 0
        try:
            while n < SAFETY:
                self.wfile.write(chunk)
                n += len(chunk)
        except OSError:  # the client hung up: what we want
            pass
        finally:
            _Handler.sent[self.path] = n
            self.close_connection = True

    def do_GET(self):  # noqa: N802
        if self.path == "/endless.bin":
            self._endless(None)
        elif self.path == "/liar.bin":  # claims 1000 bytes, sends forever
            self._endless(1000)
        elif self.path == "/huge.bin":  # honestly announces 1 TiB
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 40))
            self.end_headers()
            self.wfile.write(b"\0" * 1024)
            self.close_connection = True
        elif self.path == "/pack.tar.gz":  # the right bytes, mislabelled as gzip-encoded
            self.send_response(200)
            self.send_header("Content-Type", "application/x-tar")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(ARCHIVE)))
            self.end_headers()
            self.wfile.write(ARCHIVE)
        else:
            self.send_error(404)


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def _manifest(tmp_path: Path, base: str, fname: str, *, size: int | None, data: bytes = b"x") -> Path:
    f = {"filename": fname, "urls": [f"{base}/{fname}"], "sha256": hashlib.sha256(data).hexdigest()}
    if size is not None:
        f["size"] = size
    if fname.endswith(".tar.gz"):
        f["extract"] = True
    entry = {"name": "test-limits", "title": "limits", "source": "remote", "modality": "test", "task": "test",
             "license": "CC0", "loader": "mednist", "files": [f]}
    path = tmp_path / "limits.yaml"
    path.write_text(yaml.safe_dump({"datasets": [entry]}))
    return path


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_registry_size_is_enforced_while_streaming(server, tmp_path):
    man = _manifest(tmp_path, server, "endless.bin", size=100_000)
    cache = tmp_path / "cache"
    with pytest.raises(DownloadTooLargeError, match=r"endless.bin.*registry's size.*nothing was kept"):
        fetch("test-limits", data_dir=cache, manifests=[man], progressbar=False, retries=0)
    assert _files(cache) == []  # no partial file, no pooch temporary, no final file
    assert _Handler.sent.get("/endless.bin", 0) < SAFETY  # the client hung up long before the safety stop


def test_a_body_longer_than_its_content_length_is_cut_there(server, tmp_path):
    """The client reads exactly Content-Length bytes of an endless body; the hash then refuses them."""
    man = _manifest(tmp_path, server, "liar.bin", size=100_000)
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError, match="nothing was kept"):
        fetch("test-limits", data_dir=cache, manifests=[man], progressbar=False, retries=0)
    assert _files(cache) == []
    assert _Handler.sent.get("/liar.bin", 0) < SAFETY


def test_unknown_size_uses_the_configurable_cap(server, tmp_path, monkeypatch):
    man = _manifest(tmp_path, server, "endless.bin", size=None)
    cache = tmp_path / "cache"
    with pytest.raises(DownloadTooLargeError, match=r"download cap.*MEDIMG_MAX_DOWNLOAD"):
        fetch("test-limits", data_dir=cache, manifests=[man], progressbar=False, retries=0, max_bytes="256K")
    assert _files(cache) == []
    monkeypatch.setenv("MEDIMG_MAX_DOWNLOAD", "1M")
    assert max_download_bytes() == 1 << 20
    with pytest.raises(DownloadTooLargeError, match=r"1\.0 MiB cap"):
        fetch("test-limits", data_dir=cache, manifests=[man], progressbar=False, retries=0)
    assert _files(cache) == []
    monkeypatch.setenv("MEDIMG_MAX_DOWNLOAD", "lots")
    with pytest.raises(ConfigError, match="MEDIMG_MAX_DOWNLOAD=20G"):
        max_download_bytes()


def test_announced_length_over_the_limit_is_refused_before_the_body(server, tmp_path):
    man = _manifest(tmp_path, server, "huge.bin", size=None)
    with pytest.raises(DownloadTooLargeError, match=r"announces 1024\.0 GiB"):
        fetch("test-limits", data_dir=tmp_path / "c", manifests=[man], progressbar=False, retries=0)
    assert _files(tmp_path / "c") == []


def test_gzip_content_encoding_is_hashed_raw(server, tmp_path):
    """A correct .tar.gz served with Content-Encoding: gzip: the raw bytes match the registry hash."""
    man = _manifest(tmp_path, server, "pack.tar.gz", size=len(ARCHIVE), data=ARCHIVE)
    folder = fetch("test-limits", data_dir=tmp_path / "c", manifests=[man], progressbar=False, retries=0)
    assert (folder / "pack.tar.gz").read_bytes() == ARCHIVE
    assert (folder / "MedNIST" / "Hand" / "000000.jpeg").read_bytes().startswith(b"hello from a real archive")
    # requests alone would have undone the "encoding" and handed over the bare tar
    import requests

    decoded = requests.get(f"{server}/pack.tar.gz", timeout=10).content
    assert decoded != ARCHIVE and hashlib.sha256(decoded).hexdigest() != hashlib.sha256(ARCHIVE).hexdigest()


def test_cli_log_lines_are_prefixed_and_the_error_line_is_last(server, tmp_path):
    man = _manifest(tmp_path, server, "endless.bin", size=50_000)
    env = {**os.environ, "MEDIMG_DATA": str(tmp_path / "cache")}
    res = subprocess.run(
        [MEDIMG, "data", "fetch", "test-limits", "--manifest", str(man), "--quiet", "--retries", "0"],
        capture_output=True, text=True, env=env, timeout=120, cwd=REPO,
    )
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2, res.stderr
    assert lines and all(ln.startswith("medimg: ") for ln in lines), res.stderr
    assert lines[-1].startswith("medimg: error: endless.bin: every source sent more than the registry's size")
    assert any(ln.startswith("medimg: warning: aborted endless.bin") for ln in lines[:-1])
    assert "Traceback" not in res.stderr and _files(tmp_path / "cache") == []
