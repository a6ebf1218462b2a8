"""Issue 2's thin slice, end to end: every service a real process, every step between them
through Kafka, the national bodies' endpoints a real webhook receiver.

The operator registers a partnership and the council's case system (partners); the case system
notifies a serious incident (reviews, once it has read the system's token from partners.events);
the Panel and Ofsted each get exactly one correctly signed notification (notifications, from
reviews.events; the Panel's endpoint fails twice first and is retried); the dashboard shows the
open case, its deadlines and both deliveries (reporting, from all three topics).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.notifications.signing import InvalidSignature, generate_secret, verify
from shared.calendar import default_calendar
from shared.events import CloudEvent
from shared.settings import TOPICS
from shared.stack import Stack
from tests.e2e.e2e_support import (
    STATUTORY_PARTNERS,
    WEBHOOK_RECIPIENTS,
    case_of,
    council_code,
    get_json,
    incident_body,
    log_tails,
    platform,
    post_incident_once_known,
    register_partnership,
    wait_until,
)
from tests.support.apps import read_topic
from tests.support.receiver_process import ReceiverHandle, run_receiver

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ENGLAND = ZoneInfo("Europe/London")
# domain.md s4: notify within 5 working days of becoming aware (SIN-5WD); the rapid review is
# due 15 working days after the notification (RR-15WD).
SIN_WORKING_DAYS, RR_WORKING_DAYS = 5, 15
PANEL_FAILURES = 2


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[ReceiverHandle]:
    secrets = {code: generate_secret() for code in WEBHOOK_RECIPIENTS}
    with run_receiver(secrets=secrets, log_path=tmp_path / "receiver.jsonl") as handle:
        yield handle


@pytest.fixture
def stack(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    receiver: ReceiverHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)  # always our own broker
    pycache = tmp_path_factory.getbasetemp() / "e2e-pycache"
    with platform(tmp_path / "platform", receiver, pycache) as running:
        yield running


def trace_id(traceparent: str | None) -> str | None:
    """The trace id of a W3C traceparent (``00-<trace id>-<span id>-<flags>``)."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 else None


def check_signature(delivery: dict[str, Any], secret: str) -> None:
    """Verify the Standard Webhooks signature ourselves. The receiver hands back the parsed
    body; notifications sends compact JSON with the stored key order, which parsing keeps, so
    re-encoding it that way gives back the bytes that were signed."""
    raw = json.dumps(delivery["body"], separators=(",", ":"), ensure_ascii=False).encode()
    try:
        verify(secret, delivery["headers"], raw)
    except InvalidSignature as exc:
        raise AssertionError(
            f"{delivery['recipient']} delivery {delivery['webhook_id']} attempt "
            f"{delivery['attempt']}: bad signature ({exc.reason})"
        ) from None


