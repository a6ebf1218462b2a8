"""Event handlers: each folds one event into the read models, in the consumer's transaction.

Idempotent by design as well as through the shared inbox: every write is an upsert keyed by
the producer's id, counts are computed when read (never incremented here), and a status only
moves forward (:func:`services.reporting.readmodel.advance`). So a replayed event, or one
redelivered under a new event id, changes nothing. Topics are not ordered with respect to each
other, so each handler creates what it refers to if it is missing (a partnership stub) or stands
alone (notification rows are joined to their case when read).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reporting.models import (
    CaseProgressView,
    CaseView,
    DeadlineView,
    DelegationView,
    FundingView,
    NotificationView,
    PartnershipView,
    RegistryRecordView,
)
from services.reporting.readmodel import (
    ABANDONED,
    DELIVERED,
    NOTIFIED,
    QUEUED,
    RETRYING,
    advance,
    transition_applies,
)
from services.reporting.rowcache import find, keep
from shared.consumer import Handler
from shared.contracts.notifications import (
    NotificationAbandoned,
    NotificationAttemptFailed,
    NotificationDelivered,
    NotificationQueued,
)
from shared.contracts.partners import (
    CouncilJoined,
    CouncilLeft,
    DelegationEnded,
    DelegationRecorded,
    PartnershipCreated,
    PartnershipStatusChanged,
    PartnershipUpdated,
)
from shared.contracts.partners.agencies import (
    RelevantAgencyNamed,
    RelevantAgencyRemoved,
    RelevantAgencyUpdated,
)
from shared.contracts.partners.arrangements import ArrangementsPublished
from shared.contracts.partners.funding import (
    FundingBudgetSet,
    FundingContributionRecorded,
    FundingContributionUpdated,
    FundingContributionWithdrawn,
)
from shared.contracts.partners.scrutiny import (
    ScrutinyArrangementRecorded,
    ScrutinyArrangementRemoved,
    ScrutinyArrangementUpdated,
    StrategicLinkRecorded,
    StrategicLinkRemoved,
    StrategicLinkUpdated,
)
from shared.contracts.reviews import IncidentNotified
from shared.contracts.reviews.deadlines import (
    DeadlineApproaching,
    DeadlineBreached,
    DeadlineMet,
    DeadlineRecomputed,
)
from shared.contracts.reviews.lifecycle import (
    CaseTransitioned,
    FinalReportShared,
    LocalReviewDecided,
    RapidReviewSubmitted,
    ReviewPublished,
)
from shared.credentials import CREDENTIAL_HANDLERS
from shared.events import CloudEvent
from shared.tables import utcnow

log = logging.getLogger("masa.reporting")

NotificationEvent = (
    NotificationQueued | NotificationDelivered | NotificationAttemptFailed | NotificationAbandoned
)


async def _ensure_partnership(session: AsyncSession, partnership_id: str) -> PartnershipView:
    """The partnership's row, inserted as a stub if no event has named it yet.

    INSERT .. ON CONFLICT DO NOTHING: two consumers (different topics, different partitions)
    may both be the first to mention a partnership. Looked up first: it almost always exists.
    """
    existing = await find(session, PartnershipView, partnership_id)
    if existing is not None:
        return existing
    now = utcnow()
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    await session.exec(
        insert(PartnershipView)
        .values(
            partnership_id=partnership_id,
            councils=[],
            partners=[],
            first_seen_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["partnership_id"])
    )
    row = await session.get(PartnershipView, partnership_id)
    assert row is not None  # just inserted, or there already
    keep(session, PartnershipView, partnership_id, row)
    return row


async def on_partnership_created(
    session: AsyncSession, event: CloudEvent, payload: PartnershipCreated
) -> None:
    row = await _ensure_partnership(session, payload.partnership_id)
    if row.fields_as_of is None:  # a later partnership.updated already renamed it
        row.name = payload.name
    if not row.status_history:  # a status change already moved it on
        row.status = payload.status
    row.effective_from = payload.effective_from
    row.councils = [c.model_dump(mode="json") for c in payload.councils]
    history = dict(row.council_history or {})
    for council in payload.councils:
        # The founding councils: covered from the start unless a council.left says otherwise.
        entry = history.get(council.ons_code, {"joined_on": None, "left_on": None})
        history[council.ons_code] = {**entry, **council.model_dump(mode="json")}
    row.council_history = history
    row.partners = [p.model_dump(mode="json") for p in payload.partners]
    row.updated_at = utcnow()
    session.add(row)


async def on_incident_notified(
    session: AsyncSession, event: CloudEvent, payload: IncidentNotified
) -> None:
    await _ensure_partnership(session, payload.partnership_id)
    row = await find(session, CaseView, payload.case_id)
    if row is None:
        row = CaseView(
            case_id=payload.case_id,
            partnership_id=payload.partnership_id,
            council_ons_code=payload.council_ons_code,
            kind=payload.kind,
            nature=payload.nature,
            status=NOTIFIED,
            aware_on=payload.aware_on,
            notified_at=payload.notified_at,
        )
        keep(session, CaseView, payload.case_id, row)
    elif row.partnership_id != payload.partnership_id:
        log.warning(
            "ignoring %s: case %s belongs to another partnership", event.id, payload.case_id
        )
        return
    # The facts are replaced wholesale (the same event replayed writes the same values); the
    # status is left alone, so a replayed notification never reopens a case moved on since.
    row.council_ons_code = payload.council_ons_code
    row.kind = payload.kind
    row.nature = payload.nature
    row.incident_date = payload.incident_date
    row.aware_on = payload.aware_on
    row.notified_at = payload.notified_at
    row.needs_rapid_review = payload.needs_rapid_review
    row.children_count = len(payload.children)
    row.deadlines = [d.model_dump(mode="json") for d in payload.deadlines]
    row.notify = list(payload.notify)
    row.involved_partnership_ids = list(payload.involved_partnership_ids)
    row.updated_at = utcnow()
    session.add(row)


async def _notification(
    session: AsyncSession, event: CloudEvent, payload: NotificationEvent
) -> NotificationView | None:
    """The notification's row (created on whichever of its events arrives first)."""
    await _ensure_partnership(session, payload.partnership_id)
    row = await find(session, NotificationView, payload.notification_id)
    if row is None:
        row = NotificationView(
            notification_id=payload.notification_id,
            case_id=payload.case_id,
            partnership_id=payload.partnership_id,
            recipient=payload.recipient,
            status=QUEUED,
        )
        session.add(row)
        keep(session, NotificationView, payload.notification_id, row)
        return row
    if row.partnership_id != payload.partnership_id:
        log.warning(
            "ignoring %s: notification %s belongs to another partnership",
            event.id,
            payload.notification_id,
        )
        return None
    return row


