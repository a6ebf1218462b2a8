"""The rows a batch of events touches, loaded once per transaction.

The consumer applies a fetched batch in one transaction (shared.consumer). Looking each row up
per event cost a query, and a lookup that missed flushed everything pending first; one
incident brings seven events about the same case and its notifications, so most of reporting's
CPU went there (measured with ``make bench``). :func:`preload` reads the partnerships, cases
and notifications a batch names in one query per table; :func:`find` answers from what the
transaction has loaded or created (absent rows included), and :func:`keep` records a row a
handler creates, so a later event of the same batch finds it without a flush.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reporting.models import CaseView, NotificationView, PartnershipView
from shared.events import CloudEvent

ROWS = "reporting_rows"
Row = TypeVar("Row")

# Model -> the payload attribute naming its primary key.
PRELOADED: dict[type[Any], str] = {
    PartnershipView: "partnership_id",
    CaseView: "case_id",
    NotificationView: "notification_id",
}


def _rows(session: AsyncSession) -> dict[tuple[type[Any], Any], Any]:
    rows: dict[tuple[type[Any], Any], Any] = session.info.setdefault(ROWS, {})
    return rows


async def find(session: AsyncSession, model: type[Row], key: Any) -> Row | None:
    """``session.get``, answered from this transaction's rows when it has seen the key."""
    rows = _rows(session)
    if (model, key) in rows:
        found: Row | None = rows[(model, key)]
        return found
    row = await session.get(model, key)
    rows[(model, key)] = row
    return row


def keep(session: AsyncSession, model: type[Any], key: Any, row: Any) -> None:
    """A row created (or re-read) in this transaction: later lookups find it."""
    _rows(session)[(model, key)] = row


async def preload(session: AsyncSession, events: Sequence[tuple[CloudEvent, Any]]) -> None:
    """The consumer's batch loader: every row of :data:`PRELOADED` the events name."""
    rows = _rows(session)
    for model, attribute in PRELOADED.items():
        keys = {
            key
            for _, payload in events
            if isinstance(key := getattr(payload, attribute, None), str) and key
        }
        keys -= {k for m, k in rows if m is model}
        if not keys:
            continue
        pk = col(getattr(model, attribute))
        for row in (await session.exec(select(model).where(pk.in_(keys)))).all():
            rows[(model, getattr(row, attribute))] = row
        for key in keys:
            rows.setdefault((model, key), None)
