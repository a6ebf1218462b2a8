"""Who a partnership is, over time: its own fields, status history, council membership
(moves between partnerships keep history), lead representatives and their delegations.

Each operation writes its rows, an audit entry and its event in the caller's transaction.
Rules traced to domain.md section 1 (partners, leads, delegation) and issue 3.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.partners import seniority
from services.partners.models import (
    Council,
    Delegation,
    Partnership,
    PartnershipStatusChange,
    SafeguardingPartner,
)
from services.partners.registry import partnership_for
from services.partners.schemas import (
    ClientSystemSummary,
    CouncilJoinIn,
    CouncilMembershipOut,
    CredentialSummary,
    DelegationEndIn,
    DelegationIn,
    DelegationOut,
    PartnerOut,
    PartnerPatch,
    PartnershipPatch,
    StatusChangeIn,
    StatusChangeOut,
)
from shared.audit import record_audit
from shared.auth import PERSON_ID_PREFIX, Principal
from shared.contracts.partners import (
    CouncilJoined,
    CouncilLeft,
    CouncilRef,
    DelegationEnded,
    DelegationRecorded,
    PartnershipStatusChanged,
    PartnershipUpdated,
)
from shared.db import fetch_page
from shared.outbox import Outbox
from shared.problems import Conflict, NotFound, Unprocessable
from shared.tables import ClientCredential, ClientSystem, utcnow


def _actor(principal: Principal) -> str:
    return f"{principal.kind}:{principal.id}"


# ---- the partnership's own fields and status ----------------------------------------------


async def update_partnership(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    patch: PartnershipPatch,
) -> Partnership:
    """Partial update: only the fields sent change; the audit entry holds old and new."""
    partnership = await partnership_for(session, principal, partnership_id)
    sent = patch.model_dump(exclude_unset=True)
    if "name" in sent and sent["name"] is None:
        raise Unprocessable("A partnership must keep a name.", field="name")
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for field, value in sent.items():
        if getattr(partnership, field) != value:
            before[field], after[field] = getattr(partnership, field), value
            setattr(partnership, field, value)
    if not after:
        return partnership
    partnership.updated_at = utcnow()
    session.add(partnership)
    outbox.emit(
        session,
        PartnershipUpdated(
            partnership_id=partnership.id,
            changes={k: None if v is None else str(v) for k, v in after.items()},
        ),
        partnership_id=partnership.id,
        subject=partnership.id,
    )
    record_audit(
        session,
        principal,
        "update",
        "partnership",
        partnership.id,
        partnership_id=partnership.id,
        detail={"before": _jsonable(before), "after": _jsonable(after)},
    )
    return partnership


async def change_status(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    body: StatusChangeIn,
) -> StatusChangeOut:
    """A new stage of the arrangements, effective on a date no earlier than the last one's."""
    partnership = await partnership_for(session, principal, partnership_id)
    last = (
        await session.exec(
            select(PartnershipStatusChange)
            .where(PartnershipStatusChange.partnership_id == partnership_id)
            .order_by(
                col(PartnershipStatusChange.effective_on).desc(),
                col(PartnershipStatusChange.recorded_at).desc(),
            )
            .limit(1)
        )
    ).first()
    if last is not None and body.effective_on < last.effective_on:
        raise Unprocessable(
            f"The last status change took effect on {last.effective_on}; a new one cannot "
            "take effect before it.",
            field="effective_on",
        )
    if body.status == partnership.status:
        raise Conflict(f"The partnership is already {body.status}.", field="status")
    previous = partnership.status
    change = PartnershipStatusChange(
        partnership_id=partnership_id,
        status=body.status,
        effective_on=body.effective_on,
        reason=body.reason,
        recorded_by=_actor(principal),
    )
    partnership.status = body.status
    partnership.updated_at = utcnow()
    session.add_all([change, partnership])
    outbox.emit(
        session,
        PartnershipStatusChanged(
            partnership_id=partnership_id,
            status=body.status,
            previous_status=previous,
            effective_on=body.effective_on,
        ),
        partnership_id=partnership_id,
        subject=partnership_id,
    )
    record_audit(
        session,
        principal,
        "change_status",
        "partnership",
        partnership_id,
        partnership_id=partnership_id,
        detail={"from": previous, "to": body.status, "effective_on": str(body.effective_on)},
    )
    return _status_out(change)


