"""HTTP routes of the arrangements feature: parse, authorise (in arrangements.py), call it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, status

from services.partners.arrangements import arrangements
from services.partners.arrangements.contents import DEFAULT_WINDOWS, ImplementationWindow
from services.partners.arrangements.schemas import (
    ArrangementsIn,
    ArrangementsOut,
    ArrangementsPage,
    ArrangementsPatch,
    Completeness,
    PublishIn,
)
from shared.service import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(tags=["arrangements"], prefix="/partnerships/{partnership_id}/arrangements")

PartnershipId = Annotated[str, Path(max_length=64)]
Version = Annotated[int, Path(ge=1, le=100_000)]


def implementation_windows(request: Request) -> Sequence[ImplementationWindow]:
    """The implementation-window rules: data, replaceable on ``app.state`` without a release."""
    windows: Sequence[ImplementationWindow] = getattr(
        request.app.state, "arrangements_windows", DEFAULT_WINDOWS
    )
    return windows


WindowsDep = Annotated[Sequence[ImplementationWindow], Depends(implementation_windows)]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Start a new draft version")
async def create_draft(
    partnership_id: PartnershipId,
    body: ArrangementsIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ArrangementsOut:
    return await arrangements.create_draft(session, runtime.outbox, principal, partnership_id, body)


@router.get("", summary="Versions, newest first")
async def list_versions(
    partnership_id: PartnershipId,
    principal: PrincipalDep,
    session: SessionDep,
    status: Literal["draft", "published"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ArrangementsPage:
    items, total = await arrangements.list_versions(
        session, principal, partnership_id, status=status, limit=limit, offset=offset
    )
    return ArrangementsPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/{version}")
async def get_version(
    partnership_id: PartnershipId, version: Version, principal: PrincipalDep, session: SessionDep
) -> ArrangementsOut:
    return await arrangements.get_version(session, principal, partnership_id, version)


@router.patch("/{version}", summary="Change a draft (a published version is immutable: 409)")
async def patch_draft(
    partnership_id: PartnershipId,
    version: Version,
    body: ArrangementsPatch,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ArrangementsOut:
    return await arrangements.patch_draft(
        session, runtime.outbox, principal, partnership_id, version, body
    )


@router.get("/{version}/completeness", summary="Required content items still missing")
async def completeness(
    partnership_id: PartnershipId, version: Version, principal: PrincipalDep, session: SessionDep
) -> Completeness:
    return await arrangements.completeness(session, principal, partnership_id, version)


@router.post(
    "/{version}/publish",
    summary="Publish a complete draft; emits masa.arrangements.published.v1 (DfE is told)",
)
async def publish(
    partnership_id: PartnershipId,
    version: Version,
    body: PublishIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    windows: WindowsDep,
) -> ArrangementsOut:
    return await arrangements.publish(
        session, runtime.outbox, principal, partnership_id, version, body, windows
    )
