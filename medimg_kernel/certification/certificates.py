"""Certificates of completion (PDF + HTML) that a third party can verify offline.

Each certificate shows the course, the student, the date and the score, and carries a verification
code (:mod:`.signing`) that signs exactly those fields with the instructor's Ed25519 key. The PDF keeps
the fields and the code in its document information as well as on the page; the HTML keeps them in a
JSON block. :func:`verify_certificate` checks the signature, then compares every field shown on the
certificate with the signed one and names any that differ.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .signing import SignatureError, decode_code, sign_fields, verify_code

__all__ = ["Verification", "certificate_fields", "issue_certificate", "verify_certificate", "FIELDS"]

# the signed fields, in the order they are shown
FIELDS = ("course", "course_id", "student", "student_id", "score", "date", "instructor", "key_id")
_LABELS = {"course": "Course", "course_id": "Course id", "student": "Awarded to", "student_id": "Student id",
           "score": "Final score", "date": "Date", "instructor": "Instructor", "key_id": "Instructor key"}
_JSON_ID = "medimg-certificate"


@dataclass
class Verification:
    """The outcome of checking a certificate: the signed fields and the certificate id."""

    fields: dict[str, Any]
    certificate_id: str
    source: str

    def summary(self) -> str:
        """One line naming the student, course, score and date that the signature attests."""
        f = self.fields
        return (f"valid: {f.get('student')} ({f.get('student_id')}) passed {f.get('course')} with "
                f"{f.get('score')} on {f.get('date')} — certificate {self.certificate_id}, "
                f"instructor key {f.get('key_id')}")


def key_id(private_or_public: Any) -> str:
    """A short fingerprint of the instructor's public key (the first 16 hex digits of its SHA-256)."""
    from cryptography.hazmat.primitives import serialization

    pub = getattr(private_or_public, "public_key", None)
    pub = pub() if callable(pub) else private_or_public
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def certificate_id(fields: dict[str, Any]) -> str:
    """A stable id for a certificate: the first 12 hex digits of the SHA-256 of its signed fields."""
    from .signing import canonical

    return hashlib.sha256(canonical(fields)).hexdigest()[:12]


def certificate_fields(*, course: str, course_id: str, student: str, student_id: str, score_percent: float,
                       instructor: str, private_key: Any, date: _dt.date | None = None) -> dict[str, str]:
    """The fields a certificate signs, all as display strings."""
    return {
        "course": course, "course_id": course_id, "student": student, "student_id": student_id,
        "score": f"{score_percent:.1f}%", "date": (date or _dt.date.today()).isoformat(),
        "instructor": instructor, "key_id": key_id(private_key),
    }


