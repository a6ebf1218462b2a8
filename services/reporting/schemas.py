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
    edition: str | None
    starts_on: date | None = Field(
        description="Null for a deadline known only from its alerts (they carry no start)."
    )
    due_on: date = Field(description="The latest due date: a correction replaces it.")
    recipients: list[str]
    days_left: int = Field(
        description="Working days (England and Wales) from today to the due date: 0 on the "
        "due day, negative once it has passed."
    )
    overdue: bool = Field(description="Not met, and past its due date or reported breached.")
    met: bool = Field(
        description="Marked met (deadline.met, or the statutory step that meets it), or every "
        "notification the case has for this rule was delivered."
    )
    met_on: date | None = None
    met_on_time: bool | None = Field(default=None, description="Met on or before the due date.")
    approaching: bool = Field(
        default=False,
        description="Not met nor overdue, and an approach alert was raised for "
        "the current due date.",
    )
    breached: bool = Field(
        default=False, description="Not met, and a breach was reported for the current due date."
    )


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
    status: str = Field(description="The latest case.transitioned state, or 'notified'.")
    open: bool = Field(description="Until the case is closed.")
    status_at: datetime | None = Field(description="When it entered that state (null: notified).")
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


class DeadlineCounts(BaseModel):
    """Deadlines of the partnership's open cases."""

    open: int = Field(0, description="Not met and not overdue.")
    approaching: int = 0
    overdue: int = 0
    breached: int = Field(0, description="Overdue with a breach reported by the scheduler.")
    met: int = 0


class DelegationCounts(BaseModel):
    current: int = 0
    below_threshold: int = Field(0, description="Current delegates too junior to commit.")


class RegistryCounts(BaseModel):
    """Current (not removed, not ended) records of the partner registry."""

    relevant_agencies: int = 0
    scrutiny_arrangements: int = 0
    strategic_links: int = 0


class ArrangementsOut(BaseModel):
    version: int
    url: str | None
    published_on: date | None
    implementation_date: date | None


class FundingYear(BaseModel):
    """Money for one financial year, in pence (withdrawn contributions left out)."""

    year: str = Field(examples=["2025-26"])
    budget_pence: int
    contributions_money_pence: int
    contributions_in_kind_pence: int
    contributions_total_pence: int


class PartnershipItem(BaseModel):
    partnership_id: str
    name: str | None = Field(description="Null until the partnership's own event has arrived.")
    status: str | None
    status_since: date | None = Field(description="The date of the latest status change.")
    councils: list[CouncilOut] = Field(description="The councils covered now.")
    open_cases: int
    closed_cases: int
    next_deadline: NextDeadline | None
    deadlines: DeadlineCounts
    deliveries: DeliveryCounts
    delegations: DelegationCounts
    registry: RegistryCounts
    arrangements: ArrangementsOut | None = Field(description="The latest published version.")
    funding: list[FundingYear] = Field(description="By financial year, oldest first.")


class PartnershipPage(BaseModel):
    items: list[PartnershipItem]
    total: int
    limit: int
    offset: int


class StatusChange(BaseModel):
    status: str
    previous_status: str
    effective_on: date


class PartnershipSummary(PartnershipItem):
    status_history: list[StatusChange] = Field(description="Status changes, oldest first.")
    cases: list[CaseOut] = Field(description="Every case of the partnership, newest first.")
