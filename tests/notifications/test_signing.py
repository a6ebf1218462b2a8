"""Standard Webhooks signing (services/notifications/signing.py)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.notifications.signing import (
    InvalidSignature,
    generate_secret,
    sign,
    signed_headers,
    verify,
)

# The vector of the reference libraries' sign tests (standard-webhooks/standard-webhooks:
# libraries/python/tests/test_webhooks.py::test_sign_function and
# libraries/go/webhook_test.go::TestWebhookSign).
REF_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
REF_MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
REF_TIMESTAMP = 1614265330
REF_BODY = b'{"test": 2432232314}'
REF_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
# A signature of the same shape that the references use as "invalid".
FOREIGN_SIGNATURE = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
BODY = b'{"type":"notification.serious_incident","data":{"case_id":"C-1"}}'


def _ref_headers(signature: str = REF_SIGNATURE) -> dict[str, str]:
    return {
        "webhook-id": REF_MSG_ID,
        "webhook-timestamp": str(REF_TIMESTAMP),
        "webhook-signature": signature,
    }


REF_NOW = datetime.fromtimestamp(REF_TIMESTAMP, UTC)


def test_known_vector_from_reference_implementations() -> None:
    assert sign(REF_SECRET, REF_MSG_ID, REF_TIMESTAMP, REF_BODY) == REF_SIGNATURE
    # The references accept the secret without its prefix as well.
    assert sign(REF_SECRET.removeprefix("whsec_"), REF_MSG_ID, REF_TIMESTAMP, REF_BODY) == (
        REF_SIGNATURE
    )
    verify(REF_SECRET, _ref_headers(), REF_BODY, now=REF_NOW)


def test_known_vector_headers() -> None:
    headers = signed_headers(REF_SECRET, REF_MSG_ID, REF_BODY, now=REF_NOW)
    assert headers == _ref_headers()


def test_reference_invalid_signature_is_rejected() -> None:
    # From the reference test_invalid_signature_raises_error: the last byte changed.
    bad = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="
    with pytest.raises(InvalidSignature, match="no matching signature"):
        verify(REF_SECRET, _ref_headers(bad), REF_BODY, now=REF_NOW)


def test_generate_secret_format() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    assert len(key) == 32
    assert generate_secret() != secret
    assert len(base64.b64decode(generate_secret(24)[6:])) == 24
    with pytest.raises(ValueError):
        generate_secret(16)  # below the spec's 24-byte minimum


def test_round_trip() -> None:
    secret = generate_secret()
    headers = signed_headers(secret, "msg_01", BODY, now=NOW)
    assert headers["webhook-id"] == "msg_01"
    assert headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    verify(secret, headers, BODY, now=NOW)
    verify(secret, headers, BODY, now=NOW + timedelta(seconds=299))


def test_header_names_are_case_insensitive() -> None:
    secret = generate_secret()
    headers = signed_headers(secret, "msg_01", BODY, now=NOW)
    verify(secret, {k.title(): v for k, v in headers.items()}, BODY, now=NOW)


def test_tampered_body_is_rejected() -> None:
    secret = generate_secret()
    headers = signed_headers(secret, "msg_01", BODY, now=NOW)
    tampered = BODY.replace(b"C-1", b"C-2")
    with pytest.raises(InvalidSignature, match="no matching signature"):
        verify(secret, headers, tampered, now=NOW)
    # Re-serialised JSON (a space added) is a different body too.
    with pytest.raises(InvalidSignature):
        verify(secret, headers, BODY.replace(b'":', b'": ', 1), now=NOW)


def test_tampered_id_or_timestamp_is_rejected() -> None:
    secret = generate_secret()
    headers = signed_headers(secret, "msg_01", BODY, now=NOW)
    with pytest.raises(InvalidSignature):
        verify(secret, {**headers, "webhook-id": "msg_02"}, BODY, now=NOW)
    moved = str(int(headers["webhook-timestamp"]) + 1)
    with pytest.raises(InvalidSignature):
        verify(secret, {**headers, "webhook-timestamp": moved}, BODY, now=NOW)


def test_wrong_secret_is_rejected() -> None:
    headers = signed_headers(generate_secret(), "msg_01", BODY, now=NOW)
    with pytest.raises(InvalidSignature, match="no matching signature"):
        verify(generate_secret(), headers, BODY, now=NOW)


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(timedelta(seconds=301), "too old"), (timedelta(seconds=-301), "future")],
)
def test_timestamp_outside_tolerance_is_rejected(offset: timedelta, reason: str) -> None:
    secret = generate_secret()
    headers = signed_headers(secret, "msg_01", BODY, now=NOW)
    with pytest.raises(InvalidSignature, match=reason):
        verify(secret, headers, BODY, now=NOW + offset)
    # Within the tolerance either way: fine.
    verify(secret, headers, BODY, now=NOW + offset / 301 * 300)


def test_tolerance_is_configurable_and_can_be_disabled() -> None:
    secret = generate_secret()
    headers = signed_headers(secret, "msg_01", BODY, now=NOW)
    with pytest.raises(InvalidSignature, match="too old"):
        verify(secret, headers, BODY, tolerance_seconds=10, now=NOW + timedelta(seconds=11))
    verify(secret, headers, BODY, tolerance_seconds=None, now=NOW + timedelta(days=30))


@pytest.mark.parametrize("value", ["", "soon", "1614265330.5", "-5", "1e9", " "])
def test_malformed_timestamp_is_rejected(value: str) -> None:
    secret = generate_secret()
    headers = signed_headers(secret, "msg_01", BODY, now=NOW)
    with pytest.raises(InvalidSignature):
        verify(secret, {**headers, "webhook-timestamp": value}, BODY, now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_rejected(missing: str) -> None:
    secret = generate_secret()
    headers = signed_headers(secret, "msg_01", BODY, now=NOW)
    del headers[missing]
    with pytest.raises(InvalidSignature, match=f"missing header {missing}") as caught:
        verify(secret, headers, BODY, now=NOW)
    assert caught.value.reason == f"missing header {missing}"


def test_multiple_signatures_any_valid_one_matches() -> None:
    # As the references' multi-signature test: foreign v1, a v2, the valid one, foreign v1.
    signatures = [
        FOREIGN_SIGNATURE,
        "v2," + REF_SIGNATURE.removeprefix("v1,"),
        REF_SIGNATURE,
        FOREIGN_SIGNATURE,
    ]
    verify(REF_SECRET, _ref_headers(" ".join(signatures)), REF_BODY, now=REF_NOW)


def test_multiple_signatures_none_valid() -> None:
    signatures = [FOREIGN_SIGNATURE, "v2," + REF_SIGNATURE.removeprefix("v1,"), "garbage", "v1,%%"]
    with pytest.raises(InvalidSignature, match="no matching signature"):
        verify(REF_SECRET, _ref_headers(" ".join(signatures)), REF_BODY, now=REF_NOW)


def test_only_v1_entries_count() -> None:
    # The right MAC under another version tag (v1a is the asymmetric scheme) is not accepted.
    relabelled = "v1a," + REF_SIGNATURE.removeprefix("v1,")
    with pytest.raises(InvalidSignature):
        verify(REF_SECRET, _ref_headers(relabelled), REF_BODY, now=REF_NOW)


def test_rotation_signs_with_every_secret() -> None:
    old, new = generate_secret(), generate_secret()
    headers = signed_headers([new, old], "msg_01", BODY, now=NOW)
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(new, headers, BODY, now=NOW)
    verify(old, headers, BODY, now=NOW)
    with pytest.raises(InvalidSignature):
        verify(generate_secret(), headers, BODY, now=NOW)


def test_signing_input_validation() -> None:
    secret = generate_secret()
    with pytest.raises(ValueError, match="must not contain"):
        sign(secret, "msg.01", 1, BODY)
    with pytest.raises(ValueError):
        sign(secret, "msg_01", -1, BODY)
    with pytest.raises(ValueError):
        sign("whsec_not base64!", "msg_01", 1, BODY)
    with pytest.raises(ValueError):
        signed_headers(secret, "msg_01", BODY, now=datetime(2025, 1, 1))  # naive
    with pytest.raises(ValueError):
        verify("whsec_", signed_headers(secret, "msg_01", BODY), BODY)


def test_timezone_of_now_does_not_matter() -> None:
    secret = generate_secret()
    elsewhere = NOW.astimezone(timezone(timedelta(hours=-5)))
    assert signed_headers(secret, "m", BODY, now=elsewhere) == signed_headers(
        secret, "m", BODY, now=NOW
    )
