"""Payload builders for the lifecycle, deadline and partner-registry events (reporting tests)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from shared.contracts.partners import CouncilRef
from shared.contracts.reviews.deadlines import (
    DeadlineApproaching,
    DeadlineBreached,
    DeadlineMet,
    DeadlineRecomputed,
    RecomputedDeadline,
)
from shared.contracts.reviews.lifecycle import CaseTransitioned
from shared.events import CloudEvent
from tests.reporting.reporting_feed import Feed

LEEDS = CouncilRef(name="Leeds City Council", ons_code="E08000035", la_number="383")
WAKEFIELD = CouncilRef(name="Wakefield Council", ons_code="E08000036", la_number="384")


def moment(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def transitioned(
    partnership_id: str,
    case_id: str,
    transition: str,
    from_status: str,
    to_status: str,
    at: datetime,
) -> CaseTransitioned:
    return CaseTransitioned(
        case_id=case_id,
        partnership_id=partnership_id,
        transition=transition,
        from_status=from_status,
        to_status=to_status,
        at=at,
        actor="client:test",
        reason="test" if to_status == "closed" else None,
    )


def _deadline(partnership_id: str, case_id: str, rule_id: str, due_on: date) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "partnership_id": partnership_id,
        "rule_id": rule_id,
        "title": f"{rule_id} title",
        "edition": "WT2023",
        "due_on": due_on,
        "recipients": ["panel"],
    }


def approaching(
    partnership_id: str, case_id: str, rule_id: str, due_on: date, today: date
) -> DeadlineApproaching:
    return DeadlineApproaching(
        **_deadline(partnership_id, case_id, rule_id, due_on),
        evaluated_on=today,
        working_days_remaining=2,
        calendar_days_remaining=2,
        lead_working_days=2,
    )


def breached(
    partnership_id: str, case_id: str, rule_id: str, due_on: date, today: date
) -> DeadlineBreached:
    return DeadlineBreached(
        **_deadline(partnership_id, case_id, rule_id, due_on),
        evaluated_on=today,
        working_days_overdue=1,
        calendar_days_overdue=1,
    )


def met(partnership_id: str, case_id: str, rule_id: str, due_on: date, met_on: date) -> DeadlineMet:
    return DeadlineMet(
        **_deadline(partnership_id, case_id, rule_id, due_on),
        met_on=met_on,
        on_time=met_on <= due_on,
    )


def recomputed(
    partnership_id: str, case_id: str, rule_id: str, previous: date, new: date
) -> DeadlineRecomputed:
    return DeadlineRecomputed(
        case_id=case_id,
        partnership_id=partnership_id,
        reason="aware_on corrected",
        changes=[],
        deadlines=[
            RecomputedDeadline(
                rule_id=rule_id,
                edition="WT2023",
                previous_starts_on=previous,
                previous_due_on=previous,
                starts_on=new,
                due_on=new,
            )
        ],
    )


async def resend(feed: Feed, topic: str, event: CloudEvent) -> None:
    """The same fact re-published under a new event id, with its original time (a re-seeded
    broker after the inbox forgot the id): only the handlers' own rules can ignore it."""
    await feed.send_event(topic, event.model_copy(update={"id": str(uuid.uuid4())}))
