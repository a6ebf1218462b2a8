"""Case operations: incident intake and case reads. Each write puts the case, its deadlines,
an audit entry and its event in the caller's transaction; nothing here commits."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from sqlalchemy import CompoundSelect, String, bindparam, literal_column, union_all
from sqlalchemy import cast as sql_cast
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reviews.models import (
    Case,
    CaseDeadline,
    CaseStatus,
    CouncilRef,
    PartnershipRef,
    new_id,
)
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
from shared.tables import table_of, utcnow

Clock = Callable[[], datetime]
"""Returns the current moment, timezone-aware. Injected so tests can fix "today"."""

# The rules whose recipients are told of the incident itself (RR-15WD is the partners' own
# work); the local partners are told within the notifying partnership, not by a notification.
NOTIFICATION_RULES = frozenset({"SIN-5WD", "LAC-DEATH", "CARE-LEAVER-DEATH"})
NOT_NOTIFIED = frozenset({"local_partners"})
CHILD_AGE_LIMIT = 18  # a child is under 18; only a care leaver's death concerns someone older
DEATH_KINDS = frozenset({IncidentKind.looked_after_child_death, IncidentKind.care_leaver_death})

# Intake reads and writes these with Core statements (see notify_incident).
CASE_TABLE = table_of(Case)
DEADLINE_TABLE = table_of(CaseDeadline)
PARTNERSHIP_TABLE = table_of(PartnershipRef)
COUNCIL_TABLE = table_of(CouncilRef)
# Plain inserts: SQLAlchemy caches their compiled form (it compiles an ON CONFLICT insert anew
# on every execution).
_INSERT_CASE = CASE_TABLE.insert()
_INSERT_DEADLINES = DEADLINE_TABLE.insert()


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

    This is the platform's hottest write, so it spends few statements: one query finds the
    partnership, the councils and a case already holding the reference; the case and its
    deadlines are written with Core inserts (no ORM objects to build and flush).
    """
    principal.require_event_type(IncidentNotified.event_name)
    partnership_id = _partnership_of_request(principal, body)
    conn = await session.connection()
    known = await _look_up(conn, partnership_id, body)
    if not known.partnership:
        raise NotFound("Partnership not found.")
    doc = body.model_dump(mode="json")
    fingerprint = _fingerprint(doc, partnership_id)
    if known.case_id is not None:
        existing = await session.get_one(Case, known.case_id)
        return await _replay(session, principal, existing, fingerprint), False

    now = policy.now().astimezone(UTC)
    notified_on = policy.local_date(now)
    _check(body, partnership_id, known.councils.get(body.council_ons_code), notified_on)
    deadlines = _deadline_outs(_deadlines(policy, body, notified_on))
    case = {
        "id": new_id(),
        "partnership_id": partnership_id,
        "client_id": principal.id,
        "client_reference": body.client_reference,
        "request_fingerprint": fingerprint,
        "council_ons_code": body.council_ons_code,
        "kind": body.kind.value,
        "nature": body.nature,
        "abuse_or_neglect_known_or_suspected": body.abuse_or_neglect_known_or_suspected,
        "status": CaseStatus.notified.value,
        "incident_date": body.incident_date,
        "aware_on": body.aware_on,
        "notified_at": now,
        "location": body.location,
        "children": doc["children"],
        "further_children_note": body.further_children_note,
        "involved_council_ons_codes": list(body.involved_council_ons_codes),
        "involved_partnership_ids": _involved_partnerships(body, partnership_id, known.councils),
        "needs_rapid_review": any(d.rule_id == "RR-15WD" for d in deadlines),
        "created_at": now,
    }
    try:
        await _insert_case(session, conn, case)
    except IntegrityError:
        # A concurrent retry of the same reference won the race: the unique index says so.
        winner = await _case_by_reference(session, partnership_id, body.client_reference)
        if winner is None:
            raise
        return await _replay(session, principal, winner, fingerprint), False

    await conn.execute(
        _INSERT_DEADLINES,
        [
            {"id": new_id(), "case_id": case["id"], "position": i, **d.model_dump()}
            for i, d in enumerate(deadlines)
        ],
    )
    out = _case_out(case, deadlines)
    outbox.emit(session, _event(out), partnership_id=partnership_id, subject=out.case_id)
    record_audit(
        session,
        principal,
        "notify",
        "case",
        out.case_id,
        partnership_id=partnership_id,
        detail={"client_reference": out.client_reference, "kind": out.kind},
    )
    return out, True


async def _insert_case(session: AsyncSession, conn: AsyncConnection, case: dict[str, Any]) -> None:
    """Insert the case row; a duplicate client reference raises IntegrityError and leaves the
    transaction usable.

    PostgreSQL aborts a whole transaction on a failed statement, so there the insert runs in a
    savepoint. SQLite undoes only the failed statement, so it needs none (and there the race
    cannot even happen: writers run one at a time from BEGIN IMMEDIATE, so the lookup before
    saw any case holding the reference).
    """
    if conn.dialect.name == "sqlite":
        await conn.execute(_INSERT_CASE, case)
        return
    async with session.begin_nested():
        # Asked for inside the nested transaction, the connection has the SAVEPOINT issued.
        await (await session.connection()).execute(_INSERT_CASE, case)


