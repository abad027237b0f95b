"""Hash speed of the data layer: MB/s of md5 and sha256 over a file, and the cost of a stamped re-check.

Run ``python benchmarks/hash_speed.py [--size-mb 256] [--file PATH]``. Without ``--file`` a temporary
file of random bytes is written (and read back once so the page cache holds it: the figure is
hashing speed, then disk speed sets the pace for colder files). Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

from medimg_kernel.data._hashing import file_hash, stamp_ok, write_stamp


def _mbps(nbytes: int, seconds: float) -> float:
    return nbytes / 2**20 / max(seconds, 1e-9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size-mb", type=int, default=256, help="size of the temporary test file (default 256)"
    )
    parser.add_argument("--file", type=Path, help="hash this file instead of a temporary one")
    parser.add_argument("--repeat", type=int, default=2, help="runs per algorithm; the best is reported")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        path = args.file
        if path is None:
            path = Path(tmp) / "blob.bin"
            chunk = os.urandom(8 << 20)
            with open(path, "wb") as f:
                for _ in range(max(1, args.size_mb // 8)):
                    f.write(chunk)
            t = time.perf_counter()
            with open(path, "rb") as f:
                while f.read(8 << 20):
                    pass
            print(f"read (page cache)   {_mbps(path.stat().st_size, time.perf_counter() - t):9.1f} MB/s")
        size = path.stat().st_size
        print(f"file                {path} ({size / 2**20:.0f} MB)")
        for alg in ("md5", "sha256"):
            best = min(_time(lambda a=alg: file_hash(path, a)) for _ in range(args.repeat))
            print(f"{alg:<8} file_hash   {_mbps(size, best):9.1f} MB/s")

        # what pooch's own file_hash does (64 KiB reads) for comparison
        def small_chunks() -> str:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(65536), b""):
                    h.update(block)
            return h.hexdigest()

        print(
            f"sha256 64KiB reads  {_mbps(size, min(_time(small_chunks) for _ in range(args.repeat))):9.1f} MB/s"
        )
        known = "sha256:" + file_hash(path, "sha256")
        if args.file is None:
            write_stamp(path, known)
            t = time.perf_counter()
            for _ in range(1000):
                assert stamp_ok(path, known)
            print(
                f"stamped re-check    {(time.perf_counter() - t) * 1000 / 1000:9.3f} ms per file (no hashing)"
            )
    return 0


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    raise SystemExit(main())
