"""Independent scrutiny arrangements and strategic links: record, change, remove, list.

Rules (domain.md section 1, issue 3): scrutiny follows a local model (an ``other`` model must
say what it is) with at least one named scrutineer who states their independence; a period
ends no earlier than it starts. Both kinds of record are soft-deleted, so the yearly report
can still list what was in place during its year.

Each write stores its row, an audit entry and its event in the caller's transaction.
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from sqlalchemy import ColumnElement
from sqlmodel import col, func
from sqlmodel.ext.asyncio.session import AsyncSession

from services.partners.registry import partnership_for
from services.partners.scrutiny.models import ScrutinyArrangement, StrategicLink
from services.partners.scrutiny.schemas import (
    LinkIn,
    LinkOut,
    LinkPatch,
    ScrutinyIn,
    ScrutinyOut,
    ScrutinyPatch,
)
from shared.audit import record_audit
from shared.auth import Principal
from shared.contracts.partners.scrutiny import (
    ScrutinyArrangementRecorded,
    ScrutinyArrangementRemoved,
    ScrutinyArrangementState,
    ScrutinyArrangementUpdated,
    StrategicLinkRecorded,
    StrategicLinkRemoved,
    StrategicLinkState,
    StrategicLinkUpdated,
)
from shared.db import fetch_page
from shared.outbox import Outbox
from shared.problems import Conflict, NotFound, Unprocessable
from shared.tables import utcnow

Row = TypeVar("Row", ScrutinyArrangement, StrategicLink)


def _check_period(start: date, end: date | None, end_field: str) -> None:
    if end is not None and end < start:
        raise Unprocessable(
            f"The period cannot end ({end}) before it starts ({start}).", field=end_field
        )


def _check_model(model: str, detail: str | None) -> None:
    if model == "other" and not detail:
        raise Unprocessable("Say what the model is when it is 'other'.", field="model_detail")


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}


async def _row(
    session: AsyncSession,
    principal: Principal,
    model: type[Row],
    partnership_id: str,
    row_id: str,
    what: str,
) -> Row:
    """The row if it belongs to this partnership and the caller may see it; 404 otherwise."""
    await partnership_for(session, principal, partnership_id)
    row = await session.get(model, row_id)
    if row is None or row.partnership_id != partnership_id:
        raise NotFound(f"{what} not found.")
    return row


def _apply(row: Row, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for field, value in values.items():
        if getattr(row, field) != value:
            before[field], after[field] = getattr(row, field), value
            setattr(row, field, value)
    return before, after


def _refuse_nulls(sent: dict[str, Any], required: tuple[str, ...]) -> None:
    for field in required:
        if field in sent and sent[field] is None:
            raise Unprocessable(f"The record must keep its {field}.", field=field)


# ---- independent scrutiny ---------------------------------------------------------------------


def _scrutiny_state(row: ScrutinyArrangement) -> ScrutinyArrangementState:
    return ScrutinyArrangementState.model_validate(
        {
            "arrangement_id": row.id,
            "model": row.model,
            "model_detail": row.model_detail,
            "scrutineers": row.scrutineers,
            "scope": row.scope,
            "reporting_arrangements": row.reporting_arrangements,
            "starts_on": row.starts_on,
            "ends_on": row.ends_on,
        }
    )


def scrutiny_out(row: ScrutinyArrangement) -> ScrutinyOut:
    return ScrutinyOut.model_validate(row, from_attributes=True)


async def record_scrutiny(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    body: ScrutinyIn,
) -> ScrutinyOut:
    await partnership_for(session, principal, partnership_id)
    _check_model(body.model, body.model_detail)
    _check_period(body.starts_on, body.ends_on, "ends_on")
    row = ScrutinyArrangement(
        partnership_id=partnership_id,
        **body.model_dump(exclude={"scrutineers"}),
        scrutineers=[s.model_dump() for s in body.scrutineers],
    )
    session.add(row)
    await session.flush()
    outbox.emit(
        session,
        ScrutinyArrangementRecorded(
            partnership_id=partnership_id, arrangement=_scrutiny_state(row)
        ),
        partnership_id=partnership_id,
        subject=row.id,
    )
    record_audit(
        session,
        principal,
        "record",
        "scrutiny_arrangement",
        row.id,
        partnership_id=partnership_id,
        detail={"model": row.model},
    )
    return scrutiny_out(row)


async def get_scrutiny(
    session: AsyncSession, principal: Principal, partnership_id: str, arrangement_id: str
) -> ScrutinyOut:
    row = await _row(
        session,
        principal,
        ScrutinyArrangement,
        partnership_id,
        arrangement_id,
        "Scrutiny arrangement",
    )
    return scrutiny_out(row)


async def update_scrutiny(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    arrangement_id: str,
    patch: ScrutinyPatch,
) -> ScrutinyOut:
    row = await _row(
        session,
        principal,
        ScrutinyArrangement,
        partnership_id,
        arrangement_id,
        "Scrutiny arrangement",
    )
    if row.removed_on is not None:
        raise Conflict(f"The arrangement was removed on {row.removed_on}; it cannot change.")
    sent = patch.model_dump(exclude_unset=True)
    _refuse_nulls(sent, ("model", "scrutineers", "scope", "reporting_arrangements", "starts_on"))
    _check_model(sent.get("model", row.model), sent.get("model_detail", row.model_detail))
    _check_period(
        sent.get("starts_on", row.starts_on),
        sent.get("ends_on", row.ends_on),
        "ends_on" if "ends_on" in sent else "starts_on",
    )
    if patch.scrutineers is not None:
        sent["scrutineers"] = [s.model_dump() for s in patch.scrutineers]
    before, after = _apply(row, sent)
    if not after:
        return scrutiny_out(row)
    row.updated_at = utcnow()
    session.add(row)
    outbox.emit(
        session,
        ScrutinyArrangementUpdated(
            partnership_id=partnership_id, arrangement=_scrutiny_state(row), changed=sorted(after)
        ),
        partnership_id=partnership_id,
        subject=row.id,
    )
    record_audit(
        session,
        principal,
        "update",
        "scrutiny_arrangement",
        row.id,
        partnership_id=partnership_id,
        detail={"before": _jsonable(before), "after": _jsonable(after)},
    )
    return scrutiny_out(row)


async def remove_scrutiny(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    arrangement_id: str,
    removed_on: date | None,
    reason: str,
) -> ScrutinyOut:
    """Soft delete: withdraw the record; its row and history stay."""
    row = await _row(
        session,
        principal,
        ScrutinyArrangement,
        partnership_id,
        arrangement_id,
        "Scrutiny arrangement",
    )
    if row.removed_on is not None:
        raise Conflict(f"The arrangement was already removed on {row.removed_on}.")
    day = removed_on or utcnow().date()
    row.removed_on, row.removal_reason, row.updated_at = day, reason, utcnow()
    session.add(row)
    outbox.emit(
        session,
        ScrutinyArrangementRemoved(
            partnership_id=partnership_id, arrangement_id=row.id, removed_on=day, reason=reason
        ),
        partnership_id=partnership_id,
        subject=row.id,
    )
    record_audit(
        session,
        principal,
        "remove",
        "scrutiny_arrangement",
        row.id,
        partnership_id=partnership_id,
        detail={"removed_on": day.isoformat(), "reason": reason},
    )
    return scrutiny_out(row)


async def list_scrutiny(
    session: AsyncSession,
    principal: Principal,
    partnership_id: str,
    *,
    limit: int,
    offset: int,
    model: str | None = None,
    current_on: date | None = None,
    include_removed: bool = False,
) -> tuple[list[ScrutinyOut], int]:
    await partnership_for(session, principal, partnership_id)
    where: list[ColumnElement[bool]] = [col(ScrutinyArrangement.partnership_id) == partnership_id]
    if model is not None:
        where.append(col(ScrutinyArrangement.model) == model)
    if current_on is not None:
        where.append(col(ScrutinyArrangement.starts_on) <= current_on)
        where.append(
            col(ScrutinyArrangement.ends_on).is_(None)
            | (col(ScrutinyArrangement.ends_on) >= current_on)
        )
    if not include_removed:
        where.append(col(ScrutinyArrangement.removed_on).is_(None))
    rows, total = await fetch_page(
        session,
        ScrutinyArrangement,
        where,
        [col(ScrutinyArrangement.starts_on), col(ScrutinyArrangement.id)],
        limit=limit,
        offset=offset,
    )
    return [scrutiny_out(r) for r in rows], total


# ---- strategic links --------------------------------------------------------------------------


def _link_state(row: StrategicLink) -> StrategicLinkState:
    return StrategicLinkState(
        link_id=row.id,
        name=row.name,
        kind=row.kind,
        contact=row.contact,
        notes=row.notes,
        linked_from=row.linked_from,
        linked_to=row.linked_to,
    )


def link_out(row: StrategicLink) -> LinkOut:
    return LinkOut.model_validate(row, from_attributes=True)


async def record_link(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    body: LinkIn,
) -> LinkOut:
    await partnership_for(session, principal, partnership_id)
    _check_period(body.linked_from, body.linked_to, "linked_to")
    row = StrategicLink(partnership_id=partnership_id, **body.model_dump())
    session.add(row)
    await session.flush()
    outbox.emit(
        session,
        StrategicLinkRecorded(partnership_id=partnership_id, link=_link_state(row)),
        partnership_id=partnership_id,
        subject=row.id,
    )
    record_audit(
        session,
        principal,
        "record",
        "strategic_link",
        row.id,
        partnership_id=partnership_id,
        detail={"name": row.name, "kind": row.kind},
    )
    return link_out(row)


async def get_link(
    session: AsyncSession, principal: Principal, partnership_id: str, link_id: str
) -> LinkOut:
    return link_out(
        await _row(session, principal, StrategicLink, partnership_id, link_id, "Strategic link")
    )


async def update_link(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    link_id: str,
    patch: LinkPatch,
) -> LinkOut:
    row = await _row(session, principal, StrategicLink, partnership_id, link_id, "Strategic link")
    if row.removed_on is not None:
        raise Conflict(f"The link was removed on {row.removed_on}; it cannot change.")
    sent = patch.model_dump(exclude_unset=True)
    _refuse_nulls(sent, ("name", "kind", "linked_from"))
    _check_period(
        sent.get("linked_from", row.linked_from),
        sent.get("linked_to", row.linked_to),
        "linked_to" if "linked_to" in sent else "linked_from",
    )
    before, after = _apply(row, sent)
    if not after:
        return link_out(row)
    row.updated_at = utcnow()
    session.add(row)
    outbox.emit(
        session,
        StrategicLinkUpdated(
            partnership_id=partnership_id, link=_link_state(row), changed=sorted(after)
        ),
        partnership_id=partnership_id,
        subject=row.id,
    )
    record_audit(
        session,
        principal,
        "update",
        "strategic_link",
        row.id,
        partnership_id=partnership_id,
        detail={"before": _jsonable(before), "after": _jsonable(after)},
    )
    return link_out(row)


async def remove_link(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    link_id: str,
    removed_on: date | None,
    reason: str,
) -> LinkOut:
    """Soft delete: withdraw the record; its row and history stay."""
    row = await _row(session, principal, StrategicLink, partnership_id, link_id, "Strategic link")
    if row.removed_on is not None:
        raise Conflict(f"The link was already removed on {row.removed_on}.")
    day = removed_on or utcnow().date()
    row.removed_on, row.removal_reason, row.updated_at = day, reason, utcnow()
    session.add(row)
    outbox.emit(
        session,
        StrategicLinkRemoved(
            partnership_id=partnership_id, link_id=row.id, removed_on=day, reason=reason
        ),
        partnership_id=partnership_id,
        subject=row.id,
    )
    record_audit(
        session,
        principal,
        "remove",
        "strategic_link",
        row.id,
        partnership_id=partnership_id,
        detail={"removed_on": day.isoformat(), "reason": reason},
    )
    return link_out(row)


async def list_links(
    session: AsyncSession,
    principal: Principal,
    partnership_id: str,
    *,
    limit: int,
    offset: int,
    kind: str | None = None,
    name: str | None = None,
    current_on: date | None = None,
    include_removed: bool = False,
) -> tuple[list[LinkOut], int]:
    await partnership_for(session, principal, partnership_id)
    where: list[ColumnElement[bool]] = [col(StrategicLink.partnership_id) == partnership_id]
    if kind is not None:
        where.append(col(StrategicLink.kind) == kind)
    if name:
        where.append(func.lower(StrategicLink.name).contains(name.lower()))
    if current_on is not None:
        where.append(col(StrategicLink.linked_from) <= current_on)
        where.append(
            col(StrategicLink.linked_to).is_(None) | (col(StrategicLink.linked_to) >= current_on)
        )
    if not include_removed:
        where.append(col(StrategicLink.removed_on).is_(None))
    rows, total = await fetch_page(
        session,
        StrategicLink,
        where,
        [col(StrategicLink.kind), col(StrategicLink.name), col(StrategicLink.id)],
        limit=limit,
        offset=offset,
    )
    return [link_out(r) for r in rows], total
