"""Read models fed from the real broker, read back through the HTTP API, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.reporting.readmodel import london_today
from shared.processes import EmbeddedBroker
from tests.reporting.reporting_feed import (
    CALENDAR,
    NOTIFICATIONS,
    PARTNERS,
    REVIEWS,
    Feed,
    attempt_failed,
    delivered,
    incident,
    new_id,
    notification,
    partnership_created,
    queued,
    reporting,
    summary_when,
)
from tests.support.apps import ADMIN


def _case(body: dict[str, Any], case_id: str) -> dict[str, Any] | None:
    return next((c for c in body["cases"] if c["case_id"] == case_id), None)


def _note(body: dict[str, Any], case_id: str, notification_id: str) -> dict[str, Any] | None:
    case = _case(body, case_id)
    return notification(case, notification_id) if case else None


def _notes(body: dict[str, Any], case_id: str) -> list[dict[str, Any]]:
    case = _case(body, case_id)
    return case["notifications"] if case else []


def _status_is(case_id: str, notification_id: str, status: str, attempts: int) -> Any:
    def check(body: dict[str, Any]) -> bool:
        n = _note(body, case_id, notification_id)
        return n is not None and n["status"] == status and n["attempts"] == attempts

    return check


async def test_open_case_deadlines_and_delivery_from_queued_to_delivered(
    database_url: str, broker: EmbeddedBroker
) -> None:
    pid, case_id, panel, ofsted = new_id(), new_id(), new_id(), new_id()
    async with reporting(database_url, broker) as client, Feed(broker) as feed:
        await feed.send(PARTNERS, partnership_created(pid), partnership_id=pid)
        notified = incident(pid, case_id)
        await feed.send(REVIEWS, notified, partnership_id=pid)
        sin = notified.deadlines[0]
        await feed.send(
            NOTIFICATIONS, queued(pid, case_id, panel, due_on=sin.due_on), partnership_id=pid
        )
        await feed.send(
            NOTIFICATIONS,
            queued(pid, case_id, ofsted, "ofsted", due_on=sin.due_on),
            partnership_id=pid,
        )

        body = await summary_when(
            client,
            pid,
            lambda b: b["name"] is not None and len(_notes(b, case_id)) == 2,
        )
        assert body["name"] == "Leeds Safeguarding Children Partnership"
        assert body["councils"] == [
            {"name": "Leeds City Council", "ons_code": "E08000035", "la_number": "383"}
        ]
        assert body["open_cases"] == 1
        case = _case(body, case_id)
        assert case is not None
        assert case["kind"] == "death_or_serious_harm"
        assert case["status"] == "notified"
        assert case["aware_on"] == notified.aware_on.isoformat()
        assert datetime.fromisoformat(case["notified_at"]) == notified.notified_at
        today = london_today()
        assert [
            (d["rule_id"], d["title"], d["due_on"], d["days_left"], d["overdue"], d["met"])
            for d in case["deadlines"]
        ] == [
            (
                d.rule_id,
                d.title,
                d.due_on.isoformat(),
                CALENDAR.working_days_between(today, d.due_on),
                False,
                False,
            )
            for d in notified.deadlines
        ]
        assert {
            (n["recipient"], n["channel"], n["status"], n["attempts"], n["delivered_at"])
            for n in case["notifications"]
        } == {("panel", "webhook", "queued", 0, None), ("ofsted", "webhook", "queued", 0, None)}
        assert body["next_deadline"]["rule_id"] == "SIN-5WD"
        assert body["deliveries"] == {"queued": 2, "retrying": 0, "delivered": 0, "abandoned": 0}

        await feed.send(NOTIFICATIONS, attempt_failed(pid, case_id, panel, 1), partnership_id=pid)
        body = await summary_when(client, pid, _status_is(case_id, panel, "retrying", 1))
        n = _note(body, case_id, panel)
        assert n is not None and n["last_error"] == "HTTP 503 on attempt 1"
        assert n["delivered_at"] is None and n["on_time"] is None

        at = datetime.now(UTC).replace(microsecond=0)
        await feed.send(NOTIFICATIONS, delivered(pid, case_id, panel, 2, at=at), partnership_id=pid)
        await feed.send(
            NOTIFICATIONS, delivered(pid, case_id, ofsted, 1, "ofsted", at=at), partnership_id=pid
        )
        body = await summary_when(client, pid, _status_is(case_id, ofsted, "delivered", 1))
        case = _case(body, case_id)
        assert case is not None
        n = notification(case, panel)
        assert n is not None
        assert (n["status"], n["attempts"], n["on_time"]) == ("delivered", 2, True)
        assert datetime.fromisoformat(n["delivered_at"]) == at
        sin_out = case["deadlines"][0]
        assert (sin_out["rule_id"], sin_out["met"], sin_out["overdue"]) == ("SIN-5WD", True, False)
        # With SIN-5WD met, the nearest deadline still open is the rapid review.
        assert body["next_deadline"]["rule_id"] == "RR-15WD"
        assert body["deliveries"] == {"queued": 0, "retrying": 0, "delivered": 2, "abandoned": 0}

        listed = (await client.get("/partnerships", headers=ADMIN, params={"limit": 200})).json()
        mine = [p for p in listed["items"] if p["partnership_id"] == pid]
        assert [(p["name"], p["open_cases"]) for p in mine] == [
            ("Leeds Safeguarding Children Partnership", 1)
        ]
        one = await client.get(f"/cases/{case_id}", headers=ADMIN)
        assert one.status_code == 200
        assert one.json() == case


async def test_the_same_events_delivered_twice_count_once(
    database_url: str, broker: EmbeddedBroker
) -> None:
    pid, case_id, second_case = new_id(), new_id(), new_id()
    async with reporting(database_url, broker) as client, Feed(broker) as feed:
        created = await feed.send(PARTNERS, partnership_created(pid), partnership_id=pid)
        event = await feed.send(REVIEWS, incident(pid, case_id), partnership_id=pid)
        await summary_when(client, pid, lambda b: b["open_cases"] == 1)
        # The same event again (a redelivery), and the same fact under a new event id (a
        # producer that re-sent it): neither may add a case.
        await feed.send_event(PARTNERS, created)
        await feed.send_event(REVIEWS, event)
        await feed.send(REVIEWS, incident(pid, case_id), partnership_id=pid)
        # A later event on the same partition proves the duplicates were consumed.
        await feed.send(REVIEWS, incident(pid, second_case), partnership_id=pid)
        body = await summary_when(client, pid, lambda b: _case(b, second_case) is not None)
        assert body["open_cases"] == 2
        assert sorted(c["case_id"] for c in body["cases"]) == sorted([case_id, second_case])
        listed = (await client.get("/partnerships", headers=ADMIN, params={"limit": 200})).json()
        assert [p["open_cases"] for p in listed["items"] if p["partnership_id"] == pid] == [2]


async def test_an_older_status_arriving_after_a_newer_one_does_not_regress(
    database_url: str, broker: EmbeddedBroker
) -> None:
    pid, case_id, panel, sentinel = new_id(), new_id(), new_id(), new_id()
    async with reporting(database_url, broker) as client, Feed(broker) as feed:
        await feed.send(REVIEWS, incident(pid, case_id), partnership_id=pid)
        await feed.send(NOTIFICATIONS, queued(pid, case_id, panel), partnership_id=pid)
        await feed.send(NOTIFICATIONS, delivered(pid, case_id, panel, 3), partnership_id=pid)
        await summary_when(client, pid, _status_is(case_id, panel, "delivered", 3))
        # Late, older news: an earlier failure and the original queueing.
        await feed.send(NOTIFICATIONS, attempt_failed(pid, case_id, panel, 2), partnership_id=pid)
        await feed.send(NOTIFICATIONS, queued(pid, case_id, panel), partnership_id=pid)
        await feed.send(NOTIFICATIONS, queued(pid, case_id, sentinel, "dfe"), partnership_id=pid)
        body = await summary_when(
            client,
            pid,
            lambda b: _note(b, case_id, sentinel) is not None,
        )
        n = _note(body, case_id, panel)
        assert n is not None
        assert (n["status"], n["attempts"]) == ("delivered", 3)
        assert n["delivered_at"] is not None


async def test_notifications_arriving_before_their_incident_end_correct(
    database_url: str, broker: EmbeddedBroker
) -> None:
    pid, case_id, panel = new_id(), new_id(), new_id()
    # An old case: SIN-5WD passed long ago, and the Panel was only reached today.
    notified = incident(pid, case_id, aware_on=london_today() - timedelta(days=60))
    due = notified.deadlines[0].due_on
    async with reporting(database_url, broker) as client, Feed(broker) as feed:
        await feed.send(NOTIFICATIONS, queued(pid, case_id, panel), partnership_id=pid)
        await feed.send(NOTIFICATIONS, attempt_failed(pid, case_id, panel, 1), partnership_id=pid)
        await feed.send(NOTIFICATIONS, delivered(pid, case_id, panel, 2), partnership_id=pid)
        # Let the notification events land first, then the incident, then the partnership.
        await summary_when(client, pid, lambda b: b["deliveries"]["delivered"] == 1)
        assert (await client.get(f"/cases/{case_id}", headers=ADMIN)).status_code == 404
        await feed.send(REVIEWS, notified, partnership_id=pid)
        await feed.send(PARTNERS, partnership_created(pid, "Late Partnership"), partnership_id=pid)

        body = await summary_when(
            client, pid, lambda b: b["name"] == "Late Partnership" and _case(b, case_id) is not None
        )
        assert body["open_cases"] == 1
        case = _case(body, case_id)
        assert case is not None
        n = notification(case, panel)
        assert n is not None
        # The due date comes from the case's deadline for the notification's rule.
        assert (n["status"], n["attempts"], n["due_on"], n["on_time"]) == (
            "delivered",
            2,
            due.isoformat(),
            False,
        )
        sin = next(d for d in case["deadlines"] if d["rule_id"] == "SIN-5WD")
        assert sin["met"] is True and sin["overdue"] is False
        assert sin["days_left"] == CALENDAR.working_days_between(london_today(), due) < 0
        rr = next(d for d in case["deadlines"] if d["rule_id"] == "RR-15WD")
        assert rr["overdue"] is True and rr["met"] is False
        assert body["next_deadline"]["rule_id"] == "RR-15WD"
        assert body["next_deadline"]["overdue"] is True
