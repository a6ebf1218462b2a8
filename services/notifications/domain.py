"""The rules of a notification's life, as pure functions: no I/O, no settings, no database.

- Which rule and due date a recipient is told under, and the notification's stable id.
- What is sent: an allow-list of the incident's fields (minimisation: a field added to the
  event later is not sent until someone decides it should be), and the same for the later
  statutory steps (arrangements published, rapid review sent, final report shared, review
  published: domain.md sections 2 and 4).
- What an attempt's outcome means: delivered, retry at a time, or abandoned.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from services.notifications.retry import RetryPolicy, disables_endpoint, is_success
from shared.auth import Principal
from shared.contracts.partners.arrangements import ArrangementsPublished
from shared.contracts.reviews import IncidentNotified
from shared.contracts.reviews.lifecycle import (
    FinalReportShared,
    RapidReviewSubmitted,
    ReviewPublished,
)

Status = Literal["pending", "delivered", "abandoned", "awaiting_manual"]
STATUSES: tuple[Status, ...] = ("pending", "delivered", "abandoned", "awaiting_manual")
WEBHOOK, MANUAL = "webhook", "manual"

# Fixed for ever: changing it would give every existing notification a new id.
NOTIFICATION_NAMESPACE = uuid.UUID("6f1c0c8e-3b0e-5d55-9a55-2d1f6b7c9e41")
NO_RULE = "none"
BODY_TYPE = "incident.notified"
# The documents added after the incident's carry an explicit version: a change to what they
# hold is a new version, sent alongside the old one until recipients move.
BODY_VERSION = 1

# What a notification is about. A case (incidents, rapid reviews, reports) or something of the
# partnership's own that has no case (its published arrangements).
SubjectKind = Literal["case", "arrangements"]
CASE: SubjectKind = "case"
ARRANGEMENTS: SubjectKind = "arrangements"

# domain.md section 4 (and section 2 for ARR-DFE): the rules whose trigger is an event other
# than the incident, and who is told under each. Defaults of the ``rule_recipients`` setting:
# several rows are marked "verify" in domain.md, so they stay data, not code.
ARR_DFE = "ARR-DFE"
RR_15WD = "RR-15WD"
LCSPR_PRE_PUB_7WD = "LCSPR-PRE-PUB-7WD"
# Publication closes LCSPR-6M ("complete and publish within 6 months"); domain.md names no
# recipient, the Panel is told (it tracks local reviews); DfE and Ofsted already received the
# final report under LCSPR-PRE-PUB-7WD.
LCSPR_6M = "LCSPR-6M"
DEFAULT_RULE_RECIPIENTS: dict[str, tuple[str, ...]] = {
    ARR_DFE: ("dfe",),
    RR_15WD: ("panel",),
    LCSPR_PRE_PUB_7WD: ("panel", "dfe", "ofsted"),
    LCSPR_6M: ("panel",),
}
ENGLAND = ZoneInfo("Europe/London")
ERROR_MAX = 500
# session.info flag: this transaction queued webhook deliveries (wakes the delivery worker)
DELIVERIES_QUEUED = "masa_deliveries_queued"
# Who the audit trail names for what this service does on its own (consuming, delivering).
SERVICE_ACTOR = Principal(kind="service", id="notifications")

KNOWN_RECIPIENT_NAMES: dict[str, str] = {
    "panel": "Child Safeguarding Practice Review Panel",
    "ofsted": "Ofsted",
    "dfe": "Department for Education",
    "local_partners": "Local safeguarding partners",
    "foundations": "Foundations (What Works Centre for Children & Families)",
    "yjb": "Youth Justice Board",
}


def notification_id(case_id: str, rule_id: str, recipient: str) -> str:
    """Stable id of the one notification of a case under a rule to a recipient (uuid5)."""
    return str(uuid.uuid5(NOTIFICATION_NAMESPACE, f"{case_id}\n{rule_id}\n{recipient}"))


def subject_notification_id(
    subject_kind: SubjectKind, subject_id: str, rule_id: str, recipient: str
) -> str:
    """Stable id of the one notification about a subject under a rule to a recipient (uuid5).

    A case keeps :func:`notification_id` (the ids of existing notifications never change);
    other subjects put their kind in the name, so they can never collide with a case's.
    """
    if subject_kind == CASE:
        return notification_id(subject_id, rule_id, recipient)
    return notification_id(f"{subject_kind}:{subject_id}", rule_id, recipient)


def arrangements_subject(partnership_id: str, version: int) -> str:
    """One published version of a partnership's arrangements: each publication tells DfE."""
    return f"{partnership_id}/v{version}"


