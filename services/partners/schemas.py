"""Request and response bodies of the partners API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.partners.roles import Role
from shared.auth import ROLE_PREFIX

PartnerKind = Literal["local_authority", "health_board", "police"]
REQUIRED_KINDS: frozenset[str] = frozenset({"local_authority", "health_board", "police"})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CouncilIn(Strict):
    name: str = Field(min_length=2, max_length=200, examples=["Leeds City Council"])
    ons_code: str = Field(
        pattern=r"^E(06|07|08|09|10)\d{6}$",
        examples=["E08000035"],
        description="ONS area code of a council with children's services",
    )
    la_number: str | None = Field(
        default=None, pattern=r"^\d{3}$", examples=["383"], description="DfE local authority number"
    )


class PartnerIn(Strict):
    kind: PartnerKind
    organisation: str = Field(min_length=2, max_length=200)
    lead_role: str = Field(min_length=2, max_length=200, examples=["Chief Executive"])


class PartnershipIn(Strict):
    name: str = Field(
        min_length=3, max_length=200, examples=["Leeds Safeguarding Children Partnership"]
    )
    effective_from: date | None = None
    councils: list[CouncilIn] = Field(min_length=1, max_length=20)
    partners: list[PartnerIn] = Field(min_length=3, max_length=60)

    @field_validator("partners")
    @classmethod
    def _three_statutory_partners(cls, partners: list[PartnerIn]) -> list[PartnerIn]:
        missing = REQUIRED_KINDS - {p.kind for p in partners}
        if missing:
            raise ValueError(
                "a partnership needs all three statutory safeguarding partners; missing: "
                + ", ".join(sorted(missing))
            )
        return partners

    @field_validator("councils")
    @classmethod
    def _distinct_councils(cls, councils: list[CouncilIn]) -> list[CouncilIn]:
        codes = [c.ons_code for c in councils]
        if len(codes) != len(set(codes)):
            raise ValueError("the same council (ONS code) is listed twice")
        return councils


class CouncilOut(BaseModel):
    id: str
    name: str
    ons_code: str
    la_number: str | None


class PartnerOut(BaseModel):
    id: str
    kind: str
    organisation: str
    lead_role: str
    lead_name: str | None = None


class PartnershipOut(BaseModel):
    id: str
    name: str
    status: str
    scope: Literal["single_council", "multi_council"] = Field(
        description="Regional partnerships cover several councils"
    )
    effective_from: date | None
    geography: str | None = None
    created_at: datetime
    councils: list[CouncilOut]
    partners: list[PartnerOut]


class PartnershipPage(BaseModel):
    items: list[PartnershipOut]
    total: int
    limit: int
    offset: int


class ClientSystemIn(Strict):
    name: str = Field(min_length=2, max_length=200, examples=["Leeds children's case system"])
    organisation: str = Field(min_length=2, max_length=200, examples=["Leeds City Council"])
    allowed_event_types: list[str] = Field(
        min_length=1,
        examples=[["incident.notified"]],
        description="What the system may post, e.g. incident.notified",
    )

    @field_validator("allowed_event_types")
    @classmethod
    def _no_role_entries(cls, types: list[str]) -> list[str]:
        """``role:`` entries mark a person's roles in storage (shared.auth), never a system's."""
        if any(t.startswith(ROLE_PREFIX) for t in types):
            raise ValueError(f"event types may not start with '{ROLE_PREFIX}'")
        return types


class NationalBodyClientSystemIn(Strict):
    """A national body's system only reads, so it is granted no event types."""

    name: str = Field(min_length=2, max_length=200, examples=["Panel case viewer"])
    organisation: str = Field(
        min_length=2, max_length=200, examples=["Child Safeguarding Practice Review Panel"]
    )


class CredentialOut(BaseModel):
    credential_id: str
    token: str = Field(description="Shown once; store it now. Only its hash is kept.")


