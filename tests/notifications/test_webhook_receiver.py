"""The test webhook receiver, run as a real process (tests/support/webhook_receiver.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.notifications.signing import generate_secret, signed_headers
from tests.support.receiver_process import ReceiverHandle, run_receiver

pytestmark = pytest.mark.timeout(60)

PANEL = "cspr-panel"
OFSTED = "ofsted"


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReceiverHandle]:
    log = tmp_path_factory.mktemp("receiver") / "deliveries.jsonl"
    secrets = {PANEL: generate_secret(), OFSTED: generate_secret()}
    with run_receiver(secrets=secrets, log_path=log) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(receiver: ReceiverHandle) -> None:
    receiver.clear()
    for recipient in (PANEL, OFSTED):
        receiver.control(recipient, reset=True)


def _post(
    receiver: ReceiverHandle,
    recipient: str,
    payload: object,
    msg_id: str,
    secret: str | None = None,
    timeout: float = 10.0,
) -> httpx.Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = signed_headers(secret or receiver.secret_for(recipient), msg_id, body)
    headers["content-type"] = "application/json"
    return httpx.post(
        receiver.hook_url(recipient),
        content=body,
        headers=headers,
        timeout=timeout,
        follow_redirects=False,
    )


def test_signed_delivery_is_recorded(receiver: ReceiverHandle) -> None:
    payload = {"type": "notification.serious_incident", "data": {"case_id": "C-1"}}
    response = _post(receiver, PANEL, payload, "msg_001")
    assert response.status_code == 200, response.text

    [record] = receiver.deliveries(PANEL)
    assert record["recipient"] == PANEL
    assert record["webhook_id"] == "msg_001"
    assert record["body"] == payload
    assert record["outcome"] == "accepted"
    assert record["status"] == 200
    assert abs(record["webhook_timestamp"] - time.time()) < 60
    assert record["received_at"]
    assert receiver.deliveries(OFSTED) == []
    assert receiver.deliveries() == [record]
    # The JSONL log has it too.
    assert [r["webhook_id"] for r in receiver.logged_deliveries()][-1] == "msg_001"


def test_badly_signed_delivery_is_refused_and_not_recorded(receiver: ReceiverHandle) -> None:
    payload = {"type": "notification.serious_incident"}
    wrong_secret = _post(receiver, PANEL, payload, "msg_002", secret=generate_secret())
    assert wrong_secret.status_code == 401
    # Another recipient's secret is wrong for this one.
    crossed = _post(receiver, PANEL, payload, "msg_003", secret=receiver.secret_for(OFSTED))
    assert crossed.status_code == 401
    unsigned = httpx.post(receiver.hook_url(PANEL), json=payload, timeout=10)
    assert unsigned.status_code == 401
    assert "missing header" in unsigned.json()["error"]

    assert receiver.deliveries() == []
    assert [r["status"] for r in receiver.rejections()] == [401, 401, 401]
    # The same receiver accepts a correctly signed one.
    assert _post(receiver, PANEL, payload, "msg_004").status_code == 200


def test_unknown_recipient_is_refused(receiver: ReceiverHandle) -> None:
    response = _post(receiver, "nobody", {"x": 1}, "msg_005", secret=generate_secret())
    assert response.status_code == 404
    assert receiver.deliveries() == []


def test_fail_next_answers_503_then_succeeds(receiver: ReceiverHandle) -> None:
    assert receiver.control(PANEL, fail_next=2, retry_after="7")["fail_next"] == 2
    statuses = []
    for _ in range(3):
        response = _post(receiver, PANEL, {"n": 1}, "msg_006")  # retries keep the id
        statuses.append(response.status_code)
        if response.status_code == 503:
            assert response.headers["retry-after"] == "7"
    assert statuses == [503, 503, 200]

    records = receiver.deliveries(PANEL)
    assert [(r["outcome"], r["attempt"]) for r in records] == [
        ("failed", 1),
        ("failed", 2),
        ("accepted", 3),
    ]
    assert [r["webhook_id"] for r in receiver.accepted(PANEL)] == ["msg_006"]
    # Other recipients are unaffected.
    assert _post(receiver, OFSTED, {"n": 1}, "msg_007").status_code == 200
    # A further delivery of an accepted id is flagged as a duplicate.
    assert _post(receiver, PANEL, {"n": 1}, "msg_006").status_code == 200
    assert receiver.deliveries(PANEL)[-1]["duplicate"] is True


def test_custom_failure_status(receiver: ReceiverHandle) -> None:
    receiver.control(OFSTED, fail_next=1, status=410)
    assert _post(receiver, OFSTED, {}, "msg_008").status_code == 410
    assert _post(receiver, OFSTED, {}, "msg_008").status_code == 200


def test_redirect_answers_307(receiver: ReceiverHandle) -> None:
    receiver.control(PANEL, redirect=True, redirect_to="http://example.invalid/new")
    response = _post(receiver, PANEL, {}, "msg_009")
    assert response.status_code == 307
    assert response.headers["location"] == "http://example.invalid/new"
    assert receiver.deliveries(PANEL)[-1]["outcome"] == "redirected"
    receiver.control(PANEL, redirect=False)
    assert _post(receiver, PANEL, {}, "msg_009").status_code == 200


def test_delay_makes_a_short_deadline_expire(receiver: ReceiverHandle) -> None:
    receiver.control(OFSTED, delay_seconds=1.5)
    with pytest.raises(httpx.ReadTimeout):
        _post(receiver, OFSTED, {}, "msg_010", timeout=0.5)
    # It was received (and recorded) even though the sender gave up waiting.
    assert [r["webhook_id"] for r in receiver.deliveries(OFSTED)] == ["msg_010"]
    receiver.control(OFSTED, delay_seconds=0)
    started = time.monotonic()
    assert _post(receiver, OFSTED, {}, "msg_011", timeout=5).status_code == 200
    assert time.monotonic() - started < 1.0


def test_control_rejects_unknown_fields(receiver: ReceiverHandle) -> None:
    with pytest.raises(httpx.HTTPStatusError):
        receiver.control(PANEL, fail_nxt=1)


def test_fail_first_option_and_log_survive_a_kill(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    with run_receiver(fail_first=1, log_path=log) as running:
        assert running.control("anyone")["fail_next"] == 1
        assert _post(running, "anyone", {"k": "v"}, "msg_012").status_code == 503
        assert _post(running, "anyone", {"k": "v"}, "msg_012").status_code == 200
        running.process.kill()
        running.process.wait(timeout=5)
        records = running.logged_deliveries()
    assert [(r["webhook_id"], r["status"]) for r in records] == [
        ("msg_012", 503),
        ("msg_012", 200),
    ]
    assert records[0]["body"] == {"k": "v"}
    assert running.process.poll() is not None


def test_stop_ends_the_process() -> None:
    with run_receiver() as running:
        url = running.url
        pid = running.pid
        assert httpx.get(f"{url}/healthz", timeout=5).json()["pid"] == pid
    assert running.process.poll() is not None
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/healthz", timeout=1)
