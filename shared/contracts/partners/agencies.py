"""Events of the partner registry's agencies feature (payloads registered on import).

Relevant agencies (domain.md section 1): organisations the safeguarding partners named to work
with, with the reason and what was agreed. Each event carries the agency as it now stands, so
a consumer (the yearly report lists them) needs no other read.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from shared.events import EventPayload


class AgencyContribution(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    kind: str  # money, staff, accommodation, services, other
    amount: str | None = None
    description: str


class RelevantAgencyState(BaseModel):
    """A relevant agency as it stands after the change."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    agency_id: str
    name: str
    category: str
    heading: str
    reason: str
    contributions: list[AgencyContribution] = []
    education_setting: bool
    youth_custody_or_residential: bool
    designated_health_professionals: bool
    named_on: date
    last_reviewed_on: date | None = None
    next_review_due: date
    removed_on: date | None = None


class RelevantAgencyNamed(EventPayload):
    """The partners named a relevant agency (SI 2018/789 category) and said why."""

    event_name = "relevant_agency.named"
    partnership_id: str
    agency: RelevantAgencyState


class RelevantAgencyUpdated(EventPayload):
    """Some of an agency's fields changed (``changed`` names them; ``agency`` is the result)."""

    event_name = "relevant_agency.updated"
    partnership_id: str
    agency: RelevantAgencyState
    changed: list[str]


class RelevantAgencyRemoved(EventPayload):
    """The partners no longer work with the agency from ``removed_on`` (its history stays)."""

    event_name = "relevant_agency.removed"
    partnership_id: str
    agency_id: str
    removed_on: date
    reason: str


class AgencyReviewCadenceChanged(EventPayload):
    """The partnership changed how often it reviews its relevant agencies; every current
    agency's next review date was recomputed from it."""

    event_name = "agency_review_cadence.changed"
    partnership_id: str
    cadence_months: int
    previous_cadence_months: int
