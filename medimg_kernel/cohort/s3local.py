"""A real S3-compatible server on 127.0.0.1 for lessons and tests: ``moto`` in server mode, as a child process.

It speaks the S3 HTTP API, so s3fs/boto3 talk to it exactly as to AWS, MinIO or Ceph; only the
endpoint and the credentials differ. The server stops with :meth:`LocalS3.stop`, at interpreter exit,
and (on Linux) when the process that started it dies, so a crashed notebook leaves nothing running.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import StorageError

__all__ = ["LocalS3"]


def _die_with_parent() -> None:  # runs in the child before exec (Linux): SIGTERM when the parent exits
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class LocalS3:
    """Start ``moto_server`` on a free port of 127.0.0.1; ``storage_options`` are ready for ``mk.cohort``."""

    def __init__(self, *, port: int | None = None, key: str = "local-key", secret: str = "local-secret",
                 timeout: float = 60.0) -> None:
        exe = shutil.which("moto_server", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        if exe is None:
            raise StorageError("moto_server not found: pip install 'moto[server]'")
        if port is None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.port = int(port)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._key, self._secret = key, secret
        self._proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(self.port)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL,
                                      preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while True:  # ready when the port accepts connections
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise StorageError(f"moto_server did not start on 127.0.0.1:{self.port}") from None
                time.sleep(0.1)

    @property
    def storage_options(self) -> dict[str, Any]:
        """fsspec/s3fs options for this server (credentials included: pass them, never print them)."""
        return {"key": self._key, "secret": self._secret,
                "client_kwargs": {"endpoint_url": self.endpoint, "region_name": "us-east-1"}}

    def create_bucket(self, name: str, *, public: bool = False) -> str:
        """Create bucket ``name`` (no error if it exists); returns ``s3://name``.

        ``public=True`` adds a bucket policy letting anyone list and read it without credentials, as a
        public open-data bucket does (e.g. NCI IDC's ``idc-open-data``).
        """
        import json

        import boto3

        s3 = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                          aws_access_key_id=self._key, aws_secret_access_key=self._secret)
        try:
            s3.create_bucket(Bucket=name)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        if public:
            policy = {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{name}/*"},
                {"Effect": "Allow", "Principal": "*", "Action": ["s3:ListBucket"], "Resource": f"arn:aws:s3:::{name}"}]}
            s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
        return f"s3://{name}"

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()

    def __enter__(self) -> LocalS3:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._proc.poll() is None else "stopped"
        return f"LocalS3({self.endpoint}, {state})"
