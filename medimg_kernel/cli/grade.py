"""``medimg grade``: build assignment notebooks and run the nbgrader pipeline with the course's defaults.

Sub-commands: ``build`` (authoring scripts -> source notebooks, ``--check`` for CI), ``list``,
``validate``, ``generate``, ``autograde``, ``feedback``, ``export``, ``scores`` and ``dryrun`` (grade
generated fixture submissions in a temporary copy of the course). The course folder is found as
described in :mod:`medimg_kernel.grading.course_folder` (``--course DIR`` overrides).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``grade`` sub-command and its actions."""
    p = sub.add_parser(
        "grade",
        help="nbgrader assignments: build, generate, autograde, feedback, export",
        description="Build the assignment notebooks from their authoring scripts and run the nbgrader "
        "pipeline (CPU forced while grading). See assignments/README.md.",
    )
    p.add_argument(
        "--course", metavar="DIR", help="course folder (default: $MEDIMG_COURSE, ./, ./assignments)"
    )
    acts = p.add_subparsers(dest="action", metavar="ACTION")

    b = acts.add_parser(
        "build",
        help="generate source/<a>/<a>.ipynb from authoring/<a>.py",
        description="Generate nbgrader source notebooks from the authoring scripts. With "
        "--check, write nothing and exit 1 if any notebook is out of date.",
    )
    b.add_argument("assignments", nargs="*", help="assignment names (default: all authoring scripts)")
    b.add_argument("--check", action="store_true", help="only verify the committed notebooks are in sync")
    b.add_argument("--json", action="store_true", help="print the result as JSON")
    b.set_defaults(func=_build)

    ls = acts.add_parser("list", help="list the assignments with their exercises and points")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=_list)

    v = acts.add_parser("validate", help="nbgrader validate a notebook (the student's 'Validate' button)")
    v.add_argument("notebook", help="path to a notebook")
    v.add_argument("--invert", action="store_true", help="succeed only if no test passes (released notebook)")
    v.set_defaults(func=_validate)

    g = acts.add_parser("generate", help="nbgrader generate_assignment (source/ -> release/)")
    g.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    g.set_defaults(func=_generate)

    a = acts.add_parser("autograde", help="nbgrader autograde the submissions in submitted/")
    a.add_argument("assignment")
    a.add_argument("--student", action="append", help="grade only this student (repeatable)")
    a.add_argument("--jobs", type=int, default=1, help="grade this many students in parallel (default 1)")
    a.add_argument("--unsafe", action="store_true",
                   help="grade without the sandbox (only for code you trust; refused by default without one)")
    a.set_defaults(func=_autograde)

    f = acts.add_parser("feedback", help="nbgrader generate_feedback (hidden tests are cleared)")
    f.add_argument("assignment")
    f.set_defaults(func=_feedback)

    e = acts.add_parser("export", help="nbgrader export the gradebook to CSV")
    e.add_argument("--to", default=None, help="CSV path (default: <course>/grades.csv)")
    e.set_defaults(func=_export)

    s = acts.add_parser("scores", help="print each student's score for an assignment from the gradebook")
    s.add_argument("assignment")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=_scores)

    d = acts.add_parser(
        "dryrun",
        help="grade generated fixture submissions in a temporary course copy",
        description="Validate the source, release, validate --invert, then autograde "
        "generated solution/blank/partial/tamper submissions and compare every "
        "grade with its expectation. Exit 1 on any mismatch.",
    )
    d.add_argument("assignment")
    d.add_argument("--workdir", help="keep the temporary course here")
    d.add_argument("--jobs", type=int, default=1)
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=_dryrun)

    from .certify import register_actions  # report, lms, certify, verify, similarity

    register_actions(acts)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def _course(args: argparse.Namespace) -> Path:
    from ..grading.course_folder import course_dir

    return course_dir(args.course)


def _build(args: argparse.Namespace) -> int:
    from ..grading.builder import build

    results = build(_course(args), args.assignments or None, check=args.check)
    bad = [r for r in results if r.status in ("missing", "out-of-date")]
    if args.json:
        print(
            json.dumps(
                [
                    {"assignment": r.assignment, "status": r.status, "notebook": str(r.notebook)}
                    for r in results
                ],
                indent=2,
            )
        )
    else:
        for r in results:
            print(f"{r.status:<11} {r.notebook}")
        if bad:
            print(f"{len(bad)} notebook(s) out of sync: run `medimg grade build` and commit the result")
    return 1 if bad else 0


