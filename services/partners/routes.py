"""HTTP endpoints of the partner registry: parse, authorise, call registry.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.partners import registry
from services.partners.schemas import (
    ClientSystemIn,
    ClientSystemOut,
    CredentialOut,
    PartnershipIn,
    PartnershipOut,
    PartnershipPage,
)
from shared.service import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(tags=["partnerships"])


@router.post(
    "/partnerships",
    status_code=status.HTTP_201_CREATED,
    summary="Register a partnership with its councils and three statutory partners",
)
async def create_partnership(
    body: PartnershipIn, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> PartnershipOut:
    return await registry.create_partnership(session, runtime.outbox, principal, body)


@router.get("/partnerships", summary="Partnerships the caller belongs to")
async def list_partnerships(
    principal: PrincipalDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PartnershipPage:
    items, total = await registry.list_partnerships(session, principal, limit, offset)
    return PartnershipPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/partnerships/{partnership_id}")
async def get_partnership(
    partnership_id: str, principal: PrincipalDep, session: SessionDep
) -> PartnershipOut:
    return await registry.get_partnership(session, principal, partnership_id)


@router.post(
    "/partnerships/{partnership_id}/client-systems",
    status_code=status.HTTP_201_CREATED,
    tags=["client systems"],
    summary="Register a client system; its first token is in the response, once",
)
async def register_client_system(
    partnership_id: str,
    body: ClientSystemIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ClientSystemOut:
    return await registry.register_client_system(
        session, runtime.outbox, principal, partnership_id, body
    )


@router.post(
    "/client-systems/{client_id}/credentials",
    status_code=status.HTTP_201_CREATED,
    tags=["client systems"],
    summary="Issue another token (shown once)",
)
async def issue_credential(
    client_id: str, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> CredentialOut:
    principal.require_admin()
    system = await registry.find_client_system(session, client_id)
    return await registry.issue_credential(session, runtime.outbox, principal, system)


@router.delete(
    "/client-systems/{client_id}/credentials/{credential_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["client systems"],
)
async def revoke_credential(
    client_id: str,
    credential_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    await registry.revoke_credential(session, runtime.outbox, principal, client_id, credential_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