async def status_history(
    session: AsyncSession, principal: Principal, partnership_id: str
) -> list[StatusChangeOut]:
    await partnership_for(session, principal, partnership_id)
    rows = (
        await session.exec(
            select(PartnershipStatusChange)
            .where(PartnershipStatusChange.partnership_id == partnership_id)
            .order_by(
                col(PartnershipStatusChange.effective_on),
                col(PartnershipStatusChange.recorded_at),
                col(PartnershipStatusChange.id),
            )
        )
    ).all()
    return [_status_out(r) for r in rows]


def _status_out(change: PartnershipStatusChange) -> StatusChangeOut:
    return StatusChangeOut(
        status=change.status,
        effective_on=change.effective_on,
        reason=change.reason,
        recorded_by=change.recorded_by,
        recorded_at=change.recorded_at,
    )


# ---- councils ------------------------------------------------------------------------------


async def join_council(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    body: CouncilJoinIn,
) -> CouncilMembershipOut:
    """Add a council area. A council is in at most one partnership at a time: one still in
    another answers 409 unless ``move`` is set, which ends that membership on the joining
    date."""
    principal.require_admin()
    await partnership_for(session, principal, partnership_id)
    current = (
        await session.exec(
            select(Council)
            .where(Council.ons_code == body.ons_code)
            .where(col(Council.left_on).is_(None))
        )
    ).first()
    moved_from: str | None = None
    if current is not None:
        if current.partnership_id == partnership_id:
            raise Conflict("The council is already in this partnership.", field="ons_code")
        if not body.move:
            raise Conflict(
                "The council belongs to another partnership; send move=true to move it.",
                field="ons_code",
            )
        if current.joined_on is not None and body.joined_on <= current.joined_on:
            raise Unprocessable(
                f"The council joined its current partnership on {current.joined_on}; it "
                "can move only after that date.",
                field="joined_on",
            )
        moved_from = current.partnership_id
        current.left_on = body.joined_on
        session.add(current)
        outbox.emit(
            session,
            CouncilLeft(
                partnership_id=moved_from,
                ons_code=current.ons_code,
                left_on=body.joined_on,
                moved_to=partnership_id,
            ),
            partnership_id=moved_from,
            subject=current.ons_code,
        )
    council = Council(
        partnership_id=partnership_id,
        name=body.name,
        ons_code=body.ons_code,
        la_number=body.la_number,
        joined_on=body.joined_on,
    )
    session.add(council)
    await session.flush()
    outbox.emit(
        session,
        CouncilJoined(
            partnership_id=partnership_id,
            council=CouncilRef(name=body.name, ons_code=body.ons_code, la_number=body.la_number),
            joined_on=body.joined_on,
            moved_from=moved_from,
        ),
        partnership_id=partnership_id,
        subject=body.ons_code,
    )
    record_audit(
        session,
        principal,
        "join_council",
        "partnership",
        partnership_id,
        partnership_id=partnership_id,
        detail={"ons_code": body.ons_code, "joined_on": str(body.joined_on), "from": moved_from},
    )
    return _council_out(council)


async def leave_council(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    ons_code: str,
    left_on: date,
) -> CouncilMembershipOut:
    """End a council's membership; a partnership keeps at least one council."""
    principal.require_admin()
    await partnership_for(session, principal, partnership_id)
    current = (
        await session.exec(
            select(Council)
            .where(Council.partnership_id == partnership_id)
            .where(col(Council.left_on).is_(None))
        )
    ).all()
    council = next((c for c in current if c.ons_code == ons_code), None)
    if council is None:
        raise NotFound("The council is not in this partnership.")
    if len(current) == 1:
        raise Conflict("A partnership covers at least one council area.", field="ons_code")
    if council.joined_on is not None and left_on < council.joined_on:
        raise Unprocessable("A council cannot leave before it joined.", field="left_on")
    council.left_on = left_on
    session.add(council)
    outbox.emit(
        session,
        CouncilLeft(partnership_id=partnership_id, ons_code=ons_code, left_on=left_on),
        partnership_id=partnership_id,
        subject=ons_code,
    )
    record_audit(
        session,
        principal,
        "leave_council",
        "partnership",
        partnership_id,
        partnership_id=partnership_id,
        detail={"ons_code": ons_code, "left_on": str(left_on)},
    )
    return _council_out(council)


async def council_history(
    session: AsyncSession, principal: Principal, partnership_id: str, include_past: bool
) -> list[CouncilMembershipOut]:
    await partnership_for(session, principal, partnership_id)
    query = select(Council).where(Council.partnership_id == partnership_id)
    if not include_past:
        query = query.where(col(Council.left_on).is_(None))
    rows = (await session.exec(query.order_by(col(Council.ons_code), col(Council.id)))).all()
    return [_council_out(c) for c in rows]


