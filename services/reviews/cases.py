"""Case operations: incident intake and case reads. Each write puts the case, its deadlines,
an audit entry and its event in the caller's transaction; nothing here commits."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reviews.models import Case, CaseDeadline, CaseStatus, CouncilRef, PartnershipRef
from services.reviews.rules import (
    DEFAULT_RULEBOOK,
    Deadline,
    IncidentKind,
    NotASeriousIncident,
    RuleBook,
    RuleLookupError,
    incident_deadlines,
)
from services.reviews.schemas import CaseOut, ChildOut, DeadlineOut, IncidentIn
from services.reviews.settings import ReviewsSettings
from shared.audit import record_audit
from shared.auth import Principal
from shared.calendar import WorkingDayCalendar, default_calendar
from shared.contracts.reviews import ChildSummary, DeadlineRef, IncidentNotified
from shared.outbox import Outbox
from shared.problems import Conflict, Forbidden, NotFound, Unprocessable, pointer
from shared.tables import utcnow

Clock = Callable[[], datetime]
"""Returns the current moment, timezone-aware. Injected so tests can fix "today"."""

# The rules whose recipients are told of the incident itself (RR-15WD is the partners' own
# work); the local partners are told within the notifying partnership, not by a notification.
NOTIFICATION_RULES = frozenset({"SIN-5WD", "LAC-DEATH", "CARE-LEAVER-DEATH"})
NOT_NOTIFIED = frozenset({"local_partners"})
CHILD_AGE_LIMIT = 18  # a child is under 18; only a care leaver's death concerns someone older
DEATH_KINDS = frozenset({IncidentKind.looked_after_child_death, IncidentKind.care_leaver_death})


def system_clock() -> datetime:
    return utcnow()


@dataclass(frozen=True)
class IntakePolicy:
    """What turns a notification into deadlines: the rule book (with configured (verify)
    periods), the working-day calendar, the local time zone and the clock."""

    rulebook: RuleBook
    calendar: WorkingDayCalendar
    zone: ZoneInfo
    clock: Clock = system_clock

    @classmethod
    def from_settings(cls, settings: ReviewsSettings, clock: Clock = system_clock) -> IntakePolicy:
        return cls(
            rulebook=DEFAULT_RULEBOOK.with_overrides(settings.rule_overrides),
            calendar=default_calendar(settings.extra_bank_holidays),
            zone=ZoneInfo(settings.timezone),
            clock=clock,
        )

    def now(self) -> datetime:
        moment = self.clock()
        if moment.tzinfo is None:
            raise ValueError("the clock must return a timezone-aware datetime")
        return moment

    def local_date(self, moment: datetime) -> date:
        """The calendar date in England at ``moment`` (a notification at 00:30 BST on a
        Saturday is a Saturday notification, not a Friday one)."""
        return moment.astimezone(self.zone).date()


# -- intake -----------------------------------------------------------------------------------


async def notify_incident(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    policy: IntakePolicy,
    body: IncidentIn,
) -> tuple[CaseOut, bool]:
    """Accept a notification; returns the case and whether it was created just now.

    The same client reference with the same body is a retry and gets the stored case back;
    with a different body it is a conflict.
    """
    principal.require_event_type(IncidentNotified.event_name)
    partnership_id = _partnership_of_request(principal, body)
    if await session.get(PartnershipRef, partnership_id) is None:
        raise NotFound("Partnership not found.")
    fingerprint = _fingerprint(body, partnership_id)
    existing = await _case_by_reference(session, partnership_id, body.client_reference)
    if existing is not None:
        return await _replay(session, principal, existing, fingerprint), False

    now = policy.now().astimezone(UTC)
    notified_on = policy.local_date(now)
    await _check(session, body, partnership_id, notified_on)
    deadlines = _deadlines(policy, body, notified_on)
    involved = await _involved_partnerships(session, body, partnership_id)

    case = Case(
        partnership_id=partnership_id,
        client_id=principal.id,
        client_reference=body.client_reference,
        request_fingerprint=fingerprint,
        council_ons_code=body.council_ons_code,
        kind=body.kind.value,
        nature=body.nature,
        abuse_or_neglect_known_or_suspected=body.abuse_or_neglect_known_or_suspected,
        status=CaseStatus.notified.value,
        incident_date=body.incident_date,
        aware_on=body.aware_on,
        notified_at=now,
        location=body.location,
        children=[c.model_dump(mode="json") for c in body.children],
        further_children_note=body.further_children_note,
        involved_council_ons_codes=list(body.involved_council_ons_codes),
        involved_partnership_ids=involved,
        needs_rapid_review=any(d.rule_id == "RR-15WD" for d in deadlines),
        created_at=now,
    )
    try:
        # A concurrent retry of the same reference may have won the race: the unique index
        # says so, and the savepoint keeps the rest of the transaction usable.
        async with session.begin_nested():
            session.add(case)
            await session.flush()
    except IntegrityError:
        winner = await _case_by_reference(session, partnership_id, body.client_reference)
        if winner is None:
            raise
        return await _replay(session, principal, winner, fingerprint), False

    rows = [
        CaseDeadline(
            case_id=case.id,
            position=i,
            rule_id=d.rule_id,
            title=d.title,
            starts_on=d.starts_on,
            due_on=d.due_on,
            edition=d.edition,
            recipients=list(d.recipients),
            verify=d.verify,
        )
        for i, d in enumerate(deadlines)
    ]
    session.add_all(rows)
    out = _case_out(case, rows)
    outbox.emit(session, _event(out), partnership_id=partnership_id, subject=case.id)
    record_audit(
        session,
        principal,
        "notify",
        "case",
        case.id,
        partnership_id=partnership_id,
        detail={"client_reference": case.client_reference, "kind": case.kind},
    )
    return out, True


def _partnership_of_request(principal: Principal, body: IncidentIn) -> str:
    if principal.is_admin:
        if body.partnership_id is None:
            raise Unprocessable(
                "The operator must say which partnership notifies.", field="partnership_id"
            )
        return body.partnership_id
    if body.partnership_id is not None:
        principal.require_partnership(body.partnership_id)  # another partnership: 404
        return body.partnership_id
    if len(principal.partnership_ids) != 1:  # a client system belongs to one partnership
        raise Forbidden("This client system belongs to no single partnership.")
    (own,) = principal.partnership_ids
    return own


def _fingerprint(body: IncidentIn, partnership_id: str) -> str:
    """A digest of what was asked, so a retry can be told apart from a different notification
    reusing the same reference."""
    doc = body.model_dump(mode="json") | {"partnership_id": partnership_id}
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _case_by_reference(
    session: AsyncSession, partnership_id: str, client_reference: str
) -> Case | None:
    return (
        await session.exec(
            select(Case)
            .where(Case.partnership_id == partnership_id)
            .where(Case.client_reference == client_reference)
        )
    ).first()


async def _replay(
    session: AsyncSession, principal: Principal, case: Case, fingerprint: str
) -> CaseOut:
    if case.request_fingerprint != fingerprint:
        raise Conflict(
            f"client_reference {case.client_reference!r} was already used for a different "
            "notification; use a new reference for a new incident.",
            field="client_reference",
            case_id=case.id,
        )
    record_audit(
        session, principal, "notify_retry", "case", case.id, partnership_id=case.partnership_id
    )
    return _case_out(case, await _deadlines_of(session, [case.id]))


async def _check(session: AsyncSession, body: IncidentIn, partnership_id: str, today: date) -> None:
    """The rules across fields, the clock and the partnership's councils; every breach is
    reported at once, each naming its field."""
    errors: list[tuple[str, str]] = []
    if body.aware_on > today:
        errors.append(("aware_on", f"cannot be in the future (today is {today.isoformat()})"))
    if body.incident_date is not None:
        if body.incident_date > today:
            errors.append(("incident_date", "cannot be in the future"))
        if body.aware_on < body.incident_date:
            errors.append(("aware_on", "cannot be before the incident date"))
    council = await session.get(CouncilRef, body.council_ons_code)
    if council is None or council.partnership_id != partnership_id:
        errors.append(
            ("council_ons_code", f"{body.council_ons_code} is not a council of this partnership")
        )
    if body.kind in DEATH_KINDS and body.nature != "death":
        errors.append(("nature", f"a {body.kind.value} notification is about a death"))
    if body.kind != IncidentKind.care_leaver_death:
        errors.extend(
            (
                f"children.{i}.age_years",
                f"must be under {CHILD_AGE_LIMIT}; only a care leaver's death concerns someone "
                "older",
            )
            for i, child in enumerate(body.children)
            if child.age_years >= CHILD_AGE_LIMIT
        )
    if body.kind == IncidentKind.looked_after_child_death and not any(
        c.looked_after for c in body.children
    ):
        errors.append(
            ("children", "a looked-after child's death needs a child with looked_after true")
        )
    if body.further_children_note is not None and len(body.children) < 4:
        errors.append(
            ("further_children_note", "only for children beyond the 4 listed in children")
        )
    if errors:
        _raise(errors)


def _raise(errors: Sequence[tuple[str, str]]) -> NoReturn:
    fields = ", ".join(dict.fromkeys(f for f, _ in errors))
    raise Unprocessable(
        f"Check these fields: {fields}.",
        errors=[{"field": f, "pointer": pointer(f), "in": "body", "detail": d} for f, d in errors],
    )


def _deadlines(policy: IntakePolicy, body: IncidentIn, notified_on: date) -> list[Deadline]:
    try:
        return incident_deadlines(
            body.kind,
            body.aware_on,
            notified_on,
            body.abuse_or_neglect_known_or_suspected,
            policy.rulebook,
            policy.calendar,
        )
    except NotASeriousIncident as exc:
        _raise([("abuse_or_neglect_known_or_suspected", str(exc))])
    except RuleLookupError as exc:
        _raise([("aware_on", f"no statutory rule applies on this date: {exc}")])


def _notify(deadlines: Iterable[DeadlineOut]) -> list[str]:
    """The statutory recipients to tell: those of the notification rules, in rule order."""
    codes = (r for d in deadlines if d.rule_id in NOTIFICATION_RULES for r in d.recipients)
    return [r for r in dict.fromkeys(codes) if r not in NOT_NOTIFIED]


async def _involved_partnerships(
    session: AsyncSession, body: IncidentIn, partnership_id: str
) -> list[str]:
    """Partnerships covering the other councils involved (domain.md s4: they are told).
    Councils no partnership here covers are kept on the case but route nowhere."""
    codes = list(body.involved_council_ons_codes)
    if not codes:
        return []
    rows = (await session.exec(select(CouncilRef).where(col(CouncilRef.ons_code).in_(codes)))).all()
    by_code = {r.ons_code: r.partnership_id for r in rows}
    found = (by_code[c] for c in codes if c in by_code)
    return [p for p in dict.fromkeys(found) if p != partnership_id]


def _event(case: CaseOut) -> IncidentNotified:
    return IncidentNotified(
        case_id=case.case_id,
        partnership_id=case.partnership_id,
        council_ons_code=case.council_ons_code,
        kind=case.kind,
        nature=case.nature,
        incident_date=case.incident_date,
        aware_on=case.aware_on,
        notified_at=case.notified_at,
        location=case.location,
        children=[ChildSummary(**c.model_dump()) for c in case.children],
        needs_rapid_review=case.needs_rapid_review,
        deadlines=[
            DeadlineRef(
                rule_id=d.rule_id,
                title=d.title,
                starts_on=d.starts_on,
                due_on=d.due_on,
                edition=d.edition,
                recipients=d.recipients,
            )
            for d in case.deadlines
        ],
        notify=case.notify,
        involved_partnership_ids=case.involved_partnership_ids,
    )


# -- reads ------------------------------------------------------------------------------------


def notified_case_ids(national_body: str) -> Any:
    """Ids of the cases notified to a national body: its code among the recipients of a
    notification rule's deadline, which is what a case's ``notify`` lists. The recipients are
    a JSON list of fixed codes, so matching the quoted code in its text is exact."""
    return select(CaseDeadline.case_id).where(
        col(CaseDeadline.rule_id).in_(sorted(NOTIFICATION_RULES)),
        cast(col(CaseDeadline.recipients), String).contains(f'"{national_body}"'),
    )


async def may_read(session: AsyncSession, principal: Principal, case: Case) -> bool:
    """The partnership's members (and the operator) read a case; a national body reads it
    only if the case was notified to it."""
    if principal.can_see(case.partnership_id):
        return True
    if principal.national_body is None:
        return False
    found = await session.exec(
        notified_case_ids(principal.national_body).where(CaseDeadline.case_id == case.id)
    )
    return found.first() is not None


async def get_case(session: AsyncSession, principal: Principal, case_id: str) -> CaseOut:
    case = await session.get(Case, case_id)
    if case is None or not await may_read(session, principal, case):
        raise NotFound("Case not found.")
    record_audit(session, principal, "read", "case", case.id, partnership_id=case.partnership_id)
    return _case_out(case, await _deadlines_of(session, [case.id]))


async def list_cases(
    session: AsyncSession,
    principal: Principal,
    *,
    status: CaseStatus | None,
    partnership_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[CaseOut], int]:
    """Cases of the caller's partnerships (the operator sees all; a national body those
    notified to it), newest first."""
    query = select(Case)
    count = select(func.count()).select_from(Case)
    conditions: list[Any] = []
    if principal.national_body is not None:
        conditions.append(col(Case.id).in_(notified_case_ids(principal.national_body)))
    elif not principal.is_admin:
        conditions.append(col(Case.partnership_id).in_(sorted(principal.partnership_ids)))
    if partnership_id is not None:
        conditions.append(Case.partnership_id == partnership_id)
    if status is not None:
        conditions.append(Case.status == status.value)
    for condition in conditions:
        query = query.where(condition)
        count = count.where(condition)
    total = (await session.exec(count)).one()
    cases = (
        await session.exec(
            query.order_by(col(Case.created_at).desc(), col(Case.id)).limit(limit).offset(offset)
        )
    ).all()
    deadlines = await _deadlines_of(session, [c.id for c in cases])
    for case in cases:
        record_audit(
            session, principal, "read", "case", case.id, partnership_id=case.partnership_id
        )
    return [_case_out(c, [d for d in deadlines if d.case_id == c.id]) for c in cases], int(total)


async def _deadlines_of(session: AsyncSession, case_ids: list[str]) -> list[CaseDeadline]:
    if not case_ids:
        return []
    return list(
        (
            await session.exec(
                select(CaseDeadline)
                .where(col(CaseDeadline.case_id).in_(case_ids))
                .order_by(col(CaseDeadline.case_id), col(CaseDeadline.position))
            )
        ).all()
    )


def _case_out(case: Case, deadlines: Sequence[CaseDeadline]) -> CaseOut:
    outs = [
        DeadlineOut(
            rule_id=d.rule_id,
            title=d.title,
            starts_on=d.starts_on,
            due_on=d.due_on,
            edition=d.edition,
            recipients=list(d.recipients),
            verify=d.verify,
        )
        for d in deadlines
    ]
    return CaseOut(
        case_id=case.id,
        partnership_id=case.partnership_id,
        client_reference=case.client_reference,
        status=case.status,
        council_ons_code=case.council_ons_code,
        kind=case.kind,
        nature=case.nature,
        abuse_or_neglect_known_or_suspected=case.abuse_or_neglect_known_or_suspected,
        incident_date=case.incident_date,
        aware_on=case.aware_on,
        notified_at=case.notified_at,
        location=case.location,
        children=[ChildOut.model_validate(c) for c in case.children],
        further_children_note=case.further_children_note,
        involved_partnership_ids=list(case.involved_partnership_ids),
        needs_rapid_review=case.needs_rapid_review,
        notify=_notify(outs),
        deadlines=outs,
        created_at=case.created_at,
    )
