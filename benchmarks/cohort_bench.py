"""mk.cohort on this machine: Dask speedup by task size, break-even, audit time of a 500-scan cohort, worker memory.

All figures come from one run and the timings are interleaved (serial, 1 worker, 2 workers for each task
size in turn), so a busy machine slows every variant alike; the load average is printed with them.

    python benchmarks/cohort_bench.py [--quick] [--json benchmarks/results/cohort_bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def speedup_by_size(sizes: list[int], n_tasks: int, repeats: int = 3) -> list[dict]:
    """Serial, 1-worker and 2-worker wall time per size; ``repeats`` interleaved rounds, the best of each kept.

    The minimum over repeats is the usual estimate of a timing (as ``timeit`` does): noise from other
    processes only ever adds time. Every round's times are kept in the row too.
    """
    import medimg_kernel as mk
    from medimg_kernel.cohort.scaling import feature_task

    rows = []
    with mk.cohort.client(n_workers=1, dashboard=False) as c1, mk.cohort.client(n_workers=2, dashboard=False) as c2:
        for c in (c1, c2):
            c.gather(c.map(feature_task, [8] * 2, [0, 1], pure=False))
        feature_task(8)
        for size in sizes:
            seeds = list(range(n_tasks))
            rounds: dict[str, list[float]] = {"serial_s": [], "one_worker": [], "two_workers": []}
            for _ in range(repeats):
                t0 = time.perf_counter()
                serial = [feature_task(size, s) for s in seeds]
                rounds["serial_s"].append(time.perf_counter() - t0)
                for name, c in (("one_worker", c1), ("two_workers", c2)):
                    t0 = time.perf_counter()
                    out = c.gather(c.map(feature_task, [size] * n_tasks, seeds, pure=False))
                    rounds[name].append(time.perf_counter() - t0)
                    assert out == serial
            best = {k: min(v) for k, v in rounds.items()}
            rows.append({"size": size, "task_s": best["serial_s"] / n_tasks, **best,
                         "speedup_2_vs_1": best["one_worker"] / best["two_workers"],
                         "speedup_2_vs_serial": best["serial_s"] / best["two_workers"], "workers": 2,
                         "n_tasks": n_tasks, "rounds": rounds})
            print(f"  size {size:4d}: task {best['serial_s'] / n_tasks * 1e3:8.1f} ms | 2 vs 1 worker "
                  f"x{rows[-1]['speedup_2_vs_1']:.2f} | 2 workers vs serial x{rows[-1]['speedup_2_vs_serial']:.2f}"
                  f" (best of {repeats})", flush=True)
        for c in (c1, c2):
            c.cluster.close()
    return rows


def audit_time(n_scans: int, folder: Path) -> dict:
    import medimg_kernel as mk

    t0 = time.perf_counter()
    truth = mk.cohort.make_cohort(folder, n_scans, seed=1)
    t_make = time.perf_counter() - t0
    with mk.cohort.client(n_workers=2, dashboard=False) as c:
        t0 = time.perf_counter()
        table = mk.cohort.scan(folder / "manifest.csv", client=c, progress=False)
        t_scan = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = mk.cohort.audit(table, label_map=mk.cohort.LABEL_MAP)
        t_audit = time.perf_counter() - t0
        c.cluster.close()
    planted = truth.dropna(subset=["fault"])
    by_path = result.set_index("path")
    found = sum(bool(by_path.at[p, f]) for p, f in zip(planted.fault_path, planted.fault))
    false_alarms = int((~result.ok & ~result.path.isin(planted.fault_path)).sum())
    return {"n_scans": n_scans, "files": int(table.n_files.sum()), "make_s": t_make, "scan_s": t_scan,
            "audit_checks_s": t_audit, "scan_plus_audit_s": t_scan + t_audit, "faults_found": found,
            "faults_planted": len(planted), "false_alarms": false_alarms}


def memory_bound(folder: Path, limit: int) -> dict:
    import nibabel as nib

    import medimg_kernel as mk

    vol = np.zeros((256, 256, 64))
    vol[64:192, 64:192, 8:56] = 1.0
    nib.save(nib.Nifti1Image(vol, np.eye(4)), folder / "s000.nii.gz")
    n = int(np.ceil(10.5 * limit / vol.nbytes))
    for i in range(1, n):
        shutil.copyfile(folder / "s000.nii.gz", folder / f"s{i:03d}.nii.gz")
    with mk.cohort.client(n_workers=1, memory_limit=limit, dashboard=False) as c:
        t0 = time.perf_counter()
        table = mk.cohort.scan(folder, client=c, progress=False)
        seconds = time.perf_counter() - t0
        (mem,) = mk.cohort.worker_peak_memory(c).values()
        c.cluster.close()
    return {"files": n, "decoded_bytes": n * vol.nbytes, "limit_bytes": limit, "peak_bytes": mem["peak"],
            "peak_over_limit": mem["peak"] / limit, "cohort_over_limit": n * vol.nbytes / limit,
            "errors": int(table.error.notna().sum()), "seconds": seconds}


def break_even(rows: list[dict], key: str) -> float | None:
    import pandas as pd

    from medimg_kernel.cohort.scaling import break_even as be

    df = pd.DataFrame(rows).rename(columns={key: "speedup"})
    return be(df)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes and cohorts (a minute)")
    ap.add_argument("--json", help="write the figures to this JSON file")
    args = ap.parse_args()
    sizes = [8, 16, 32, 64] if args.quick else [8, 16, 32, 48, 64, 96, 128, 192, 224]
    load0 = os.getloadavg()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{load0[0]:.1f} (other jobs running make the absolute times noisy; the ratios are measured interleaved)")
    print("speedup by task size (features of a size^3 volume):")
    rows = speedup_by_size(sizes, 4 if args.quick else 8, repeats=1 if args.quick else 3)
    be_serial = break_even(rows, "speedup_2_vs_serial")
    big = [r for r in rows if r["task_s"] >= 0.5]
    print(f"break-even task duration (2 workers vs serial): "
          f"{'not reached' if be_serial is None else f'{be_serial * 1e3:.0f} ms'}")
    if big:
        print(f"speedup 2 vs 1 worker for tasks >= 0.5 s: x{min(r['speedup_2_vs_1'] for r in big):.2f} (min)")
    with tempfile.TemporaryDirectory() as tmp:
        n = 100 if args.quick else 500
        audit = audit_time(n, Path(tmp) / "cohort")
        print(f"audit of a {n}-scan cohort ({audit['files']} files): scan {audit['scan_s']:.1f} s + checks "
              f"{audit['audit_checks_s']:.2f} s; found {audit['faults_found']}/{audit['faults_planted']} faults, "
              f"{audit['false_alarms']} false alarms")
        (Path(tmp) / "mem").mkdir()
        mem = memory_bound(Path(tmp) / "mem", 320 * 2**20)
        print(f"memory: cohort {mem['cohort_over_limit']:.1f}x the worker limit; peak worker memory "
              f"{mem['peak_bytes'] / 2**20:.0f} MiB = {mem['peak_over_limit']:.2f} of the limit; {mem['errors']} errors")
    out = {"machine": {"cpus": os.cpu_count(), "load_average_start": load0[0], "load_average_end": os.getloadavg()[0],
                       "python": platform.python_version()},
           "speedup": rows, "break_even_task_s": be_serial, "audit": audit, "memory": mem,
           "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1))
        print("wrote", args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