def rule_for(payload: IncidentNotified, recipient: str) -> tuple[str, date | None]:
    """The rule (and its due date) under which ``recipient`` is told of this incident.

    The earliest-due deadline that lists the recipient (the notification rule, not the rapid
    review that follows); failing that the first deadline, which is the notification's own.
    """
    listing = [d for d in payload.deadlines if recipient in d.recipients]
    if listing:
        chosen = min(listing, key=lambda d: d.due_on)
        return chosen.rule_id, chosen.due_on
    if payload.deadlines:
        return payload.deadlines[0].rule_id, payload.deadlines[0].due_on
    return NO_RULE, None


def recipients_of(payload: IncidentNotified) -> list[str]:
    """The recipients, each once, in the order given."""
    return list(dict.fromkeys(r.strip() for r in payload.notify if r.strip()))


def webhook_body(
    payload: IncidentNotified,
    *,
    notification: str,
    recipient: str,
    rule_id: str,
    due_on: date | None,
    created_at: datetime,
) -> dict[str, Any]:
    """What the recipient receives (Standard Webhooks shape: type, timestamp, data)."""
    return {
        "type": BODY_TYPE,
        "timestamp": created_at.isoformat(),
        "data": {
            "notification_id": notification,
            "recipient": recipient,
            "rule_id": None if rule_id == NO_RULE else rule_id,
            "due_on": due_on.isoformat() if due_on else None,
            "case": {
                "case_id": payload.case_id,
                "partnership_id": payload.partnership_id,
                "council_ons_code": payload.council_ons_code,
                "kind": payload.kind,
                "nature": payload.nature,
                "incident_date": _iso(payload.incident_date),
                "aware_on": payload.aware_on.isoformat(),
                "notified_at": payload.notified_at.isoformat(),
                "location": payload.location,
                "needs_rapid_review": payload.needs_rapid_review,
                "children": [c.model_dump(mode="json") for c in payload.children],
                "involved_partnership_ids": list(payload.involved_partnership_ids),
            },
        },
    }


def subject_body(
    body_type: str,
    *,
    notification: str,
    recipient: str,
    rule_id: str,
    due_on: date | None,
    created_at: datetime,
    subject: dict[str, Any],
) -> dict[str, Any]:
    """The versioned document of a notification other than the incident's: the same shape
    (type, timestamp, data with id, recipient, rule, due date), ``version`` at the top, and
    the subject's allow-listed fields under ``data`` (``case`` or ``arrangements``, ...)."""
    return {
        "type": body_type,
        "version": BODY_VERSION,
        "timestamp": created_at.isoformat(),
        "data": {
            "notification_id": notification,
            "recipient": recipient,
            "rule_id": None if rule_id == NO_RULE else rule_id,
            "due_on": _iso(due_on),
            **subject,
        },
    }


# What each later document says about its subject: allow-lists, like the incident's.


def arrangements_fields(payload: ArrangementsPublished) -> dict[str, Any]:
    """ARR-DFE: the link DfE must be sent, and when the partners must implement by."""
    return {
        "arrangements": {
            "partnership_id": payload.partnership_id,
            "arrangements_version": payload.arrangements_version,
            "url": payload.url,
            "published_on": payload.published_on.isoformat(),
            "implementation_date": payload.implementation_date.isoformat(),
            "supersedes_version": payload.supersedes_version,
        }
    }


