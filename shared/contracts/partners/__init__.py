"""Events the partners service publishes on ``partners.events``."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.events import EventPayload

PartnerKind = Literal["local_authority", "health_board", "police"]


class CouncilRef(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str
    ons_code: str
    la_number: str | None = None


class SafeguardingPartnerRef(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    id: str
    kind: PartnerKind
    organisation: str
    lead_role: str


class PartnershipCreated(EventPayload):
    """A partnership was registered with its councils and three statutory partners."""

    event_name = "partnership.created"
    partnership_id: str
    name: str
    status: str
    councils: list[CouncilRef]
    partners: list[SafeguardingPartnerRef]
    effective_from: date | None = None


class ClientSystemRegistered(EventPayload):
    """An external system (council case system, police or health system) was registered.

    A national body's system (``national_body`` set: panel, dfe, ofsted, foundations, yjb)
    belongs to no partnership: its ``partnership_id`` is ``"national:<code>"``.

    A person of the partnership (``person`` true) is registered the same way: ``roles`` names
    their roles and ``allowed_event_types`` is what those roles may post."""

    event_name = "client_system.registered"
    client_id: str
    partnership_id: str
    name: str
    organisation: str
    allowed_event_types: list[str]
    national_body: str | None = None
    person: bool = False
    roles: list[str] = []


class ClientCredentialIssued(EventPayload):
    """A bearer credential was issued; only its hash travels, never the token."""

    event_name = "client_credential.issued"
    credential_id: str
    client_id: str
    partnership_id: str
    token_hash: str
    national_body: str | None = None


class ClientCredentialRevoked(EventPayload):
    event_name = "client_credential.revoked"
    credential_id: str
    client_id: str
    partnership_id: str
    national_body: str | None = None


class PartnershipUpdated(EventPayload):
    """Some of a partnership's own fields changed (only the changed ones are in ``changes``)."""

    event_name = "partnership.updated"
    partnership_id: str
    changes: dict[str, str | None]


class PartnershipStatusChanged(EventPayload):
    """The arrangements moved to another stage (drafting, published, implemented ...)."""

    event_name = "partnership.status_changed"
    partnership_id: str
    status: str
    previous_status: str
    effective_on: date


class CouncilJoined(EventPayload):
    """A council area joined a partnership (``moved_from``: the partnership it left)."""

    event_name = "council.joined"
    partnership_id: str
    council: CouncilRef
    joined_on: date
    moved_from: str | None = None


class CouncilLeft(EventPayload):
    """A council area left a partnership (its history stays)."""

    event_name = "council.left"
    partnership_id: str
    ons_code: str
    left_on: date
    moved_to: str | None = None


class DelegationRecorded(EventPayload):
    """A lead representative delegated to a named senior officer (WT2023: Delegated
    Safeguarding Partner). ``below_threshold`` flags a delegate too junior to commit the
    organisation (domain.md section 1: the 2021 review's finding)."""

    event_name = "delegation.recorded"
    partnership_id: str
    delegation_id: str
    partner_id: str
    partner_kind: PartnerKind
    delegate_name: str
    rank: str
    levels_below_lead: int
    below_threshold: bool
    delegated_on: date


class DelegationEnded(EventPayload):
    event_name = "delegation.ended"
    partnership_id: str
    delegation_id: str
    partner_id: str
    ended_on: date


# Feature modules (imported last: they may use the types above).
from shared.contracts.partners import agencies, arrangements, funding, scrutiny  # noqa: E402, F401
