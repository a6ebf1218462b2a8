"""Event handlers: the local copy of partnerships and client credentials, fed by
``partners.events`` (event-carried state transfer; reviews never reads partners' database):
partnerships, which council areas each covers now, and client credentials.

Each runs in the consumer's transaction, once per event id (the shared inbox)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from services.reviews.models import CouncilRef, PartnershipRef
from shared.consumer import Handler
from shared.contracts.partners import CouncilJoined, CouncilLeft, PartnershipCreated
from shared.credentials import CREDENTIAL_HANDLERS
from shared.events import CloudEvent


async def on_partnership_created(
    session: AsyncSession, event: CloudEvent, payload: PartnershipCreated
) -> None:
    """Upsert the partnership and point each of its councils at it (a council is in at most
    one partnership at a time, so the latest event wins)."""
    ref = await session.get(PartnershipRef, payload.partnership_id)
    if ref is None:
        ref = PartnershipRef(id=payload.partnership_id, name=payload.name)
    ref.name = payload.name
    ref.council_ons_codes = [c.ons_code for c in payload.councils]
    ref.updated_at = event.time
    session.add(ref)
    for council in payload.councils:
        row = await session.get(CouncilRef, council.ons_code)
        if row is None:
            row = CouncilRef(
                ons_code=council.ons_code, partnership_id=payload.partnership_id, name=council.name
            )
        row.partnership_id = payload.partnership_id
        row.name = council.name
        session.add(row)


async def on_council_joined(
    session: AsyncSession, event: CloudEvent, payload: CouncilJoined
) -> None:
    """Route the council's notifications to its new partnership. ``council.left`` of a move
    is keyed by the other partnership, so it may arrive before or after this one."""
    code = payload.council.ons_code
    row = await session.get(CouncilRef, code)
    if row is None:
        row = CouncilRef(ons_code=code, partnership_id=payload.partnership_id, name="")
    row.partnership_id, row.name = payload.partnership_id, payload.council.name
    session.add(row)
    await _set_membership(session, payload.partnership_id, code, member=True, at=event)
    if payload.moved_from:
        await _set_membership(session, payload.moved_from, code, member=False, at=event)


async def on_council_left(session: AsyncSession, event: CloudEvent, payload: CouncilLeft) -> None:
    """Stop routing the council to the partnership it left, unless it already joined another."""
    await _set_membership(session, payload.partnership_id, payload.ons_code, member=False, at=event)
    row = await session.get(CouncilRef, payload.ons_code)
    if row is None or row.partnership_id != payload.partnership_id:
        return  # the joining event came first, or the council was never known here
    if payload.moved_to:
        row.partnership_id = payload.moved_to
        session.add(row)
        await _set_membership(session, payload.moved_to, payload.ons_code, member=True, at=event)
    else:
        await session.delete(row)


async def _set_membership(
    session: AsyncSession, partnership_id: str, code: str, *, member: bool, at: CloudEvent
) -> None:
    ref = await session.get(PartnershipRef, partnership_id)
    if ref is None:
        return
    codes = [c for c in ref.council_ons_codes if c != code] + ([code] if member else [])
    if codes != ref.council_ons_codes:
        ref.council_ons_codes = codes
        ref.updated_at = at.time
        session.add(ref)


HANDLERS: dict[str, Handler] = {
    PartnershipCreated.type_name(): on_partnership_created,  # type: ignore[dict-item]
    CouncilJoined.type_name(): on_council_joined,  # type: ignore[dict-item]
    CouncilLeft.type_name(): on_council_left,  # type: ignore[dict-item]
    **CREDENTIAL_HANDLERS,
}
