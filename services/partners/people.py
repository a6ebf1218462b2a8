"""People of a partnership (issue 4): named persons who act for it under their roles.

A person is stored and announced like a client system (``client_system.registered`` with
``person`` true and their ``roles``; the usual credential events), so every service
authenticates them with the code it already has; shared.auth explains the storage.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.partners.registry import issue_credential, partnership_for, revoke_credential
from services.partners.roles import event_types_for
from services.partners.schemas import PersonIn, PersonOut
from shared.audit import record_audit
from shared.auth import PERSON_ID_PREFIX, Principal, split_grants, stored_grants
from shared.contracts.partners import ClientSystemRegistered
from shared.db import fetch_page
from shared.outbox import Outbox
from shared.problems import NotFound
from shared.tables import ClientCredential, ClientSystem


def _people_of(partnership_id: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """The conditions selecting the partnership's people (not its systems)."""
    return (
        col(ClientSystem.partnership_id) == partnership_id,
        col(ClientSystem.client_id).startswith(PERSON_ID_PREFIX),
    )


def _out(person: ClientSystem, active: bool) -> PersonOut:
    event_types, roles = split_grants(list(person.allowed_event_types or []))
    return PersonOut(
        person_id=person.client_id,
        partnership_id=person.partnership_id,
        name=person.name,
        organisation=person.organisation,
        roles=roles,
        allowed_event_types=event_types,
        created_at=person.created_at,
        active=active,
    )


async def register_person(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    body: PersonIn,
) -> PersonOut:
    """Only the operator registers people; their first token is in the answer, once."""
    principal.require_admin()
    await partnership_for(session, principal, partnership_id)
    roles: list[str] = list(body.roles)
    event_types = event_types_for(roles)
    person = ClientSystem(
        client_id=PERSON_ID_PREFIX + str(uuid.uuid4()),
        partnership_id=partnership_id,
        name=body.name,
        organisation=body.organisation,
        allowed_event_types=stored_grants(event_types, roles),
    )
    session.add(person)
    outbox.emit(
        session,
        ClientSystemRegistered(
            client_id=person.client_id,
            partnership_id=partnership_id,
            name=person.name,
            organisation=person.organisation,
            allowed_event_types=event_types,
            person=True,
            roles=roles,
        ),
        partnership_id=partnership_id,
        subject=person.client_id,
    )
    record_audit(
        session,
        principal,
        "register",
        "person",
        person.client_id,
        partnership_id=partnership_id,
        detail={"name": person.name, "roles": roles},
    )
    credential = await issue_credential(session, outbox, principal, person)
    out = _out(person, active=True)
    out.credential = credential
    return out


async def list_people(
    session: AsyncSession, principal: Principal, partnership_id: str, limit: int, offset: int
) -> tuple[list[PersonOut], int]:
    """The partnership's people and whether each still holds a live token (never tokens)."""
    await partnership_for(session, principal, partnership_id)
    where = _people_of(partnership_id)
    people, total = await fetch_page(
        session,
        ClientSystem,
        where,
        [col(ClientSystem.created_at), col(ClientSystem.client_id)],
        limit=limit,
        offset=offset,
    )
    live = set(
        (
            await session.exec(
                select(ClientCredential.client_id)
                .where(col(ClientCredential.client_id).in_([p.client_id for p in people]))
                .where(col(ClientCredential.revoked_at).is_(None))
            )
        ).all()
    )
    return [_out(p, p.client_id in live) for p in people], int(total)


async def revoke_person(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    person_id: str,
) -> None:
    """Revokes every token of the person (each as ``client_credential.revoked``)."""
    principal.require_admin()
    await partnership_for(session, principal, partnership_id)
    person = (
        await session.exec(
            select(ClientSystem)
            .where(*_people_of(partnership_id))
            .where(ClientSystem.client_id == person_id)
        )
    ).first()
    if person is None:
        raise NotFound("Person not found.")
    credentials = (
        await session.exec(
            select(ClientCredential.credential_id)
            .where(ClientCredential.client_id == person_id)
            .where(col(ClientCredential.revoked_at).is_(None))
        )
    ).all()
    for credential_id in credentials:
        await revoke_credential(session, outbox, principal, person_id, credential_id)
