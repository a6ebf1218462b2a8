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
    """An external system (council case system, police or health system) was registered."""

    event_name = "client_system.registered"
    client_id: str
    partnership_id: str
    name: str
    organisation: str
    allowed_event_types: list[str]


class ClientCredentialIssued(EventPayload):
    """A bearer credential was issued; only its hash travels, never the token."""

    event_name = "client_credential.issued"
    credential_id: str
    client_id: str
    partnership_id: str
    token_hash: str


class ClientCredentialRevoked(EventPayload):
    event_name = "client_credential.revoked"
    credential_id: str
    client_id: str
    partnership_id: str


# Feature modules (imported last: they may use the types above).
from shared.contracts.partners import agencies, arrangements, funding, scrutiny  # noqa: E402, F401
