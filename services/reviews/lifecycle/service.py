"""Case lifecycle operations (domain.md s4). Each write puts its rows, timeline entry, audit
entry and events in the caller's transaction; nothing here commits.

Order of checks on a transition: the case is visible (404), the name is known (422), the
client system may post the step's event (403), the step may start from the case's state (409,
listing the ``allowed`` ones), its payload is valid (422), then its guards (409 when the case's
records are not ready, 422 when a given field breaks a rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import and_, exists, not_, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reviews.cases import IntakePolicy, may_read
from services.reviews.lifecycle import schemas as s
from services.reviews.lifecycle.machine import (
    BY_NAME,
    CRITERIA,
    LOCAL_REVIEW_CRITERIA,
    NATIONAL_REVIEW_CRITERIA,
    TRANSITIONS,
    Decision,
    PanelOutcome,
    State,
    Transition,
    allowed_from,
    decision_criteria_errors,
)
from services.reviews.lifecycle.models import (
    LocalReview,
    NationalReview,
    PanelResponse,
    RapidReview,
    Recommendation,
    RecommendationAction,
    ReportVersion,
    TimelineEntry,
)
from services.reviews.models import Case, CaseDeadline
from services.reviews.rules import RuleLookupError, compute_deadline
from shared.audit import record_audit
from shared.auth import Principal
from shared.contracts.reviews.lifecycle import (
    CaseTransitioned,
    FinalReportShared,
    LocalReviewDecided,
    PanelResponseRecorded,
    RapidReviewSubmitted,
    ReviewPublished,
    ReviewWithholdingRecorded,
)
from shared.db import fetch_page
from shared.events import EventPayload
from shared.outbox import Outbox
from shared.problems import Conflict, NotFound, Unprocessable, pointer
from shared.tables import utcnow

M = TypeVar("M", bound=BaseModel)

PAYLOADS: dict[str, type[BaseModel]] = {
    "submit_rapid_review": s.LatePayload,
    "decide": s.DecidePayload,
    "record_panel_response": s.PanelResponseIn,
    "share_final_report": s.SharePayload,
    "publish": s.PublishPayload,
    "withhold_publication": s.WithholdPayload,
}
RAPID_REVIEW_EDITABLE = frozenset({State.notified, State.rapid_review_in_progress})
LOCAL_REVIEW_EDITABLE = frozenset(
    {
        State.decided,
        State.panel_responded,
        State.local_review_commissioned,
        State.local_review_in_progress,
    }
)
REPORTS_ACCEPTED = frozenset({State.local_review_commissioned, State.local_review_in_progress})
# A report is shared at least this many working days before publication (LCSPR-PRE-PUB-7WD).
PRE_PUBLICATION_RULE = "LCSPR-PRE-PUB-7WD"
LOCAL_REVIEW_RULE = "LCSPR-6M"
RAPID_REVIEW_RULE = "RR-15WD"
CLOCK_SKEW = timedelta(minutes=5)  # a client clock slightly ahead is not "the future"


def actor(principal: Principal) -> str:
    return f"{principal.kind}:{principal.id}"


def _invalid(errors: Sequence[tuple[str, str]]) -> NoReturn:
    fields = ", ".join(dict.fromkeys(f for f, _ in errors))
    raise Unprocessable(
        f"Check these fields: {fields}.",
        errors=[{"field": f, "pointer": pointer(f), "in": "body", "detail": d} for f, d in errors],
    )


def _parse(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        _invalid([(".".join(str(p) for p in e["loc"]) or "body", e["msg"]) for e in exc.errors()])


async def visible_case(session: AsyncSession, principal: Principal, case_id: str) -> Case:
    """The case to change, or 404 when missing or another partnership's (existence not
    disclosed). A national body never writes: 403 whatever the case."""
    principal.require_writer()
    case = await session.get(Case, case_id)
    if case is None or not principal.can_see(case.partnership_id):
        raise NotFound("Case not found.")
    return case


async def readable_case(session: AsyncSession, principal: Principal, case_id: str) -> Case:
    """The case to read: as ``visible_case``, and also a national body's if notified to it."""
    case = await session.get(Case, case_id)
    if case is None or not await may_read(session, principal, case):
        raise NotFound("Case not found.")
    return case


def lifecycle() -> s.LifecycleOut:
    return s.LifecycleOut(
        states=[st.value for st in State],
        transitions=[
            s.TransitionInfo(
                name=t.name,
                sources=sorted(x.value for x in t.sources),
                target=t.target.value,
                title=t.title,
                reason_required=t.reason_required,
                event=f"masa.{t.event}.v1" if t.event else None,
                guards=list(t.guards),
            )
            for t in TRANSITIONS
        ],
        criteria=[
            s.CriterionOut(code=c.code, regulation=c.regulation, text=c.text)
            for c in (*LOCAL_REVIEW_CRITERIA, *NATIONAL_REVIEW_CRITERIA)
        ],
    )


# -- transitions ------------------------------------------------------------------------------


async def transition(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    policy: IntakePolicy,
    case_id: str,
    body: s.TransitionIn,
) -> s.TransitionOut:
    case = await visible_case(session, principal, case_id)
    step = BY_NAME.get(body.transition)
    if step is None:
        raise Unprocessable(
            f"Unknown transition {body.transition!r}; known: {', '.join(BY_NAME)}.",
            field="transition",
        )
    return await _apply(
        session, outbox, principal, policy, case, step, body.model_extra or {}, body.reason, body.at
    )


