"""A pooch-compatible HTTP downloader that resumes an interrupted transfer with a Range request.

pooch calls ``downloader(url, output_file, pooch)`` and then checks the hash of ``output_file``. This
downloader streams into a persistent partial file (kept between attempts and between sessions, named
by the expected hash so another version is never appended to), asks the server for the missing bytes
(``Range: bytes=N-``) after a dropped connection, retries with a capped exponential back-off, and
finally moves the complete partial file onto ``output_file`` for pooch to verify.

Two guards protect the disk and the hash. The body is capped while it streams: at the registry's
``size`` when it is known, else at ``max_bytes``; a transfer that goes past the cap (an endless or
oversized body) is aborted, its partial file deleted, and a :class:`DownloadError` says why. And the
bytes written are the raw bytes the server sent: ``Accept-Encoding: identity`` is requested and a
``Content-Encoding`` (e.g. a ``.tar.gz`` wrongly served as ``gzip``-encoded) is never decoded, so the hash
is computed over exactly the file the registry describes.
"""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path
from typing import Any

from ..errors import DownloadError, DownloadTooLargeError

__all__ = ["ResumableHTTPDownloader", "format_bytes"]

log = logging.getLogger(__name__)

_CHUNK = 256 << 10


def announce_bytes() -> int:
    """Downloads larger than this many bytes print their size and destination first (``MEDIMG_ANNOUNCE_BYTES``,
    default 1 GB)."""
    raw = os.environ.get("MEDIMG_ANNOUNCE_BYTES", "").strip()
    return int(raw) if raw.isdigit() else 10**9


def format_bytes(n: int) -> str:
    """``1536`` -> ``'1.5 KiB'``: a byte count for messages."""
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover


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


def _raw_chunks(resp: Any) -> Any:
    """The response body as sent (no Content-Encoding decoding), urllib3 errors as requests' (as iter_content)."""
    import requests
    from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

    try:
        yield from resp.raw.stream(_CHUNK, decode_content=False)
    except ProtocolError as err:
        raise requests.exceptions.ChunkedEncodingError(err) from err
    except ReadTimeoutError as err:
        raise requests.exceptions.ConnectionError(err) from err
    except (DecodeError, SSLError) as err:
        raise requests.exceptions.ConnectionError(err) from err


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
    expected_size : int, optional
        The registry's byte count: a body longer than this is aborted.
    max_bytes : int, optional
        The cap when the size is unknown (``None``: no cap).
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
        expected_size: int | None = None,
        max_bytes: int | None = None,
    ):
        self.partial = Path(partial)
        self.retries = retries
        self.timeout = timeout
        self.backoff = backoff
        self.progressbar = progressbar
        self.headers = {"Accept-Encoding": "identity", **(headers or {})}
        self.expected_size = expected_size
        self.max_bytes = max_bytes
        self._announced = False
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

    def _limit(self) -> tuple[int | None, str]:
        if self.expected_size is not None:
            return self.expected_size, f"the registry's size of {format_bytes(self.expected_size)}"
        if self.max_bytes is not None:
            return self.max_bytes, (
                f"the {format_bytes(self.max_bytes)} cap for files of unknown size "
                "(raise it with MEDIMG_MAX_DOWNLOAD or max_bytes=)"
            )
        return None, ""

    def _too_large(self, url: str, what: str, why: str) -> DownloadTooLargeError:
        self.partial.unlink(missing_ok=True)  # an oversized body is never resumed: drop every byte of it
        return DownloadTooLargeError(f"{url}: {what}, more than {why}; the transfer was aborted and nothing was kept")

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
            total = have + int(length) if length is not None and length.isdigit() else None
            limit, why = self._limit()
            if limit is not None and total is not None and total > limit:
                raise self._too_large(url, f"the server announces {format_bytes(total)}", why)
            if total is not None and total > announce_bytes() and not self._announced:
                self._announced = True
                print(f"downloading {format_bytes(total)} from {url} to {self.partial.parent.parent} "
                      "(set MEDIMG_DATA to put it elsewhere)", flush=True)
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
                written = have
                # the raw bytes as sent: a Content-Encoding (gzip, deflate) is not undone before hashing
                for chunk in _raw_chunks(resp):
                    if not chunk:
                        continue
                    if limit is not None and written + len(chunk) > limit:
                        out.close()
                        raise self._too_large(url, f"the body passed {format_bytes(limit)}", why)
                    out.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
            got = self.partial.stat().st_size
            if total is not None and got < total:
                raise requests.exceptions.ConnectionError(f"connection closed after {got} of {total} bytes")