def _save(session: AsyncSession, row: NotificationView, **changes: Any) -> None:
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.add(row)


async def on_notification_queued(
    session: AsyncSession, event: CloudEvent, payload: NotificationQueued
) -> None:
    row = await _notification(session, event, payload)
    if row is None:
        return
    _save(
        session,
        row,
        channel=payload.channel,
        rule_id=payload.rule_id,
        due_on=payload.due_on,
        queued_at=row.queued_at or event.time,
        status=advance(row.status, QUEUED),
    )


async def on_notification_attempt_failed(
    session: AsyncSession, event: CloudEvent, payload: NotificationAttemptFailed
) -> None:
    row = await _notification(session, event, payload)
    if row is None:
        return
    changes: dict[str, Any] = {
        "status": advance(row.status, RETRYING),
        "attempts": max(row.attempts, payload.attempt),
    }
    if payload.attempt >= row.last_error_attempt:
        changes.update(
            last_error=payload.error,
            last_error_attempt=payload.attempt,
            next_attempt_at=payload.next_attempt_at,
        )
    _save(session, row, **changes)


async def on_notification_delivered(
    session: AsyncSession, event: CloudEvent, payload: NotificationDelivered
) -> None:
    row = await _notification(session, event, payload)
    if row is None:
        return
    first = row.delivered_at is None or payload.delivered_at < row.delivered_at
    _save(
        session,
        row,
        status=advance(row.status, DELIVERED),
        attempts=max(row.attempts, payload.attempts),
        delivered_at=payload.delivered_at if first else row.delivered_at,
        on_time=payload.on_time if first and payload.on_time is not None else row.on_time,
        next_attempt_at=None,
    )