async def panel_response(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    policy: IntakePolicy,
    case_id: str,
    body: s.PanelResponseRequest,
) -> s.PanelResponseOut:
    case = await visible_case(session, principal, case_id)
    payload = body.model_dump(exclude={"reason", "at"}, exclude_unset=True, mode="json")
    await _apply(
        session,
        outbox,
        principal,
        policy,
        case,
        BY_NAME["record_panel_response"],
        payload,
        body.reason,
        body.at,
    )
    row = await session.get(PanelResponse, case.id)
    assert row is not None
    return _panel_out(row, case.status)


async def _apply(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    policy: IntakePolicy,
    case: Case,
    step: Transition,
    raw_payload: dict[str, Any],
    reason: str | None,
    at: datetime | None,
) -> s.TransitionOut:
    principal.require_event_type(step.grant)
    from_status = case.status
    if from_status not in step.sources:
        allowed = allowed_from(from_status)
        raise Conflict(
            f"{step.name!r} cannot be taken from {from_status!r}; allowed: "
            f"{', '.join(allowed) or 'none (the case is closed)'}.",
            status=from_status,
            transition=step.name,
            allowed=allowed,
        )
    payload = _parse(PAYLOADS.get(step.name, s.NoPayload), raw_payload)
    if step.reason_required and not reason:
        _invalid([("reason", f"a reason is required to {step.name}")])
    now = policy.now()
    when = at or now
    if when > now + CLOCK_SKEW:
        _invalid([("at", "cannot be in the future")])
    previous = await _last_entry(session, case.id)
    earliest = previous.at if previous is not None else case.notified_at
    if when < earliest:
        _invalid([("at", f"cannot be before the previous step ({earliest.isoformat()})")])
    on = policy.local_date(when)

    ctx = _Step(session, policy, principal, case, on, reason)
    events, detail = await _GUARDS_AND_EFFECTS[step.name](ctx, payload)

    # Guarded update: of two concurrent steps on one case, the second finds the status moved.
    result = await session.exec(
        update(Case)
        .where(col(Case.id) == case.id, col(Case.status) == from_status)
        .values(status=step.target.value)
    )
    if result.rowcount != 1:
        raise Conflict("The case changed meanwhile; read it again.", status=from_status)
    set_committed_value(case, "status", step.target.value)

    entry = TimelineEntry(
        case_id=case.id,
        position=(previous.position + 1) if previous is not None else 1,
        transition=step.name,
        from_status=from_status,
        to_status=step.target.value,
        actor=actor(principal),
        at=when,
        recorded_at=utcnow(),
        reason=reason,
        detail=detail,
    )
    session.add(entry)
    transitioned = CaseTransitioned(
        case_id=case.id,
        partnership_id=case.partnership_id,
        transition=step.name,
        from_status=from_status,
        to_status=step.target.value,
        at=when,
        actor=entry.actor,
        reason=reason,
    )
    for event in (transitioned, *events):
        outbox.emit(session, event, partnership_id=case.partnership_id, subject=case.id)
    record_audit(
        session,
        principal,
        "transition",
        "case",
        case.id,
        partnership_id=case.partnership_id,
        detail={"transition": step.name, "from": from_status, "to": step.target.value}
        | ({"reason": reason} if reason else {})
        | detail,
    )
    return s.TransitionOut(
        case_id=case.id,
        status=case.status,
        entry=_entry_out(entry),
        allowed=allowed_from(case.status),
    )


class _Step:
    """What a step's guards and effects work with."""

    def __init__(
        self,
        session: AsyncSession,
        policy: IntakePolicy,
        principal: Principal,
        case: Case,
        on: date,
        reason: str | None,
    ) -> None:
        self.session, self.policy, self.principal = session, policy, principal
        self.case, self.on, self.reason = case, on, reason

    async def deadline(self, rule_id: str) -> CaseDeadline | None:
        return (
            await self.session.exec(
                select(CaseDeadline)
                .where(CaseDeadline.case_id == self.case.id, CaseDeadline.rule_id == rule_id)
                .order_by(col(CaseDeadline.position).desc())
            )
        ).first()

    async def add_deadline(
        self, rule_id: str, starts_on: date, *, edition_on: date | None = None
    ) -> CaseDeadline:
        """A case_deadline row from the rule book, with the edition in force when the clock
        started (``edition_on``, default ``starts_on``)."""
        try:
            rule = self.policy.rulebook.rule(rule_id, edition_on or starts_on)
        except RuleLookupError as exc:
            _invalid([("at", f"no statutory rule applies on this date: {exc}")])
        last = (
            await self.session.exec(
                select(func.max(CaseDeadline.position)).where(CaseDeadline.case_id == self.case.id)
            )
        ).one()
        row = CaseDeadline(
            case_id=self.case.id,
            position=(last if last is not None else -1) + 1,
            rule_id=rule.id,
            title=rule.title,
            starts_on=starts_on,
            due_on=compute_deadline(rule, starts_on, self.policy.calendar),
            edition=rule.edition,
            recipients=list(rule.recipients),
            verify=rule.verify,
        )
        self.session.add(row)
        return row

    async def rapid_review(self) -> RapidReview:
        row = await self.session.get(RapidReview, self.case.id)
        if row is None:
            row = RapidReview(case_id=self.case.id)
            self.session.add(row)
        return row

    async def local_review(self) -> LocalReview:
        row = await self.session.get(LocalReview, self.case.id)
        if row is None:
            row = LocalReview(case_id=self.case.id)
            self.session.add(row)
        return row

    def late(self, deadline: CaseDeadline | None, on: date, late_reason: str | None) -> bool:
        """Past due needs a reason (domain.md s4: reasons are recorded when late)."""
        is_late = deadline is not None and on > deadline.due_on
        if is_late and not late_reason:
            assert deadline is not None
            _invalid(
                [("late_reason", f"{deadline.rule_id} was due on {deadline.due_on.isoformat()}")]
            )
        return is_late


