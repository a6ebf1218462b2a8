"""Events the reviews service publishes on ``reviews.events``."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from shared.events import EventPayload


class DeadlineRef(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    rule_id: str
    title: str
    starts_on: date
    due_on: date
    edition: str
    recipients: list[str]


class ChildSummary(BaseModel):
    """The characteristics national statistics use; never a name."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    reference: str
    age_years: int | None = None
    sex: str | None = None
    ethnicity: str | None = None
    disability: bool | None = None
    looked_after: bool | None = None
    placement_type: str | None = None
    child_in_need_plan: bool | None = None
    child_protection_plan: bool | None = None
    known_to_agencies: bool | None = None


class IncidentNotified(EventPayload):
    """A council notified a serious child safeguarding incident (or a death it must report).

    ``notify`` lists the statutory recipients (``panel``, ``ofsted``, ``dfe`` ...) the
    notifications service must tell; the notification content is this payload, minimised.
    """

    event_name = "incident.notified"
    case_id: str
    partnership_id: str
    council_ons_code: str
    kind: str
    nature: str
    incident_date: date | None = None
    aware_on: date
    notified_at: datetime
    location: str | None = None
    children: list[ChildSummary]
    needs_rapid_review: bool
    deadlines: list[DeadlineRef]
    notify: list[str]
    involved_partnership_ids: list[str] = []


# Feature modules (imported last: they may use the types above).
from shared.contracts.reviews import deadlines, lifecycle  # noqa: E402, F401
