"""The audit trail: who did what to which record, in the same transaction as the change
(written when it commits)."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.db import stage_insert
from shared.tables import AuditEntry, table_of, utcnow

# Written at commit with the transaction's other entries (shared.db.stage_insert).
AUDIT_TABLE = table_of(AuditEntry)


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
    stage_insert(
        session,
        AUDIT_TABLE,
        {
            "at": utcnow(),
            "actor": f"{principal.kind}:{principal.id}",
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "partnership_id": partnership_id,
            "detail": detail or {},
        },
    )
