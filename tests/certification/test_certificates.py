"""Certificates: Ed25519-signed, verifiable offline, and any edited field fails verification by name."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat

import pytest

from medimg_kernel.certification.certificates import certificate_fields, issue_certificate, verify_certificate
from medimg_kernel.certification.signing import (
    SignatureError,
    load_or_create_key,
    load_public_key,
    public_key_path,
    sign_fields,
    verify_code,
)


@pytest.fixture
def key(tmp_path):
    return load_or_create_key(tmp_path / "keys" / "instructor.pem")


@pytest.fixture
def fields(key):
    return certificate_fields(course="ML in medical imaging", course_id="medimg", student="Ada Lovelace",
                              student_id="ada", score_percent=87.25, instructor="Dr T", private_key=key,
                              date=dt.date(2027, 2, 1))


def test_key_created_once_private_and_outside_course(tmp_path):
    path = tmp_path / "k" / "instructor.pem"
    k1 = load_or_create_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert public_key_path(path).is_file()
    k2 = load_or_create_key(path)  # loaded, not replaced
    assert sign_fields({"a": 1}, k1) == sign_fields({"a": 1}, k2)  # Ed25519 is deterministic
    course = tmp_path / "course"
    course.mkdir()
    with pytest.raises(SignatureError, match="inside the course folder"):
        load_or_create_key(course / "key.pem", course=course)
    assert not (course / "key.pem").exists()


def test_code_round_trip_and_tamper(key, fields):
    code = sign_fields(fields, key)
    assert verify_code(code, key.public_key()) == fields
    prefix, payload, sig = code.split(".")
    forged = json.dumps({**fields, "score": "99.0%"}, sort_keys=True, separators=(",", ":")).encode()
    import base64

    forged_b64 = base64.urlsafe_b64encode(forged).rstrip(b"=").decode()
    with pytest.raises(SignatureError, match="does not match"):
        verify_code(f"{prefix}.{forged_b64}.{sig}", key.public_key())
    with pytest.raises(SignatureError, match="not a medimg verification code"):
        verify_code("hello", key.public_key())


def test_wrong_public_key_fails(tmp_path, key, fields):
    code = sign_fields(fields, key)
    stranger = load_or_create_key(tmp_path / "stranger.pem")
    with pytest.raises(SignatureError):
        verify_code(code, stranger.public_key())


def test_pdf_and_html_verify(tmp_path, key, fields):
    pdf, page, code = issue_certificate(fields, key, tmp_path / "certs")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    pub = load_public_key(public_key_path(tmp_path / "keys" / "instructor.pem"))
    for target in (pdf, page, code):
        res = verify_certificate(target, pub)
        assert res.fields == fields
        assert "Ada Lovelace" in res.summary()
    # the page shows the signed fields (text is extractable from the PDF)
    from pypdf import PdfReader

    text = " ".join(p.extract_text() for p in PdfReader(str(pdf)).pages)
    assert "Ada Lovelace" in text and fields["date"] in text
    assert "PRIVATE KEY" not in pdf.read_bytes().decode("latin-1") + page.read_text()


def test_pdf_edited_metadata_names_the_field(tmp_path, key, fields):
    from pypdf import PdfReader, PdfWriter

    pdf, _, _ = issue_certificate(fields, key, tmp_path)
    reader = PdfReader(str(pdf))
    writer = PdfWriter(clone_from=reader)
    shown = json.loads(reader.metadata["/Keywords"])
    shown["score"] = "99.0%"
    writer.add_metadata({"/Keywords": json.dumps(shown, sort_keys=True)})
    edited = tmp_path / "edited.pdf"
    with edited.open("wb") as fh:
        writer.write(fh)
    with pytest.raises(SignatureError, match="field 'score' was altered"):
        verify_certificate(edited, key.public_key())


def test_html_edited_field_names_the_field(tmp_path, key, fields):
    _, page, _ = issue_certificate(fields, key, tmp_path)
    text = page.read_text()
    edited = tmp_path / "edited.html"
    edited.write_text(text.replace('data-field="student">Ada Lovelace', 'data-field="student">Eve Mallory'))
    with pytest.raises(SignatureError, match="field 'student' was altered"):
        verify_certificate(edited, key.public_key())
    # a forged record whose code payload was re-encoded: the signature breaks and the field is named
    blob_start = text.index('id="medimg-certificate">') + len('id="medimg-certificate">')
    blob = json.loads(text[blob_start:text.index("</script>", blob_start)])
    import base64

    prefix, _, sig = blob["code"].split(".")
    forged = {**blob["fields"], "date": "2030-01-01"}
    payload = base64.urlsafe_b64encode(json.dumps(forged, sort_keys=True, separators=(",", ":")).encode())
    blob["code"] = f"{prefix}.{payload.rstrip(b'=').decode()}.{sig}"
    edited.write_text(text[:blob_start] + json.dumps(blob) + text[text.index("</script>", blob_start):])
    with pytest.raises(SignatureError, match="field 'date' was altered"):
        verify_certificate(edited, key.public_key())