async def on_notification_abandoned(
    session: AsyncSession, event: CloudEvent, payload: NotificationAbandoned
) -> None:
    row = await _notification(session, event, payload)
    if row is None:
        return
    changes: dict[str, Any] = {
        "status": advance(row.status, ABANDONED),
        "attempts": max(row.attempts, payload.attempts),
        "next_attempt_at": None,
    }
    if payload.attempts >= row.last_error_attempt:
        changes.update(last_error=payload.last_error, last_error_attempt=payload.attempts)
    _save(session, row, **changes)


# ---- case lifecycle and deadlines (reviews.events) ---------------------------------------


async def _owned(
    session: AsyncSession, model: Any, key: Any, partnership_id: str, event: CloudEvent
) -> tuple[Any, bool]:
    """(row or None, usable): a row that belongs to another partnership is not touched."""
    row = await session.get(model, key)
    if row is not None and row.partnership_id != partnership_id:
        log.warning("ignoring %s: %s %s belongs to another partnership", event.id, model, key)
        return row, False
    return row, True


async def on_case_transitioned(
    session: AsyncSession, event: CloudEvent, payload: CaseTransitioned
) -> None:
    await _ensure_partnership(session, payload.partnership_id)
    row, usable = await _owned(
        session, CaseProgressView, payload.case_id, payload.partnership_id, event
    )
    if not usable:
        return
    if row is None:
        row = CaseProgressView(
            case_id=payload.case_id,
            partnership_id=payload.partnership_id,
            status=payload.to_status,
            transition=payload.transition,
            at=payload.at,
        )
    elif not transition_applies(row.at, row.status, payload.at, payload.to_status):
        return  # an older (or the same) step: the case never moves backwards
    row.status = payload.to_status
    row.transition = payload.transition
    row.at = payload.at
    row.updated_at = utcnow()
    session.add(row)


async def _deadline(
    session: AsyncSession, event: CloudEvent, case_id: str, partnership_id: str, rule_id: str
) -> DeadlineView | None:
    await _ensure_partnership(session, partnership_id)
    row, usable = await _owned(session, DeadlineView, (case_id, rule_id), partnership_id, event)
    if not usable:
        return None
    if row is None:
        row = DeadlineView(case_id=case_id, rule_id=rule_id, partnership_id=partnership_id)
    return row  # type: ignore[no-any-return]


def _describe(
    row: DeadlineView,
    *,
    title: str | None = None,
    edition: str | None = None,
    recipients: list[str] | None = None,
    due_on: date | None = None,
) -> None:
    """Fill what the row does not know yet; a due date set by a recompute is kept."""
    row.title = row.title or title
    row.edition = row.edition or edition
    row.recipients = row.recipients or list(recipients or [])
    if row.due_on is None and row.due_as_of is None:
        row.due_on = due_on


async def _due_now(session: AsyncSession, row: DeadlineView) -> date | None:
    """The deadline's current due date: recomputed or alerted, else as notified, else unknown."""
    if row.due_on is not None:
        return row.due_on
    case = await find(session, CaseView, row.case_id)
    for raw in case.deadlines if case else []:
        if raw.get("rule_id") == row.rule_id and raw.get("due_on"):
            return date.fromisoformat(str(raw["due_on"]))
    return None


async def _alerted(
    session: AsyncSession,
    event: CloudEvent,
    payload: DeadlineApproaching | DeadlineBreached | DeadlineMet,
) -> DeadlineView | None:
    """The row an alert applies to, or None for a stale alert (raised for a due date a
    correction has since moved: it must not overwrite the current one)."""
    row = await _deadline(session, event, payload.case_id, payload.partnership_id, payload.rule_id)
    if row is None:
        return None
    current = await _due_now(session, row)
    if current is not None and current != payload.due_on and not isinstance(payload, DeadlineMet):
        return None
    _describe(
        row,
        title=payload.title,
        edition=payload.edition,
        recipients=payload.recipients,
        due_on=current or payload.due_on,
    )
    return row


