"""The roles a person may hold in a partnership, and the event types each lets them post.

A data table, not code paths: other services never see roles' meaning, only the event types
derived here (carried in ``client_system.registered``), so changing a grant is one edit here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal, get_args

Role = Literal[
    "business_manager",
    "council_safeguarding_officer",
    "lead_safeguarding_partner",
    "delegated_safeguarding_partner",
    "independent_scrutineer",
    "review_panel_member",
]
ROLES: tuple[str, ...] = get_args(Role)

# The lifecycle steps' event types (services/reviews/lifecycle/machine.py, Transition.grant).
_LIFECYCLE: tuple[str, ...] = (
    "case.transitioned",
    "rapid_review.submitted",
    "local_review.decided",
    "panel_response.recorded",
    "final_report.shared",
    "review.published",
    "review_withholding.recorded",
)
# The partners' own decisions (WT2023: the lead, or their named delegate, commits the partner).
_PARTNER_DECISIONS: tuple[str, ...] = (
    "case.transitioned",
    "local_review.decided",
    "review.published",
    "review_withholding.recorded",
)

ROLE_EVENT_TYPES: Mapping[str, tuple[str, ...]] = {
    "business_manager": ("incident.notified", *_LIFECYCLE),
    "council_safeguarding_officer": ("incident.notified",),
    "lead_safeguarding_partner": _PARTNER_DECISIONS,
    "delegated_safeguarding_partner": _PARTNER_DECISIONS,
    "independent_scrutineer": (),  # reads only
    "review_panel_member": ("case.transitioned", "rapid_review.submitted", "final_report.shared"),
}
assert set(ROLE_EVENT_TYPES) == set(ROLES), "every role needs a row"


def event_types_for(roles: Iterable[str]) -> list[str]:
    """The union of what the roles may post, in a stable order."""
    return sorted({t for r in roles for t in ROLE_EVENT_TYPES[r]})