async def test_incident_reaches_panel_ofsted_and_dashboard(
    stack: Stack, receiver: ReceiverHandle
) -> None:
    await receiver.acontrol("panel", fail_next=PANEL_FAILURES, status=503)
    calendar = default_calendar()
    council = council_code()
    name = f"E2E Safeguarding Children Partnership {council}"
    async with httpx.AsyncClient(timeout=15.0) as http:
        # (a) The operator registers the partnership and the council's case system.
        partnership, system = await register_partnership(http, stack, council, name)
        partnership_id = partnership["id"]
        assert sorted(p["kind"] for p in partnership["partners"]) == sorted(STATUTORY_PARTNERS)
        token = system["credential"]["token"]
        assert token, system
        shown_again = await get_json(
            http, f"{stack.urls['partners']}/partnerships/{partnership_id}"
        )
        assert token not in json.dumps(shown_again), "the token must be shown once only"

        # (b) The case system notifies a serious incident it became aware of two days ago.
        aware_on = datetime.now(ENGLAND).date() - timedelta(days=2)
        body = incident_body(
            council, aware_on, incident_date=(aware_on - timedelta(days=1)).isoformat()
        )
        accepted = await post_incident_once_known(http, stack, token, body)
        case = accepted.json()
        case_id = case["case_id"]
        assert case["partnership_id"] == partnership_id
        assert case["client_reference"] == body["client_reference"]
        assert case["status"] == "notified"
        assert {"panel", "ofsted"} <= set(case["notify"]), case["notify"]
        notified_on = datetime.fromisoformat(case["notified_at"]).astimezone(ENGLAND).date()
        sin_due = calendar.add_working_days(aware_on, SIN_WORKING_DAYS)
        rr_due = calendar.add_working_days(notified_on, RR_WORKING_DAYS)
        deadlines = {d["rule_id"]: d for d in case["deadlines"]}
        assert set(deadlines) == {"SIN-5WD", "RR-15WD"}, case["deadlines"]
        assert deadlines["SIN-5WD"]["starts_on"] == aware_on.isoformat()
        assert deadlines["SIN-5WD"]["due_on"] == sin_due.isoformat()
        assert deadlines["RR-15WD"]["starts_on"] == notified_on.isoformat()
        assert deadlines["RR-15WD"]["due_on"] == rr_due.isoformat()

        # (c) Panel and Ofsted: delivered (the Panel after two 503s), every attempt on record.
        notifications_url = stack.urls["notifications"] + "/notifications"
        by_recipient: dict[str, Any] = {}

        async def undelivered() -> list[str]:
            page = await get_json(http, notifications_url, case_id=case_id)
            by_recipient.clear()
            by_recipient.update({n["recipient"]: n for n in page["items"]})
            return [
                f"{code}: {by_recipient[code]['status'] if code in by_recipient else 'missing'}"
                for code in WEBHOOK_RECIPIENTS
                if by_recipient.get(code, {}).get("status") != "delivered"
            ]

        await wait_until(
            undelivered,
            within=60,
            what="Panel and Ofsted notifications delivered",
            stack=stack,
            logs=("reviews", "notifications"),
        )
        panel, ofsted = by_recipient["panel"], by_recipient["ofsted"]
        assert (panel["attempts"], panel["channel"]) == (PANEL_FAILURES + 1, "webhook"), panel
        assert (ofsted["attempts"], ofsted["channel"]) == (1, "webhook"), ofsted
        assert panel["rule_id"] == ofsted["rule_id"] == "SIN-5WD"
        assert panel["due_on"] == ofsted["due_on"] == sin_due.isoformat()
        if "dfe" in by_recipient:  # no webhook configured: a person submits it
            assert by_recipient["dfe"]["status"] == "awaiting_manual", by_recipient["dfe"]
        detail = await get_json(http, f"{notifications_url}/{panel['id']}")
        assert [a["status_code"] for a in detail["attempt_log"]] == [503] * PANEL_FAILURES + [200]

        received = {
            code: [d for d in await receiver.adeliveries(code) if case_of(d) == case_id]
            for code in WEBHOOK_RECIPIENTS
        }
        assert [d["outcome"] for d in received["panel"]] == ["failed"] * PANEL_FAILURES + [
            "accepted"
        ], received["panel"]
        assert [d["status"] for d in received["panel"]] == [503] * PANEL_FAILURES + [200]
        assert [d["outcome"] for d in received["ofsted"]] == ["accepted"], received["ofsted"]
        for code, deliveries in received.items():
            notification = by_recipient[code]
            for delivery in deliveries:
                check_signature(delivery, receiver.secret_for(code))
                # The same webhook-id on every attempt: the notification's stable id.
                assert delivery["headers"]["webhook-id"] == notification["id"], delivery
                data = delivery["body"]["data"]
                assert delivery["body"]["type"] == "incident.notified"
                assert (data["recipient"], data["rule_id"], data["due_on"]) == (
                    code,
                    "SIN-5WD",
                    sin_due.isoformat(),
                )
                assert data["case"]["partnership_id"] == partnership_id
        assert await asyncio.to_thread(receiver.rejections) == [], (
            "the receiver refused badly signed requests"
        )

        # The trace that started at the POST continues through Kafka to the webhook request.
        events = await read_topic(
            stack.bootstrap_servers,
            TOPICS["reviews"],
            until=lambda evs: any(e.subject == case_id for e in evs),
        )
        notified = _only(e for e in events if e.subject == case_id)
        assert notified.type == "masa.incident.notified.v1"
        incident_trace = trace_id(notified.traceparent)
        assert incident_trace, f"the reviews event carries no traceparent: {notified!r}"
        for code, deliveries in received.items():
            for delivery in deliveries:
                sent = trace_id(delivery["headers"].get("traceparent"))
                assert sent == incident_trace, (
                    f"{code} attempt {delivery['attempt']}: webhook traceparent "
                    f"{delivery['headers'].get('traceparent')!r} is not in the incident's trace "
                    f"{incident_trace}" + log_tails(stack, ("notifications",))
                )

        # (d) The dashboard: the partnership, its one open case, the deadlines, the deliveries.
        summary_url = f"{stack.urls['reporting']}/partnerships/{partnership_id}/summary"
        summary: dict[str, Any] = {}

        async def dashboard_behind() -> list[str]:
            summary.clear()
            summary.update(await get_json(http, summary_url))
            notes = {n["recipient"]: n for c in summary["cases"] for n in c["notifications"]}
            wrong = []
            if summary["name"] != name:
                wrong.append(f"name {summary['name']!r}")
            if summary["open_cases"] != 1 or [c["case_id"] for c in summary["cases"]] != [case_id]:
                wrong.append(
                    f"open_cases {summary['open_cases']}, cases "
                    f"{[c['case_id'] for c in summary['cases']]}"
                )
            if summary["deliveries"]["delivered"] != len(WEBHOOK_RECIPIENTS):
                wrong.append(f"deliveries {summary['deliveries']}")
            for code in WEBHOOK_RECIPIENTS:
                if notes.get(code, {}).get("status") != "delivered":
                    wrong.append(f"{code}: {notes.get(code)}")
            return wrong

        await wait_until(
            dashboard_behind,
            within=60,
            what="the dashboard shows the case",
            stack=stack,
            logs=("reporting",),
        )
        assert summary["partnership_id"] == partnership_id
        assert [c["ons_code"] for c in summary["councils"]] == [council]
        assert summary["deliveries"]["abandoned"] == summary["deliveries"]["retrying"] == 0
        (shown,) = summary["cases"]
        assert (shown["aware_on"], shown["needs_rapid_review"]) == (aware_on.isoformat(), True)
        assert {d["rule_id"]: (d["starts_on"], d["due_on"]) for d in shown["deadlines"]} == {
            "SIN-5WD": (aware_on.isoformat(), sin_due.isoformat()),
            "RR-15WD": (notified_on.isoformat(), rr_due.isoformat()),
        }
        shown_notes = {n["recipient"]: n for n in shown["notifications"]}
        assert shown_notes["panel"]["attempts"] == PANEL_FAILURES + 1
        assert shown_notes["ofsted"]["attempts"] == 1
        assert all(shown_notes[c]["on_time"] is True for c in WEBHOOK_RECIPIENTS), shown_notes
        assert summary["next_deadline"] is not None
        assert summary["next_deadline"]["case_id"] == case_id


def _only(events: Iterable[CloudEvent]) -> CloudEvent:
    found = list(events)
    assert len(found) == 1, f"expected exactly one event, got {len(found)}: {found!r}"
    return found[0]