def _council_out(c: Council) -> CouncilMembershipOut:
    return CouncilMembershipOut(
        id=c.id,
        partnership_id=c.partnership_id,
        name=c.name,
        ons_code=c.ons_code,
        la_number=c.la_number,
        joined_on=c.joined_on,
        left_on=c.left_on,
    )


# ---- lead representatives and delegations --------------------------------------------------


async def _partner(
    session: AsyncSession, principal: Principal, partnership_id: str, partner_id: str
) -> SafeguardingPartner:
    await partnership_for(session, principal, partnership_id)
    partner = await session.get(SafeguardingPartner, partner_id)
    if partner is None or partner.partnership_id != partnership_id:
        raise NotFound("Safeguarding partner not found.")
    return partner


async def update_partner(
    session: AsyncSession,
    principal: Principal,
    partnership_id: str,
    partner_id: str,
    patch: PartnerPatch,
) -> PartnerOut:
    """Name the lead representative (WT2023: the Lead Safeguarding Partner) or their role."""
    partner = await _partner(session, principal, partnership_id, partner_id)
    sent = patch.model_dump(exclude_unset=True)
    if "lead_role" in sent and sent["lead_role"] is None:
        raise Unprocessable("The lead's role is required.", field="lead_role")
    before = {k: getattr(partner, k) for k in sent}
    for field, value in sent.items():
        setattr(partner, field, value)
    session.add(partner)
    record_audit(
        session,
        principal,
        "update",
        "safeguarding_partner",
        partner.id,
        partnership_id=partnership_id,
        detail={"before": before, "after": sent},
    )
    return PartnerOut(
        id=partner.id,
        kind=partner.kind,
        organisation=partner.organisation,
        lead_role=partner.lead_role,
        lead_name=partner.lead_name,
    )


async def record_delegation(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    partner_id: str,
    body: DelegationIn,
    max_levels: dict[str, int],
) -> DelegationOut:
    """One named delegate per partner at a time (WT2023), flagged when too junior."""
    partner = await _partner(session, principal, partnership_id, partner_id)
    if not seniority.is_known_rank(partner.kind, body.rank):
        allowed = ", ".join([*seniority.RANKS[partner.kind], seniority.OTHER])
        raise Unprocessable(
            f"Unknown rank for a {partner.kind} partner; one of: {allowed}.", field="rank"
        )
    active = (
        await session.exec(
            select(Delegation)
            .where(Delegation.partner_id == partner_id)
            .where(col(Delegation.ended_on).is_(None))
        )
    ).first()
    if active is not None:
        raise Conflict(
            f"{active.delegate_name} is the partner's delegate since {active.delegated_on}; "
            "end that delegation first.",
            delegation_id=active.id,
        )
    levels = seniority.levels_below_lead(partner.kind, body.rank)
    threshold = max_levels.get(partner.kind, seniority.DEFAULT_MAX_LEVELS[partner.kind])
    delegation = Delegation(
        partnership_id=partnership_id,
        partner_id=partner_id,
        delegate_name=body.delegate_name,
        delegate_role=body.delegate_role,
        rank=body.rank,
        levels_below_lead=levels,
        below_threshold=levels > threshold,
        scope=body.scope,
        accountable_to=body.accountable_to,
        delegated_on=body.delegated_on,
    )
    session.add(delegation)
    await session.flush()
    outbox.emit(
        session,
        DelegationRecorded(
            partnership_id=partnership_id,
            delegation_id=delegation.id,
            partner_id=partner_id,
            partner_kind=partner.kind,  # type: ignore[arg-type]
            delegate_name=delegation.delegate_name,
            rank=delegation.rank,
            levels_below_lead=levels,
            below_threshold=delegation.below_threshold,
            delegated_on=delegation.delegated_on,
        ),
        partnership_id=partnership_id,
        subject=delegation.id,
    )
    record_audit(
        session,
        principal,
        "delegate",
        "safeguarding_partner",
        partner_id,
        partnership_id=partnership_id,
        detail={"delegation_id": delegation.id, "rank": body.rank, "levels_below_lead": levels},
    )
    return _delegation_out(delegation, partner.kind)


