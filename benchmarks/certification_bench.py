"""Benchmark: course reports, certificates and the similarity check at class scale.

Run from the repository root::

    .venv/bin/python benchmarks/certification_bench.py [--students 100] [--json benchmarks/results/certification.json]

In a temporary copy of the course it fills nbgrader's gradebook for ``--students`` students (through
nbgrader's own API: every assignment and grade cell of the real course, scores drawn at random, a few
students with missing or late work), then times, in one run:

- the course records (gradebook + ``course.yaml`` -> one record per student);
- every student's progress report (HTML + PDF) and the class summary;
- certificates (PDF + HTML, Ed25519-signed) for every student who passed, and verifying each;
- the similarity check over ``--students`` generated submissions (independent ones and disguised copies).

Budgets on 2 cores: reports and certificates for 100 students <= 60 s; similarity over 100
submissions <= 30 s. The machine's load is printed: other work on it slows the absolute times.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "certification"))

from _codegen import STARTER, disguise, independent  # noqa: E402

from medimg_kernel.certification import course_records, load_policy  # noqa: E402
from medimg_kernel.certification.certificates import (  # noqa: E402
    certificate_fields,
    issue_certificate,
    verify_certificate,
)
from medimg_kernel.certification.reports import write_reports  # noqa: E402
from medimg_kernel.certification.signing import load_or_create_key  # noqa: E402
from medimg_kernel.certification.similarity import Submission, compare_submissions  # noqa: E402
from medimg_kernel.grading.course_folder import assignments, course_dir, notebook_path  # noqa: E402
from medimg_kernel.grading.pipeline import copy_course  # noqa: E402

REPORT_BUDGET_S = 60.0
SIMILARITY_BUDGET_S = 30.0


def fill_gradebook(course: Path, n: int, seed: int = 0) -> None:
    """Create ``n`` students with random scores on every assignment of the course (nbgrader API)."""
    from nbgrader.api import Gradebook

    rng = random.Random(seed)
    # a new gradebook runs nbgrader's migrations through the `alembic` command next to this Python
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    policy = load_policy(course)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for a in policy.assignments:
            nb = nbformat.read(str(notebook_path(course, a)), as_version=4)
            gb.update_or_create_assignment(a)
            gb.update_or_create_notebook(a, a)
            for cell in nb.cells:
                meta = cell.metadata.get("nbgrader", {})
                if meta.get("grade"):
                    gb.update_or_create_grade_cell(meta["grade_id"], a, a, max_score=float(meta["points"]),
                                                   cell_type=cell.cell_type)
        for i in range(n):
            sid = f"s{i:03d}"
            gb.update_or_create_student(sid, first_name=f"Student{i}", last_name="Test",
                                        email=f"{sid}@example.org")
            skill = rng.uniform(0.3, 1.0)
            for a in policy.assignments:
                if rng.random() < 0.05:
                    continue  # a missing submission
                late = rng.random() < 0.1
                ts = dt.datetime(2027, 1, 1) + dt.timedelta(days=rng.randint(1, 5) if late else 0)
                sub = gb.add_submission(a, sid, timestamp=ts)
                for nbsub in sub.notebooks:
                    for g in nbsub.grades:
                        g.auto_score = float(g.max_score) * (1.0 if rng.random() < skill else 0.0)
                        g.needs_manual_grade = False
            gb.db.commit()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and optionally save) the timings against their budgets."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=100)
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)
    src = course_dir(ROOT / "assignments")
    with tempfile.TemporaryDirectory(prefix="medimg-cert-bench-") as tmp:
        course = copy_course(src, Path(tmp) / "course", assignments(src))
        (course / "course.yaml").write_text((src / "course.yaml").read_text())
        t = time.perf_counter()
        fill_gradebook(course, args.students)
        t_fill = time.perf_counter() - t

        t0 = time.perf_counter()
        policy = load_policy(course)
        records = course_records(course, policy)
        t_records = time.perf_counter() - t0
        write_reports(records, policy, course / "reports")
        t_reports = time.perf_counter() - t0 - t_records
        key = load_or_create_key(Path(tmp) / "keys" / "instructor.pem")
        passed = [r for r in records if r.passed]
        issued = []
        for r in passed:
            fields = certificate_fields(course=policy.title, course_id=policy.course_id, student=r.name,
                                        student_id=r.student_id, score_percent=r.total_percent,
                                        instructor=policy.instructor, private_key=key)
            issued.append(issue_certificate(fields, key, course / "certificates")[0])
        t_certs = time.perf_counter() - t0 - t_records - t_reports
        for pdf in issued:
            verify_certificate(pdf, key.public_key())
        t_verify = time.perf_counter() - t0 - t_records - t_reports - t_certs
        t_pipeline = time.perf_counter() - t0

        rng = random.Random(1)
        n_copies = args.students // 5
        originals = [Submission(f"o{i:03d}", independent(rng)) for i in range(args.students - n_copies)]
        copies = [Submission(f"c{i:03d}", disguise(originals[i].code, rng)) for i in range(n_copies)]
        t = time.perf_counter()
        scores = compare_submissions(originals + copies, STARTER)
        t_sim = time.perf_counter() - t
        by = {(p.a, p.b): p for p in scores}
        caught = sum((by.get((f"o{i:03d}", f"c{i:03d}")) or by[(f"c{i:03d}", f"o{i:03d}")]).flagged
                     for i in range(n_copies)) / max(n_copies, 1)
        indep = [p for p in scores if p.a.startswith("o") and p.b.startswith("o")]
        false_flags = sum(p.flagged for p in indep) / max(len(indep), 1)

    res = {
        "students": args.students,
        "passed": len(passed),
        "gradebook_fill_s": round(t_fill, 2),
        "records_s": round(t_records, 2),
        "reports_html_pdf_s": round(t_reports, 2),
        "certificates_s": round(t_certs, 2),
        "verify_s": round(t_verify, 2),
        "reports_and_certificates_s": round(t_pipeline, 2),
        "reports_budget_s": REPORT_BUDGET_S,
        "similarity_pairs": len(scores),
        "similarity_s": round(t_sim, 2),
        "similarity_budget_s": SIMILARITY_BUDGET_S,
        "copies_flagged": round(caught, 3),
        "independent_false_flags": round(false_flags, 4),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(f"{args.students} students ({len(passed)} passed): records {t_records:.1f}s, reports (HTML+PDF) "
          f"{t_reports:.1f}s, certificates {t_certs:.1f}s, verify {t_verify:.1f}s -> {t_pipeline:.1f}s "
          f"(budget {REPORT_BUDGET_S:.0f}s: {t_pipeline / REPORT_BUDGET_S:.2f} of it)")
    print(f"similarity over {args.students} submissions ({len(scores)} pairs): {t_sim:.2f}s (budget "
          f"{SIMILARITY_BUDGET_S:.0f}s: {t_sim / SIMILARITY_BUDGET_S:.3f} of it); copies flagged {caught:.0%}, "
          f"independent pairs flagged {false_flags:.2%}")
    print(f"load average {res['load_average_1min']} on {res['cpus']} cores")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0 if t_pipeline <= REPORT_BUDGET_S and t_sim <= SIMILARITY_BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