def _case(case_id: str, partnership_id: str) -> dict[str, Any]:
    return {"case_id": case_id, "partnership_id": partnership_id}


def rapid_review_fields(payload: RapidReviewSubmitted) -> dict[str, Any]:
    """RR-15WD: the rapid review went to the Panel, with the partners' decision."""
    return {
        "case": _case(payload.case_id, payload.partnership_id),
        "rapid_review": {
            "sent_to_panel_on": payload.sent_to_panel_on.isoformat(),
            "decision": payload.decision,
            "criteria": list(payload.criteria),
            "late": payload.late,
        },
    }


def final_report_fields(payload: FinalReportShared) -> dict[str, Any]:
    """LCSPR-PRE-PUB-7WD: the final report, at least 7 working days before publication."""
    return {
        "case": _case(payload.case_id, payload.partnership_id),
        "final_report": {
            "report_version": payload.report_version,
            "shared_on": payload.shared_on.isoformat(),
            "planned_publication_on": payload.planned_publication_on.isoformat(),
            "late": payload.late,
        },
    }


def publication_fields(payload: ReviewPublished) -> dict[str, Any]:
    """LCSPR-6M: the local review report was published, at this address."""
    return {
        "case": _case(payload.case_id, payload.partnership_id),
        "publication": {
            "published_on": payload.published_on.isoformat(),
            "url": payload.url,
            "late": payload.late,
        },
    }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def encode_body(body: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact, key order as stored, UTF-8."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def on_time(delivered_at: datetime, due_on: date | None) -> bool | None:
    """Delivered by the end of the due day in England (deadlines are English dates)."""
    if due_on is None:
        return None
    return delivered_at.astimezone(ENGLAND).date() <= due_on


@dataclass(frozen=True)
class AttemptResult:
    """What one HTTP attempt came to. ``status_code`` is None when nothing was answered."""

    started_at: datetime
    finished_at: datetime
    status_code: int | None = None
    error: str | None = None
    retry_after_seconds: float | None = None

    @property
    def duration_ms(self) -> int:
        return max(0, round((self.finished_at - self.started_at).total_seconds() * 1000))

    def describe(self) -> str | None:
        """The failure in words (None for a success), short enough for a column."""
        if is_success(self.status_code):
            return None
        if self.error:
            return self.error[:ERROR_MAX]
        if self.status_code is not None and 300 <= self.status_code < 400:
            return f"HTTP {self.status_code}: redirect not followed"
        if disables_endpoint(self.status_code):
            return "HTTP 410: the endpoint asked not to be sent webhooks any more"
        return f"HTTP {self.status_code}"


@dataclass(frozen=True)
class Decision:
    status: Status
    next_attempt_at: datetime | None = None
    error: str | None = None


def decide(
    result: AttemptResult,
    *,
    attempt_number: int,
    first_attempt_at: datetime,
    policy: RetryPolicy,
    rng: random.Random | None = None,
) -> Decision:
    """After attempt ``attempt_number`` (from 1): delivered, retry at a time, or abandoned.

    2xx delivers; 410 abandons at once; anything else (3xx included) waits out the policy's
    backoff, measured from the first attempt, and abandons when the policy gives up.
    """
    error = result.describe()
    if is_success(result.status_code):
        return Decision("delivered")
    if disables_endpoint(result.status_code):
        return Decision("abandoned", error=error)
    elapsed = (result.finished_at - first_attempt_at).total_seconds()
    delay = policy.next_delay(
        attempt_number,
        rng,
        elapsed_seconds=max(0.0, elapsed),
        retry_after_seconds=result.retry_after_seconds,
    )
    if delay is None:
        return Decision("abandoned", error=error)
    return Decision(
        "pending", next_attempt_at=result.finished_at + timedelta(seconds=delay), error=error
    )
