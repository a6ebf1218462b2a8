"""Request and response bodies of the deadline monitoring API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.reviews.deadlines.monitor import Status


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AlertOut(BaseModel):
    kind: str
    due_on: date = Field(description="The due date the alert was fired for")
    evaluated_on: date
    fired_at: datetime


class DeadlineItem(BaseModel):
    case_id: str
    partnership_id: str
    rule_id: str
    title: str
    edition: str
    starts_on: date
    due_on: date
    recipients: list[str]
    verify: bool
    status: Status = Field(description="met, overdue (due date passed unmet) or open")
    due_soon: bool = Field(description="Open and within the rule's lead time (working days)")
    lead_working_days: int
    working_days_remaining: int | None = Field(
        description="0 on the due day, negative once overdue; null once met"
    )
    calendar_days_remaining: int | None
    met_on: date | None = None
    met_on_time: bool | None = None
    alerts: list[AlertOut] = Field(description="Alerts fired, for this and earlier due dates")


class DeadlinePage(BaseModel):
    items: list[DeadlineItem]
    total: int
    limit: int
    offset: int
    as_of: date = Field(description="Today in England, the day statuses are evaluated on")


class MetIn(Strict):
    met_on: date = Field(description="The day the deadline was met (not in the future)")


class DatesIn(Strict):
    """A correction of the dates a case was notified with; omitted fields stay as they are."""

    aware_on: date | None = Field(default=None, description="The day the council became aware")
    incident_date: date | None = Field(
        default=None, description="The incident date; null if it turns out not to be known"
    )
    reason: str = Field(min_length=3, max_length=500, description="Why the dates were wrong")


class DateChangeOut(BaseModel):
    field: str
    previous: date | None
    value: date | None


class RecomputedOut(BaseModel):
    rule_id: str
    edition: str
    previous_starts_on: date
    previous_due_on: date
    starts_on: date
    due_on: date


class DatesOut(BaseModel):
    case_id: str
    aware_on: date
    incident_date: date | None
    changes: list[DateChangeOut]
    deadlines: list[RecomputedOut] = Field(description="The deadlines counted from these dates")


class RuleOut(BaseModel):
    id: str
    title: str
    trigger: str
    edition: str
    effective_from: date
    effective_to: date | None
    period: int = Field(description="In force now, after any configured (verify) override")
    default_period: int = Field(description="The period domain.md gives")
    unit: Literal["working_days", "calendar_days", "calendar_months"]
    direction: Literal["after", "before"]
    recipients: list[str]
    verify: bool = Field(description="domain.md marks the figure (verify): configurable")
    overridden: bool
    lead_working_days: int = Field(description="When the approaching alert fires")
    source: str
    notes: str


class RulePage(BaseModel):
    items: list[RuleOut]
    total: int
    limit: int
    offset: int
