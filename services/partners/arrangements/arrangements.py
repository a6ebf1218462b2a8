"""Published-arrangements operations: drafts, completeness, publication and versions.

Each write stores its row, an audit entry and its event in the request's transaction. What the
document must contain and the implementation window are data in :mod:`.contents`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.partners.arrangements.contents import (
    DEFAULT_WINDOWS,
    ImplementationWindow,
    check_implementation_date,
    missing_items,
    window_for,
)
from services.partners.arrangements.models import ArrangementsVersion
from services.partners.arrangements.schemas import (
    ArrangementsContent,
    ArrangementsIn,
    ArrangementsOut,
    ArrangementsPatch,
    Completeness,
    MissingItem,
    PublishIn,
)
from services.partners.registry import partnership_for
from shared.audit import record_audit
from shared.auth import Principal
from shared.contracts.partners.arrangements import (
    ArrangementsDrafted,
    ArrangementsPublished,
    ArrangementsRevised,
)
from shared.outbox import Outbox
from shared.problems import Conflict, NotFound, Unprocessable
from shared.tables import utcnow


def _dump(content: ArrangementsContent, *, only_set: bool = False) -> dict[str, Any]:
    return content.model_dump(mode="json", exclude_unset=only_set, exclude_none=not only_set)


def _out(row: ArrangementsVersion) -> ArrangementsOut:
    missing = missing_items(row.content)
    return ArrangementsOut(
        id=row.id,
        partnership_id=row.partnership_id,
        version=row.version,
        status=row.status,  # type: ignore[arg-type]
        based_on_version=row.based_on_version,
        content=ArrangementsContent.model_validate(row.content),
        url=row.url,
        published_on=row.published_on,
        implementation_date=row.implementation_date,
        published_at=row.published_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        complete=not missing,
        missing=[m.item for m in missing],
    )


async def _find(session: AsyncSession, partnership_id: str, version: int) -> ArrangementsVersion:
    row = (
        await session.exec(
            select(ArrangementsVersion)
            .where(ArrangementsVersion.partnership_id == partnership_id)
            .where(ArrangementsVersion.version == version)
        )
    ).first()
    if row is None:
        raise NotFound(f"Arrangements version {version} not found.")
    return row


async def create_draft(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    body: ArrangementsIn,
) -> ArrangementsOut:
    """A new version, at most one draft at a time; a republication starts here too."""
    await partnership_for(session, principal, partnership_id)
    versions = (
        await session.exec(
            select(ArrangementsVersion).where(ArrangementsVersion.partnership_id == partnership_id)
        )
    ).all()
    draft = next((v for v in versions if v.status == "draft"), None)
    if draft is not None:
        raise Conflict(
            f"Version {draft.version} is still a draft: PATCH or publish it first.",
            version=draft.version,
        )
    content: dict[str, Any] = {}
    if body.based_on_version is not None:
        base = next((v for v in versions if v.version == body.based_on_version), None)
        if base is None:
            raise Unprocessable(
                f"There is no version {body.based_on_version} to start from.",
                field="based_on_version",
            )
        content = dict(base.content)
    content.update(_dump(body.content, only_set=True))
    content = {k: v for k, v in content.items() if v is not None}
    row = ArrangementsVersion(
        partnership_id=partnership_id,
        version=max((v.version for v in versions), default=0) + 1,
        based_on_version=body.based_on_version,
        content=content,
    )
    session.add(row)
    await session.flush()
    outbox.emit(
        session,
        ArrangementsDrafted(
            partnership_id=partnership_id,
            arrangements_version=row.version,
            based_on_version=row.based_on_version,
        ),
        partnership_id=partnership_id,
        subject=row.id,
    )
    record_audit(
        session,
        principal,
        "create",
        "arrangements",
        row.id,
        partnership_id=partnership_id,
        detail={"version": row.version, "based_on_version": row.based_on_version,
                "items": sorted(content)},
    )  # fmt: skip
    return _out(row)


async def patch_draft(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    version: int,
    body: ArrangementsPatch,
) -> ArrangementsOut:
    await partnership_for(session, principal, partnership_id)
    row = await _find(session, partnership_id, version)
    if row.status != "draft":
        raise Conflict(f"Version {version} is published and cannot change; start a new version.")
    changes = _dump(body.content, only_set=True)
    content = dict(row.content)
    before = {k: content.get(k) for k in changes}
    for key, value in changes.items():
        if value is None:
            content.pop(key, None)
        else:
            content[key] = value
    row.content = content
    row.updated_at = utcnow()
    session.add(row)
    out = _out(row)
    outbox.emit(
        session,
        ArrangementsRevised(
            partnership_id=partnership_id,
            arrangements_version=version,
            items=sorted(changes),
            missing=out.missing,
        ),
        partnership_id=partnership_id,
        subject=row.id,
    )
    record_audit(
        session,
        principal,
        "update",
        "arrangements",
        row.id,
        partnership_id=partnership_id,
        detail={"version": version, "before": before, "after": changes},
    )
    return out


async def get_version(
    session: AsyncSession, principal: Principal, partnership_id: str, version: int
) -> ArrangementsOut:
    await partnership_for(session, principal, partnership_id)
    return _out(await _find(session, partnership_id, version))


async def completeness(
    session: AsyncSession, principal: Principal, partnership_id: str, version: int
) -> Completeness:
    await partnership_for(session, principal, partnership_id)
    row = await _find(session, partnership_id, version)
    missing = missing_items(row.content)
    return Completeness(
        version=version,
        complete=not missing,
        missing=[
            MissingItem(item=m.item, number=m.number, title=m.title, detail=m.detail)
            for m in missing
        ],
    )


async def list_versions(
    session: AsyncSession,
    principal: Principal,
    partnership_id: str,
    *,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[ArrangementsOut], int]:
    await partnership_for(session, principal, partnership_id)
    query = select(ArrangementsVersion).where(ArrangementsVersion.partnership_id == partnership_id)
    count = (
        select(func.count())
        .select_from(ArrangementsVersion)
        .where(ArrangementsVersion.partnership_id == partnership_id)
    )
    if status is not None:
        query = query.where(ArrangementsVersion.status == status)
        count = count.where(ArrangementsVersion.status == status)
    total = (await session.exec(count)).one()
    rows = await session.exec(
        query.order_by(col(ArrangementsVersion.version).desc()).limit(limit).offset(offset)
    )
    return [_out(r) for r in rows.all()], int(total)


async def publish(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    version: int,
    body: PublishIn,
    windows: Sequence[ImplementationWindow] = DEFAULT_WINDOWS,
    today: date | None = None,
) -> ArrangementsOut:
    """Publish a complete draft with an implementation date inside the window (domain.md 2)."""
    await partnership_for(session, principal, partnership_id)
    row = await _find(session, partnership_id, version)
    if row.status != "draft":
        raise Conflict(f"Version {version} is already published; republish as a new version.")
    missing = missing_items(row.content)
    if missing:
        raise Unprocessable(
            "The arrangements lack required content: "
            + ", ".join(m.item for m in missing)
            + ".",
            missing=[
                {"item": m.item, "number": m.number, "title": m.title, "detail": m.detail}
                for m in missing
            ],
            errors=[
                {"field": f"content.{m.item}", "pointer": f"#/content/{m.item}",
                 "detail": m.detail}
                for m in missing
            ],
        )  # fmt: skip
    today = today or datetime.now(UTC).date()
    if body.published_on > today:
        raise Unprocessable(
            "published_on records a publication that has happened; it cannot be in the future.",
            field="published_on",
        )
    window = window_for(body.published_on, windows)
    refused = check_implementation_date(body.published_on, body.implementation_date, window)
    if refused:
        raise Unprocessable(refused, field="implementation_date")
    previous = (
        await session.exec(
            select(ArrangementsVersion)
            .where(ArrangementsVersion.partnership_id == partnership_id)
            .where(ArrangementsVersion.status == "published")
            .order_by(col(ArrangementsVersion.version).desc())
        )
    ).first()
    if previous is not None and previous.published_on and body.published_on < previous.published_on:
        raise Unprocessable(
            f"Version {previous.version} was published on {previous.published_on.isoformat()}; "
            "a republication cannot be dated earlier.",
            field="published_on",
        )
    row.status = "published"
    row.url = str(body.url)
    row.published_on = body.published_on
    row.implementation_date = body.implementation_date
    row.published_at = row.updated_at = utcnow()
    session.add(row)
    outbox.emit(
        session,
        ArrangementsPublished(
            partnership_id=partnership_id,
            arrangements_version=version,
            url=row.url,
            published_on=body.published_on,
            implementation_date=body.implementation_date,
            supersedes_version=previous.version if previous else None,
        ),
        partnership_id=partnership_id,
        subject=row.id,
    )
    record_audit(
        session,
        principal,
        "publish",
        "arrangements",
        row.id,
        partnership_id=partnership_id,
        detail={
            "version": version,
            "url": row.url,
            "published_on": body.published_on.isoformat(),
            "implementation_date": body.implementation_date.isoformat(),
            "window": window.rule_id,
        },
    )
    return _out(row)