Effects = tuple[list[EventPayload], dict[str, Any]]


async def _start_rapid_review(ctx: _Step, _: BaseModel) -> Effects:
    return [], {}  # the record is written with PUT /cases/{id}/rapid-review


async def _submit_rapid_review(ctx: _Step, payload: BaseModel) -> Effects:
    assert isinstance(payload, s.LatePayload)
    rr = await ctx.rapid_review()
    missing = [
        name
        for name, value in (
            ("participants", rr.participants),
            ("facts", rr.facts),
            ("decision", rr.decision),
            ("rationale", rr.rationale),
        )
        if not value
    ]
    if missing:
        raise Conflict(f"The rapid review is not complete: {', '.join(missing)}.", missing=missing)
    problems = decision_criteria_errors(Decision(str(rr.decision)), list(rr.criteria))
    if problems:
        raise Conflict(f"The rapid review's criteria: {'; '.join(problems)}.", missing=["criteria"])
    due = await ctx.deadline(RAPID_REVIEW_RULE)
    late = ctx.late(due, ctx.on, payload.late_reason)
    rr.sent_to_panel_on = ctx.on
    rr.updated_at = utcnow()
    event = RapidReviewSubmitted(
        case_id=ctx.case.id,
        partnership_id=ctx.case.partnership_id,
        sent_to_panel_on=ctx.on,
        decision=str(rr.decision),
        criteria=list(rr.criteria),
        due_on=due.due_on if due else None,
        late=late,
    )
    detail: dict[str, Any] = {"sent_to_panel_on": ctx.on.isoformat(), "late": late}
    if payload.late_reason:
        detail["late_reason"] = payload.late_reason
    return [event], detail


async def _decide(ctx: _Step, payload: BaseModel) -> Effects:
    assert isinstance(payload, s.DecidePayload)
    rr = await ctx.rapid_review()
    decision = payload.decision or (Decision(rr.decision) if rr.decision else None)
    if decision is None:
        _invalid([("decision", "no decision given and none in the rapid review")])
    problems = decision_criteria_errors(decision, list(rr.criteria))
    if problems:
        _invalid([("decision", "; ".join(problems) + " (the rapid review's criteria)")])
    rr.decision = decision.value
    due_on = None
    if decision == Decision.local_review:
        lr = await ctx.local_review()
        lr.decided_on = ctx.on
        due_on = (await ctx.add_deadline(LOCAL_REVIEW_RULE, ctx.on)).due_on
    event = LocalReviewDecided(
        case_id=ctx.case.id,
        partnership_id=ctx.case.partnership_id,
        decision=decision.value,
        decided_on=ctx.on,
        criteria=list(rr.criteria),
        lcspr_due_on=due_on,
    )
    return [event], {"decision": decision.value}


async def _record_panel_response(ctx: _Step, payload: BaseModel) -> Effects:
    assert isinstance(payload, s.PanelResponseIn)
    national_id = None
    if payload.outcome == PanelOutcome.national_review:
        review = NationalReview(
            kind="case",
            title=payload.national_review_title
            or f"National review of case {ctx.case.client_reference}",
            case_ids=[ctx.case.id],
            partnership_ids=[ctx.case.partnership_id],
        )
        ctx.session.add(review)
        national_id = review.id
    received_on = payload.received_on or ctx.on
    if received_on > ctx.on:
        _invalid([("received_on", "cannot be after the day the response is recorded")])
    ctx.session.add(
        PanelResponse(
            case_id=ctx.case.id,
            outcome=payload.outcome.value,
            received_on=received_on,
            comments=payload.comments,
            national_review_id=national_id,
        )
    )
    event = PanelResponseRecorded(
        case_id=ctx.case.id,
        partnership_id=ctx.case.partnership_id,
        outcome=payload.outcome.value,
        received_on=received_on,
        national_review_id=national_id,
    )
    detail = {"outcome": payload.outcome.value} | (
        {"national_review_id": national_id} if national_id else {}
    )
    return [event], detail


async def _commission_local_review(ctx: _Step, _: BaseModel) -> Effects:
    rr = await ctx.session.get(RapidReview, ctx.case.id)
    panel = await ctx.session.get(PanelResponse, ctx.case.id)
    decided_local = rr is not None and rr.decision == Decision.local_review.value
    panel_disagreed = panel is not None and panel.outcome == PanelOutcome.disagrees.value
    if not (decided_local or panel_disagreed):
        raise Conflict(
            "No local review was decided and the Panel did not disagree with that decision."
        )
    lr = await ctx.local_review()
    lr.commissioned_on = ctx.on
    if await ctx.deadline(LOCAL_REVIEW_RULE) is None:  # decided now, after the Panel's answer
        lr.decided_on = ctx.on
        await ctx.add_deadline(LOCAL_REVIEW_RULE, ctx.on)
    return [], {"commissioned_on": ctx.on.isoformat()}


async def _start_local_review(ctx: _Step, _: BaseModel) -> Effects:
    lr = await ctx.local_review()
    missing = [
        name
        for name, ok in (
            ("reviewer_name", bool(lr.reviewer_name)),
            ("reviewer_independence_declared", lr.reviewer_independence_declared),
            ("terms_of_reference", bool(lr.terms_of_reference)),
        )
        if not ok
    ]
    if missing:
        raise Conflict(
            f"The local review is not ready to start: {', '.join(missing)}.", missing=missing
        )
    return [], {"reviewer_name": lr.reviewer_name}