def _mark_met(row: DeadlineView, met_on: date, on_time: bool | None) -> None:
    """A deadline is met once (the reviews service refuses another day): the first wins."""
    if row.met_on is None:
        row.met_on = met_on
        row.met_on_time = on_time


def _store(session: AsyncSession, row: Any) -> None:
    row.updated_at = utcnow()
    session.add(row)


async def on_deadline_approaching(
    session: AsyncSession, event: CloudEvent, payload: DeadlineApproaching
) -> None:
    row = await _alerted(session, event, payload)
    if row is None:
        return
    row.approaching_due_on = payload.due_on
    row.working_days_remaining = payload.working_days_remaining
    _store(session, row)


async def on_deadline_breached(
    session: AsyncSession, event: CloudEvent, payload: DeadlineBreached
) -> None:
    row = await _alerted(session, event, payload)
    if row is None:
        return
    row.breached_due_on = payload.due_on
    _store(session, row)


async def on_deadline_met(session: AsyncSession, event: CloudEvent, payload: DeadlineMet) -> None:
    row = await _alerted(session, event, payload)
    if row is None:
        return
    _mark_met(row, payload.met_on, payload.on_time)
    _store(session, row)


async def on_deadline_recomputed(
    session: AsyncSession, event: CloudEvent, payload: DeadlineRecomputed
) -> None:
    """Moves each deadline's due date, if the move starts from the due date held.

    A correction from D0 to D1 replayed after a later one from D1 to D2 finds D2, not D0, and
    changes nothing; ``due_as_of`` (the event time) also refuses an older correction.
    """
    case = await find(session, CaseView, payload.case_id)
    notified = {d.get("rule_id"): d for d in (case.deadlines if case else [])}
    for moved in payload.deadlines:
        row = await _deadline(
            session, event, payload.case_id, payload.partnership_id, moved.rule_id
        )
        if row is None:
            return
        held = row.due_on
        if held is None and moved.rule_id in notified:
            held = date.fromisoformat(str(notified[moved.rule_id]["due_on"]))
        if held is not None and held != moved.previous_due_on:
            continue
        if row.due_as_of is not None and event.time < row.due_as_of:
            continue
        row.edition = row.edition or moved.edition
        row.starts_on, row.due_on, row.due_as_of = moved.starts_on, moved.due_on, event.time
        _store(session, row)


# The statutory steps that meet (or set) a deadline, as the reviews service defines them.
RAPID_REVIEW_RULE, LOCAL_REVIEW_RULE, PRE_PUBLICATION_RULE = (
    "RR-15WD",
    "LCSPR-6M",
    "LCSPR-PRE-PUB-7WD",
)


async def on_rapid_review_submitted(
    session: AsyncSession, event: CloudEvent, payload: RapidReviewSubmitted
) -> None:
    row = await _deadline(
        session, event, payload.case_id, payload.partnership_id, RAPID_REVIEW_RULE
    )
    if row is None:
        return
    _describe(row, due_on=payload.due_on)
    _mark_met(row, payload.sent_to_panel_on, not payload.late)
    _store(session, row)


async def on_local_review_decided(
    session: AsyncSession, event: CloudEvent, payload: LocalReviewDecided
) -> None:
    if payload.lcspr_due_on is None:  # no local review: no LCSPR-6M deadline
        return
    row = await _deadline(
        session, event, payload.case_id, payload.partnership_id, LOCAL_REVIEW_RULE
    )
    if row is None:
        return
    _describe(row, title="Complete and publish the local review", due_on=payload.lcspr_due_on)
    row.starts_on = row.starts_on or payload.decided_on
    _store(session, row)


async def on_final_report_shared(
    session: AsyncSession, event: CloudEvent, payload: FinalReportShared
) -> None:
    row = await _deadline(
        session, event, payload.case_id, payload.partnership_id, PRE_PUBLICATION_RULE
    )
    if row is None:
        return
    _describe(
        row,
        title="Share the final report before publication",
        recipients=payload.recipients,
        due_on=payload.due_on,
    )
    _mark_met(row, payload.shared_on, not payload.late)
    _store(session, row)


