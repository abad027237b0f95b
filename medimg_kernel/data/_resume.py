"""A pooch-compatible HTTP downloader that resumes an interrupted transfer with a Range request.

pooch calls ``downloader(url, output_file, pooch)`` and then checks the hash of ``output_file``. This
downloader streams into a persistent partial file (kept between attempts and between sessions, named
by the expected hash so another version is never appended to), asks the server for the missing bytes
(``Range: bytes=N-``) after a dropped connection, retries with a capped exponential back-off, and
finally moves the complete partial file onto ``output_file`` for pooch to verify.
"""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path
from typing import Any

from ..errors import DownloadError

__all__ = ["ResumableHTTPDownloader"]

log = logging.getLogger(__name__)

_CHUNK = 256 << 10


def short_reason(err: BaseException | None) -> str:
    """A short, readable reason for a network error (urllib3 nests several layers of text)."""
    msg = str(err)
    for pattern, text in (
        (
            r"NameResolutionError|Name or service not known|getaddrinfo failed|nodename nor servname",
            "host name not found",
        ),
        (r"Connection refused|ECONNREFUSED", "connection refused"),
        (r"timed out|Timeout", "timed out"),
        (r"IncompleteRead|Connection broken|connection closed after", "connection dropped mid-file"),
    ):
        if re.search(pattern, msg):
            return text
    return msg if len(msg) <= 160 else msg[:157] + "..."


class ResumableHTTPDownloader:
    """Download over HTTP(S) into ``partial``, resuming with ``Range`` after failures.

    Parameters
    ----------
    partial : path
        Where the incomplete bytes live between attempts (in the cache folder, so the final move is
        atomic).
    retries : int
        Extra attempts after a network failure (each resumes where the last stopped).
    timeout : float
        Seconds to wait for the connection and for each read.
    backoff : float
        First wait between attempts in seconds; doubled each time, capped at 10 s.
    progressbar : bool
        Show a ``tqdm.auto`` progress bar (notebook-aware).
    """

    def __init__(
        self,
        partial: str | os.PathLike[str],
        *,
        retries: int = 3,
        timeout: float = 30.0,
        backoff: float = 1.0,
        progressbar: bool = True,
        headers: dict[str, str] | None = None,
    ):
        self.partial = Path(partial)
        self.retries = retries
        self.timeout = timeout
        self.backoff = backoff
        self.progressbar = progressbar
        self.headers = dict(headers or {})
        self.resumed_from: list[int] = []  # byte offsets at which a Range request was made (for tests/logs)

    def __repr__(self) -> str:
        return f"ResumableHTTPDownloader(partial={str(self.partial)!r}, retries={self.retries}, timeout={self.timeout})"

    def __call__(
        self, url: str, output_file: Any, pooch: Any = None, check_only: bool = False
    ) -> bool | None:
        """Fetch ``url`` into ``output_file`` (a path), resuming a partial download if one exists."""
        import requests

        if check_only:
            resp = requests.head(url, timeout=self.timeout, allow_redirects=True, headers=self.headers)
            return resp.status_code == 200
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        last_error: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                wait = min(self.backoff * 2 ** (attempt - 1), 10.0)
                log.info(
                    "retrying %s in %.1f s (attempt %d of %d): %s",
                    url,
                    wait,
                    attempt + 1,
                    self.retries + 1,
                    last_error,
                )
                time.sleep(wait)
            try:
                self._transfer(url)
                break
            except requests.exceptions.HTTPError as err:
                status = err.response.status_code if err.response is not None else None
                if status is not None and 400 <= status < 500 and status not in (408, 429):
                    raise  # 404 and friends will not improve with retries
                last_error = err
            except (requests.exceptions.RequestException, OSError) as err:
                last_error = err
        else:
            kept = self.partial.stat().st_size if self.partial.exists() else 0
            resume = f"; {kept} bytes are kept in {self.partial} for the next try to resume" if kept else ""
            raise DownloadError(
                f"gave up on {url} after {self.retries + 1} attempts ({short_reason(last_error)}){resume}"
            ) from last_error
        os.replace(self.partial, output_file)
        return None

    def _transfer(self, url: str) -> None:
        import requests
        from tqdm.auto import tqdm

        have = self.partial.stat().st_size if self.partial.exists() else 0
        headers = dict(self.headers)
        if have:
            headers["Range"] = f"bytes={have}-"
            self.resumed_from.append(have)
            log.info("resuming %s from byte %d", url, have)
        with requests.get(
            url, stream=True, timeout=self.timeout, headers=headers, allow_redirects=True
        ) as resp:
            if have and resp.status_code == 416:  # nothing left to send: the partial file is complete
                return
            resp.raise_for_status()
            if have and resp.status_code != 206:  # server ignored the Range header: start over
                log.info("%s does not support resume; downloading from the start", url)
                have = 0
            length = resp.headers.get("content-length")
            total = have + int(length) if length is not None else None
            mode = "ab" if have else "wb"
            with (
                open(self.partial, mode) as out,
                tqdm(
                    total=total,
                    initial=have,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=self.partial.name.split(".part")[0][:40],
                    disable=not self.progressbar,
                    leave=False,
                ) as bar,
            ):
                for chunk in resp.iter_content(chunk_size=_CHUNK):
                    if chunk:
                        out.write(chunk)
                        bar.update(len(chunk))
            got = self.partial.stat().st_size
            if total is not None and got < total:
                raise requests.exceptions.ConnectionError(f"connection closed after {got} of {total} bytes")