class ClientSystemOut(BaseModel):
    client_id: str
    partnership_id: str
    name: str
    organisation: str
    allowed_event_types: list[str]
    credential: CredentialOut | None = None
    national_body: str | None = Field(
        default=None,
        description="Set for a national body's system, stored as partnership 'national:<code>'",
    )


class PersonIn(Strict):
    """A named person of the partnership; their roles decide what they may post."""

    name: str = Field(min_length=2, max_length=200, examples=["Asha Patel"])
    organisation: str = Field(min_length=2, max_length=200, examples=["Leeds City Council"])
    roles: list[Role] = Field(
        min_length=1,
        max_length=6,
        examples=[["council_safeguarding_officer"]],
        description="GET /roles lists the roles and what each may post",
    )

    @field_validator("roles")
    @classmethod
    def _distinct_roles(cls, roles: list[Role]) -> list[Role]:
        return list(dict.fromkeys(roles))


class PersonOut(BaseModel):
    person_id: str
    partnership_id: str
    name: str
    organisation: str
    roles: list[str]
    allowed_event_types: list[str] = Field(description="What the roles let the person post")
    created_at: datetime
    active: bool = Field(description="False once every token of the person is revoked")
    credential: CredentialOut | None = Field(
        default=None, description="Only in the registration response: the token, shown once"
    )


PartnershipStatus = Literal["drafting_arrangements", "published", "implemented", "dissolved"]


class PartnershipPatch(Strict):
    """Only the fields sent are changed."""

    name: str | None = Field(default=None, min_length=3, max_length=200)
    effective_from: date | None = None
    geography: str | None = Field(default=None, max_length=2000)


class StatusChangeIn(Strict):
    status: PartnershipStatus
    effective_on: date
    reason: str | None = Field(default=None, max_length=1000)


class StatusChangeOut(BaseModel):
    status: str
    effective_on: date
    reason: str | None
    recorded_by: str
    recorded_at: datetime


class CouncilJoinIn(CouncilIn):
    joined_on: date
    move: bool = Field(
        default=False,
        description="The council is in another partnership: move it (its history is kept)",
    )


class CouncilLeaveIn(Strict):
    left_on: date


class CouncilMembershipOut(BaseModel):
    id: str
    partnership_id: str
    name: str
    ons_code: str
    la_number: str | None
    joined_on: date | None
    left_on: date | None


class PartnerPatch(Strict):
    lead_role: str | None = Field(default=None, min_length=2, max_length=200)
    lead_name: str | None = Field(default=None, min_length=2, max_length=200)


class DelegationIn(Strict):
    delegate_name: str = Field(min_length=2, max_length=200)
    delegate_role: str = Field(min_length=2, max_length=200, examples=["Superintendent"])
    rank: str = Field(
        min_length=2, max_length=60, description="A rank of the partner's kind (GET /ranks)"
    )
    scope: str = Field(min_length=2, max_length=2000)
    accountable_to: str = Field(
        min_length=2, max_length=200, description="Who holds the delegate to account"
    )
    delegated_on: date


class DelegationEndIn(Strict):
    ended_on: date
    reason: str | None = Field(default=None, max_length=1000)


class DelegationOut(BaseModel):
    id: str
    partnership_id: str
    partner_id: str
    partner_kind: str
    delegate_name: str
    delegate_role: str
    rank: str
    levels_below_lead: int
    below_threshold: bool
    scope: str
    accountable_to: str
    delegated_on: date
    ended_on: date | None
    end_reason: str | None


class CredentialSummary(BaseModel):
    """A credential without its token (never shown again after issue)."""

    credential_id: str
    created_at: datetime
    revoked_at: datetime | None


class ClientSystemSummary(BaseModel):
    client_id: str
    partnership_id: str
    name: str
    organisation: str
    allowed_event_types: list[str]
    created_at: datetime
    credentials: list[CredentialSummary]


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
