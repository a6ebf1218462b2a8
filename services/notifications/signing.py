"""Standard Webhooks signing and verification (symmetric, HMAC-SHA256).

Implements the scheme of https://www.standardwebhooks.com/ (spec version 1.0.0):

* secrets are ``whsec_`` followed by the base64 of a random key of 24 to 64 bytes;
* the signed content is ``{webhook-id}.{webhook-timestamp}.{body}``, where the timestamp is
  the integer unix time (seconds) of the *attempt* and the body is the exact bytes sent;
* ``webhook-signature`` is a space-delimited list of ``v1,<base64 HMAC-SHA256>`` entries
  (more than one during secret rotation; entries of other versions, such as the asymmetric
  ``v1a``, are ignored by a symmetric verifier).

Compatible with the reference libraries: their test vector is pinned in
``tests/notifications/test_signing.py``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import secrets as _secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "HEADER_ID",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "SECRET_PREFIX",
    "InvalidSignature",
    "generate_secret",
    "sign",
    "signed_headers",
    "verify",
]

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
DEFAULT_TOLERANCE_SECONDS = 300

_MIN_KEY_BYTES = 24  # spec: "at least 24 bytes (192 bits)"
_MAX_KEY_BYTES = 64  # spec: "512 [bits] maximum"
_TIMESTAMP_RE = re.compile(r"[0-9]{1,15}")


class InvalidSignature(Exception):
    """A webhook failed verification; :attr:`reason` says why (safe to log, holds no secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def generate_secret(num_bytes: int = 32) -> str:
    """A new random signing secret, ``whsec_`` + base64 of ``num_bytes`` (24..64) random bytes."""
    if not _MIN_KEY_BYTES <= num_bytes <= _MAX_KEY_BYTES:
        raise ValueError(f"num_bytes must be between {_MIN_KEY_BYTES} and {_MAX_KEY_BYTES}")
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(num_bytes)).decode("ascii")


def _secret_key(secret: str) -> bytes:
    """The raw HMAC key of a secret, with or without the ``whsec_`` prefix (as the references)."""
    encoded = secret.strip()
    if encoded.startswith(SECRET_PREFIX):
        encoded = encoded[len(SECRET_PREFIX) :]
    encoded += "=" * (-len(encoded) % 4)  # tolerate unpadded base64
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret is not valid base64 (expected whsec_<base64>)") from None
    if not key:
        raise ValueError("webhook secret may not be empty")
    return key


def _signature(key: bytes, msg_id: str, timestamp: int | str, body: bytes) -> bytes:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) for one secret.

    ``msg_id`` must not contain ``.`` (the spec forbids it: it would make the signed content
    ambiguous); ``timestamp`` is unix seconds; ``body`` is exactly the bytes that are sent.
    """
    if not msg_id or "." in msg_id:
        raise ValueError("msg_id must be non-empty and must not contain '.'")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError("timestamp must be a non-negative integer (unix seconds)")
    digest = _signature(_secret_key(secret), msg_id, timestamp, bytes(body))
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def _unix_seconds(now: datetime | None) -> int:
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return math.floor(now.timestamp())


def signed_headers(
    secret: str | Sequence[str],
    msg_id: str,
    body: bytes,
    now: datetime | None = None,
) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery attempt.

    ``secret`` may be a list of secrets (during rotation): one signature per secret, space
    separated, in that order. ``now`` (timezone-aware, default: the current time) is the time of
    the attempt, so a retry gets a fresh timestamp and signature while ``msg_id`` stays the
    same. Content-Type is the caller's business.
    """
    secrets_list = [secret] if isinstance(secret, str) else list(secret)
    if not secrets_list:
        raise ValueError("at least one secret is required")
    timestamp = _unix_seconds(now)
    signature = " ".join(sign(s, msg_id, timestamp, body) for s in secrets_list)
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: signature,
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:  # plain dicts are case-sensitive; HTTP header names are not
        for key, candidate in headers.items():
            if key.lower() == name:
                value = candidate
                break
    if value is None or not value.strip():
        raise InvalidSignature(f"missing header {name}")
    return value.strip()


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance_seconds: float | None = DEFAULT_TOLERANCE_SECONDS,
    now: datetime | None = None,
) -> None:
    """Check a received webhook; return ``None`` if authentic, else raise :class:`InvalidSignature`.

    Fails on a missing header, a timestamp that is not an integer or is more than
    ``tolerance_seconds`` away from ``now`` in either direction (replay protection;
    ``None`` skips this check), or when no ``v1`` entry of ``webhook-signature`` matches.
    ``body`` must be the raw request bytes, not re-serialised JSON. Comparison is
    constant-time (:func:`hmac.compare_digest`). A malformed secret raises ``ValueError``:
    that is a configuration error, not a bad request.
    """
    key = _secret_key(secret)
    msg_id = _header(headers, HEADER_ID)
    raw_timestamp = _header(headers, HEADER_TIMESTAMP)
    signature_header = _header(headers, HEADER_SIGNATURE)

    if not _TIMESTAMP_RE.fullmatch(raw_timestamp):
        raise InvalidSignature("invalid webhook-timestamp (expected integer unix seconds)")
    timestamp = int(raw_timestamp)
    if tolerance_seconds is not None:
        current = _unix_seconds(now)
        if timestamp < current - tolerance_seconds:
            raise InvalidSignature("webhook-timestamp too old")
        if timestamp > current + tolerance_seconds:
            raise InvalidSignature("webhook-timestamp too far in the future")

    # Sign the timestamp exactly as received: that is what the sender signed.
    expected = _signature(key, msg_id, raw_timestamp, bytes(body))
    matched = False
    for entry in signature_header.split():
        version, sep, encoded = entry.partition(",")
        if not sep or version != SIGNATURE_VERSION:
            continue
        try:
            candidate = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # Check every entry: no early exit, so timing does not say which one matched.
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise InvalidSignature("no matching signature")
