"""The case lifecycle as data: states, named transitions and the states each may start from.

Source: /work/shared/domain.md section 4 (rapid review, decision, Panel response, local review,
publication, recommendations). Pure module: no I/O. Guards that need the database (the rapid
review is complete, every recommendation is done...) live in service.py and are named here in
``Transition.guards`` so the table in docs/reviews/lifecycle.md can be generated from this data.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from services.reviews.models import CaseStatus

# Where a case is: the statuses of services/reviews/models.py, one list for intake and lifecycle.
State = CaseStatus


TERMINAL: frozenset[State] = frozenset({State.closed})
OPEN_STATES: frozenset[State] = frozenset(State) - TERMINAL


class Decision(enum.StrEnum):
    """The next step a rapid review decides (domain.md s4, "decides next steps")."""

    local_review = "local_review"
    no_local_review = "no_local_review"
    national_review_recommended = "national_review_recommended"


class PanelOutcome(enum.StrEnum):
    """What the Panel answers to a rapid review (domain.md s4, PANEL-RESPONSE)."""

    agrees = "agrees"
    disagrees = "disagrees"
    national_review = "national_review"


@dataclass(frozen=True)
class Criterion:
    code: str
    regulation: str
    text: str


# SI 2018/789 reg 11 (local review) and reg 3 (national review), as domain.md s4 words them.
LOCAL_REVIEW_CRITERIA: tuple[Criterion, ...] = (
    Criterion("reg11.improvements_needed", "SI 2018/789 reg 11",
              "Highlights improvements needed, including ones identified before"),
    Criterion("reg11.recurrent_themes", "SI 2018/789 reg 11", "Highlights recurrent themes"),
    Criterion("reg11.multi_agency_concerns", "SI 2018/789 reg 11",
              "Highlights concerns about two or more agencies working together"),
    Criterion("reg11.panel_considered_local_more_appropriate", "SI 2018/789 reg 11",
              "The Panel considered the case and thought a local review more appropriate"),
)  # fmt: skip
NATIONAL_REVIEW_CRITERIA: tuple[Criterion, ...] = (
    Criterion("reg3.improvements_needed", "SI 2018/789 reg 3", "Highlights improvements needed"),
    Criterion("reg3.law_or_guidance_change", "SI 2018/789 reg 3",
              "Raises issues that may need changes to law or guidance"),
    Criterion("reg3.recurrent_themes", "SI 2018/789 reg 3", "Highlights recurrent themes"),
    Criterion("reg3.complex_or_national_importance", "SI 2018/789 reg 3",
              "Complex, or of national importance"),
)  # fmt: skip
CRITERIA: Mapping[str, Criterion] = {
    c.code: c for c in (*LOCAL_REVIEW_CRITERIA, *NATIONAL_REVIEW_CRITERIA)
}
# Which criteria a decision must cite at least one of (no local review cites none needed).
CRITERIA_FOR_DECISION: Mapping[Decision, frozenset[str]] = {
    Decision.local_review: frozenset(c.code for c in LOCAL_REVIEW_CRITERIA),
    Decision.national_review_recommended: frozenset(c.code for c in NATIONAL_REVIEW_CRITERIA),
    Decision.no_local_review: frozenset(),
}


@dataclass(frozen=True)
class Transition:
    """A named step from any of ``sources`` to ``target``.

    ``event``: the specific statutory event it emits besides ``case.transitioned`` (and the
    event type a client system must be allowed to post to take it; ``case.transitioned``
    otherwise). ``guards``: conditions checked against the case's records (service.py).
    """

    name: str
    sources: frozenset[State]
    target: State
    title: str
    reason_required: bool = False
    event: str | None = None
    guards: tuple[str, ...] = ()

    @property
    def grant(self) -> str:
        return self.event or "case.transitioned"


def _t(
    name: str, sources: set[State] | frozenset[State], target: State, title: str, **kw: object
) -> Transition:
    return Transition(name, frozenset(sources), target, title, **kw)  # type: ignore[arg-type]


S = State
TRANSITIONS: tuple[Transition, ...] = (
    _t("start_rapid_review", {S.notified}, S.rapid_review_in_progress,
       "The partners start the rapid review"),
    _t("submit_rapid_review", {S.rapid_review_in_progress}, S.rapid_review_submitted,
       "The rapid review is sent to the Panel (RR-15WD)", event="rapid_review.submitted",
       guards=("rapid_review_complete",)),
    _t("decide", {S.rapid_review_submitted}, S.decided,
       "The partners record their decision: local review, none, or national review "
       "recommended", event="local_review.decided", guards=("decision_meets_criteria",)),
    _t("record_panel_response", {S.decided}, S.panel_responded,
       "The Panel's answer is recorded (agrees, disagrees, national review)",
       event="panel_response.recorded"),
    _t("commission_local_review", {S.panel_responded}, S.local_review_commissioned,
       "A local review is commissioned (LCSPR-6M runs from the decision)",
       guards=("local_review_indicated",)),
    _t("start_local_review", {S.local_review_commissioned}, S.local_review_in_progress,
       "The independent reviewer starts, with terms of reference",
       guards=("reviewer_independent", "terms_of_reference")),
    _t("share_final_report", {S.local_review_in_progress}, S.final_report_shared,
       "The final report goes to the Panel, DfE and Ofsted (LCSPR-PRE-PUB-7WD)",
       event="final_report.shared", guards=("final_report_version", "late_reason_if_late")),
    _t("publish", {S.final_report_shared}, S.published,
       "The report is published", event="review.published",
       guards=("seven_working_days_after_sharing", "late_reason_if_late")),
    _t("withhold_publication", {S.final_report_shared}, S.publication_withheld,
       "The full report is not published; improvements are published instead, with reasons",
       reason_required=True, event="review_withholding.recorded"),
    _t("close", {S.published, S.publication_withheld, S.panel_responded}, S.closed,
       "Closed once every recommendation is done",
       guards=("no_local_review_pending", "recommendations_done")),
    _t("close_no_rapid_review_needed", {S.notified}, S.closed,
       "A notification that needs no rapid review (e.g. a looked-after child's death without "
       "abuse or neglect) is closed", guards=("no_rapid_review_needed",)),
    _t("close_not_meeting_criteria", OPEN_STATES, S.closed,
       "The case turns out not to meet the serious incident criteria", reason_required=True),
)  # fmt: skip
BY_NAME: Mapping[str, Transition] = {t.name: t for t in TRANSITIONS}


def allowed_from(state: str) -> list[str]:
    """Names of the transitions that may start from ``state`` (in table order)."""
    return [t.name for t in TRANSITIONS if t.sources and state in t.sources]


def decision_criteria_errors(decision: Decision | None, criteria: list[str]) -> list[str]:
    """Why ``criteria`` do not support ``decision`` (empty when they do)."""
    errors = [f"unknown criterion {c!r}" for c in criteria if c not in CRITERIA]
    if decision is None or errors:
        return errors
    needed = CRITERIA_FOR_DECISION[decision]
    if needed and not needed & set(criteria):
        regulation = "reg 11" if decision == Decision.local_review else "reg 3"
        errors.append(f"a {decision.value} decision must cite a SI 2018/789 {regulation} criterion")
    return errors
