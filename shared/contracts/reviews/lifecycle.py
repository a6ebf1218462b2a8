"""Events of the case lifecycle (payloads registered on import).

Every transition emits ``case.transitioned``; the statutory steps of domain.md s4 emit their
own event as well, in the same transaction (rapid review sent to the Panel, the partners'
decision, the Panel's response, the final report shared with the national bodies,
publication or its withholding).
"""

from __future__ import annotations

from datetime import date, datetime

from shared.events import EventPayload


class CaseTransitioned(EventPayload):
    """A case moved from one lifecycle state to another."""

    event_name = "case.transitioned"
    case_id: str
    partnership_id: str
    transition: str
    from_status: str
    to_status: str
    at: datetime
    actor: str
    reason: str | None = None


class RapidReviewSubmitted(EventPayload):
    """The rapid review was sent to the Panel (RR-15WD)."""

    event_name = "rapid_review.submitted"
    case_id: str
    partnership_id: str
    sent_to_panel_on: date
    decision: str
    criteria: list[str]
    due_on: date | None = None
    late: bool = False


class LocalReviewDecided(EventPayload):
    """The partners decided the next step: a local review, none, or a national review
    recommended. ``lcspr_due_on`` is the LCSPR-6M due date when a local review is held."""

    event_name = "local_review.decided"
    case_id: str
    partnership_id: str
    decision: str
    decided_on: date
    criteria: list[str]
    lcspr_due_on: date | None = None


class PanelResponseRecorded(EventPayload):
    """The Panel's answer to the rapid review; ``national_review_id`` when it takes the case."""

    event_name = "panel_response.recorded"
    case_id: str
    partnership_id: str
    outcome: str
    received_on: date
    national_review_id: str | None = None


class FinalReportShared(EventPayload):
    """The final local review report went to the Panel, DfE and Ofsted (LCSPR-PRE-PUB-7WD)."""

    event_name = "final_report.shared"
    case_id: str
    partnership_id: str
    shared_on: date
    planned_publication_on: date
    due_on: date
    recipients: list[str]
    report_version: int
    late: bool = False


class ReviewPublished(EventPayload):
    """The local review report was published."""

    event_name = "review.published"
    case_id: str
    partnership_id: str
    published_on: date
    url: str
    lcspr_due_on: date | None = None
    late: bool = False


class ReviewWithholdingRecorded(EventPayload):
    """The full report is not published; information about improvements is, with reasons."""

    event_name = "review_withholding.recorded"
    case_id: str
    partnership_id: str
    withheld_on: date
    reason: str
    improvements_url: str | None = None
