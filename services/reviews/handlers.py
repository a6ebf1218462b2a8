"""Event handlers: the local copy of partnerships and client credentials, fed by
``partners.events`` (event-carried state transfer; reviews never reads partners' database).

Each runs in the consumer's transaction, once per event id (the shared inbox)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from services.reviews.models import CouncilRef, PartnershipRef
from shared.consumer import Handler
from shared.contracts.partners import PartnershipCreated
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


HANDLERS: dict[str, Handler] = {
    PartnershipCreated.type_name(): on_partnership_created,  # type: ignore[dict-item]
    **CREDENTIAL_HANDLERS,
}