@dataclass(frozen=True)
class _Known:
    """What the local copy of the registry and the case table say about a notification."""

    partnership: bool  # the partnership is known here
    councils: dict[str, str]  # ONS code -> partnership id, of the councils named that are known
    case_id: str | None  # the case already holding the client reference, if any


def _lookup_statement() -> CompoundSelect:
    partnership, council, case = PARTNERSHIP_TABLE.c, COUNCIL_TABLE.c, CASE_TABLE.c
    partnership_id = bindparam("partnership_id", type_=String)
    return union_all(
        core_select(
            literal_column("'partnership'").label("what"),
            partnership.id.label("key"),
            partnership.id.label("partnership_id"),
        ).where(partnership.id == partnership_id),
        core_select(literal_column("'council'"), council.ons_code, council.partnership_id).where(
            council.ons_code.in_(bindparam("council_ons_codes", expanding=True))
        ),
        core_select(literal_column("'case'"), case.id, case.partnership_id)
        .where(case.partnership_id == partnership_id)
        .where(case.client_reference == bindparam("client_reference", type_=String)),
    )


# Built once: rows of (what, key, partnership id), what being "partnership", "council" or "case".
_LOOKUP = _lookup_statement()


async def _look_up(conn: AsyncConnection, partnership_id: str, body: IncidentIn) -> _Known:
    """One statement instead of one per question: a statement's cost here is SQLAlchemy's
    Python work around it, not SQLite's."""
    codes = list(dict.fromkeys([body.council_ons_code, *body.involved_council_ons_codes]))
    rows = await conn.execute(
        _LOOKUP,
        {
            "partnership_id": partnership_id,
            "council_ons_codes": codes,
            "client_reference": body.client_reference,
        },
    )
    partnership, councils, case_id = False, {}, None
    for what, key, owner in rows:
        if what == "partnership":
            partnership = True
        elif what == "council":
            councils[key] = owner
        else:
            case_id = key
    return _Known(partnership=partnership, councils=councils, case_id=case_id)


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


def _fingerprint(doc: dict[str, Any], partnership_id: str) -> str:
    """A digest of what was asked (``doc``: the body dumped as JSON), so a retry can be told
    apart from a different notification reusing the same reference."""
    doc = doc | {"partnership_id": partnership_id}
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
    return _stored_case_out(case, await _deadlines_of(session, [case.id]))


def _check(
    body: IncidentIn, partnership_id: str, council_partnership_id: str | None, today: date
) -> None:
    """The rules across fields, the clock and the partnership's councils
    (``council_partnership_id``: the partnership covering the council named, if known); every
    breach is reported at once, each naming its field."""
    errors: list[tuple[str, str]] = []
    if body.aware_on > today:
        errors.append(("aware_on", f"cannot be in the future (today is {today.isoformat()})"))
    if body.incident_date is not None:
        if body.incident_date > today:
            errors.append(("incident_date", "cannot be in the future"))
        if body.aware_on < body.incident_date:
            errors.append(("aware_on", "cannot be before the incident date"))
    if council_partnership_id != partnership_id:
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


def _involved_partnerships(
    body: IncidentIn, partnership_id: str, councils: dict[str, str]
) -> list[str]:
    """Partnerships covering the other councils involved (domain.md s4: they are told;
    ``councils``: ONS code -> partnership id of the known ones). Councils no partnership here
    covers are kept on the case but route nowhere."""
    found = (councils[c] for c in body.involved_council_ons_codes if c in councils)
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
        sql_cast(col(CaseDeadline.recipients), String).contains(f'"{national_body}"'),
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
    return _stored_case_out(case, await _deadlines_of(session, [case.id]))


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
    outs = [_stored_case_out(c, [d for d in deadlines if d.case_id == c.id]) for c in cases]
    return outs, int(total)


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


def _deadline_outs(deadlines: Iterable[Deadline | CaseDeadline]) -> list[DeadlineOut]:
    return [
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


def _stored_case_out(case: Case, deadlines: Sequence[CaseDeadline]) -> CaseOut:
    return _case_out(
        {column.key: getattr(case, column.key) for column in CASE_TABLE.columns},
        _deadline_outs(deadlines),
    )


def _case_out(case: Mapping[str, Any], deadlines: list[DeadlineOut]) -> CaseOut:
    """The case as answered; ``case`` holds its columns (a new row or a stored case's)."""
    return CaseOut(
        case_id=case["id"],
        partnership_id=case["partnership_id"],
        client_reference=case["client_reference"],
        status=case["status"],
        council_ons_code=case["council_ons_code"],
        kind=case["kind"],
        nature=case["nature"],
        abuse_or_neglect_known_or_suspected=case["abuse_or_neglect_known_or_suspected"],
        incident_date=case["incident_date"],
        aware_on=case["aware_on"],
        notified_at=case["notified_at"],
        location=case["location"],
        children=[ChildOut.model_validate(c) for c in case["children"]],
        further_children_note=case["further_children_note"],
        involved_partnership_ids=list(case["involved_partnership_ids"]),
        needs_rapid_review=case["needs_rapid_review"],
        notify=_notify(deadlines),
        deadlines=deadlines,
        created_at=case["created_at"],
    )