async def _share_final_report(ctx: _Step, payload: BaseModel) -> Effects:
    assert isinstance(payload, s.SharePayload)
    final = (
        await ctx.session.exec(
            select(ReportVersion)
            .where(ReportVersion.case_id == ctx.case.id, col(ReportVersion.final).is_(True))
            .order_by(col(ReportVersion.version).desc())
        )
    ).first()
    if final is None:
        raise Conflict("No final report version yet.", missing=["final_report"])
    if payload.planned_publication_on <= ctx.on:
        _invalid([("planned_publication_on", "must be after the day the report is shared")])
    deadline = await ctx.add_deadline(
        PRE_PUBLICATION_RULE, payload.planned_publication_on, edition_on=ctx.on
    )
    late = ctx.late(deadline, ctx.on, payload.late_reason)
    lr = await ctx.local_review()
    lr.shared_on = ctx.on
    lr.planned_publication_on = payload.planned_publication_on
    if payload.late_reason:
        lr.late_reasons = {**lr.late_reasons, PRE_PUBLICATION_RULE: payload.late_reason}
    lr.updated_at = utcnow()
    event = FinalReportShared(
        case_id=ctx.case.id,
        partnership_id=ctx.case.partnership_id,
        shared_on=ctx.on,
        planned_publication_on=payload.planned_publication_on,
        due_on=deadline.due_on,
        recipients=list(deadline.recipients),
        report_version=final.version,
        late=late,
    )
    return [event], {
        "report_version": final.version,
        "planned_publication_on": payload.planned_publication_on.isoformat(),
        "due_on": deadline.due_on.isoformat(),
        "late": late,
    }


async def _publish(ctx: _Step, payload: BaseModel) -> Effects:
    assert isinstance(payload, s.PublishPayload)
    lr = await ctx.local_review()
    assert lr.shared_on is not None  # set when the report was shared
    earliest = ctx.policy.calendar.add_working_days(lr.shared_on, 7)
    if ctx.on < earliest:
        _invalid(
            [
                (
                    "at",
                    f"the report was shared on {lr.shared_on.isoformat()}: publication is at "
                    f"least 7 working days later, from {earliest.isoformat()} "
                    f"({PRE_PUBLICATION_RULE})",
                )
            ]
        )
    deadline = await ctx.deadline(LOCAL_REVIEW_RULE)
    late = ctx.late(deadline, ctx.on, payload.late_reason)
    lr.published_on = ctx.on
    lr.publication_url = str(payload.url)
    if payload.late_reason:
        lr.late_reasons = {**lr.late_reasons, LOCAL_REVIEW_RULE: payload.late_reason}
    lr.updated_at = utcnow()
    event = ReviewPublished(
        case_id=ctx.case.id,
        partnership_id=ctx.case.partnership_id,
        published_on=ctx.on,
        url=str(payload.url),
        lcspr_due_on=deadline.due_on if deadline else None,
        late=late,
    )
    return [event], {"url": str(payload.url), "late": late}


async def _withhold_publication(ctx: _Step, payload: BaseModel) -> Effects:
    assert isinstance(payload, s.WithholdPayload) and ctx.reason
    lr = await ctx.local_review()
    lr.withheld_reason = ctx.reason
    if payload.improvements_url:
        lr.publication_url = str(payload.improvements_url)
    lr.updated_at = utcnow()
    url = str(payload.improvements_url) if payload.improvements_url else None
    event = ReviewWithholdingRecorded(
        case_id=ctx.case.id,
        partnership_id=ctx.case.partnership_id,
        withheld_on=ctx.on,
        reason=ctx.reason,
        improvements_url=url,
    )
    return [event], {"improvements_url": url} if url else {}


async def _close(ctx: _Step, _: BaseModel) -> Effects:
    if ctx.case.status == State.panel_responded:
        rr = await ctx.session.get(RapidReview, ctx.case.id)
        if rr is not None and rr.decision == Decision.local_review.value:
            raise Conflict(
                "A local review was decided: it is commissioned and published (or its "
                "publication withheld) before the case closes.",
                allowed=allowed_from(ctx.case.status),
            )
    pending = await pending_recommendations(ctx.session, ctx.case.id)
    if pending:
        raise Conflict(
            f"{len(pending)} recommendation(s) not done yet.", pending_recommendations=pending
        )
    return [], {}


async def _close_no_rapid_review_needed(ctx: _Step, _: BaseModel) -> Effects:
    if ctx.case.needs_rapid_review:
        raise Conflict(
            "This notification needs a rapid review (domain.md s4); close it with "
            "close_not_meeting_criteria and a reason if it does not meet the criteria.",
            allowed=allowed_from(ctx.case.status),
        )
    return [], {}


async def _close_not_meeting_criteria(ctx: _Step, _: BaseModel) -> Effects:
    return [], {}


_GUARDS_AND_EFFECTS = {
    "start_rapid_review": _start_rapid_review,
    "submit_rapid_review": _submit_rapid_review,
    "decide": _decide,
    "record_panel_response": _record_panel_response,
    "commission_local_review": _commission_local_review,
    "start_local_review": _start_local_review,
    "share_final_report": _share_final_report,
    "publish": _publish,
    "withhold_publication": _withhold_publication,
    "close": _close,
    "close_no_rapid_review_needed": _close_no_rapid_review_needed,
    "close_not_meeting_criteria": _close_not_meeting_criteria,
}
assert set(_GUARDS_AND_EFFECTS) == set(BY_NAME), "every transition has its guards and effects"