async def end_delegation(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    delegation_id: str,
    body: DelegationEndIn,
) -> DelegationOut:
    await partnership_for(session, principal, partnership_id)
    delegation = await session.get(Delegation, delegation_id)
    if delegation is None or delegation.partnership_id != partnership_id:
        raise NotFound("Delegation not found.")
    if delegation.ended_on is not None:
        raise Conflict(f"The delegation ended on {delegation.ended_on}.")
    if body.ended_on < delegation.delegated_on:
        raise Unprocessable("A delegation cannot end before it began.", field="ended_on")
    delegation.ended_on, delegation.end_reason = body.ended_on, body.reason
    session.add(delegation)
    partner = await session.get(SafeguardingPartner, delegation.partner_id)
    outbox.emit(
        session,
        DelegationEnded(
            partnership_id=partnership_id,
            delegation_id=delegation.id,
            partner_id=delegation.partner_id,
            ended_on=body.ended_on,
        ),
        partnership_id=partnership_id,
        subject=delegation.id,
    )
    record_audit(
        session,
        principal,
        "end_delegation",
        "safeguarding_partner",
        delegation.partner_id,
        partnership_id=partnership_id,
        detail={"delegation_id": delegation.id, "ended_on": str(body.ended_on)},
    )
    return _delegation_out(delegation, partner.kind if partner else "")


async def list_delegations(
    session: AsyncSession,
    principal: Principal,
    partnership_id: str,
    *,
    below_threshold: bool | None,
    current_only: bool,
    limit: int,
    offset: int,
) -> tuple[list[DelegationOut], int]:
    """Delegations of a partnership; ``below_threshold=true`` is what scrutineers look for."""
    await partnership_for(session, principal, partnership_id)
    conditions = [col(Delegation.partnership_id) == partnership_id]
    if below_threshold is not None:
        conditions.append(col(Delegation.below_threshold) == below_threshold)
    if current_only:
        conditions.append(col(Delegation.ended_on).is_(None))
    total = (
        await session.exec(select(func.count()).select_from(Delegation).where(*conditions))
    ).one()
    rows = (
        await session.exec(
            select(Delegation, SafeguardingPartner.kind)
            .join(SafeguardingPartner, col(SafeguardingPartner.id) == Delegation.partner_id)
            .where(*conditions)
            .order_by(col(Delegation.delegated_on), col(Delegation.id))
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return [_delegation_out(d, kind) for d, kind in rows], int(total)


def _delegation_out(d: Delegation, kind: str) -> DelegationOut:
    return DelegationOut(
        id=d.id,
        partnership_id=d.partnership_id,
        partner_id=d.partner_id,
        partner_kind=kind,
        delegate_name=d.delegate_name,
        delegate_role=d.delegate_role,
        rank=d.rank,
        levels_below_lead=d.levels_below_lead,
        below_threshold=d.below_threshold,
        scope=d.scope,
        accountable_to=d.accountable_to,
        delegated_on=d.delegated_on,
        ended_on=d.ended_on,
        end_reason=d.end_reason,
    )


# ---- client systems (listing; registration and credentials are in registry.py) -------------


async def list_client_systems(
    session: AsyncSession, principal: Principal, partnership_id: str, limit: int, offset: int
) -> tuple[list[ClientSystemSummary], int]:
    """The partnership's systems (not its people) and their credentials (never tokens)."""
    await partnership_for(session, principal, partnership_id)
    systems, total = await fetch_page(
        session,
        ClientSystem,
        [
            col(ClientSystem.partnership_id) == partnership_id,
            ~col(ClientSystem.client_id).startswith(PERSON_ID_PREFIX),  # people: people.py
        ],
        [col(ClientSystem.created_at), col(ClientSystem.client_id)],
        limit=limit,
        offset=offset,
    )
    ids = [s.client_id for s in systems]
    credentials = (
        await session.exec(
            select(ClientCredential)
            .where(col(ClientCredential.client_id).in_(ids))
            .order_by(col(ClientCredential.created_at))
        )
    ).all()
    by_client: dict[str, list[CredentialSummary]] = {}
    for c in credentials:
        by_client.setdefault(c.client_id, []).append(
            CredentialSummary(
                credential_id=c.credential_id, created_at=c.created_at, revoked_at=c.revoked_at
            )
        )
    items = [
        ClientSystemSummary(
            client_id=s.client_id,
            partnership_id=s.partnership_id,
            name=s.name,
            organisation=s.organisation,
            allowed_event_types=list(s.allowed_event_types),
            created_at=s.created_at,
            credentials=by_client.get(s.client_id, []),
        )
        for s in systems
    ]
    return items, int(total)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if v is None or isinstance(v, str | int | bool) else str(v) for k, v in values.items()
    }
