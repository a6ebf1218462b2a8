"""Keeps a service's copy of client-system credentials current from ``partners.events``.

Services other than partners authenticate client systems against this copy (event-carried
state transfer), so they never read the partner registry's database. A national body's system
is kept under ``partnership_id = "national:<code>"`` (shared.auth), which is how
authentication recognises it; a person of a partnership (``person`` true) is kept as a system
whose roles ride in ``allowed_event_types`` (shared.auth), so it authenticates as kind "person".
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import national_partnership_id, stored_grants
from shared.consumer import Handler
from shared.contracts.partners import (
    ClientCredentialIssued,
    ClientCredentialRevoked,
    ClientSystemRegistered,
)
from shared.events import CloudEvent
from shared.tables import ClientCredential, ClientSystem


def _stored_partnership(
    payload: ClientSystemRegistered | ClientCredentialIssued,
) -> str:
    """The event's ``national_body`` decides: such a system never counts as a partnership's."""
    if payload.national_body is not None:
        return national_partnership_id(payload.national_body)
    return payload.partnership_id


async def on_client_system_registered(
    session: AsyncSession, event: CloudEvent, payload: ClientSystemRegistered
) -> None:
    system = await session.get(ClientSystem, payload.client_id)
    if system is None:
        system = ClientSystem(
            client_id=payload.client_id,
            partnership_id=_stored_partnership(payload),
            name=payload.name,
            organisation=payload.organisation,
        )
    system.partnership_id = _stored_partnership(payload)
    system.name = payload.name
    system.organisation = payload.organisation
    # A person's roles are kept beside the event types they grant (shared.auth).
    system.allowed_event_types = stored_grants(
        list(payload.allowed_event_types), list(payload.roles) if payload.person else []
    )
    session.add(system)


async def on_credential_issued(
    session: AsyncSession, event: CloudEvent, payload: ClientCredentialIssued
) -> None:
    if await session.get(ClientCredential, payload.credential_id) is not None:
        return
    session.add(
        ClientCredential(
            credential_id=payload.credential_id,
            client_id=payload.client_id,
            partnership_id=_stored_partnership(payload),
            token_hash=payload.token_hash,
            created_at=event.time,
        )
    )


async def on_credential_revoked(
    session: AsyncSession, event: CloudEvent, payload: ClientCredentialRevoked
) -> None:
    row = await session.get(ClientCredential, payload.credential_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = event.time
        session.add(row)


CREDENTIAL_HANDLERS: dict[str, Handler] = {
    ClientSystemRegistered.type_name(): on_client_system_registered,  # type: ignore[dict-item]
    ClientCredentialIssued.type_name(): on_credential_issued,  # type: ignore[dict-item]
    ClientCredentialRevoked.type_name(): on_credential_revoked,  # type: ignore[dict-item]
}

__all__ = ["CREDENTIAL_HANDLERS"]
