"""Tables of this feature, on the service's own metadata (ReviewsTable).

``case_deadline`` (services/reviews/models.py) holds the deadlines; these tables add what
happens to them: the day one was met, and the alerts the scheduler fired.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from services.reviews.models import ReviewsTable, new_id
from shared.tables import utc_field


class AlertKind(enum.StrEnum):
    approaching = "approaching"
    breached = "breached"


class DeadlineMet(ReviewsTable, table=True):
    """The day a partnership met one of a case's deadlines (one per case and rule)."""

    __tablename__ = "deadline_met"
    __table_args__ = (UniqueConstraint("case_id", "rule_id", name="uq_deadline_met"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=64)
    rule_id: str = Field(max_length=40)
    met_on: date
    recorded_by: str = Field(max_length=200)
    recorded_at: datetime = utc_field(default_now=True)


class DeadlineAlert(ReviewsTable, table=True):
    """An alert the scheduler fired, written in the same transaction as its outbox event.

    The unique key is what makes an alert fire once, across ticks, restarts and instances:
    a second insert of the same (case, rule, kind, due date) fails and that instance emits
    nothing. The due date is part of the key so that a corrected deadline can alert again for
    its new date, while the alerts of the old date stay on record.
    """

    __tablename__ = "deadline_alert"
    __table_args__ = (
        UniqueConstraint("case_id", "rule_id", "kind", "due_on", name="uq_deadline_alert"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=64)
    rule_id: str = Field(max_length=40)
    kind: str = Field(max_length=20)
    due_on: date
    evaluated_on: date
    event_id: str = Field(max_length=64)
    fired_at: datetime = utc_field(default_now=True)
