"""Events of the partner registry's arrangements feature (payloads registered on import)."""

from __future__ import annotations

from datetime import date

from shared.events import EventPayload


class ArrangementsDrafted(EventPayload):
    """A new draft version of the published arrangements was started."""

    event_name = "arrangements.drafted"
    partnership_id: str
    arrangements_version: int
    based_on_version: int | None = None


class ArrangementsRevised(EventPayload):
    """A draft changed; ``items`` names the content items that changed."""

    event_name = "arrangements.revised"
    partnership_id: str
    arrangements_version: int
    items: list[str]
    missing: list[str]


class ArrangementsPublished(EventPayload):
    """The arrangements were published (domain.md section 2; rule ARR-DFE).

    The notifications service tells the Department for Education, sending ``url``; the
    partners must implement by ``implementation_date`` (within 3 months of ``published_on``).
    ``supersedes_version``: the version this republication replaces, if any.
    """

    event_name = "arrangements.published"
    partnership_id: str
    arrangements_version: int
    url: str
    published_on: date
    implementation_date: date
    supersedes_version: int | None = None
