"""Case status and deadlines from the reviews service's lifecycle and deadline events, read
back through the API: open counts, the case view, deadline flags and counts; replays and
out-of-order arrival never move a case or a deadline backwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.reporting.readmodel import london_today
from shared.contracts.reviews.lifecycle import LocalReviewDecided
from shared.processes import EmbeddedBroker
from tests.reporting.lifecycle_feed import (
    approaching,
    breached,
    met,
    recomputed,
    resend,
    transitioned,
)
from tests.reporting.reporting_feed import (
    PARTNERS,
    REVIEWS,
    Feed,
    incident,
    new_id,
    partnership_created,
    reporting,
    summary_when,
)
from tests.support.apps import ADMIN

pytestmark = pytest.mark.timeout(90)


def _case(body: dict[str, Any], case_id: str) -> dict[str, Any] | None:
    return next((c for c in body["cases"] if c["case_id"] == case_id), None)


def _status(body: dict[str, Any], case_id: str) -> str | None:
    case = _case(body, case_id)
    return case["status"] if case else None


def _deadline(body: dict[str, Any], case_id: str, rule_id: str) -> dict[str, Any] | None:
    case = _case(body, case_id)
    return next((d for d in case["deadlines"] if d["rule_id"] == rule_id), None) if case else None


async def test_a_closed_case_leaves_the_open_count_and_replays_do_not_reopen_it(
    database_url: str, broker: EmbeddedBroker
) -> None:
    pid, a, b, early = new_id(), new_id(), new_id(), new_id()
    t1 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    t2 = t1 + timedelta(hours=1)
    async with reporting(database_url, broker) as client, Feed(broker) as feed:
        await feed.send(PARTNERS, partnership_created(pid), partnership_id=pid)
        # A transition before its case's notification (a re-seeded topic): kept until it comes.
        await feed.send(
            REVIEWS,
            transitioned(
                pid, early, "start_rapid_review", "notified", "rapid_review_in_progress", t1
            ),
            partnership_id=pid,
        )
        notified_a = await feed.send(REVIEWS, incident(pid, a), partnership_id=pid)
        await feed.send(REVIEWS, incident(pid, b), partnership_id=pid)
        await feed.send(REVIEWS, incident(pid, early), partnership_id=pid)
        start_a = await feed.send(
            REVIEWS,
            transitioned(pid, a, "start_rapid_review", "notified", "rapid_review_in_progress", t1),
            partnership_id=pid,
        )
        await feed.send(
            REVIEWS,
            transitioned(
                pid, a, "close_not_meeting_criteria", "rapid_review_in_progress", "closed", t2
            ),
            partnership_id=pid,
        )
        body = await summary_when(client, pid, lambda s: _status(s, a) == "closed")
        assert (body["open_cases"], body["closed_cases"]) == (2, 1)
        case_a = _case(body, a)
        assert case_a is not None
        assert (case_a["open"], datetime.fromisoformat(case_a["status_at"])) == (False, t2)
        assert _status(body, b) == "notified"
        assert _status(body, early) == "rapid_review_in_progress"
        # Only open cases' deadlines count: b's and early's SIN-5WD and RR-15WD.
        assert body["deadlines"] == {
            "open": 4, "approaching": 0, "overdue": 0, "breached": 0, "met": 0
        }  # fmt: skip
        one = (await client.get(f"/cases/{a}", headers=ADMIN)).json()
        assert (one["status"], one["open"]) == ("closed", False)

        # Replays: the same event, the same fact under a new id, the older step sent afresh,
        # and the case's notification again. None may reopen the case.
        await feed.send_event(REVIEWS, start_a)
        await resend(feed, REVIEWS, start_a)
        await feed.send(
            REVIEWS,
            transitioned(pid, a, "start_rapid_review", "notified", "rapid_review_in_progress", t1),
            partnership_id=pid,
        )
        await resend(feed, REVIEWS, notified_a)
        # A later event on the same partition proves the replays were consumed.
        await feed.send(
            REVIEWS,
            transitioned(pid, b, "start_rapid_review", "notified", "rapid_review_in_progress", t2),
            partnership_id=pid,
        )
        body = await summary_when(
            client, pid, lambda s: _status(s, b) == "rapid_review_in_progress"
        )
        assert _status(body, a) == "closed"
        assert (body["open_cases"], body["closed_cases"]) == (2, 1)
        listed = (await client.get("/partnerships", headers=ADMIN, params={"limit": 200})).json()
        assert [(p["open_cases"], p["closed_cases"]) for p in listed["items"]
                if p["partnership_id"] == pid] == [(2, 1)]  # fmt: skip


async def test_deadline_alerts_met_and_recomputed_due_dates(
    database_url: str, broker: EmbeddedBroker
) -> None:
    pid, case_id = new_id(), new_id()
    today = london_today()
    notified = incident(pid, case_id)
    sin_due, rr_due = notified.deadlines[0].due_on, notified.deadlines[1].due_on
    later, past = today + timedelta(days=20), today - timedelta(days=3)
    async with reporting(database_url, broker) as client, Feed(broker) as feed:
        await feed.send(REVIEWS, notified, partnership_id=pid)
        await feed.send(
            REVIEWS, approaching(pid, case_id, "SIN-5WD", sin_due, today), partnership_id=pid
        )
        body = await summary_when(
            client, pid, lambda s: (_deadline(s, case_id, "SIN-5WD") or {}).get("approaching")
        )
        assert body["deadlines"] == {
            "open": 1, "approaching": 1, "overdue": 0, "breached": 0, "met": 0
        }  # fmt: skip

        # Two corrections: the first moves SIN-5WD later, the second into the past.
        first = await feed.send(
            REVIEWS, recomputed(pid, case_id, "SIN-5WD", sin_due, later), partnership_id=pid
        )
        await feed.send(
            REVIEWS, recomputed(pid, case_id, "SIN-5WD", later, past), partnership_id=pid
        )
        await feed.send(REVIEWS, breached(pid, case_id, "SIN-5WD", past, today), partnership_id=pid)
        # Stale news: the first correction again, alerts for the due date before it.
        await resend(feed, REVIEWS, first)
        await feed.send(
            REVIEWS, approaching(pid, case_id, "SIN-5WD", sin_due, today), partnership_id=pid
        )
        await feed.send(
            REVIEWS, breached(pid, case_id, "SIN-5WD", later, today), partnership_id=pid
        )
        await feed.send(REVIEWS, met(pid, case_id, "RR-15WD", rr_due, today), partnership_id=pid)
        await feed.send(
            REVIEWS,
            LocalReviewDecided(
                case_id=case_id,
                partnership_id=pid,
                decision="local_review",
                decided_on=today,
                criteria=["c1"],
                lcspr_due_on=today + timedelta(days=183),
            ),
            partnership_id=pid,
        )
        body = await summary_when(
            client, pid, lambda s: _deadline(s, case_id, "LCSPR-6M") is not None
        )
        sin = _deadline(body, case_id, "SIN-5WD")
        assert sin is not None
        assert (sin["due_on"], sin["breached"], sin["overdue"], sin["approaching"], sin["met"]) == (
            past.isoformat(), True, True, False, False
        )  # fmt: skip
        rr = _deadline(body, case_id, "RR-15WD")
        assert rr is not None
        assert (rr["met"], rr["met_on"], rr["met_on_time"], rr["overdue"]) == (
            True, today.isoformat(), True, False
        )  # fmt: skip
        lcspr = _deadline(body, case_id, "LCSPR-6M")
        assert lcspr is not None
        assert (lcspr["starts_on"], lcspr["met"]) == (today.isoformat(), False)
        assert body["deadlines"] == {
            "open": 1, "approaching": 0, "overdue": 1, "breached": 1, "met": 1
        }  # fmt: skip
        assert (body["next_deadline"]["rule_id"], body["next_deadline"]["overdue"]) == (
            "SIN-5WD",
            True,
        )
        one = (await client.get(f"/cases/{case_id}", headers=ADMIN)).json()
        assert one["deadlines"] == _case(body, case_id)["deadlines"]  # type: ignore[index]
