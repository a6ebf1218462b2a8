"""Published arrangements over HTTP and their rules at the edges (domain.md section 2): every
required content item, the completeness check, the 3-month implementation window, immutable
published versions, republication as a new version, isolation and the published event."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select

from services.partners.app import create_app
from services.partners.arrangements.contents import (
    DEFAULT_WINDOWS,
    REQUIRED_ITEMS,
    add_months,
    check_implementation_date,
    missing_items,
    window_for,
)
from services.partners.arrangements.models import ArrangementsVersion
from services.partners.settings import PartnersSettings
from shared.processes import EmbeddedBroker
from shared.tables import AuditEntry, OutboxEvent
from tests.support.apps import ADMIN, read_topic, running_app

pytestmark = pytest.mark.timeout(90)


def full_content() -> dict[str, Any]:
    content: dict[str, Any] = {
        item.key: f"How we do {item.key}." for item in REQUIRED_ITEMS if item.kind == "text"
    }
    content["partners"] = [
        {"kind": "local_authority", "organisation": "Test Council", "lead_name": "A Chief"},
        {"kind": "health_board", "organisation": "NHS Test ICB", "lead_name": "B Chief",
         "delegate_name": "C Director", "delegate_role": "Chief Nursing Officer"},
        {"kind": "police", "organisation": "Test Police", "lead_name": "D Constable"},
    ]  # fmt: skip
    content["relevant_agencies"] = [{"name": "Cafcass", "reason": "Family courts"}]
    content["threshold_document_url"] = "https://example.gov.uk/thresholds.pdf"
    return content


# --- rules, pure --------------------------------------------------------------------------


def test_the_required_items_are_the_15_plus_escalation_disputes_whistleblowing_and_link() -> None:
    assert sorted(i.number for i in REQUIRED_ITEMS if i.number) == list(range(1, 16))
    keys = {i.key for i in REQUIRED_ITEMS}
    assert {"escalation", "dispute_resolution", "whistleblowing", "threshold_document_url"} <= keys
    assert [m.item for m in missing_items({})] == [i.key for i in REQUIRED_ITEMS]
    assert missing_items(full_content()) == []


@pytest.mark.parametrize(
    ("change", "item"),
    [
        ({"partners": full_content()["partners"][:2]}, "partners"),
        ({"partners": [{**p, "lead_name": None} for p in full_content()["partners"]]}, "partners"),
        ({"relevant_agencies": []}, "relevant_agencies"),
        ({"relevant_agencies": [{"name": "Cafcass", "reason": " "}]}, "relevant_agencies"),
        ({"whistleblowing": "   "}, "whistleblowing"),
        ({"threshold_document_url": None}, "threshold_document_url"),
    ],
)
def test_each_gap_is_named(change: dict[str, Any], item: str) -> None:
    assert [m.item for m in missing_items({**full_content(), **change})] == [item]


@pytest.mark.parametrize(
    ("published", "implemented", "ok"),
    [
        (date(2024, 1, 31), date(2024, 1, 31), True),  # same day
        (date(2024, 1, 31), date(2024, 1, 30), False),  # before publication
        (date(2024, 1, 31), date(2024, 4, 30), True),  # last day of the window
        (date(2024, 1, 31), date(2024, 5, 1), False),  # one day late
        (date(2023, 11, 30), date(2024, 2, 29), True),  # clamped to February's end (leap)
        (date(2023, 11, 30), date(2024, 3, 1), False),
        (date(2019, 6, 29), date(2019, 9, 29), True),  # the first round's dates
    ],
)
def test_implementation_window_edges(published: date, implemented: date, ok: bool) -> None:
    window = window_for(published)
    assert window.months == 3
    assert (check_implementation_date(published, implemented, window) is None) is ok


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert add_months(date(2025, 10, 15), 3) == date(2026, 1, 15)
    assert window_for(date(2025, 1, 1)) is DEFAULT_WINDOWS[0]


# --- over HTTP ----------------------------------------------------------------------------


@pytest.fixture
async def partners(
    database_url: str, broker: EmbeddedBroker
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = create_app(
        PartnersSettings(
            database_url=database_url,
            environment="test",
            kafka_bootstrap_servers=broker.bootstrap_servers,
        )
    )
    async with running_app(app) as client:
        yield client, app.state.runtime


async def new_partnership(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    """A partnership and the headers of its own client system."""
    tag = uuid.uuid4().hex[:6]
    created = await client.post(
        "/partnerships",
        json={
            "name": f"Arrangements Test Partnership {tag}",
            "councils": [{"name": "Council", "ons_code": f"E06{random.randint(0, 999999):06d}"}],
            "partners": [
                {"kind": "local_authority", "organisation": "Council", "lead_role": "CEO"},
                {"kind": "health_board", "organisation": "ICB", "lead_role": "CEO"},
                {"kind": "police", "organisation": "Police", "lead_role": "Chief Constable"},
            ],
        },
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    system = await client.post(
        f"/partnerships/{pid}/client-systems",
        json={"name": "Website", "organisation": "Council", "allowed_event_types": ["x"]},
        headers=ADMIN,
    )
    assert system.status_code == 201, system.text
    return pid, {"Authorization": f"Bearer {system.json()['credential']['token']}"}


async def count(runtime: Any, model: Any) -> int:
    async with runtime.db.read() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


PUBLISH = {
    "url": "https://example.gov.uk/safeguarding/arrangements-2024.pdf",
    "published_on": "2024-01-31",
    "implementation_date": "2024-04-30",
}


async def test_draft_complete_publish_and_republish(partners: Any, broker: Any) -> None:
    client, runtime = partners
    pid, own = await new_partnership(client)
    base = f"/partnerships/{pid}/arrangements"
    partial = {k: v for k, v in full_content().items() if k not in {"funding", "partners"}}
    draft = await client.post(base, json={"content": partial}, headers=own)
    assert draft.status_code == 201, draft.text
    assert draft.json()["version"] == 1 and draft.json()["status"] == "draft"
    assert sorted(draft.json()["missing"]) == ["funding", "partners"]

    check = (await client.get(f"{base}/1/completeness", headers=own)).json()
    assert check["complete"] is False
    assert {(m["item"], m["number"]) for m in check["missing"]} == {
        ("funding", 12),
        ("partners", 4),
    }

    refused = await client.post(f"{base}/1/publish", json=PUBLISH, headers=own)
    assert refused.status_code == 422
    assert {m["item"] for m in refused.json()["missing"]} == {"funding", "partners"}
    assert "content.funding" in [e["field"] for e in refused.json()["errors"]]

    patched = await client.patch(
        f"{base}/1",
        json={"content": {"funding": "Equal thirds.", "partners": full_content()["partners"]}},
        headers=own,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["complete"] is True

    late = await client.post(
        f"{base}/1/publish", json={**PUBLISH, "implementation_date": "2024-05-01"}, headers=own
    )
    assert late.status_code == 422
    assert late.json()["errors"][0]["field"] == "implementation_date"
    early = await client.post(
        f"{base}/1/publish", json={**PUBLISH, "implementation_date": "2024-01-30"}, headers=own
    )
    assert early.status_code == 422

    published = await client.post(f"{base}/1/publish", json=PUBLISH, headers=own)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    assert published.json()["url"] == PUBLISH["url"]

    frozen = await client.patch(f"{base}/1", json={"content": {"funding": "x"}}, headers=own)
    assert frozen.status_code == 409
    twice = await client.post(f"{base}/1/publish", json=PUBLISH, headers=own)
    assert twice.status_code == 409

    second = await client.post(base, json={"based_on_version": 1}, headers=own)
    assert second.status_code == 201 and second.json()["version"] == 2
    assert second.json()["complete"] is True  # content copied from version 1
    backdated = await client.post(
        f"{base}/2/publish",
        json={**PUBLISH, "published_on": "2024-01-30", "implementation_date": "2024-02-01"},
        headers=own,
    )
    assert backdated.status_code == 422
    assert backdated.json()["errors"][0]["field"] == "published_on"
    again = await client.post(
        f"{base}/2/publish",
        json={"url": "https://example.gov.uk/v2.pdf", "published_on": "2025-06-02",
              "implementation_date": "2025-09-02"},
        headers=own,
    )  # fmt: skip
    assert again.status_code == 200, again.text

    page = (await client.get(base, params={"limit": 1}, headers=own)).json()
    assert page["total"] == 2 and [v["version"] for v in page["items"]] == [2]
    drafts = (await client.get(base, params={"status": "draft"}, headers=own)).json()
    assert drafts["total"] == 0
    first = (await client.get(f"{base}/1", headers=own)).json()
    assert first["url"] == PUBLISH["url"]  # versions are kept

    events = await read_topic(
        broker.bootstrap_servers,
        "partners.events",
        until=lambda evs: (
            sum(e.type == "masa.arrangements.published.v1" and e.partnershipid == pid for e in evs)
            == 2
        ),
    )
    published_events = [
        e.data for e in events
        if e.type == "masa.arrangements.published.v1" and e.partnershipid == pid
    ]  # fmt: skip
    assert published_events[0] == {
        "partnership_id": pid,
        "arrangements_version": 1,
        "url": PUBLISH["url"],
        "published_on": "2024-01-31",
        "implementation_date": "2024-04-30",
        "supersedes_version": None,
    }
    assert published_events[1]["supersedes_version"] == 1
    types = {e.type for e in events if e.partnershipid == pid}
    assert {"masa.arrangements.drafted.v1", "masa.arrangements.revised.v1"} <= types
    async with runtime.db.read() as session:
        actions = (
            await session.exec(
                select(AuditEntry.action).where(AuditEntry.entity_type == "arrangements")
                .where(AuditEntry.partnership_id == pid)
            )
        ).all()  # fmt: skip
    assert sorted(actions) == ["create", "create", "publish", "publish", "update"]


async def test_one_draft_at_a_time_and_clearing_an_item(partners: Any) -> None:
    client, _ = partners
    pid, own = await new_partnership(client)
    base = f"/partnerships/{pid}/arrangements"
    assert (
        await client.post(base, json={"content": full_content()}, headers=own)
    ).status_code == 201
    assert (await client.post(base, json={}, headers=own)).status_code == 409
    cleared = await client.patch(f"{base}/1", json={"content": {"escalation": None}}, headers=own)
    assert cleared.json()["missing"] == ["escalation"]
    assert cleared.json()["content"]["working_together"]  # the other items stay
    assert (await client.get(f"{base}/9", headers=own)).status_code == 404
    future = await client.post(
        f"{base}/1/publish",
        json={**PUBLISH, "published_on": "2999-01-01", "implementation_date": "2999-02-01"},
        headers=own,
    )
    assert future.status_code == 422  # incomplete first
    assert future.json()["missing"][0]["item"] == "escalation"


BAD_DRAFTS: list[tuple[dict[str, Any], str]] = [
    ({"content": {"surprise": "x"}}, "content.surprise"),
    ({"content": {"threshold_document_url": "not a url"}}, "content.threshold_document_url"),
    ({"content": {"partners": [{"kind": "fire", "organisation": "F"}]}}, "content.partners.0.kind"),
    (
        {"content": {"relevant_agencies": [{"name": "Cafcass"}]}},
        "content.relevant_agencies.0.reason",
    ),
    ({"based_on_version": 0}, "based_on_version"),
    ({"based_on_version": 7}, "based_on_version"),
]

BAD_PUBLICATIONS: list[tuple[dict[str, Any], str]] = [
    ({"url": "ftp//nope"}, "url"),
    ({"published_on": "31/01/2024"}, "published_on"),
    ({"implementation_date": None}, "implementation_date"),
    ({"extra": 1}, "extra"),
]


async def test_bad_drafts_and_publications_are_refused_naming_the_field(partners: Any) -> None:
    """One app for every case (each a separate request); nothing is written or published."""
    client, runtime = partners
    pid, own = await new_partnership(client)
    base = f"/partnerships/{pid}/arrangements"
    before = (await count(runtime, ArrangementsVersion), await count(runtime, OutboxEvent))
    for body, field in BAD_DRAFTS:
        r = await client.post(base, json=body, headers=own)
        assert r.status_code == 422, (body, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], (body, r.json())
    after = (await count(runtime, ArrangementsVersion), await count(runtime, OutboxEvent))
    assert after == before

    await client.post(base, json={"content": full_content()}, headers=own)
    before_events = await count(runtime, OutboxEvent)
    for change, field in BAD_PUBLICATIONS:
        body = {k: v for k, v in {**PUBLISH, **change}.items() if v is not None}
        r = await client.post(f"{base}/1/publish", json=body, headers=own)
        assert r.status_code == 422, (change, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], (change, r.json())
    bad_patch = await client.patch(f"{base}/1", json={"content": {"partners": "x"}}, headers=own)
    assert bad_patch.status_code == 422
    assert bad_patch.json()["errors"][0]["field"] == "content.partners"
    bad_status = await client.get(base, params={"status": "gone"}, headers=own)
    assert (
        bad_status.status_code == 422 and bad_status.json()["errors"][0]["field"] == "query.status"
    )
    bad_version = await client.get(f"{base}/0/completeness", headers=own)
    assert bad_version.status_code == 422
    assert (await client.get(f"{base}/1", headers=own)).json()["status"] == "draft"
    assert (await client.get(f"{base}/1", headers=own)).json()["complete"] is True
    assert await count(runtime, OutboxEvent) == before_events


async def test_another_partnerships_client_gets_404(partners: Any) -> None:
    client, runtime = partners
    pid, own = await new_partnership(client)
    _, stranger = await new_partnership(client)
    base = f"/partnerships/{pid}/arrangements"
    await client.post(base, json={"content": full_content()}, headers=own)
    before = await count(runtime, OutboxEvent)
    for method, path, body in [
        ("GET", base, None),
        ("POST", base, {}),
        ("GET", f"{base}/1", None),
        ("PATCH", f"{base}/1", {"content": {"funding": "x"}}),
        ("GET", f"{base}/1/completeness", None),
        ("POST", f"{base}/1/publish", PUBLISH),
    ]:
        r = await client.request(method, path, json=body, headers=stranger)
        assert r.status_code == 404, (method, path, r.status_code)
    assert await count(runtime, OutboxEvent) == before
    assert (await client.get(f"{base}/1", headers=ADMIN)).status_code == 200
    missing = await client.get("/partnerships/nope/arrangements", headers=ADMIN)
    assert missing.status_code == 404
