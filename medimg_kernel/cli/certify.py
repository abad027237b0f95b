"""``medimg grade report|certify|verify|similarity|lms``: the course-level side of grading.

These actions hang under ``medimg grade`` (see :mod:`.grade`); they read nbgrader's gradebook and the
course policy ``course.yaml`` through :mod:`medimg_kernel.certification`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register_actions(acts: argparse._SubParsersAction) -> None:
    """Add the certification actions to ``medimg grade``."""
    r = acts.add_parser("report", help="progress reports per student (HTML + PDF) and a class summary",
                        description="Read the gradebook and course.yaml; write <out>/<student>.html/.pdf "
                        "and <out>/class_summary.html.")
    r.add_argument("--out", default=None, help="folder (default: <course>/reports)")
    r.add_argument("--no-pdf", action="store_true", help="HTML only")
    r.add_argument("--json", action="store_true", help="also print each student's totals as JSON")
    r.set_defaults(func=_report)

    lms = acts.add_parser("lms", help="export grades for Canvas, Moodle or Gradescope (CSV)")
    lms.add_argument("format", choices=["canvas", "moodle", "gradescope"])
    lms.add_argument("--to", default=None, help="CSV path (default: <course>/grades_<format>.csv)")
    lms.set_defaults(func=_lms)

    c = acts.add_parser("certify", help="issue signed certificates (PDF + HTML) to every student who passed",
                        description="Sign each passing student's certificate with the instructor's Ed25519 "
                        "key (created once, outside the course folder; $MEDIMG_SIGNING_KEY overrides).")
    c.add_argument("--out", default=None, help="folder (default: <course>/certificates)")
    c.add_argument("--key", default=None, help="private key file (default: $MEDIMG_SIGNING_KEY or user config)")
    c.add_argument("--date", default=None, help="issue date YYYY-MM-DD (default: today)")
    c.set_defaults(func=_certify)

    v = acts.add_parser("verify", help="verify a certificate (PDF, HTML or code) against the public key")
    v.add_argument("certificate", help="certificate .pdf/.html or a MEDIMG1. verification code")
    v.add_argument("--public-key", default=None, help="the instructor's public key (PEM)")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=_verify)

    s = acts.add_parser("similarity", help="rank pairs of students by the similarity of their solution code",
                        description="Local, token-based comparison of submitted solution cells (names, "
                        "comments and layout ignored; the release's starter code excluded).")
    s.add_argument("assignment")
    s.add_argument("--out", default=None, help="HTML report (default: <course>/reports/similarity_<a>.html)")
    s.add_argument("--threshold", type=float, default=None, help="flag pairs at or above this similarity")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_similarity)


def _course(args: argparse.Namespace) -> Path:
    from ..grading.course_folder import course_dir

    return course_dir(args.course)


def _records(course: Path):
    from ..certification import course_records, load_policy
    from ..grading.course_folder import assignments

    policy = load_policy(course, known=assignments(course))
    return policy, course_records(course, policy)


def _report(args: argparse.Namespace) -> int:
    from ..certification.reports import write_reports

    course = _course(args)
    policy, records = _records(course)
    out = Path(args.out) if args.out else course / "reports"
    paths = write_reports(records, policy, out, pdf=not args.no_pdf)
    passed = sum(r.passed for r in records)
    print(f"wrote {len(paths) - 1} progress report(s) and {paths[-1]}: {passed}/{len(records)} passed")
    if args.json:
        print(json.dumps([{"student": r.student_id, "total_percent": round(r.total_percent, 2),
                           "passed": r.passed, "missing": r.missing(), "reasons": r.reasons,
                           "status": {a: x.status for a, x in r.results.items()}}
                          for r in records], indent=2))
    return 0


def _lms(args: argparse.Namespace) -> int:
    from ..certification.lms import export_lms

    course = _course(args)
    policy, records = _records(course)
    path = export_lms(records, policy, args.format, args.to or course / f"grades_{args.format}.csv")
    print(f"wrote {path} ({len(records)} students, {args.format} columns)")
    return 0


def _certify(args: argparse.Namespace) -> int:
    import datetime as dt

    from ..certification.certificates import certificate_fields, issue_certificate
    from ..certification.signing import default_key_path, load_or_create_key, public_pem
    from ..errors import ConfigError

    course = _course(args)
    policy, records = _records(course)
    key = load_or_create_key(args.key, course=course)
    try:
        date = dt.date.fromisoformat(args.date) if args.date else None
    except ValueError as err:
        raise ConfigError(f"--date {args.date!r}: expected YYYY-MM-DD") from err
    out = Path(args.out) if args.out else course / "certificates"
    out.mkdir(parents=True, exist_ok=True)
    # the public key travels with the certificates; the private key never does
    (out / "instructor_public_key.pem").write_text(public_pem(key), encoding="ascii")
    issued = 0
    for rec in records:
        if not rec.passed:
            continue
        fields = certificate_fields(course=policy.title, course_id=policy.course_id, student=rec.name,
                                    student_id=rec.student_id, score_percent=rec.total_percent,
                                    instructor=policy.instructor, private_key=key, date=date)
        issue_certificate(fields, key, out)
        issued += 1
    where = Path(args.key).expanduser().parent if args.key else default_key_path().parent
    print(f"issued {issued} certificate(s) in {out} ({len(records) - issued} not yet passed); "
          f"public key: {out / 'instructor_public_key.pem'} (private key kept in {where})")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ..certification.certificates import verify_certificate
    from ..certification.signing import PREFIX, SignatureError, load_public_key

    target = str(args.certificate)
    if not target.strip().startswith(PREFIX + ".") and not Path(target).is_file():
        raise SignatureError(f"{target}: no such file; pass a certificate .pdf/.html or a {PREFIX}. code")
    result = verify_certificate(target, load_public_key(args.public_key))
    if args.json:
        print(json.dumps({"valid": True, "certificate_id": result.certificate_id, **result.fields}, indent=2))
    else:
        print(result.summary())
    return 0


def _similarity(args: argparse.Namespace) -> int:
    from ..certification.similarity import (
        DEFAULT_THRESHOLD,
        compare_submissions,
        load_submissions,
        write_similarity_report,
    )

    course = _course(args)
    subs, starter = load_submissions(course, args.assignment)
    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    scores = compare_submissions(subs, starter, threshold=threshold)
    out = Path(args.out) if args.out else course / "reports" / f"similarity_{args.assignment}.html"
    write_similarity_report(subs, scores, out, args.assignment)
    flagged = [p for p in scores if p.flagged]
    if args.json:
        print(json.dumps([{"a": p.a, "b": p.b, "score": round(p.score, 4), "flagged": p.flagged}
                          for p in scores], indent=2))
    else:
        for p in flagged[:10]:
            print(f"{p.score:.2f}  {p.a} <-> {p.b}")
        print(f"{len(flagged)} of {len(scores)} pairs flagged (threshold {threshold:.2f}); report: {out}")
    return 0
