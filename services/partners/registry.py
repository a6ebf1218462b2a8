"""Partner-registry operations: each writes its rows, an audit entry and its event together."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.partners.models import Council, Partnership, SafeguardingPartner
from services.partners.schemas import (
    ClientSystemIn,
    ClientSystemOut,
    CouncilOut,
    CredentialOut,
    NationalBodyClientSystemIn,
    PartnerOut,
    PartnershipIn,
    PartnershipOut,
)
from shared.audit import record_audit
from shared.auth import (
    NationalBody,
    Principal,
    generate_token,
    national_body_of,
    national_partnership_id,
)
from shared.contracts.partners import (
    ClientCredentialIssued,
    ClientCredentialRevoked,
    ClientSystemRegistered,
    CouncilRef,
    PartnershipCreated,
    SafeguardingPartnerRef,
)
from shared.db import fetch_page
from shared.outbox import Outbox
from shared.problems import Conflict, NotFound
from shared.tables import ClientCredential, ClientSystem, utcnow


async def create_partnership(
    session: AsyncSession, outbox: Outbox, principal: Principal, body: PartnershipIn
) -> PartnershipOut:
    principal.require_admin()
    codes = [c.ons_code for c in body.councils]
    taken = (
        await session.exec(
            select(Council.ons_code)
            .where(col(Council.ons_code).in_(codes))
            .where(col(Council.left_on).is_(None))
        )
    ).all()
    if taken:
        raise Conflict(
            f"Council(s) {', '.join(sorted(taken))} already belong to a partnership.",
            field="councils",
        )
    partnership = Partnership(name=body.name, effective_from=body.effective_from)
    session.add(partnership)
    await session.flush()  # parent row first: the model declares no relationships
    councils = [
        Council(
            partnership_id=partnership.id,
            name=c.name,
            ons_code=c.ons_code,
            la_number=c.la_number,
            joined_on=body.effective_from,
        )
        for c in body.councils
    ]
    partners = [
        SafeguardingPartner(
            partnership_id=partnership.id,
            kind=p.kind,
            organisation=p.organisation,
            lead_role=p.lead_role,
        )
        for p in body.partners
    ]
    session.add_all([*councils, *partners])
    await session.flush()
    out = _partnership_out(partnership, councils, partners)
    outbox.emit(
        session,
        PartnershipCreated(
            partnership_id=partnership.id,
            name=partnership.name,
            status=partnership.status,
            effective_from=partnership.effective_from,
            councils=[
                CouncilRef(name=c.name, ons_code=c.ons_code, la_number=c.la_number)
                for c in councils
            ],
            partners=[
                SafeguardingPartnerRef(
                    id=p.id,
                    kind=p.kind,  # type: ignore[arg-type]
                    organisation=p.organisation,
                    lead_role=p.lead_role,
                )
                for p in partners
            ],
        ),
        partnership_id=partnership.id,
        subject=partnership.id,
    )
    record_audit(
        session,
        principal,
        "create",
        "partnership",
        partnership.id,
        partnership_id=partnership.id,
        detail={"name": partnership.name},
    )
    return out


def _partnership_out(
    p: Partnership, councils: list[Council], partners: list[SafeguardingPartner]
) -> PartnershipOut:
    return PartnershipOut(
        id=p.id,
        name=p.name,
        status=p.status,
        scope="multi_council" if len(councils) > 1 else "single_council",
        effective_from=p.effective_from,
        geography=p.geography,
        created_at=p.created_at,
        councils=[
            CouncilOut(id=c.id, name=c.name, ons_code=c.ons_code, la_number=c.la_number)
            for c in councils
        ],
        partners=[
            PartnerOut(
                id=s.id,
                kind=s.kind,
                organisation=s.organisation,
                lead_role=s.lead_role,
                lead_name=s.lead_name,
            )
            for s in partners
        ],
    )


async def partnership_for(
    session: AsyncSession, principal: Principal, partnership_id: str
) -> Partnership:
    """The partnership if the caller may see it; 404 otherwise (existence not disclosed).

    Every feature of the registry starts here before touching a partnership's records."""
    principal.require_partnership(partnership_id)
    partnership = await session.get(Partnership, partnership_id)
    if partnership is None:
        raise NotFound("Partnership not found.")
    return partnership


async def get_partnership(
    session: AsyncSession, principal: Principal, partnership_id: str
) -> PartnershipOut:
    partnership = await partnership_for(session, principal, partnership_id)
    councils = (
        await session.exec(
            select(Council)
            .where(Council.partnership_id == partnership_id)
            .where(col(Council.left_on).is_(None))
        )
    ).all()
    partners = (
        await session.exec(
            select(SafeguardingPartner).where(SafeguardingPartner.partnership_id == partnership_id)
        )
    ).all()
    return _partnership_out(partnership, list(councils), list(partners))