async def _last_entry(session: AsyncSession, case_id: str) -> TimelineEntry | None:
    return (
        await session.exec(
            select(TimelineEntry)
            .where(TimelineEntry.case_id == case_id)
            .order_by(col(TimelineEntry.position).desc())
        )
    ).first()


def _entry_out(e: TimelineEntry) -> s.TimelineEntryOut:
    return s.TimelineEntryOut(
        position=e.position,
        transition=e.transition,
        from_status=e.from_status,
        to_status=e.to_status,
        actor=e.actor,
        at=e.at,
        recorded_at=e.recorded_at,
        reason=e.reason,
        detail=dict(e.detail or {}),
    )


async def timeline(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    *,
    transition: str | None,
    limit: int,
    offset: int,
) -> s.TimelinePage:
    case = await readable_case(session, principal, case_id)
    conditions: list[Any] = [TimelineEntry.case_id == case.id]
    if transition is not None:
        conditions.append(TimelineEntry.transition == transition)
    rows, total = await fetch_page(
        session,
        TimelineEntry,
        conditions,
        [col(TimelineEntry.position)],
        limit=limit,
        offset=offset,
    )
    record_audit(
        session, principal, "read", "case_timeline", case.id, partnership_id=case.partnership_id
    )
    return s.TimelinePage(
        items=[_entry_out(r) for r in rows], total=total, limit=limit, offset=offset
    )


# -- rapid review -----------------------------------------------------------------------------


def _check_rapid_review(rr: RapidReview) -> None:
    errors: list[tuple[str, str]] = []
    for i, code in enumerate(rr.criteria):
        if code not in CRITERIA:
            errors.append(
                (f"criteria.{i}", f"unknown criterion {code!r} (see GET /case-lifecycle)")
            )
    if errors:
        _invalid(errors)
    decision = Decision(rr.decision) if rr.decision else None
    problems = decision_criteria_errors(decision, list(rr.criteria))
    if problems:
        _invalid([("criteria", p) for p in problems])
    if decision is not None and not rr.rationale:
        _invalid([("rationale", "a decision needs its rationale against the criteria")])


async def put_rapid_review(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    body: s.RapidReviewIn | s.RapidReviewPatch,
) -> tuple[s.RapidReviewOut, bool]:
    """PUT replaces the record; PATCH changes only the fields sent. Editable until it is sent
    to the Panel."""
    case = await visible_case(session, principal, case_id)
    if case.status not in RAPID_REVIEW_EDITABLE:
        raise Conflict(
            f"The rapid review cannot change once the case is {case.status!r}.",
            status=case.status,
        )
    row = await session.get(RapidReview, case.id)
    created = row is None
    if row is None:
        row = RapidReview(case_id=case.id)
    full = isinstance(body, s.RapidReviewIn)
    changes = body.model_dump(mode="json", exclude_unset=not full)
    for name, value in changes.items():
        setattr(row, name, value)
    if "criteria" in changes:
        row.criteria = list(dict.fromkeys(row.criteria))
    _check_rapid_review(row)
    row.updated_at = utcnow()
    session.add(row)
    record_audit(
        session,
        principal,
        "create" if created else ("replace" if full else "update"),
        "rapid_review",
        case.id,
        partnership_id=case.partnership_id,
        detail={"fields": sorted(changes)},
    )
    await session.flush()
    return _rapid_out(row), created


async def get_rapid_review(
    session: AsyncSession, principal: Principal, case_id: str
) -> s.RapidReviewOut:
    case = await readable_case(session, principal, case_id)
    row = await session.get(RapidReview, case.id)
    if row is None:
        raise NotFound("No rapid review recorded for this case yet.")
    record_audit(
        session, principal, "read", "rapid_review", case.id, partnership_id=case.partnership_id
    )
    return _rapid_out(row)


