"""Events of the partner registry's scrutiny feature (payloads registered on import).

Independent scrutiny arrangements and links to other strategic boards (domain.md section 1).
Each event carries the record as it now stands, so the yearly report can list them.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from shared.events import EventPayload


class ScrutineerRef(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str
    organisation: str | None = None
    independence_statement: str


class ScrutinyArrangementState(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    arrangement_id: str
    model: str
    model_detail: str | None = None
    scrutineers: list[ScrutineerRef]
    scope: str
    reporting_arrangements: str
    starts_on: date
    ends_on: date | None = None


class ScrutinyArrangementRecorded(EventPayload):
    """The partners recorded how their arrangements are independently scrutinised."""

    event_name = "scrutiny_arrangement.recorded"
    partnership_id: str
    arrangement: ScrutinyArrangementState


class ScrutinyArrangementUpdated(EventPayload):
    event_name = "scrutiny_arrangement.updated"
    partnership_id: str
    arrangement: ScrutinyArrangementState
    changed: list[str]


class ScrutinyArrangementRemoved(EventPayload):
    """The record was withdrawn (its row and history stay)."""

    event_name = "scrutiny_arrangement.removed"
    partnership_id: str
    arrangement_id: str
    removed_on: date
    reason: str


class StrategicLinkState(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    link_id: str
    name: str
    kind: str
    contact: str | None = None
    notes: str | None = None
    linked_from: date
    linked_to: date | None = None


class StrategicLinkRecorded(EventPayload):
    """The arrangements link to another strategic board (health and wellbeing board, ...)."""

    event_name = "strategic_link.recorded"
    partnership_id: str
    link: StrategicLinkState


class StrategicLinkUpdated(EventPayload):
    event_name = "strategic_link.updated"
    partnership_id: str
    link: StrategicLinkState
    changed: list[str]


class StrategicLinkRemoved(EventPayload):
    event_name = "strategic_link.removed"
    partnership_id: str
    link_id: str
    removed_on: date
    reason: str
