"""The instructor's Ed25519 signing key and the verification codes it makes.

A verification code is self-contained, so anyone holding the instructor's *public* key can check it
offline: ``MEDIMG1.<payload>.<signature>``, both parts base64url. The payload is the certificate's
fields as canonical JSON; the signature is Ed25519 over those bytes (``cryptography``). Editing any
field breaks the signature; a bare hash would not, since anyone can recompute one.

The private key is created once, outside the course folder (``$MEDIMG_SIGNING_KEY`` or the user's
config folder), with owner-only permissions, and is never written into reports or certificates.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from ..errors import MedimgKernelError

PREFIX = "MEDIMG1"

__all__ = ["SignatureError", "default_key_path", "load_or_create_key", "load_public_key",
           "public_key_path", "sign_fields", "verify_code", "PREFIX"]


class SignatureError(MedimgKernelError, ValueError):
    """A verification code is malformed, or its signature does not match the fields."""


def default_key_path() -> Path:
    """Where the instructor's private key lives: ``$MEDIMG_SIGNING_KEY`` or the user config folder."""
    env = os.environ.get("MEDIMG_SIGNING_KEY")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("medimg", appauthor=False)) / "signing" / "instructor_ed25519.pem"


def public_key_path(private: Path) -> Path:
    """The public key file that sits beside a private key (``.pub.pem``)."""
    return private.with_name(private.stem + ".pub.pem")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical(fields: dict[str, Any]) -> bytes:
    """The exact bytes that are signed: sorted-key compact JSON, UTF-8."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def load_or_create_key(path: str | Path | None = None, course: str | Path | None = None) -> Any:
    """Load the instructor's Ed25519 private key, creating it (and its public key) the first time.

    Refuses a key path inside ``course``: students can read the course folder.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key_path = Path(path).expanduser() if path else default_key_path()
    if course is not None:
        c = Path(course).resolve()
        kp = key_path.resolve()
        if kp == c or c in kp.parents:
            raise SignatureError(f"the signing key {key_path} is inside the course folder {c}: keep it outside "
                                 "(set MEDIMG_SIGNING_KEY to a path in your home folder)")
    if key_path.is_file():
        try:
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (ValueError, TypeError) as err:
            raise SignatureError(f"{key_path} is not a PEM Ed25519 private key: restore it from your backup, "
                                 "or move it away to create a new one (old certificates then need the old "
                                 "public key)") from err
        if not isinstance(key, Ed25519PrivateKey):
            raise SignatureError(f"{key_path} holds a {type(key).__name__}, not an Ed25519 key")
        return key
    key = Ed25519PrivateKey.generate()
    key_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(key_path.parent, 0o700)
    except OSError:
        pass
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public_key_path(key_path).write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return key


def load_public_key(path: str | Path | None = None) -> Any:
    """Load an Ed25519 public key (PEM); default: the one beside the instructor's private key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    p = Path(path).expanduser() if path else public_key_path(default_key_path())
    if not p.is_file():
        raise SignatureError(f"no public key at {p}: pass --public-key FILE (the instructor publishes it)")
    try:
        key = serialization.load_pem_public_key(p.read_bytes())
    except ValueError as err:
        raise SignatureError(f"{p} is not a PEM public key") from err
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError(f"{p} holds a {type(key).__name__}, not an Ed25519 public key")
    return key


def public_pem(private_key: Any) -> str:
    """The PEM text of a private key's public half (safe to publish)."""
    from cryptography.hazmat.primitives import serialization

    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def sign_fields(fields: dict[str, Any], private_key: Any) -> str:
    """Sign ``fields`` and return the self-contained verification code."""
    payload = canonical(fields)
    return f"{PREFIX}.{_b64(payload)}.{_b64(private_key.sign(payload))}"


def decode_code(code: str) -> tuple[dict[str, Any], bytes, bytes]:
    """Split a code into ``(fields, payload bytes, signature)`` without checking the signature."""
    parts = code.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise SignatureError(f"not a medimg verification code (expected {PREFIX}.<payload>.<signature>)")
    try:
        payload, sig = _unb64(parts[1]), _unb64(parts[2])
        fields = json.loads(payload.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise SignatureError("the verification code is damaged (it does not decode): copy it again") from err
    if not isinstance(fields, dict):
        raise SignatureError("the verification code is damaged (its payload is not a record)")
    return fields, payload, sig


def verify_code(code: str, public_key: Any) -> dict[str, Any]:
    """Check a code's signature with the instructor's public key and return the fields it attests."""
    from cryptography.exceptions import InvalidSignature

    fields, payload, sig = decode_code(code)
    try:
        public_key.verify(sig, payload)
    except InvalidSignature as err:
        raise SignatureError("the signature does not match: this certificate was altered, or was not "
                             "issued with this public key") from err
    return fields
