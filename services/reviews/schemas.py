"""Request and response bodies of the reviews API (event payloads live in shared/contracts)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.reviews.rules import IncidentKind

Nature = Literal["death", "serious_harm", "other"]
Sex = Literal["female", "male", "other", "not_known"]
# The major ethnic groups national statistics report on (DfE returns).
Ethnicity = Literal["white", "mixed", "asian", "black", "other", "not_known", "refused"]
PlacementType = Literal[
    "foster_care",
    "childrens_home",
    "placed_with_parents",
    "secure_unit",
    "independent_living",
    "residential_school",
    "adoption",
    "other",
    "not_known",
]
ONS_CODE = r"^E(06|07|08|09|10)\d{6}$"
# A pseudonymous reference: letters, digits and separators, no spaces, and at least one digit,
# so that a name ("Jane Smith", "JaneSmith") is refused.
CHILD_REFERENCE = r"^[A-Za-z0-9/_.-]*[0-9][A-Za-z0-9/_.-]*$"
MAX_CHILDREN = 4  # one notification covers up to 4 children (domain.md s4)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ChildIn(Strict):
    """One child, minimised to what national statistics use; never a name."""

    reference: str = Field(
        min_length=3,
        max_length=40,
        pattern=CHILD_REFERENCE,
        examples=["LCC-2026-0042"],
        description="The council's pseudonymous reference for the child (3 to 40 letters, "
        "digits, '/', '_', '.', '-', with at least one digit); never the child's name",
    )
    age_years: int = Field(ge=0, le=24, description="Age in whole years (0 for a baby)")
    sex: Sex | None = None
    ethnicity: Ethnicity | None = None
    disability: bool | None = None
    looked_after: bool | None = None
    placement_type: PlacementType | None = None
    child_in_need_plan: bool | None = None
    child_protection_plan: bool | None = None
    known_to_agencies: bool | None = None


class IncidentIn(Strict):
    """A serious incident notification (or a death the council must report).

    Shapes are checked here; rules across fields and against the clock and the local copy of
    the partnership (dates, ages per kind, councils) are checked in cases.py, naming the field.
    """

    client_reference: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9/_.:-]*$",
        description="The client's own id for this notification; the idempotency key",
    )
    partnership_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Required for the operator; a client system's own partnership otherwise",
    )
    council_ons_code: str = Field(pattern=ONS_CODE, examples=["E08000035"])
    kind: IncidentKind
    nature: Nature
    abuse_or_neglect_known_or_suspected: bool
    incident_date: date | None = Field(default=None, description="Omit if not known")
    aware_on: date = Field(description="The day the council became aware: the SIN-5WD clock")
    location: str | None = Field(default=None, min_length=1, max_length=200)
    children: list[ChildIn] = Field(min_length=1, max_length=MAX_CHILDREN)
    further_children_note: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="Only when more than 4 children are involved; no names",
    )
    involved_council_ons_codes: list[Annotated[str, Field(pattern=ONS_CODE)]] = Field(
        default_factory=list,
        max_length=20,
        description="Other councils involved; the partnerships covering them are told",
    )


class DeadlineOut(BaseModel):
    rule_id: str
    title: str
    starts_on: date
    due_on: date
    edition: str
    recipients: list[str]
    verify: bool = Field(description="The period is domain.md (verify): configurable")


class ChildOut(BaseModel):
    reference: str
    age_years: int | None
    sex: str | None = None
    ethnicity: str | None = None
    disability: bool | None = None
    looked_after: bool | None = None
    placement_type: str | None = None
    child_in_need_plan: bool | None = None
    child_protection_plan: bool | None = None
    known_to_agencies: bool | None = None


class CaseOut(BaseModel):
    case_id: str
    partnership_id: str
    client_reference: str
    status: str
    council_ons_code: str
    kind: str
    nature: str
    abuse_or_neglect_known_or_suspected: bool
    incident_date: date | None
    aware_on: date
    notified_at: datetime
    location: str | None
    children: list[ChildOut]
    further_children_note: str | None
    involved_partnership_ids: list[str]
    needs_rapid_review: bool
    notify: list[str] = Field(description="Statutory recipients to tell (panel, dfe, ofsted...)")
    deadlines: list[DeadlineOut]
    created_at: datetime


class CasePage(BaseModel):
    items: list[CaseOut]
    total: int
    limit: int
    offset: int