async def on_review_published(
    session: AsyncSession, event: CloudEvent, payload: ReviewPublished
) -> None:
    if payload.lcspr_due_on is None:
        return
    row = await _deadline(
        session, event, payload.case_id, payload.partnership_id, LOCAL_REVIEW_RULE
    )
    if row is None:
        return
    _describe(row, title="Complete and publish the local review", due_on=payload.lcspr_due_on)
    _mark_met(row, payload.published_on, not payload.late)
    _store(session, row)


# ---- the partner registry (partners.events) ----------------------------------------------


async def on_partnership_updated(
    session: AsyncSession, event: CloudEvent, payload: PartnershipUpdated
) -> None:
    row = await _ensure_partnership(session, payload.partnership_id)
    if row.fields_as_of is not None and event.time < row.fields_as_of:
        return  # an older change arriving late
    if payload.changes.get("name"):
        row.name = payload.changes["name"]
    if "effective_from" in payload.changes:
        value = payload.changes["effective_from"]
        row.effective_from = date.fromisoformat(value) if value else None
    row.fields_as_of = event.time
    _store(session, row)


async def on_partnership_status_changed(
    session: AsyncSession, event: CloudEvent, payload: PartnershipStatusChanged
) -> None:
    """Adds the change to the history (once); the current status is the latest by date."""
    row = await _ensure_partnership(session, payload.partnership_id)
    entry = {
        "status": payload.status,
        "previous_status": payload.previous_status,
        "effective_on": payload.effective_on.isoformat(),
    }
    history = list(row.status_history or [])
    if entry in history:
        return
    # Stable sort: changes on the same day keep their arrival order.
    history = sorted([*history, entry], key=lambda e: str(e["effective_on"]))
    row.status_history = history
    row.status = str(history[-1]["status"])
    row.status_since = date.fromisoformat(str(history[-1]["effective_on"]))
    _store(session, row)


async def on_council_joined(
    session: AsyncSession, event: CloudEvent, payload: CouncilJoined
) -> None:
    row = await _ensure_partnership(session, payload.partnership_id)
    history = dict(row.council_history or {})
    entry = dict(history.get(payload.council.ons_code, {"left_on": None}))
    joined = entry.get("joined_on")
    if joined is None or payload.joined_on.isoformat() > str(joined):
        entry["joined_on"] = payload.joined_on.isoformat()
    entry.update(payload.council.model_dump(mode="json"))
    history[payload.council.ons_code] = entry
    row.council_history = history
    _store(session, row)


async def on_council_left(session: AsyncSession, event: CloudEvent, payload: CouncilLeft) -> None:
    row = await _ensure_partnership(session, payload.partnership_id)
    history = dict(row.council_history or {})
    entry = dict(
        history.get(payload.ons_code, {"ons_code": payload.ons_code, "name": payload.ons_code})
    )
    left = entry.get("left_on")
    if left is None or payload.left_on.isoformat() > str(left):
        entry["left_on"] = payload.left_on.isoformat()
    entry.setdefault("joined_on", None)
    history[payload.ons_code] = entry
    row.council_history = history
    _store(session, row)


async def on_delegation_recorded(
    session: AsyncSession, event: CloudEvent, payload: DelegationRecorded
) -> None:
    await _ensure_partnership(session, payload.partnership_id)
    row, usable = await _owned(
        session, DelegationView, payload.delegation_id, payload.partnership_id, event
    )
    if not usable:
        return
    row = row or DelegationView(
        delegation_id=payload.delegation_id,
        partnership_id=payload.partnership_id,
        partner_id=payload.partner_id,
    )
    # ended_on is left alone: a replayed recording does not revive an ended delegation.
    row.partner_id = payload.partner_id
    row.partner_kind = payload.partner_kind
    row.below_threshold = payload.below_threshold
    row.delegated_on = payload.delegated_on
    _store(session, row)


async def on_delegation_ended(
    session: AsyncSession, event: CloudEvent, payload: DelegationEnded
) -> None:
    await _ensure_partnership(session, payload.partnership_id)
    row, usable = await _owned(
        session, DelegationView, payload.delegation_id, payload.partnership_id, event
    )
    if not usable or row is None:
        # Unknown: a delegation's recording and ending share a partition (key = partnership),
        # so an ending that comes first names the wrong partnership and must not claim the id.
        return
    row.ended_on = payload.ended_on
    _store(session, row)