def _rapid_out(r: RapidReview) -> s.RapidReviewOut:
    return s.RapidReviewOut(
        case_id=r.case_id,
        participants=list(r.participants),
        facts=r.facts,
        key_practice_episodes=list(r.key_practice_episodes),
        immediate_actions=list(r.immediate_actions),
        family_context=r.family_context,
        learning=list(r.learning),
        decision=r.decision,
        rationale=r.rationale,
        criteria=list(r.criteria),
        sent_to_panel_on=r.sent_to_panel_on,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


async def get_panel_response(
    session: AsyncSession, principal: Principal, case_id: str
) -> s.PanelResponseOut:
    case = await readable_case(session, principal, case_id)
    row = await session.get(PanelResponse, case.id)
    if row is None:
        raise NotFound("No Panel response recorded for this case yet.")
    record_audit(
        session, principal, "read", "panel_response", case.id, partnership_id=case.partnership_id
    )
    return _panel_out(row, case.status)


def _panel_out(r: PanelResponse, status: str) -> s.PanelResponseOut:
    return s.PanelResponseOut(
        case_id=r.case_id,
        outcome=r.outcome,
        received_on=r.received_on,
        comments=r.comments,
        national_review_id=r.national_review_id,
        status=status,
    )


# -- national reviews -------------------------------------------------------------------------


async def create_national_review(
    session: AsyncSession, principal: Principal, body: s.NationalReviewIn
) -> s.NationalReviewOut:
    """A thematic review is the Panel's: only the operator records it."""
    principal.require_admin()
    ids = list(dict.fromkeys(body.case_ids))
    found = {c.id: c for c in (await session.exec(select(Case).where(col(Case.id).in_(ids)))).all()}
    missing = [
        (f"case_ids.{i}", "no such case") for i, c in enumerate(body.case_ids) if c not in found
    ]
    if missing:
        _invalid(missing)
    row = NationalReview(
        kind="thematic",
        title=body.title,
        case_ids=ids,
        partnership_ids=sorted({c.partnership_id for c in found.values()}),
    )
    session.add(row)
    record_audit(
        session, principal, "create", "national_review", row.id, detail={"cases": len(ids)}
    )
    await session.flush()
    return _national_out(row, ids)


async def _visible_case_ids(
    session: AsyncSession, principal: Principal, ids: list[str]
) -> list[str]:
    if principal.is_admin or not ids:
        return ids
    rows = (
        await session.exec(
            select(Case.id).where(
                col(Case.id).in_(ids), col(Case.partnership_id).in_(principal.partnership_ids)
            )
        )
    ).all()
    mine = set(rows)
    return [i for i in ids if i in mine]


async def list_national_reviews(
    session: AsyncSession,
    principal: Principal,
    *,
    kind: str | None,
    limit: int,
    offset: int,
) -> s.NationalReviewPage:
    """Reviews a caller's partnership contributes to (all for the operator). Few rows exist
    (tens a year), so visibility is filtered in Python rather than by JSON containment."""
    query = select(NationalReview).order_by(col(NationalReview.created_at).desc())
    if kind is not None:
        query = query.where(NationalReview.kind == kind)
    rows = [
        r
        for r in (await session.exec(query)).all()
        if principal.is_admin or set(r.partnership_ids) & principal.partnership_ids
    ]
    page = rows[offset : offset + limit]
    items = [
        _national_out(r, await _visible_case_ids(session, principal, r.case_ids)) for r in page
    ]
    for r in page:
        record_audit(session, principal, "read", "national_review", r.id)
    return s.NationalReviewPage(items=items, total=len(rows), limit=limit, offset=offset)


async def get_national_review(
    session: AsyncSession, principal: Principal, review_id: str
) -> s.NationalReviewOut:
    row = await session.get(NationalReview, review_id)
    if row is None or not (
        principal.is_admin or set(row.partnership_ids) & principal.partnership_ids
    ):
        raise NotFound("National review not found.")
    record_audit(session, principal, "read", "national_review", row.id)
    return _national_out(row, await _visible_case_ids(session, principal, row.case_ids))


def _national_out(r: NationalReview, case_ids: list[str]) -> s.NationalReviewOut:
    return s.NationalReviewOut(
        id=r.id,
        kind=r.kind,
        title=r.title,
        status=r.status,
        case_ids=case_ids,
        created_at=r.created_at,
    )


# -- local review -----------------------------------------------------------------------------


async def put_local_review(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    body: s.LocalReviewIn | s.LocalReviewPatch,
) -> tuple[s.LocalReviewOut, bool]:
    case = await visible_case(session, principal, case_id)
    if case.status not in LOCAL_REVIEW_EDITABLE:
        raise Conflict(
            f"The local review's set-up cannot change while the case is {case.status!r}.",
            status=case.status,
        )
    row = await session.get(LocalReview, case.id)
    created = row is None
    if row is None:
        row = LocalReview(case_id=case.id)
    full = isinstance(body, s.LocalReviewIn)
    changes = body.model_dump(mode="json", exclude_unset=not full)
    if not full and changes.get("reviewer_independence_declared") is None:
        changes.pop("reviewer_independence_declared", None)  # null means "leave as it is"
    for name, value in changes.items():
        setattr(row, name, value)
    if row.reviewer_independence_declared and not row.reviewer_name:
        _invalid([("reviewer_name", "independence is declared by a named reviewer")])
    row.updated_at = utcnow()
    session.add(row)
    record_audit(
        session,
        principal,
        "create" if created else ("replace" if full else "update"),
        "local_review",
        case.id,
        partnership_id=case.partnership_id,
        detail={"fields": sorted(changes)},
    )
    await session.flush()
    return await _local_out(session, row), created


async def get_local_review(
    session: AsyncSession, principal: Principal, case_id: str
) -> s.LocalReviewOut:
    case = await readable_case(session, principal, case_id)
    row = await session.get(LocalReview, case.id)
    if row is None:
        raise NotFound("No local review for this case.")
    record_audit(
        session, principal, "read", "local_review", case.id, partnership_id=case.partnership_id
    )
    return await _local_out(session, row)


async def _local_out(session: AsyncSession, r: LocalReview) -> s.LocalReviewOut:
    deadlines = (
        await session.exec(
            select(CaseDeadline)
            .where(
                CaseDeadline.case_id == r.case_id,
                col(CaseDeadline.rule_id).in_([LOCAL_REVIEW_RULE, PRE_PUBLICATION_RULE]),
            )
            .order_by(col(CaseDeadline.position))
        )
    ).all()
    return s.LocalReviewOut(
        case_id=r.case_id,
        reviewer_name=r.reviewer_name,
        reviewer_organisation=r.reviewer_organisation,
        reviewer_independence_declared=r.reviewer_independence_declared,
        reviewer_independence_statement=r.reviewer_independence_statement,
        terms_of_reference=r.terms_of_reference,
        methodology=r.methodology,
        milestones=list(r.milestones),
        decided_on=r.decided_on,
        commissioned_on=r.commissioned_on,
        planned_publication_on=r.planned_publication_on,
        shared_on=r.shared_on,
        published_on=r.published_on,
        publication_url=r.publication_url,
        withheld_reason=r.withheld_reason,
        late_reasons=dict(r.late_reasons or {}),
        deadlines=[
            s.DeadlineBrief(
                rule_id=d.rule_id, starts_on=d.starts_on, due_on=d.due_on, edition=d.edition
            )
            for d in deadlines
        ],
        updated_at=r.updated_at,
    )


async def add_report_version(
    session: AsyncSession, principal: Principal, case_id: str, body: s.ReportVersionIn
) -> s.ReportVersionOut:
    case = await visible_case(session, principal, case_id)
    if body.text is None and body.url is None:
        _invalid([("text", "give the report's text, a url to it, or both")])
    if case.status not in REPORTS_ACCEPTED:
        raise Conflict(
            f"Report versions are added while the local review runs, not when {case.status!r}.",
            status=case.status,
        )
    last = (
        await session.exec(
            select(func.max(ReportVersion.version)).where(ReportVersion.case_id == case.id)
        )
    ).one()
    row = ReportVersion(
        case_id=case.id,
        version=(last or 0) + 1,
        title=body.title,
        final=body.final,
        text=body.text,
        url=str(body.url) if body.url else None,
        author=actor(principal),
    )
    session.add(row)
    record_audit(
        session,
        principal,
        "create",
        "report_version",
        row.id,
        partnership_id=case.partnership_id,
        detail={"case_id": case.id, "version": row.version, "final": row.final},
    )
    await session.flush()
    return _report_out(row)


async def list_report_versions(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    *,
    final: bool | None,
    limit: int,
    offset: int,
) -> s.ReportVersionPage:
    case = await readable_case(session, principal, case_id)
    conditions: list[Any] = [ReportVersion.case_id == case.id]
    if final is not None:
        conditions.append(col(ReportVersion.final).is_(final))
    rows, total = await fetch_page(
        session, ReportVersion, conditions, [col(ReportVersion.version)], limit=limit, offset=offset
    )
    record_audit(
        session, principal, "read", "report_version", case.id, partnership_id=case.partnership_id
    )
    return s.ReportVersionPage(
        items=[_report_out(r) for r in rows], total=total, limit=limit, offset=offset
    )


def _report_out(r: ReportVersion) -> s.ReportVersionOut:
    return s.ReportVersionOut(
        id=r.id,
        case_id=r.case_id,
        version=r.version,
        title=r.title,
        final=r.final,
        text=r.text,
        url=r.url,
        author=r.author,
        created_at=r.created_at,
    )


# -- recommendations --------------------------------------------------------------------------


def _has_actions(rec_id: Any) -> Any:
    return exists().where(col(RecommendationAction.recommendation_id) == rec_id)


def _done_condition() -> Any:
    """Done: not withdrawn, has actions, and every action is done (domain.md s4)."""
    unfinished = exists().where(
        col(RecommendationAction.recommendation_id) == col(Recommendation.id),
        col(RecommendationAction.status) != "done",
    )
    return and_(
        col(Recommendation.withdrawn_reason).is_(None),
        _has_actions(col(Recommendation.id)),
        not_(unfinished),
    )


def _status_condition(status: str) -> Any:
    if status == "withdrawn":
        return col(Recommendation.withdrawn_reason).is_not(None)
    if status == "done":
        return _done_condition()
    return and_(col(Recommendation.withdrawn_reason).is_(None), not_(_done_condition()))


async def pending_recommendations(session: AsyncSession, case_id: str) -> list[str]:
    return list(
        (
            await session.exec(
                select(Recommendation.id).where(
                    Recommendation.case_id == case_id, _status_condition("open")
                )
            )
        ).all()
    )


def _status_of(rec: Recommendation, actions: Sequence[RecommendationAction]) -> str:
    if rec.withdrawn_reason:
        return "withdrawn"
    if actions and all(a.status == "done" for a in actions):
        return "done"
    return "open"


async def _writable_case(session: AsyncSession, principal: Principal, case_id: str) -> Case:
    case = await visible_case(session, principal, case_id)
    if case.status == State.closed:
        raise Conflict("The case is closed.", status=case.status)
    return case


async def create_recommendation(
    session: AsyncSession, principal: Principal, case_id: str, body: s.RecommendationIn
) -> s.RecommendationOut:
    case = await _writable_case(session, principal, case_id)
    if body.national_review_id is not None:
        review = await session.get(NationalReview, body.national_review_id)
        if review is None or case.id not in review.case_ids:
            _invalid([("national_review_id", "no national review of this case has this id")])
    elif body.source in ("national_review", "thematic_review"):
        _invalid([("national_review_id", f"a {body.source} recommendation names its review")])
    now = utcnow()
    row = Recommendation(
        case_id=case.id,
        partnership_id=case.partnership_id,
        source=body.source,
        national_review_id=body.national_review_id,
        text=body.text,
        owner_agency=body.owner_agency,
        due_on=body.due_on,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    record_audit(
        session,
        principal,
        "create",
        "recommendation",
        row.id,
        partnership_id=case.partnership_id,
        detail={"case_id": case.id, "source": body.source, "owner_agency": body.owner_agency},
    )
    await session.flush()
    return _rec_out(row, [])


async def _recommendation(
    session: AsyncSession, case: Case, recommendation_id: str
) -> Recommendation:
    row = await session.get(Recommendation, recommendation_id)
    if row is None or row.case_id != case.id:
        raise NotFound("Recommendation not found.")
    return row


async def _actions_of(session: AsyncSession, ids: list[str]) -> list[RecommendationAction]:
    if not ids:
        return []
    return list(
        (
            await session.exec(
                select(RecommendationAction)
                .where(col(RecommendationAction.recommendation_id).in_(ids))
                .order_by(col(RecommendationAction.created_at), col(RecommendationAction.id))
            )
        ).all()
    )


async def list_recommendations(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    *,
    status: str | None,
    source: str | None,
    owner_agency: str | None,
    limit: int,
    offset: int,
) -> s.RecommendationPage:
    case = await readable_case(session, principal, case_id)
    conditions: list[Any] = [Recommendation.case_id == case.id]
    if status is not None:
        conditions.append(_status_condition(status))
    if source is not None:
        conditions.append(Recommendation.source == source)
    if owner_agency is not None:
        conditions.append(Recommendation.owner_agency == owner_agency)
    rows, total = await fetch_page(
        session,
        Recommendation,
        conditions,
        [col(Recommendation.created_at), col(Recommendation.id)],
        limit=limit,
        offset=offset,
    )
    actions = await _actions_of(session, [r.id for r in rows])
    record_audit(
        session, principal, "read", "recommendation", case.id, partnership_id=case.partnership_id
    )
    return s.RecommendationPage(
        items=[_rec_out(r, [a for a in actions if a.recommendation_id == r.id]) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


async def get_recommendation(
    session: AsyncSession, principal: Principal, case_id: str, recommendation_id: str
) -> s.RecommendationOut:
    case = await readable_case(session, principal, case_id)
    row = await _recommendation(session, case, recommendation_id)
    record_audit(
        session, principal, "read", "recommendation", row.id, partnership_id=case.partnership_id
    )
    return _rec_out(row, await _actions_of(session, [row.id]))


async def patch_recommendation(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    recommendation_id: str,
    body: s.RecommendationPatch,
) -> s.RecommendationOut:
    case = await _writable_case(session, principal, case_id)
    row = await _recommendation(session, case, recommendation_id)
    changes = body.model_dump(exclude_unset=True)
    for name in ("text", "owner_agency", "withdrawn_reason"):
        if name in changes and changes[name] is None:
            _invalid([(name, "cannot be null")])
    if row.withdrawn_reason and changes:
        raise Conflict("The recommendation was withdrawn; it no longer changes.")
    before = {k: getattr(row, k) for k in changes}
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.add(row)
    record_audit(
        session,
        principal,
        "withdraw" if "withdrawn_reason" in changes else "update",
        "recommendation",
        row.id,
        partnership_id=case.partnership_id,
        detail={
            "case_id": case.id,
            "changes": {
                k: {"from": _plain(before[k]), "to": _plain(v)} for k, v in changes.items()
            },
        },
    )
    return _rec_out(row, await _actions_of(session, [row.id]))


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


async def add_action(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    recommendation_id: str,
    body: s.ActionIn,
) -> s.RecommendationOut:
    case = await _writable_case(session, principal, case_id)
    rec = await _recommendation(session, case, recommendation_id)
    if rec.withdrawn_reason:
        raise Conflict("The recommendation was withdrawn; it takes no new actions.")
    now = utcnow()
    action = RecommendationAction(
        recommendation_id=rec.id,
        description=body.description,
        owner_agency=body.owner_agency,
        due_on=body.due_on,
        created_at=now,
        updated_at=now,
    )
    session.add(action)
    record_audit(
        session,
        principal,
        "create",
        "recommendation_action",
        action.id,
        partnership_id=case.partnership_id,
        detail={"recommendation_id": rec.id, "owner_agency": body.owner_agency},
    )
    await session.flush()
    return _rec_out(rec, await _actions_of(session, [rec.id]))


async def patch_action(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    recommendation_id: str,
    action_id: str,
    body: s.ActionPatch,
) -> s.RecommendationOut:
    case = await _writable_case(session, principal, case_id)
    rec = await _recommendation(session, case, recommendation_id)
    action = await session.get(RecommendationAction, action_id)
    if action is None or action.recommendation_id != rec.id:
        raise NotFound("Action not found.")
    changes = body.model_dump(exclude_unset=True)
    for name in ("description", "owner_agency", "status"):
        if name in changes and changes[name] is None:
            _invalid([(name, "cannot be null")])
    before = {k: getattr(action, k) for k in changes}
    for name, value in changes.items():
        setattr(action, name, value)
    if action.status == "done":
        missing = [
            (name, "an action is done with evidence of completion and who signed it off")
            for name in ("evidence", "signed_off_by")
            if not getattr(action, name)
        ]
        if missing:
            _invalid(missing)
        if before.get("status", "done") != "done" or action.signed_off_at is None:
            action.signed_off_at = utcnow()
    else:
        action.signed_off_at = None
    action.updated_at = utcnow()
    session.add(action)
    record_audit(
        session,
        principal,
        "update",
        "recommendation_action",
        action.id,
        partnership_id=case.partnership_id,
        detail={
            "recommendation_id": rec.id,
            "changes": {
                k: {"from": _plain(before[k]), "to": _plain(v)} for k, v in changes.items()
            },
        },
    )
    await session.flush()
    return _rec_out(rec, await _actions_of(session, [rec.id]))


def _rec_out(r: Recommendation, actions: Sequence[RecommendationAction]) -> s.RecommendationOut:
    return s.RecommendationOut(
        id=r.id,
        case_id=r.case_id,
        source=r.source,
        national_review_id=r.national_review_id,
        text=r.text,
        owner_agency=r.owner_agency,
        due_on=r.due_on,
        status=_status_of(r, actions),  # type: ignore[arg-type]
        withdrawn_reason=r.withdrawn_reason,
        actions=[
            s.ActionOut(
                id=a.id,
                recommendation_id=a.recommendation_id,
                description=a.description,
                owner_agency=a.owner_agency,
                due_on=a.due_on,
                status=a.status,
                evidence=a.evidence,
                signed_off_by=a.signed_off_by,
                signed_off_at=a.signed_off_at,
                created_at=a.created_at,
                updated_at=a.updated_at,
            )
            for a in actions
        ],
        created_at=r.created_at,
        updated_at=r.updated_at,
    )
