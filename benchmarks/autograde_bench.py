"""Benchmark: autograde 30 generated submissions of one assignment, serially and in parallel.

Run from the repository root::

    .venv/bin/python benchmarks/autograde_bench.py [--assignment 03_segmentation] [--n 30] [--jobs 2]

In a temporary copy of the course it releases the assignment, writes ``--n`` submissions generated from
the source (a class mix: solutions, partial answers, blank notebooks and a few tampered ones with an
endless loop), then grades them twice with the real nbgrader CLI: one ``nbgrader autograde`` call
(serial) and ``--jobs`` parallel ``autograde --student`` processes in a second, fresh copy. It prints
seconds per submission and the total for both (with the CPU seconds the graders used, which do not
depend on what else runs on the machine), and checks that both gradebooks hold identical grades
for every student and cell. Target: 30 submissions in at most 3 minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from medimg_kernel.grading.course_folder import course_dir, notebook_path
from medimg_kernel.grading.fixtures import Fixture, make_fixtures, write_submission
from medimg_kernel.grading.pipeline import autograde, copy_course, generate, gradebook_scores

TARGET_S = 180.0


def _children_cpu() -> float:
    """CPU seconds (user + system) used so far by finished child processes (nbgrader and its kernels)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _class_mix(fixtures: list[Fixture], n: int) -> list[Fixture]:
    """n submissions: every 10th tampered, the rest cycling solution / partial / blank."""
    by_name = {f.student: f for f in fixtures}
    cycle = ["solution", "partial", "solution", "blank", "partial"]
    out = []
    for i in range(n):
        kind = "tamper" if i % 10 == 9 else cycle[i % len(cycle)]
        base = by_name[kind]
        out.append(
            Fixture(f"s{i:03d}-{kind}", base.notebook, base.expected, base.files, base.notes, base.cases)
        )
    return out


def _prepare(course: Path, assignment: str, dest: Path, n: int) -> tuple[Path, list[Fixture]]:
    tmp = copy_course(course, dest, [assignment])
    generate(tmp, assignment)
    release = tmp / "release" / assignment
    source_nb = nbformat.read(str(notebook_path(tmp, assignment)), as_version=4)
    release_nb = nbformat.read(str(release / f"{assignment}.ipynb"), as_version=4)
    helpers = sorted(
        str(p.relative_to(release)) for p in release.rglob("*") if p.is_file() and p.suffix != ".ipynb"
    )
    subs = _class_mix(make_fixtures(source_nb, release_nb, helpers), n)
    for fx in subs:
        write_submission(tmp, assignment, fx, release)
    return tmp, subs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--assignment", default="03_segmentation", help="assignment to grade (default: 03_segmentation)"
    )
    ap.add_argument("--n", type=int, default=30, help="number of submissions (default 30)")
    ap.add_argument("--jobs", type=int, default=2, help="parallel processes for the parallel run (default 2)")
    ap.add_argument("--skip-serial", action="store_true", help="only run the parallel grading")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)

    course = course_dir()
    result: dict = {"assignment": args.assignment, "n": args.n, "jobs": args.jobs, "target_s": TARGET_S}
    with tempfile.TemporaryDirectory(prefix="medimg-bench-") as tmpdir:
        runs = {}
        modes = ([("serial", 1)] if not args.skip_serial else []) + [("parallel", args.jobs)]
        for mode, jobs in modes:
            tmp, subs = _prepare(course, args.assignment, Path(tmpdir) / mode, args.n)
            cpu0 = _children_cpu()
            t0 = time.perf_counter()
            autograde(tmp, args.assignment, jobs=jobs)
            seconds = time.perf_counter() - t0
            cpu = _children_cpu() - cpu0
            scores = gradebook_scores(tmp, args.assignment)
            wrong = [
                f"{fx.student}/{gid}"
                for fx in subs
                for gid, want in fx.expected.items()
                if (want is None) != scores[fx.student][gid][2]
                or (want is not None and scores[fx.student][gid][0] != want)
            ]
            runs[mode] = scores
            result[mode] = {
                "jobs": jobs,
                "total_s": round(seconds, 1),
                "s_per_submission": round(seconds / args.n, 2),
                "cpu_s_per_submission": round(cpu / args.n, 2),
                "load_average_1min": round(os.getloadavg()[0], 1),
                "graded": len(scores),
                "grades_as_expected": not wrong,
                "unexpected": wrong[:10],
            }
            if not args.json:
                print(
                    f"{mode:<8} jobs={jobs}: {seconds:6.1f} s total, {seconds / args.n:5.2f} s/submission "
                    f"({cpu / args.n:.2f} CPU-s/submission, load average {os.getloadavg()[0]:.1f}), "
                    f"{len(scores)} graded, grades as expected: {'yes' if not wrong else 'NO ' + str(wrong[:5])}"
                )
        if "serial" in runs:
            # every student's every grade cell (auto score, manual score, needs-manual flag) and totals
            same = runs["serial"] == runs["parallel"]
            result["parallel_gradebook_equals_serial"] = same
            if not args.json:
                print(f"parallel gradebook identical to serial: {'yes' if same else 'NO'}")
    best = min(result[m]["total_s"] for m, _ in modes)
    result["meets_target"] = best <= TARGET_S
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"best total {best:.1f} s for {args.n} submissions (target <= {TARGET_S:.0f} s): "
            f"{'met' if result['meets_target'] else 'NOT met'}"
        )
    ok = result["meets_target"] and all(result[m]["grades_as_expected"] for m, _ in modes)
    ok = ok and result.get("parallel_gradebook_equals_serial", True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