AGENCY, SCRUTINY, LINK = "agency", "scrutiny", "link"


async def _record(
    session: AsyncSession,
    event: CloudEvent,
    kind: str,
    record_id: str,
    partnership_id: str,
    *,
    name: str | None = None,
    ends_on: date | None = None,
    removed_on: date | None = None,
    described: bool = True,
) -> None:
    """Upserts a registry record; ``removed_on`` once set stays (the earliest removal)."""
    await _ensure_partnership(session, partnership_id)
    row, usable = await _owned(
        session, RegistryRecordView, (kind, record_id), partnership_id, event
    )
    if not usable or (row is None and not described):
        # A removal of an unknown record: its naming shares the partition (key = partnership),
        # so a removal first names the wrong partnership and must not claim the id.
        return
    row = row or RegistryRecordView(kind=kind, record_id=record_id, partnership_id=partnership_id)
    if described:
        row.name = name
        row.ends_on = ends_on
    if removed_on is not None and (row.removed_on is None or removed_on < row.removed_on):
        row.removed_on = removed_on
    _store(session, row)


async def on_agency_state(
    session: AsyncSession, event: CloudEvent, payload: RelevantAgencyNamed | RelevantAgencyUpdated
) -> None:
    a = payload.agency
    await _record(
        session,
        event,
        AGENCY,
        a.agency_id,
        payload.partnership_id,
        name=a.name,
        removed_on=a.removed_on,
    )


async def on_agency_removed(
    session: AsyncSession, event: CloudEvent, payload: RelevantAgencyRemoved
) -> None:
    await _record(
        session,
        event,
        AGENCY,
        payload.agency_id,
        payload.partnership_id,
        removed_on=payload.removed_on,
        described=False,
    )


async def on_scrutiny_state(
    session: AsyncSession,
    event: CloudEvent,
    payload: ScrutinyArrangementRecorded | ScrutinyArrangementUpdated,
) -> None:
    a = payload.arrangement
    await _record(
        session,
        event,
        SCRUTINY,
        a.arrangement_id,
        payload.partnership_id,
        name=a.model,
        ends_on=a.ends_on,
    )


async def on_scrutiny_removed(
    session: AsyncSession, event: CloudEvent, payload: ScrutinyArrangementRemoved
) -> None:
    await _record(
        session,
        event,
        SCRUTINY,
        payload.arrangement_id,
        payload.partnership_id,
        removed_on=payload.removed_on,
        described=False,
    )


async def on_link_state(
    session: AsyncSession,
    event: CloudEvent,
    payload: StrategicLinkRecorded | StrategicLinkUpdated,
) -> None:
    link = payload.link
    await _record(
        session,
        event,
        LINK,
        link.link_id,
        payload.partnership_id,
        name=link.name,
        ends_on=link.linked_to,
    )


async def on_link_removed(
    session: AsyncSession, event: CloudEvent, payload: StrategicLinkRemoved
) -> None:
    await _record(
        session,
        event,
        LINK,
        payload.link_id,
        payload.partnership_id,
        removed_on=payload.removed_on,
        described=False,
    )


async def on_arrangements_published(
    session: AsyncSession, event: CloudEvent, payload: ArrangementsPublished
) -> None:
    """The highest version published is the current one (a replayed older one is ignored)."""
    row = await _ensure_partnership(session, payload.partnership_id)
    if (row.arrangements_version or 0) > payload.arrangements_version:
        return
    row.arrangements_version = payload.arrangements_version
    row.arrangements_url = payload.url
    row.arrangements_published_on = payload.published_on
    row.arrangements_implementation_date = payload.implementation_date
    _store(session, row)


BUDGET, CONTRIBUTION = "budget", "contribution"