def _list(args: argparse.Namespace) -> int:
    import nbformat

    from ..grading.course_folder import assignments, notebook_path
    from ..grading.fixtures import layout

    course = _course(args)
    rows = []
    for name in assignments(course):
        lay = layout(nbformat.read(str(notebook_path(course, name)), as_version=4))
        auto = sum(lay.points[g] for ex in lay.exercises for g in lay.tests.get(ex, []))
        rows.append(
            {
                "assignment": name,
                "exercises": lay.exercises,
                "auto_points": auto,
                "manual_points": lay.max_points - auto,
                "max_points": lay.max_points,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(
                f"{r['assignment']:<32} {r['max_points']:>5g} pts ({r['auto_points']:g} auto, "
                f"{r['manual_points']:g} manual)  exercises: {', '.join(r['exercises'])}"
            )
    return 0


def _validate(args: argparse.Namespace) -> int:
    from ..grading.pipeline import validate

    res = validate(_course(args), Path(args.notebook).resolve(), invert=args.invert)
    print(res.output.strip())
    return 0 if res.ok else 1


def _generate(args: argparse.Namespace) -> int:
    from ..grading.course_folder import assignments
    from ..grading.pipeline import generate

    course = _course(args)
    for name in args.assignments or assignments(course):
        generate(course, name)
        print(f"released {name} -> {course / 'release' / name}")
    return 0


def _autograde(args: argparse.Namespace) -> int:
    from ..grading.pipeline import autograde, autograde_failures, gradebook_scores

    course = _course(args)
    seconds = autograde(course, args.assignment, students=args.student, jobs=args.jobs, unsafe=args.unsafe)
    scores = gradebook_scores(course, args.assignment)
    failed = autograde_failures(course, args.assignment)
    print(f"autograded {len(scores)} submission(s) of {args.assignment} in {seconds:.1f} s"
          + (f"; {len(failed)} could not be graded and score 0:" if failed else ""))
    for student, why in sorted(failed.items()):
        print(f"  {student}: {why}")
    return 0


def _feedback(args: argparse.Namespace) -> int:
    from ..grading.pipeline import feedback

    course = _course(args)
    feedback(course, args.assignment)
    print(f"feedback written to {course / 'feedback'}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from ..grading.pipeline import export

    path = export(_course(args), Path(args.to) if args.to else None)
    print(f"grades written to {path}")
    return 0


def _scores(args: argparse.Namespace) -> int:
    from ..grading.pipeline import gradebook_scores

    scores = gradebook_scores(_course(args), args.assignment)
    if args.json:
        print(json.dumps(scores, indent=2))
    else:
        for student, row in sorted(scores.items()):
            pending = sum(1 for k, v in row.items() if not k.startswith("_") and v[2])
            print(
                f"{student:<20} {row['_total']:>6g} / {row['_max']:g}"
                + (f"  ({pending} answer(s) need manual grading)" if pending else "")
            )
    return 0


def _dryrun(args: argparse.Namespace) -> int:
    from ..grading.pipeline import dry_run

    report = dry_run(
        _course(args), args.assignment, Path(args.workdir) if args.workdir else None, jobs=args.jobs
    )
    bad = report.mismatches()
    ok = report.source_valid and report.release_fails_all and not bad
    if args.json:
        print(
            json.dumps(
                {
                    "assignment": report.assignment,
                    "course": str(report.course),
                    "ok": ok,
                    "source_valid": report.source_valid,
                    "release_fails_all": report.release_fails_all,
                    "mismatches": bad,
                    "expected": report.expected,
                    "actual": report.actual,
                    "seconds": report.seconds,
                },
                indent=2,
                default=str,
            )
        )
    else:
        print(report.summary())
        for line in bad:
            print("MISMATCH", line)
        print(f"course copy kept in {report.course}" if args.workdir else "")
    return 0 if ok else 1
