"""Response bodies of the reporting API (it takes no request bodies yet)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class CouncilOut(BaseModel):
    name: str
    ons_code: str
    la_number: str | None = None


class DeadlineOut(BaseModel):
    rule_id: str = Field(examples=["SIN-5WD"])
    title: str
    edition: str
    starts_on: date
    due_on: date
    recipients: list[str]
    days_left: int = Field(
        description="Working days (England and Wales) from today to the due date: 0 on the "
        "due day, negative once it has passed."
    )
    overdue: bool = Field(description="Past its due date and not met.")
    met: bool = Field(description="Every notification the case has for this rule was delivered.")
    met_on: date | None = None


class NotificationOut(BaseModel):
    notification_id: str
    recipient: str = Field(examples=["panel"])
    channel: str | None = Field(examples=["webhook"])
    rule_id: str | None
    status: str = Field(examples=["queued", "retrying", "delivered", "abandoned"])
    attempts: int
    delivered_at: datetime | None
    last_error: str | None
    next_attempt_at: datetime | None
    due_on: date | None
    on_time: bool | None = Field(
        description="Delivered by the due date; false once it passed undelivered; null while "
        "it can still be on time or no due date is known."
    )


class CaseOut(BaseModel):
    case_id: str
    partnership_id: str
    kind: str
    nature: str
    status: str
    incident_date: date | None
    aware_on: date
    notified_at: datetime
    needs_rapid_review: bool
    deadlines: list[DeadlineOut]
    notifications: list[NotificationOut]


class NextDeadline(BaseModel):
    """The earliest unmet deadline of the partnership's open cases."""

    case_id: str
    rule_id: str
    title: str
    due_on: date
    days_left: int
    overdue: bool


class DeliveryCounts(BaseModel):
    """Notifications of the partnership's open cases, by delivery status."""

    queued: int = 0
    retrying: int = 0
    delivered: int = 0
    abandoned: int = 0


class PartnershipItem(BaseModel):
    partnership_id: str
    name: str | None = Field(description="Null until the partnership's own event has arrived.")
    status: str | None
    councils: list[CouncilOut]
    open_cases: int
    next_deadline: NextDeadline | None
    deliveries: DeliveryCounts


class PartnershipPage(BaseModel):
    items: list[PartnershipItem]
    total: int
    limit: int
    offset: int


class PartnershipSummary(PartnershipItem):
    cases: list[CaseOut] = Field(description="Every case of the partnership, newest first.")
