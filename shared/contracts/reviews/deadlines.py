"""Events of the case deadlines (payloads registered on import).

The deadline scheduler of the reviews service emits ``approaching`` and ``breached`` at most
once per case, rule and due date; a correction of a case's dates emits ``recomputed``; a
partnership marking a deadline met emits ``met``. Dates are the local (England) calendar.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from shared.events import EventPayload


class _DeadlineEvent(EventPayload):
    case_id: str
    partnership_id: str
    rule_id: str
    title: str
    edition: str
    due_on: date
    recipients: list[str]


class DeadlineApproaching(_DeadlineEvent):
    """An unmet deadline is due within its lead time (working days, per rule)."""

    event_name = "deadline.approaching"
    evaluated_on: date
    working_days_remaining: int
    calendar_days_remaining: int
    lead_working_days: int


class DeadlineBreached(_DeadlineEvent):
    """The due date has passed and the deadline was not marked met."""

    event_name = "deadline.breached"
    evaluated_on: date
    working_days_overdue: int
    calendar_days_overdue: int


class DeadlineMet(_DeadlineEvent):
    """The partnership recorded the day it met the deadline (``on_time``: met_on <= due_on)."""

    event_name = "deadline.met"
    met_on: date
    on_time: bool


class RecomputedDeadline(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    rule_id: str
    edition: str
    previous_starts_on: date
    previous_due_on: date
    starts_on: date
    due_on: date


class DateChange(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    field: str
    previous: date | None
    value: date | None


class DeadlineRecomputed(EventPayload):
    """A case's dates were corrected and the deadlines counted from them moved (each keeps
    the rule edition the case started with)."""

    event_name = "deadline.recomputed"
    case_id: str
    partnership_id: str
    reason: str
    changes: list[DateChange]
    deadlines: list[RecomputedDeadline]
