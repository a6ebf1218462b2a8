"""HTTP endpoints of the partner registry: parse, authorise, call registry.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.partners import membership, people, registry, roles, seniority
from services.partners.schemas import (
    ClientSystemIn,
    ClientSystemOut,
    ClientSystemSummary,
    CouncilJoinIn,
    CouncilLeaveIn,
    CouncilMembershipOut,
    CredentialOut,
    DelegationEndIn,
    DelegationIn,
    DelegationOut,
    NationalBodyClientSystemIn,
    Page,
    PartnerOut,
    PartnerPatch,
    PartnershipIn,
    PartnershipOut,
    PartnershipPage,
    PartnershipPatch,
    PartnershipStatus,
    PersonIn,
    PersonOut,
    StatusChangeIn,
    StatusChangeOut,
)
from services.partners.settings import PartnersSettings
from shared.auth import NationalBody
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
    status: PartnershipStatus | None = None,
    council: Annotated[
        str | None, Query(pattern=r"^E\d{8}$", description="ONS code of a council now in it")
    ] = None,
    name: Annotated[str | None, Query(max_length=200, description="Part of the name")] = None,
) -> PartnershipPage:
    items, total = await registry.list_partnerships(
        session, principal, limit, offset, status=status, council=council, name=name
    )
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
    "/national-bodies/{code}/client-systems",
    status_code=status.HTTP_201_CREATED,
    tags=["client systems"],
    summary="Register a national body's read-only system; its first token is shown once",
)
async def register_national_body_system(
    code: NationalBody,
    body: NationalBodyClientSystemIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ClientSystemOut:
    return await registry.register_national_body_system(
        session, runtime.outbox, principal, code, body
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


# ---- the partnership over time ---------------------------------------------------------------


@router.patch("/partnerships/{partnership_id}", summary="Change some of a partnership's fields")
async def update_partnership(
    partnership_id: str,
    body: PartnershipPatch,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> PartnershipOut:
    await membership.update_partnership(session, runtime.outbox, principal, partnership_id, body)
    return await registry.get_partnership(session, principal, partnership_id)


@router.post(
    "/partnerships/{partnership_id}/status",
    status_code=status.HTTP_201_CREATED,
    summary="Move the arrangements to another stage (kept as history)",
)
async def change_status(
    partnership_id: str,
    body: StatusChangeIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> StatusChangeOut:
    return await membership.change_status(session, runtime.outbox, principal, partnership_id, body)


@router.get("/partnerships/{partnership_id}/status-history")
async def status_history(
    partnership_id: str, principal: PrincipalDep, session: SessionDep
) -> list[StatusChangeOut]:
    return await membership.status_history(session, principal, partnership_id)


@router.get("/partnerships/{partnership_id}/councils", tags=["councils"])
async def list_councils(
    partnership_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    include_past: bool = False,
) -> list[CouncilMembershipOut]:
    return await membership.council_history(session, principal, partnership_id, include_past)


@router.post(
    "/partnerships/{partnership_id}/councils",
    status_code=status.HTTP_201_CREATED,
    tags=["councils"],
    summary="Add a council area, or move one here from another partnership (move=true)",
)
async def join_council(
    partnership_id: str,
    body: CouncilJoinIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> CouncilMembershipOut:
    return await membership.join_council(session, runtime.outbox, principal, partnership_id, body)


@router.post(
    "/partnerships/{partnership_id}/councils/{ons_code}/leave",
    tags=["councils"],
    summary="End a council's membership (its history is kept)",
)
async def leave_council(
    partnership_id: str,
    ons_code: str,
    body: CouncilLeaveIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> CouncilMembershipOut:
    return await membership.leave_council(
        session, runtime.outbox, principal, partnership_id, ons_code, body.left_on
    )


@router.patch(
    "/partnerships/{partnership_id}/partners/{partner_id}",
    tags=["safeguarding partners"],
    summary="Name the lead representative or change their role",
)
async def update_partner(
    partnership_id: str,
    partner_id: str,
    body: PartnerPatch,
    principal: PrincipalDep,
    session: SessionDep,
) -> PartnerOut:
    return await membership.update_partner(session, principal, partnership_id, partner_id, body)


@router.get("/ranks", tags=["safeguarding partners"], summary="Ranks per partner kind")
async def ranks(runtime: RuntimeDep) -> dict[str, dict[str, object]]:
    """The ranks a delegate may hold, lead first, and how far below the lead is flagged."""
    settings = runtime.settings
    limits = settings.delegation_max_levels if isinstance(settings, PartnersSettings) else {}
    return {
        kind: {
            "ranks": [*names, seniority.OTHER],
            "max_levels_below_lead": limits.get(kind, seniority.DEFAULT_MAX_LEVELS[kind]),
        }
        for kind, names in seniority.RANKS.items()
    }


@router.post(
    "/partnerships/{partnership_id}/partners/{partner_id}/delegations",
    status_code=status.HTTP_201_CREATED,
    tags=["safeguarding partners"],
    summary="Record the lead's delegation to a named senior officer",
)
async def record_delegation(
    partnership_id: str,
    partner_id: str,
    body: DelegationIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> DelegationOut:
    settings = runtime.settings
    limits = settings.delegation_max_levels if isinstance(settings, PartnersSettings) else {}
    return await membership.record_delegation(
        session, runtime.outbox, principal, partnership_id, partner_id, body, limits
    )


@router.post(
    "/partnerships/{partnership_id}/delegations/{delegation_id}/end",
    tags=["safeguarding partners"],
)
async def end_delegation(
    partnership_id: str,
    delegation_id: str,
    body: DelegationEndIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> DelegationOut:
    return await membership.end_delegation(
        session, runtime.outbox, principal, partnership_id, delegation_id, body
    )


@router.get("/partnerships/{partnership_id}/delegations", tags=["safeguarding partners"])
async def list_delegations(
    partnership_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    below_threshold: bool | None = None,
    current_only: bool = True,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[DelegationOut]:
    items, total = await membership.list_delegations(
        session,
        principal,
        partnership_id,
        below_threshold=below_threshold,
        current_only=current_only,
        limit=limit,
        offset=offset,
    )
    return Page[DelegationOut](items=items, total=total, limit=limit, offset=offset)


@router.get("/partnerships/{partnership_id}/client-systems", tags=["client systems"])
async def list_client_systems(
    partnership_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[ClientSystemSummary]:
    items, total = await membership.list_client_systems(
        session, principal, partnership_id, limit, offset
    )
    return Page[ClientSystemSummary](items=items, total=total, limit=limit, offset=offset)


# ---- people who act for the partnership (issue 4) ----------------------------------------------


@router.get("/roles", tags=["people"], summary="Roles a person may hold, and what each may post")
async def list_roles() -> dict[str, list[str]]:
    return {role: list(types) for role, types in roles.ROLE_EVENT_TYPES.items()}


@router.post(
    "/partnerships/{partnership_id}/people",
    status_code=status.HTTP_201_CREATED,
    tags=["people"],
    summary="Register a person with roles; their first token is in the response, once",
)
async def register_person(
    partnership_id: str,
    body: PersonIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> PersonOut:
    return await people.register_person(session, runtime.outbox, principal, partnership_id, body)


@router.get("/partnerships/{partnership_id}/people", tags=["people"])
async def list_people(
    partnership_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[PersonOut]:
    items, total = await people.list_people(session, principal, partnership_id, limit, offset)
    return Page[PersonOut](items=items, total=total, limit=limit, offset=offset)


@router.delete(
    "/partnerships/{partnership_id}/people/{person_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["people"],
    summary="Revoke every token of the person (their record is kept)",
)
async def revoke_person(
    partnership_id: str,
    person_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    await people.revoke_person(session, runtime.outbox, principal, partnership_id, person_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
