"""Time the kit's DICOM reading against pydicom's own decode on pydicom's test corpus (+ pydicom-data).

For every file pydicom decodes: best of ``--repeat`` runs of ``dcmread + pixel_array`` and of
``medimg_kernel.data.io.read_image``, measured interleaved in one run. Prints the extra seconds and the
ratio per slow file and overall; ``--json PATH`` keeps the figures.

    python benchmarks/dicom_corpus.py [--repeat 3] [--json benchmarks/results/dicom_corpus.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    import pydicom
    from pydicom.data import get_testdata_files

    from medimg_kernel.data.io import read_image
    from medimg_kernel.errors import DataError

    rows, refused = [], 0
    for f in sorted(p for p in get_testdata_files("*") if Path(p).is_file()):
        try:
            _ = pydicom.dcmread(f).pixel_array
        except Exception:  # noqa: BLE001 - not decodable by pydicom: not timed
            try:
                read_image(f)
            except DataError:
                refused += 1
            continue
        t_pyd = _best(lambda f=f: pydicom.dcmread(f).pixel_array, args.repeat)
        t_kit = _best(lambda f=f: read_image(f), args.repeat)
        rows.append({"file": Path(f).name, "pydicom_s": t_pyd, "kit_s": t_kit, "extra_s": t_kit - t_pyd})
    rows.sort(key=lambda r: -r["extra_s"])
    total_pyd = sum(r["pydicom_s"] for r in rows)
    total_kit = sum(r["kit_s"] for r in rows)
    print(
        f"{len(rows)} files decoded by pydicom, {refused} others refused with DataError; "
        f"{os.cpu_count()} CPUs (machine may be shared)"
    )
    for r in rows[:8]:
        print(
            f"  {r['file']:<45} pydicom {r['pydicom_s']:.3f} s  kit {r['kit_s']:.3f} s  extra {r['extra_s']:+.3f} s"
        )
    print(
        f"max extra {rows[0]['extra_s']:.3f} s ({rows[0]['file']}); total kit/pydicom = {total_kit / total_pyd:.2f}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"files": rows, "refused": refused, "ratio_total": total_kit / total_pyd}, indent=1)
        )


if __name__ == "__main__":
    main()