async def list_partnerships(
    session: AsyncSession,
    principal: Principal,
    limit: int,
    offset: int,
    *,
    status: str | None = None,
    council: str | None = None,
    name: str | None = None,
) -> tuple[list[PartnershipOut], int]:
    """The caller's partnerships, filtered by status, a council now in it (ONS code) or a
    fragment of the name."""
    conditions: list[ColumnElement[bool]] = []
    if not principal.is_admin:
        conditions.append(col(Partnership.id).in_(list(principal.partnership_ids)))
    if status is not None:
        conditions.append(col(Partnership.status) == status)
    if name:
        conditions.append(func.lower(col(Partnership.name)).contains(name.lower()))
    if council is not None:
        conditions.append(
            col(Partnership.id).in_(
                select(Council.partnership_id)
                .where(Council.ons_code == council)
                .where(col(Council.left_on).is_(None))
            )
        )
    rows, total = await fetch_page(
        session,
        Partnership,
        conditions,
        [col(Partnership.created_at), col(Partnership.id)],
        limit=limit,
        offset=offset,
    )
    # The page's councils (current) and partners in two queries, not two per partnership.
    ids = [p.id for p in rows]
    councils = (
        await session.exec(
            select(Council)
            .where(col(Council.partnership_id).in_(ids))
            .where(col(Council.left_on).is_(None))
        )
    ).all()
    partners = (
        await session.exec(
            select(SafeguardingPartner).where(col(SafeguardingPartner.partnership_id).in_(ids))
        )
    ).all()
    return [
        _partnership_out(
            p,
            [c for c in councils if c.partnership_id == p.id],
            [x for x in partners if x.partnership_id == p.id],
        )
        for p in rows
    ], total


async def register_client_system(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    body: ClientSystemIn,
) -> ClientSystemOut:
    principal.require_admin()
    if await session.get(Partnership, partnership_id) is None:
        raise NotFound("Partnership not found.")
    system = ClientSystem(
        client_id=str(uuid.uuid4()),
        partnership_id=partnership_id,
        name=body.name,
        organisation=body.organisation,
        allowed_event_types=list(body.allowed_event_types),
    )
    session.add(system)
    outbox.emit(
        session,
        ClientSystemRegistered(
            client_id=system.client_id,
            partnership_id=partnership_id,
            name=system.name,
            organisation=system.organisation,
            allowed_event_types=list(system.allowed_event_types),
        ),
        partnership_id=partnership_id,
        subject=system.client_id,
    )
    record_audit(
        session,
        principal,
        "register",
        "client_system",
        system.client_id,
        partnership_id=partnership_id,
        detail={"name": system.name},
    )
    credential = await issue_credential(session, outbox, principal, system)
    return ClientSystemOut(
        client_id=system.client_id,
        partnership_id=partnership_id,
        name=system.name,
        organisation=system.organisation,
        allowed_event_types=system.allowed_event_types,
        credential=credential,
    )


async def register_national_body_system(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    code: NationalBody,
    body: NationalBodyClientSystemIn,
) -> ClientSystemOut:
    """A national body's read-only system: stored under ``national:<code>`` (shared.auth),
    with no event types, so other services let it read only what is notified to it."""
    principal.require_admin()
    stored_as = national_partnership_id(code)
    system = ClientSystem(
        client_id=str(uuid.uuid4()),
        partnership_id=stored_as,
        name=body.name,
        organisation=body.organisation,
        allowed_event_types=[],
    )
    session.add(system)
    outbox.emit(
        session,
        ClientSystemRegistered(
            client_id=system.client_id,
            partnership_id=stored_as,
            name=system.name,
            organisation=system.organisation,
            allowed_event_types=[],
            national_body=code,
        ),
        partnership_id=stored_as,
        subject=system.client_id,
    )
    record_audit(
        session,
        principal,
        "register",
        "client_system",
        system.client_id,
        partnership_id=stored_as,
        detail={"name": system.name, "national_body": code},
    )
    credential = await issue_credential(session, outbox, principal, system)
    return ClientSystemOut(
        client_id=system.client_id,
        partnership_id=stored_as,
        name=system.name,
        organisation=system.organisation,
        allowed_event_types=[],
        credential=credential,
        national_body=code,
    )


async def find_client_system(session: AsyncSession, client_id: str) -> ClientSystem:
    system = await session.get(ClientSystem, client_id)
    if system is None:
        raise NotFound("Client system not found.")
    return system


async def issue_credential(
    session: AsyncSession, outbox: Outbox, principal: Principal, system: ClientSystem
) -> CredentialOut:
    principal.require_admin()
    token, token_hash = generate_token()
    credential = ClientCredential(
        credential_id=str(uuid.uuid4()),
        client_id=system.client_id,
        partnership_id=system.partnership_id,
        token_hash=token_hash,
    )
    session.add(credential)
    outbox.emit(
        session,
        ClientCredentialIssued(
            credential_id=credential.credential_id,
            client_id=system.client_id,
            partnership_id=system.partnership_id,
            token_hash=token_hash,
            national_body=national_body_of(system.partnership_id),
        ),
        partnership_id=system.partnership_id,
        subject=system.client_id,
    )
    record_audit(
        session,
        principal,
        "issue_credential",
        "client_system",
        system.client_id,
        partnership_id=system.partnership_id,
        detail={"credential_id": credential.credential_id},
    )
    return CredentialOut(credential_id=credential.credential_id, token=token)


async def revoke_credential(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    client_id: str,
    credential_id: str,
) -> None:
    principal.require_admin()
    credential = await session.get(ClientCredential, credential_id)
    if credential is None or credential.client_id != client_id:
        raise NotFound("Credential not found.")
    if credential.revoked_at is not None:
        return
    credential.revoked_at = utcnow()
    session.add(credential)
    outbox.emit(
        session,
        ClientCredentialRevoked(
            credential_id=credential_id,
            client_id=client_id,
            partnership_id=credential.partnership_id,
            national_body=national_body_of(credential.partnership_id),
        ),
        partnership_id=credential.partnership_id,
        subject=client_id,
    )
    record_audit(
        session,
        principal,
        "revoke_credential",
        "client_system",
        client_id,
        partnership_id=credential.partnership_id,
        detail={"credential_id": credential_id},
    )
