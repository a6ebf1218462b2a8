"""Independent scrutiny arrangements and strategic links over HTTP (domain.md section 1,
issue 3): recording, partial updates, soft removal, filters and pages, bad input, isolation,
and the events the yearly report reads."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.partners.scrutiny.models import ScrutinyArrangement, StrategicLink
from shared.processes import EmbeddedBroker
from shared.tables import OutboxEvent
from tests.partners.test_agencies import (
    audit_of,
    client_headers,
    count_rows,
    new_partnership,
    partners,
)
from tests.support.apps import ADMIN, read_topic

pytestmark = pytest.mark.timeout(90)
__all__ = ["partners"]  # the fixture, shared with test_agencies.py


def scrutiny_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "independent_scrutineer",
        "scrutineers": [
            {
                "name": "Sam Example",
                "organisation": "Example Associates",
                "independence_statement": "Never employed by any of the three partners",
            }
        ],
        "scope": "How serious cases are identified and reviewed; multi-agency audits",
        "reporting_arrangements": "Reports twice a year to the three lead partners",
        "starts_on": "2024-04-01",
        "ends_on": "2026-03-31",
    }
    body.update(overrides)
    return body


def link_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Test Health and Wellbeing Board",
        "kind": "health_and_wellbeing_board",
        "contact": "hwb@example.org",
        "notes": "Annual report presented each autumn",
        "linked_from": "2023-04-01",
    }
    body.update(overrides)
    return body


async def test_scrutiny_is_recorded_changed_and_removed(
    partners: Any, broker: EmbeddedBroker
) -> None:
    client, runtime = partners
    pid = await new_partnership(client)
    own = await client_headers(client, pid)
    base = f"/partnerships/{pid}/scrutiny"
    created = await client.post(base, json=scrutiny_body(), headers=own)
    assert created.status_code == 201, created.text
    arrangement = created.json()
    assert arrangement["scrutineers"][0]["independence_statement"].startswith("Never")
    url = f"{base}/{arrangement['id']}"
    assert (await client.get(url, headers=own)).json() == arrangement

    young = await client.post(
        base,
        json=scrutiny_body(model="young_scrutineers", starts_on="2022-01-01", ends_on="2023-12-31"),
        headers=own,
    )
    assert young.status_code == 201

    patched = await client.patch(url, json={"ends_on": "2027-03-31"}, headers=own)
    assert patched.status_code == 200, patched.text
    assert patched.json()["ends_on"] == "2027-03-31"
    assert patched.json()["scope"] == arrangement["scope"]
    updates = [a for a in await audit_of(runtime, arrangement["id"]) if a.action == "update"]
    assert updates[0].detail == {
        "before": {"ends_on": "2026-03-31"},
        "after": {"ends_on": "2027-03-31"},
    }

    now = await client.get(base, params={"current_on": "2024-06-01"}, headers=own)
    assert [a["id"] for a in now.json()["items"]] == [arrangement["id"]]
    by_model = await client.get(base, params={"model": "young_scrutineers"}, headers=own)
    assert [a["id"] for a in by_model.json()["items"]] == [young.json()["id"]]
    page = await client.get(base, params={"limit": 1}, headers=own)
    assert page.json()["total"] == 2 and len(page.json()["items"]) == 1
    assert page.json()["items"][0]["id"] == young.json()["id"]  # earliest start first

    removed = await client.delete(url, params={"reason": "Recorded twice"}, headers=own)
    assert removed.status_code == 200 and removed.json()["removal_reason"] == "Recorded twice"
    assert (await client.get(base, headers=own)).json()["total"] == 1
    kept = await client.get(base, params={"include_removed": True}, headers=own)
    assert kept.json()["total"] == 2
    assert (await client.patch(url, json={"scope": "Other things"}, headers=own)).status_code == 409
    assert await count_rows(runtime, ScrutinyArrangement) >= 2

    events = await read_topic(
        broker.bootstrap_servers,
        "partners.events",
        until=lambda evs: any(
            e.subject == arrangement["id"] and e.type.endswith(".removed.v1") for e in evs
        ),
    )
    types = [e.type for e in events if e.subject == arrangement["id"]]
    assert types == [
        "masa.scrutiny_arrangement.recorded.v1",
        "masa.scrutiny_arrangement.updated.v1",
        "masa.scrutiny_arrangement.removed.v1",
    ]
    recorded = next(e for e in events if e.subject == arrangement["id"])
    assert recorded.data["arrangement"]["scrutineers"][0]["name"] == "Sam Example"


async def test_bad_scrutiny_is_refused_naming_the_field(partners: Any) -> None:
    client, runtime = partners
    pid = await new_partnership(client)
    base = f"/partnerships/{pid}/scrutiny"
    cases: list[tuple[dict[str, Any], str]] = [
        (scrutiny_body(model="mystery_shopper"), "model"),
        (scrutiny_body(model="other"), "model_detail"),  # "other" must say what it is
        (scrutiny_body(scrutineers=[]), "scrutineers"),
        (
            scrutiny_body(scrutineers=[{"name": "Sam Example"}]),
            "scrutineers.0.independence_statement",
        ),
        (scrutiny_body(ends_on="2024-03-31"), "ends_on"),  # ends before it starts
        ({k: v for k, v in scrutiny_body().items() if k != "scope"}, "scope"),
        (scrutiny_body(reporting_arrangements=""), "reporting_arrangements"),
    ]
    before = (
        await count_rows(runtime, ScrutinyArrangement),
        await count_rows(runtime, OutboxEvent),
    )
    for body, field in cases:
        response = await client.post(base, json=body, headers=ADMIN)
        assert response.status_code == 422, (body, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], (field, response.text)
    assert (
        await count_rows(runtime, ScrutinyArrangement),
        await count_rows(runtime, OutboxEvent),
    ) == before

    other = await client.post(
        base,
        json=scrutiny_body(model="other", model_detail="Joint with the neighbours"),
        headers=ADMIN,
    )
    assert other.status_code == 201, other.text
    url = f"{base}/{other.json()['id']}"
    for patch, field in [
        ({"model_detail": None}, "model_detail"),
        ({"starts_on": "2026-04-01"}, "starts_on"),  # after ends_on
        ({"scrutineers": None}, "scrutineers"),
    ]:
        bad = await client.patch(url, json=patch, headers=ADMIN)
        assert bad.status_code == 422, (patch, bad.text)
        assert field in [e["field"] for e in bad.json()["errors"]]
    assert (await client.get(url, headers=ADMIN)).json() == other.json()


async def test_strategic_links_are_listed_for_the_yearly_report(
    partners: Any, broker: EmbeddedBroker
) -> None:
    client, runtime = partners
    pid = await new_partnership(client)
    base = f"/partnerships/{pid}/strategic-links"
    hwb = await client.post(base, json=link_body(), headers=ADMIN)
    assert hwb.status_code == 201, hwb.text
    old_csp = await client.post(
        base,
        json=link_body(
            name="Old Community Safety Partnership",
            kind="community_safety_partnership",
            linked_from="2019-01-01",
            linked_to="2022-12-31",
        ),
        headers=ADMIN,
    )
    mappa = await client.post(base, json=link_body(name="MAPPA SMB", kind="mappa"), headers=ADMIN)
    assert old_csp.status_code == 201 and mappa.status_code == 201

    year = await client.get(base, params={"current_on": "2024-03-31"}, headers=ADMIN)
    assert {x["name"] for x in year.json()["items"]} == {
        "Test Health and Wellbeing Board",
        "MAPPA SMB",
    }
    kind = await client.get(base, params={"kind": "community_safety_partnership"}, headers=ADMIN)
    assert [x["id"] for x in kind.json()["items"]] == [old_csp.json()["id"]]
    named = await client.get(base, params={"name": "mappa"}, headers=ADMIN)
    assert named.json()["total"] == 1
    page = await client.get(base, params={"limit": 2, "offset": 2}, headers=ADMIN)
    assert page.json()["total"] == 3 and len(page.json()["items"]) == 1

    url = f"{base}/{hwb.json()['id']}"
    patched = await client.patch(url, json={"contact": "board@example.org"}, headers=ADMIN)
    assert patched.status_code == 200 and patched.json()["notes"] == link_body()["notes"]
    assert patched.json()["contact"] == "board@example.org"
    removed = await client.delete(
        url, params={"reason": "Board merged", "removed_on": "2025-01-01"}, headers=ADMIN
    )
    assert removed.status_code == 200 and removed.json()["removed_on"] == "2025-01-01"
    assert (await client.get(base, headers=ADMIN)).json()["total"] == 2
    assert (await client.delete(url, params={"reason": "Again"}, headers=ADMIN)).status_code == 409
    assert [a.action for a in await audit_of(runtime, hwb.json()["id"])] == [
        "record",
        "update",
        "remove",
    ]

    events = await read_topic(
        broker.bootstrap_servers,
        "partners.events",
        until=lambda evs: any(
            e.subject == hwb.json()["id"] and e.type == "masa.strategic_link.removed.v1"
            for e in evs
        ),
    )
    mine = [e for e in events if e.subject == hwb.json()["id"]]
    assert [e.type for e in mine] == [
        "masa.strategic_link.recorded.v1",
        "masa.strategic_link.updated.v1",
        "masa.strategic_link.removed.v1",
    ]
    assert mine[0].data["link"]["kind"] == "health_and_wellbeing_board"
    assert mine[1].data["changed"] == ["contact"]


async def test_bad_links_are_refused_naming_the_field(partners: Any) -> None:
    client, runtime = partners
    pid = await new_partnership(client)
    base = f"/partnerships/{pid}/strategic-links"
    cases: list[tuple[dict[str, Any], str]] = [
        (link_body(kind="golf_club"), "kind"),
        (link_body(name=""), "name"),
        (link_body(linked_to="2023-03-31"), "linked_to"),
        ({k: v for k, v in link_body().items() if k != "linked_from"}, "linked_from"),
        (link_body(extra=1), "extra"),
    ]
    before = (await count_rows(runtime, StrategicLink), await count_rows(runtime, OutboxEvent))
    for body, field in cases:
        response = await client.post(base, json=body, headers=ADMIN)
        assert response.status_code == 422, (body, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], (field, response.text)
    assert (
        await count_rows(runtime, StrategicLink),
        await count_rows(runtime, OutboxEvent),
    ) == before
    bad_filter = await client.get(base, params={"kind": "golf_club"}, headers=ADMIN)
    assert bad_filter.status_code == 422
    assert bad_filter.json()["errors"][0]["field"] == "query.kind"


async def test_another_partnerships_client_gets_404(partners: Any) -> None:
    client, runtime = partners
    pid, other = await new_partnership(client), await new_partnership(client)
    as_other = await client_headers(client, other)
    arrangement = (
        await client.post(f"/partnerships/{pid}/scrutiny", json=scrutiny_body(), headers=ADMIN)
    ).json()
    link = (
        await client.post(f"/partnerships/{pid}/strategic-links", json=link_body(), headers=ADMIN)
    ).json()
    before = await count_rows(runtime, OutboxEvent)
    for base, row_id, body in [
        (f"/partnerships/{pid}/scrutiny", arrangement["id"], scrutiny_body()),
        (f"/partnerships/{pid}/strategic-links", link["id"], link_body()),
    ]:
        url = f"{base}/{row_id}"
        assert (await client.get(url, headers=as_other)).status_code == 404
        assert (await client.patch(url, json={}, headers=as_other)).status_code == 404
        assert (
            await client.delete(url, params={"reason": "Hijack"}, headers=as_other)
        ).status_code == 404
        assert (await client.get(base, headers=as_other)).status_code == 404
        assert (await client.post(base, json=body, headers=as_other)).status_code == 404
        # under another partnership's path, even for the operator
        moved = url.replace(pid, other)
        assert (await client.get(moved, headers=ADMIN)).status_code == 404
        unknown = base.replace(pid, str(uuid.uuid4()))
        assert (await client.post(unknown, json=body, headers=ADMIN)).status_code == 404
    assert await count_rows(runtime, OutboxEvent) == before
