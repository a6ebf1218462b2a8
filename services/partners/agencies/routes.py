"""HTTP routes of the relevant-agencies feature: parse, authorise, call agencies.py."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status

from services.partners.agencies import agencies, categories
from services.partners.agencies.categories import Heading
from services.partners.agencies.schemas import (
    AgencyIn,
    AgencyOut,
    AgencyPatch,
    CategoryOut,
    ReviewPolicyIn,
    ReviewPolicyOut,
)
from services.partners.schemas import Page
from shared.service import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(tags=["relevant agencies"])

BASE = "/partnerships/{partnership_id}/agencies"


@router.get(
    "/relevant-agency-categories",
    summary="The SI 2018/789 schedule of relevant agencies (reference data, to verify)",
)
async def list_categories(
    principal: PrincipalDep,
    valid_on: Annotated[date | None, Query(description="Only those valid on this day")] = None,
) -> list[CategoryOut]:
    chosen = categories.valid_on(valid_on) if valid_on else list(categories.CATEGORIES)
    return [
        CategoryOut(
            code=c.code,
            heading=c.heading,
            heading_label=categories.HEADINGS[c.heading],
            label=c.label,
            valid_from=c.valid_from,
            valid_to=c.valid_to,
            education_setting=c.education_setting,
            youth_custody_or_residential=c.youth_custody_or_residential,
            designated_health_professionals=c.designated_health_professionals,
        )
        for c in chosen
    ]


@router.get(
    "/partnerships/{partnership_id}/agency-review-policy",
    summary="How often the partnership reviews its relevant agencies",
)
async def get_review_policy(
    partnership_id: str, principal: PrincipalDep, session: SessionDep
) -> ReviewPolicyOut:
    return await agencies.get_policy(session, principal, partnership_id)


@router.patch(
    "/partnerships/{partnership_id}/agency-review-policy",
    summary="Set the review cadence; every current agency's next review date follows it",
)
async def set_review_policy(
    partnership_id: str,
    body: ReviewPolicyIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ReviewPolicyOut:
    return await agencies.set_policy(session, runtime.outbox, principal, partnership_id, body)


@router.post(BASE, status_code=status.HTTP_201_CREATED, summary="Name a relevant agency")
async def name_agency(
    partnership_id: str,
    body: AgencyIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> AgencyOut:
    return await agencies.name_agency(session, runtime.outbox, principal, partnership_id, body)


@router.get(BASE, summary="Relevant agencies, filtered; or those whose review is due")
async def list_agencies(
    partnership_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    category: Annotated[str | None, Query(max_length=60)] = None,
    heading: Heading | None = None,
    name: Annotated[str | None, Query(max_length=200, description="Part of the name")] = None,
    education_setting: bool | None = None,
    youth_custody_or_residential: bool | None = None,
    designated_health_professionals: bool | None = None,
    include_removed: bool = False,
    review_due_within_days: Annotated[
        int | None,
        Query(ge=0, le=3660, description="Overdue, or due within this many days of as_of"),
    ] = None,
    as_of: Annotated[date | None, Query(description="Day the due query counts from")] = None,
) -> Page[AgencyOut]:
    items, total = await agencies.list_agencies(
        session,
        principal,
        partnership_id,
        limit=limit,
        offset=offset,
        category=category,
        heading=heading,
        name=name,
        flags={
            "education_setting": education_setting,
            "youth_custody_or_residential": youth_custody_or_residential,
            "designated_health_professionals": designated_health_professionals,
        },
        include_removed=include_removed,
        review_due_within_days=review_due_within_days,
        as_of=as_of,
    )
    return Page[AgencyOut](items=items, total=total, limit=limit, offset=offset)


@router.get(BASE + "/{agency_id}")
async def get_agency(
    partnership_id: str, agency_id: str, principal: PrincipalDep, session: SessionDep
) -> AgencyOut:
    return await agencies.get_agency(session, principal, partnership_id, agency_id)


@router.patch(BASE + "/{agency_id}", summary="Change some of an agency's fields")
async def update_agency(
    partnership_id: str,
    agency_id: str,
    body: AgencyPatch,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> AgencyOut:
    return await agencies.update_agency(
        session, runtime.outbox, principal, partnership_id, agency_id, body
    )


@router.delete(BASE + "/{agency_id}", summary="Stop working with an agency (history is kept)")
async def remove_agency(
    partnership_id: str,
    agency_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    reason: Annotated[str, Query(min_length=3, max_length=1000)],
    removed_on: Annotated[date | None, Query(description="Today if not given")] = None,
) -> AgencyOut:
    return await agencies.remove_agency(
        session, runtime.outbox, principal, partnership_id, agency_id, removed_on, reason
    )
