"""The audit trail: who did what to which record, in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.tables import AuditEntry


def record_audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    entity_type: str,
    entity_id: str,
    *,
    partnership_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            actor=f"{principal.kind}:{principal.id}",
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            partnership_id=partnership_id,
            detail=detail or {},
        )
    )
