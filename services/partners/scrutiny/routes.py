"""HTTP routes of independent scrutiny and strategic links: parse, authorise, call
scrutiny.py."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status

from services.partners.schemas import Page
from services.partners.scrutiny import scrutiny
from services.partners.scrutiny.schemas import (
    LinkIn,
    LinkKind,
    LinkOut,
    LinkPatch,
    ScrutinyIn,
    ScrutinyModel,
    ScrutinyOut,
    ScrutinyPatch,
)
from shared.service import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter()

SCRUTINY = "/partnerships/{partnership_id}/scrutiny"
LINKS = "/partnerships/{partnership_id}/strategic-links"

Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0)]
Reason = Annotated[str, Query(min_length=3, max_length=1000)]
RemovedOn = Annotated[date | None, Query(description="Today if not given")]
CurrentOn = Annotated[date | None, Query(description="Only those in place on this day")]


@router.post(
    SCRUTINY,
    status_code=status.HTTP_201_CREATED,
    tags=["independent scrutiny"],
    summary="Record an independent scrutiny arrangement",
)
async def record_scrutiny(
    partnership_id: str,
    body: ScrutinyIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ScrutinyOut:
    return await scrutiny.record_scrutiny(session, runtime.outbox, principal, partnership_id, body)


@router.get(SCRUTINY, tags=["independent scrutiny"])
async def list_scrutiny(
    partnership_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    limit: Limit = 50,
    offset: Offset = 0,
    model: ScrutinyModel | None = None,
    current_on: CurrentOn = None,
    include_removed: bool = False,
) -> Page[ScrutinyOut]:
    items, total = await scrutiny.list_scrutiny(
        session,
        principal,
        partnership_id,
        limit=limit,
        offset=offset,
        model=model,
        current_on=current_on,
        include_removed=include_removed,
    )
    return Page[ScrutinyOut](items=items, total=total, limit=limit, offset=offset)


@router.get(SCRUTINY + "/{arrangement_id}", tags=["independent scrutiny"])
async def get_scrutiny(
    partnership_id: str, arrangement_id: str, principal: PrincipalDep, session: SessionDep
) -> ScrutinyOut:
    return await scrutiny.get_scrutiny(session, principal, partnership_id, arrangement_id)


@router.patch(SCRUTINY + "/{arrangement_id}", tags=["independent scrutiny"])
async def update_scrutiny(
    partnership_id: str,
    arrangement_id: str,
    body: ScrutinyPatch,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ScrutinyOut:
    return await scrutiny.update_scrutiny(
        session, runtime.outbox, principal, partnership_id, arrangement_id, body
    )


@router.delete(
    SCRUTINY + "/{arrangement_id}",
    tags=["independent scrutiny"],
    summary="Withdraw the record (soft: history is kept)",
)
async def remove_scrutiny(
    partnership_id: str,
    arrangement_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    reason: Reason,
    removed_on: RemovedOn = None,
) -> ScrutinyOut:
    return await scrutiny.remove_scrutiny(
        session, runtime.outbox, principal, partnership_id, arrangement_id, removed_on, reason
    )


@router.post(
    LINKS,
    status_code=status.HTTP_201_CREATED,
    tags=["strategic links"],
    summary="Record a link to another strategic board",
)
async def record_link(
    partnership_id: str,
    body: LinkIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> LinkOut:
    return await scrutiny.record_link(session, runtime.outbox, principal, partnership_id, body)


@router.get(LINKS, tags=["strategic links"])
async def list_links(
    partnership_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    limit: Limit = 50,
    offset: Offset = 0,
    kind: LinkKind | None = None,
    name: Annotated[str | None, Query(max_length=200, description="Part of the name")] = None,
    current_on: CurrentOn = None,
    include_removed: bool = False,
) -> Page[LinkOut]:
    items, total = await scrutiny.list_links(
        session,
        principal,
        partnership_id,
        limit=limit,
        offset=offset,
        kind=kind,
        name=name,
        current_on=current_on,
        include_removed=include_removed,
    )
    return Page[LinkOut](items=items, total=total, limit=limit, offset=offset)


@router.get(LINKS + "/{link_id}", tags=["strategic links"])
async def get_link(
    partnership_id: str, link_id: str, principal: PrincipalDep, session: SessionDep
) -> LinkOut:
    return await scrutiny.get_link(session, principal, partnership_id, link_id)


@router.patch(LINKS + "/{link_id}", tags=["strategic links"])
async def update_link(
    partnership_id: str,
    link_id: str,
    body: LinkPatch,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> LinkOut:
    return await scrutiny.update_link(
        session, runtime.outbox, principal, partnership_id, link_id, body
    )


@router.delete(
    LINKS + "/{link_id}",
    tags=["strategic links"],
    summary="Withdraw the record (soft: history is kept)",
)
async def remove_link(
    partnership_id: str,
    link_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    reason: Reason,
    removed_on: RemovedOn = None,
) -> LinkOut:
    return await scrutiny.remove_link(
        session, runtime.outbox, principal, partnership_id, link_id, removed_on, reason
    )