async def _funding(
    session: AsyncSession,
    event: CloudEvent,
    kind: str,
    record_id: str,
    partnership_id: str,
    year: str,
    *,
    money_pence: int | None = None,
    in_kind_pence: int | None = None,
    withdrawn: bool = False,
) -> None:
    """Upserts amounts unless the row holds newer ones; a withdrawal is sticky."""
    await _ensure_partnership(session, partnership_id)
    row, usable = await _owned(session, FundingView, (kind, record_id), partnership_id, event)
    if not usable:
        return
    row = row or FundingView(
        kind=kind, record_id=record_id, partnership_id=partnership_id, year=year
    )
    row.withdrawn = row.withdrawn or withdrawn
    if money_pence is not None and (row.as_of is None or event.time >= row.as_of):
        row.year = year
        row.money_pence = money_pence
        row.in_kind_pence = in_kind_pence or 0
        row.as_of = event.time
    _store(session, row)


async def on_budget_set(
    session: AsyncSession, event: CloudEvent, payload: FundingBudgetSet
) -> None:
    await _funding(
        session,
        event,
        BUDGET,
        payload.budget_id,
        payload.partnership_id,
        payload.year,
        money_pence=payload.amount_pence,
    )


async def on_contribution(
    session: AsyncSession,
    event: CloudEvent,
    payload: FundingContributionRecorded | FundingContributionUpdated,
) -> None:
    await _funding(
        session,
        event,
        CONTRIBUTION,
        payload.contribution_id,
        payload.partnership_id,
        payload.year,
        money_pence=payload.money_pence,
        in_kind_pence=payload.in_kind_pence,
    )


async def on_contribution_withdrawn(
    session: AsyncSession, event: CloudEvent, payload: FundingContributionWithdrawn
) -> None:
    await _funding(
        session,
        event,
        CONTRIBUTION,
        payload.contribution_id,
        payload.partnership_id,
        payload.year,
        withdrawn=True,
    )


HANDLERS: dict[str, Handler] = {
    **CREDENTIAL_HANDLERS,
    PartnershipCreated.type_name(): on_partnership_created,  # type: ignore[dict-item]
    IncidentNotified.type_name(): on_incident_notified,  # type: ignore[dict-item]
    NotificationQueued.type_name(): on_notification_queued,  # type: ignore[dict-item]
    NotificationAttemptFailed.type_name(): on_notification_attempt_failed,  # type: ignore[dict-item]
    NotificationDelivered.type_name(): on_notification_delivered,  # type: ignore[dict-item]
    NotificationAbandoned.type_name(): on_notification_abandoned,  # type: ignore[dict-item]
}
_LIFECYCLE: dict[type[Any], Any] = {
    CaseTransitioned: on_case_transitioned,
    DeadlineApproaching: on_deadline_approaching,
    DeadlineBreached: on_deadline_breached,
    DeadlineMet: on_deadline_met,
    DeadlineRecomputed: on_deadline_recomputed,
    RapidReviewSubmitted: on_rapid_review_submitted,
    LocalReviewDecided: on_local_review_decided,
    FinalReportShared: on_final_report_shared,
    ReviewPublished: on_review_published,
    PartnershipUpdated: on_partnership_updated,
    PartnershipStatusChanged: on_partnership_status_changed,
    CouncilJoined: on_council_joined,
    CouncilLeft: on_council_left,
    DelegationRecorded: on_delegation_recorded,
    DelegationEnded: on_delegation_ended,
    RelevantAgencyNamed: on_agency_state,
    RelevantAgencyUpdated: on_agency_state,
    RelevantAgencyRemoved: on_agency_removed,
    ScrutinyArrangementRecorded: on_scrutiny_state,
    ScrutinyArrangementUpdated: on_scrutiny_state,
    ScrutinyArrangementRemoved: on_scrutiny_removed,
    StrategicLinkRecorded: on_link_state,
    StrategicLinkUpdated: on_link_state,
    StrategicLinkRemoved: on_link_removed,
    ArrangementsPublished: on_arrangements_published,
    FundingBudgetSet: on_budget_set,
    FundingContributionRecorded: on_contribution,
    FundingContributionUpdated: on_contribution,
    FundingContributionWithdrawn: on_contribution_withdrawn,
}
HANDLERS.update({model.type_name(): handler for model, handler in _LIFECYCLE.items()})