def _safe_name(student_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", student_id) or "student"


def _render_pdf(fields: dict[str, str], code: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib import rc_context

    # TrueType (Type 42) fonts keep the text extractable, so verification can read what is shown
    with rc_context({"pdf.fonttype": 42}):
        fig = plt.figure(figsize=(11.69, 8.27))
        fig.patch.set_facecolor("white")
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        ax.add_patch(plt.Rectangle((0.03, 0.04), 0.94, 0.92, fill=False, lw=3, ec="#1f4e79"))
        ax.text(0.5, 0.86, "Certificate of completion", ha="center", fontsize=30, color="#1f4e79")
        ax.text(0.5, 0.76, fields["course"], ha="center", fontsize=20)
        ax.text(0.5, 0.64, fields["student"], ha="center", fontsize=28, weight="bold")
        y = 0.53
        for key in ("student_id", "score", "date", "instructor", "course_id", "key_id"):
            ax.text(0.30, y, f"{_LABELS[key]}:", ha="left", fontsize=13, color="#444")
            ax.text(0.50, y, fields[key], ha="left", fontsize=13)
            y -= 0.045
        ax.text(0.5, 0.19, f"Certificate {certificate_id(fields)} — verify offline with "
                "`medimg grade verify` and the instructor's public key", ha="center", fontsize=10)
        # the code is long: print it in wrapped monospace lines
        chunks = [code[i:i + 110] for i in range(0, len(code), 110)]
        for i, chunk in enumerate(chunks):
            ax.text(0.5, 0.15 - 0.022 * i, chunk, ha="center", fontsize=7, family="monospace", color="#555")
        fig.savefig(path, format="pdf", metadata={
            "Title": f"Certificate: {fields['course']} — {fields['student']}",
            "Author": fields["instructor"] or "medimg",
            "Subject": code,
            "Keywords": json.dumps(fields, sort_keys=True, ensure_ascii=False),
            "Creator": "medimg grade certify",
        })
        plt.close(fig)


def _render_html(fields: dict[str, str], code: str, path: Path) -> None:
    rows = "\n".join(
        f'<tr><th>{html.escape(_LABELS[k])}</th><td data-field="{k}">{html.escape(fields[k])}</td></tr>'
        for k in FIELDS if k not in ("course", "student")
    )
    blob = json.dumps({"fields": fields, "code": code}, sort_keys=True, ensure_ascii=False).replace("</", "<\\/")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Certificate: {html.escape(fields['course'])} — {html.escape(fields['student'])}</title>
<style>
 body {{ font-family: Georgia, serif; margin: 2em auto; max-width: 52em; color: #222; }}
 .frame {{ border: 4px solid #1f4e79; padding: 2em 3em; text-align: center; }}
 h1 {{ color: #1f4e79; font-weight: normal; }} table {{ margin: 1.5em auto; text-align: left; }}
 th {{ color: #555; font-weight: normal; padding-right: 1em; }}
 code {{ word-break: break-all; font-size: 0.7em; color: #555; }}
 @media print {{ body {{ margin: 0; }} }}
</style></head><body><div class="frame">
<h1>Certificate of completion</h1>
<h2 data-field="course">{html.escape(fields['course'])}</h2>
<p>awarded to</p><h2 data-field="student">{html.escape(fields['student'])}</h2>
<table>{rows}</table>
<p>Certificate {certificate_id(fields)}. Verify offline with <code>medimg grade verify</code> and the
instructor's public key. Verification code:</p>
<p><code id="code">{html.escape(code)}</code></p>
</div>
<script type="application/json" id="{_JSON_ID}">{blob}</script>
</body></html>
"""
    path.write_text(page, encoding="utf-8")


def issue_certificate(fields: dict[str, str], private_key: Any, out_dir: str | Path) -> tuple[Path, Path, str]:
    """Sign ``fields`` and write ``<student_id>.pdf`` and ``.html`` into ``out_dir``; return both and the code."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    code = sign_fields(fields, private_key)
    base = out / f"certificate_{_safe_name(fields['student_id'])}"
    pdf, page = base.with_suffix(".pdf"), base.with_suffix(".html")
    _render_pdf(fields, code, pdf)
    _render_html(fields, code, page)
    return pdf, page, code


def _compare(shown: dict[str, str], signed: dict[str, Any], where: str) -> None:
    for k in FIELDS:
        if k in shown and str(shown[k]) != str(signed.get(k)):
            raise SignatureError(f"{where}: field '{k}' was altered: the certificate shows {shown[k]!r}, "
                                 f"the signature attests {signed.get(k)!r}")


def _verify_pdf(path: Path, public_key: Any) -> Verification:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        meta = reader.metadata or {}
        text = " ".join((page.extract_text() or "") for page in reader.pages)
    except (PdfReadError, OSError, ValueError) as err:
        raise SignatureError(f"{path}: not a readable PDF certificate ({err})") from err
    code = str(meta.get("/Subject") or "")
    if not code.startswith("MEDIMG1."):
        raise SignatureError(f"{path}: no medimg verification code in this PDF")
    signed = _verify_or_name(code, public_key, meta.get("/Keywords"), str(path))
    shown = json.loads(str(meta.get("/Keywords") or "{}"))
    _compare(shown, signed, str(path))
    flat = re.sub(r"\s+", " ", text)
    for k in ("student", "course", "score", "date", "student_id"):
        if str(signed[k]) not in flat:
            raise SignatureError(f"{path}: field '{k}' was altered on the page: {signed[k]!r} (signed) is "
                                 "not what the page shows")
    return Verification(signed, certificate_id(signed), str(path))


def _verify_or_name(code: str, public_key: Any, shown_json: Any, where: str) -> dict[str, Any]:
    """Verify ``code``; when the signature fails, name the field whose value was edited in the code."""
    try:
        return verify_code(code, public_key)
    except SignatureError as err:
        fields, _, _ = decode_code(code)
        try:
            shown = json.loads(str(shown_json)) if shown_json else {}
        except ValueError:
            shown = {}
        # the code's payload itself was edited: if it disagrees with the shown copy, name the field
        diff = [k for k in FIELDS if k in shown and str(shown[k]) != str(fields.get(k))]
        if diff:
            raise SignatureError(f"{where}: field '{diff[0]}' was altered ({err})") from err
        raise SignatureError(f"{where}: {err}") from err


def _verify_html(path: Path, public_key: Any) -> Verification:
    text = path.read_text(encoding="utf-8", errors="replace")
    m = re.search(rf'<script type="application/json" id="{_JSON_ID}">(.*?)</script>', text, re.S)
    if not m:
        raise SignatureError(f"{path}: no medimg certificate record in this HTML file")
    try:
        blob = json.loads(m.group(1).replace("<\\/", "</"))
    except ValueError as err:
        raise SignatureError(f"{path}: the certificate record is damaged") from err
    signed = _verify_or_name(str(blob.get("code", "")), public_key, json.dumps(blob.get("fields", {})), str(path))
    _compare(blob.get("fields", {}), signed, str(path))
    shown = {k: html.unescape(v) for k, v in re.findall(r'data-field="([a-z_]+)">(.*?)<', text, re.S)}
    _compare(shown, signed, str(path))
    return Verification(signed, certificate_id(signed), str(path))


def verify_certificate(target: str | Path, public_key: Any) -> Verification:
    """Verify a certificate PDF, HTML file or bare verification code against a public key."""
    text = str(target)
    if text.strip().startswith("MEDIMG1."):
        signed = verify_code(text, public_key)
        return Verification(signed, certificate_id(signed), "code")
    path = Path(text)
    if not path.is_file():
        raise SignatureError(f"{path}: no such file; pass a certificate .pdf/.html or a MEDIMG1. code")
    if path.read_bytes()[:5] == b"%PDF-":
        return _verify_pdf(path, public_key)
    return _verify_html(path, public_key)
