"""Relevant agencies over HTTP (domain.md section 1, issue 3): naming under a category of the
SI 2018/789 schedule valid on the day, derived flags, the review cadence and the "review due"
query, partial updates, soft removal, bad input, isolation, and the events on Kafka."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select

from services.partners.agencies import categories
from services.partners.agencies.agencies import add_months
from services.partners.agencies.models import RelevantAgency
from services.partners.app import create_app
from services.partners.settings import PartnersSettings
from shared.processes import EmbeddedBroker
from shared.tables import AuditEntry, OutboxEvent
from tests.support.apps import ADMIN, read_topic, running_app

pytestmark = pytest.mark.timeout(90)


# ---- helpers (also used by test_scrutiny_links.py) ----------------------------------------------


def partnership_body() -> dict[str, Any]:
    return {
        "name": f"Test Safeguarding Children Partnership {uuid.uuid4().hex[:6]}",
        "councils": [{"name": "Test Council", "ons_code": f"E06{random.randint(0, 999999):06d}"}],
        "partners": [
            {"kind": "local_authority", "organisation": "Test Council", "lead_role": "Chief Exec"},
            {"kind": "health_board", "organisation": "NHS Test ICB", "lead_role": "Chief Exec"},
            {"kind": "police", "organisation": "Test Police", "lead_role": "Chief Constable"},
        ],
    }


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


async def new_partnership(client: httpx.AsyncClient) -> str:
    response = await client.post("/partnerships", json=partnership_body(), headers=ADMIN)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def client_headers(client: httpx.AsyncClient, partnership_id: str) -> dict[str, str]:
    """Bearer headers of a client system registered to the partnership."""
    response = await client.post(
        f"/partnerships/{partnership_id}/client-systems",
        headers=ADMIN,
        json={
            "name": "Case system",
            "organisation": "Test Council",
            "allowed_event_types": ["incident.notified"],
        },
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['credential']['token']}"}


async def count_rows(runtime: Any, model: Any) -> int:
    async with runtime.db.read() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def audit_of(runtime: Any, entity_id: str) -> list[AuditEntry]:
    async with runtime.db.read() as session:
        rows = await session.exec(select(AuditEntry).where(AuditEntry.entity_id == entity_id))
        return list(rows.all())


def agency_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"Test Academy Trust {uuid.uuid4().hex[:4]}",
        "category": "academy_proprietor",
        "reason": "Runs most secondary schools in the area",
        "contributions": [
            {"kind": "money", "amount": "£5,000 a year", "description": "Towards training"},
            {"kind": "staff", "description": "A designated safeguarding lead on the subgroup"},
        ],
        "named_on": "2024-01-31",
    }
    body.update(overrides)
    return body


# ---- the schedule and dates as rules (no HTTP) -----------------------------------------------


@pytest.mark.parametrize(
    ("code", "day", "valid"),
    [
        ("academy_proprietor", date(2018, 6, 28), False),  # before the schedule was in force
        ("academy_proprietor", date(2018, 6, 29), True),
        ("secure_college", date(2023, 11, 5), True),  # last day before the 2023 amendment
        ("secure_college", date(2023, 11, 6), False),
        ("secure_16_19_academy_proprietor", date(2023, 11, 5), False),
        ("secure_16_19_academy_proprietor", date(2023, 11, 6), True),
    ],
)
def test_categories_are_valid_only_between_their_dates(code: str, day: date, valid: bool) -> None:
    found = categories.category(code)
    assert found is not None and found.valid_on(day) is valid
    assert (found in categories.valid_on(day)) is valid


def test_the_schedule_is_reference_data_under_its_headings() -> None:
    assert len(categories.BY_CODE) == len(categories.CATEGORIES)  # codes are unique
    assert {c.heading for c in categories.CATEGORIES} == set(categories.HEADINGS)
    assert 30 <= len(categories.valid_on(date(2024, 1, 1))) <= 45  # "about 38 kinds"
    assert categories.BY_CODE["maintained_school_governing_body"].education_setting
    assert categories.BY_CODE["childrens_home"].youth_custody_or_residential
    assert categories.BY_CODE["nhs_trust"].designated_health_professionals
    assert not categories.BY_CODE["cafcass"].education_setting


@pytest.mark.parametrize(
    ("start", "months", "due"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year, month end
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 11, 15), 2, date(2025, 1, 15)),  # over the year end
        (date(2024, 5, 1), 24, date(2026, 5, 1)),
    ],
)
def test_review_dates_add_calendar_months(start: date, months: int, due: date) -> None:
    assert add_months(start, months) == due


# ---- over HTTP -----------------------------------------------------------------------------------


async def test_an_agency_is_named_with_derived_flags_and_announced(
    partners: Any, broker: EmbeddedBroker
) -> None:
    client, runtime = partners
    pid = await new_partnership(client)
    own = await client_headers(client, pid)
    response = await client.post(f"/partnerships/{pid}/agencies", json=agency_body(), headers=own)
    assert response.status_code == 201, response.text
    agency = response.json()
    assert agency["heading"] == "education_and_childcare"
    assert agency["education_setting"] is True
    assert agency["designated_health_professionals"] is False
    assert agency["review_cadence_months"] == 12
    assert agency["next_review_due"] == "2025-01-31"  # default cadence: 12 months after naming
    assert agency["contributions"][0]["amount"] == "£5,000 a year"

    fetched = await client.get(f"/partnerships/{pid}/agencies/{agency['id']}", headers=own)
    assert fetched.status_code == 200 and fetched.json() == agency
    audit = await audit_of(runtime, agency["id"])
    assert [a.action for a in audit] == ["name"] and audit[0].actor.startswith("client:")

    # a category that does not imply a flag: the partners may set it
    health = await client.post(
        f"/partnerships/{pid}/agencies",
        json=agency_body(category="cafcass", education_setting=True),
        headers=ADMIN,
    )
    assert health.status_code == 201, health.text
    assert health.json()["education_setting"] is True

    events = await read_topic(
        broker.bootstrap_servers,
        "partners.events",
        until=lambda evs: any(e.subject == agency["id"] for e in evs),
    )
    event = next(e for e in events if e.subject == agency["id"])
    assert event.type == "masa.relevant_agency.named.v1"
    assert event.partnershipid == pid
    assert event.data["agency"]["category"] == "academy_proprietor"
    assert event.data["agency"]["next_review_due"] == "2025-01-31"


async def test_bad_agencies_are_refused_naming_the_field_and_nothing_is_written(
    partners: Any,
) -> None:
    client, runtime = partners
    pid = await new_partnership(client)
    cases: list[tuple[dict[str, Any], str]] = [
        (agency_body(reason=""), "reason"),
        ({k: v for k, v in agency_body().items() if k != "reason"}, "reason"),
        (agency_body(category="church"), "category"),  # not in the schedule
        (agency_body(category="secure_college", named_on="2023-11-06"), "category"),
        (agency_body(named_on="2018-06-28"), "category"),  # before the schedule
        (
            agency_body(contributions=[{"kind": "gold", "description": "x y"}]),
            "contributions.0.kind",
        ),
        (agency_body(last_reviewed_on="2024-01-30"), "last_reviewed_on"),  # before named
        (agency_body(last_reviewed_on=str(date.today() + timedelta(days=2))), "last_reviewed_on"),
        (agency_body(education_setting=False), "education_setting"),  # the category implies it
        (agency_body(named_on="31/01/2024"), "named_on"),
        (agency_body(colour="blue"), "colour"),
    ]
    before = (await count_rows(runtime, RelevantAgency), await count_rows(runtime, OutboxEvent))
    for body, field in cases:
        response = await client.post(f"/partnerships/{pid}/agencies", json=body, headers=ADMIN)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]], (field, response.text)
    assert (
        await count_rows(runtime, RelevantAgency),
        await count_rows(runtime, OutboxEvent),
    ) == before

    first = await client.post(f"/partnerships/{pid}/agencies", json=agency_body(), headers=ADMIN)
    twice = await client.post(
        f"/partnerships/{pid}/agencies",
        json=agency_body(name=first.json()["name"].upper()),
        headers=ADMIN,
    )
    assert twice.status_code == 409


async def test_a_partial_update_is_audited_and_moves_the_review_date(
    partners: Any, broker: EmbeddedBroker
) -> None:
    client, runtime = partners
    pid = await new_partnership(client)
    created = (
        await client.post(f"/partnerships/{pid}/agencies", json=agency_body(), headers=ADMIN)
    ).json()
    url = f"/partnerships/{pid}/agencies/{created['id']}"
    response = await client.patch(url, json={"last_reviewed_on": "2024-06-30"}, headers=ADMIN)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["next_review_due"] == "2025-06-30"
    assert updated["name"] == created["name"] and updated["reason"] == created["reason"]
    assert updated["contributions"] == created["contributions"]

    # a change of category is checked, and its flags follow it
    moved = await client.patch(url, json={"category": "nhs_trust"}, headers=ADMIN)
    assert moved.status_code == 200, moved.text
    assert moved.json()["education_setting"] is False
    assert moved.json()["designated_health_professionals"] is True

    for patch, field in [
        ({"reason": None}, "reason"),
        ({"category": "secure_college"}, "category"),  # not valid on 2024-01-31
        ({"last_reviewed_on": "2023-01-01"}, "last_reviewed_on"),
        ({"contributions": [{"kind": "money"}]}, "contributions.0.description"),
    ]:
        bad = await client.patch(url, json=patch, headers=ADMIN)
        assert bad.status_code == 422, (patch, bad.text)
        assert field in [e["field"] for e in bad.json()["errors"]]
    assert (await client.get(url, headers=ADMIN)).json() == moved.json()

    audit = [a for a in await audit_of(runtime, created["id"]) if a.action == "update"]
    assert len(audit) == 2
    details = [a.detail for a in audit]
    assert any(
        d["before"].get("category") == "academy_proprietor"
        and d["after"]["category"] == "nhs_trust"
        for d in details
    )
    assert any(d["after"].get("last_reviewed_on") == "2024-06-30" for d in details)

    events = await read_topic(
        broker.bootstrap_servers,
        "partners.events",
        until=lambda evs: (
            sum(e.subject == created["id"] and e.type.endswith("updated.v1") for e in evs) >= 2
        ),
    )
    changed = [
        e.data["changed"]
        for e in events
        if e.subject == created["id"] and e.type == "masa.relevant_agency.updated.v1"
    ]
    assert ["last_reviewed_on"] in changed
    assert any("category" in c and "designated_health_professionals" in c for c in changed)


async def test_reviews_follow_the_partnership_cadence_and_the_due_query(partners: Any) -> None:
    client, _ = partners
    pid = await new_partnership(client)
    base = f"/partnerships/{pid}/agencies"
    policy = await client.get(f"/partnerships/{pid}/agency-review-policy", headers=ADMIN)
    assert policy.json()["cadence_months"] == 12 and policy.json()["is_default"] is True
    ids = {}
    for label, named_on in [("old", "2023-01-10"), ("mid", "2023-06-01"), ("new", "2024-01-31")]:
        body = agency_body(name=f"{label} academy", named_on=named_on)
        ids[label] = (await client.post(base, json=body, headers=ADMIN)).json()["id"]
    nhs = await client.post(
        base, json=agency_body(category="nhs_trust", named_on="2024-03-01"), headers=ADMIN
    )
    assert nhs.status_code == 201

    changed = await client.patch(
        f"/partnerships/{pid}/agency-review-policy", json={"cadence_months": 6}, headers=ADMIN
    )
    assert changed.status_code == 200 and changed.json()["is_default"] is False
    old = (await client.get(f"{base}/{ids['old']}", headers=ADMIN)).json()
    assert old["next_review_due"] == "2023-07-10" and old["review_cadence_months"] == 6
    bad = await client.patch(
        f"/partnerships/{pid}/agency-review-policy", json={"cadence_months": 0}, headers=ADMIN
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cadence_months"

    # as of 2024-07-01: old (due 2023-07-10) and mid (2023-12-01) are overdue, new is due on
    # 2024-07-31 (within 30 days), the NHS trust on 2024-09-01 (not)
    due = await client.get(
        base, params={"review_due_within_days": 30, "as_of": "2024-07-01"}, headers=ADMIN
    )
    assert due.status_code == 200, due.text
    assert [a["id"] for a in due.json()["items"]] == [ids["old"], ids["mid"], ids["new"]]
    assert due.json()["total"] == 3
    overdue_only = await client.get(
        base, params={"review_due_within_days": 0, "as_of": "2024-07-01"}, headers=ADMIN
    )
    assert overdue_only.json()["total"] == 2
    page = await client.get(
        base,
        params={"review_due_within_days": 30, "as_of": "2024-07-01", "limit": 1, "offset": 1},
        headers=ADMIN,
    )
    assert [a["id"] for a in page.json()["items"]] == [ids["mid"]] and page.json()["total"] == 3

    # a review moves the agency out of the due list
    await client.patch(
        f"{base}/{ids['old']}", json={"last_reviewed_on": "2024-06-15"}, headers=ADMIN
    )
    again = await client.get(
        base, params={"review_due_within_days": 0, "as_of": "2024-07-01"}, headers=ADMIN
    )
    assert [a["id"] for a in again.json()["items"]] == [ids["mid"]]

    # filters
    health = await client.get(base, params={"designated_health_professionals": True}, headers=ADMIN)
    assert health.json()["total"] == 1
    heading = await client.get(base, params={"heading": "education_and_childcare"}, headers=ADMIN)
    assert heading.json()["total"] == 3
    named = await client.get(base, params={"name": "MID"}, headers=ADMIN)
    assert [a["id"] for a in named.json()["items"]] == [ids["mid"]]
    bad_filter = await client.get(base, params={"heading": "sport"}, headers=ADMIN)
    assert (
        bad_filter.status_code == 422 and bad_filter.json()["errors"][0]["field"] == "query.heading"
    )


async def test_removing_an_agency_keeps_its_history(partners: Any, broker: EmbeddedBroker) -> None:
    client, runtime = partners
    pid = await new_partnership(client)
    base = f"/partnerships/{pid}/agencies"
    agency = (await client.post(base, json=agency_body(), headers=ADMIN)).json()
    url = f"{base}/{agency['id']}"

    no_reason = await client.delete(url, headers=ADMIN)
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "query.reason"
    too_early = await client.delete(
        url, params={"reason": "Closed", "removed_on": "2024-01-01"}, headers=ADMIN
    )
    assert too_early.status_code == 422
    assert too_early.json()["errors"][0]["field"] == "removed_on"

    removed = await client.delete(
        url, params={"reason": "Trust merged", "removed_on": "2024-09-01"}, headers=ADMIN
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["removed_on"] == "2024-09-01"
    assert removed.json()["removal_reason"] == "Trust merged"
    assert (await client.get(url, headers=ADMIN)).json()["removed_on"] == "2024-09-01"
    assert (await client.get(base, headers=ADMIN)).json()["total"] == 0
    kept = await client.get(base, params={"include_removed": True}, headers=ADMIN)
    assert [a["id"] for a in kept.json()["items"]] == [agency["id"]]
    assert (await client.delete(url, params={"reason": "Again"}, headers=ADMIN)).status_code == 409
    assert (await client.patch(url, json={"reason": "New why"}, headers=ADMIN)).status_code == 409
    assert await count_rows(runtime, RelevantAgency) >= 1

    events = await read_topic(
        broker.bootstrap_servers,
        "partners.events",
        until=lambda evs: any(
            e.subject == agency["id"] and e.type == "masa.relevant_agency.removed.v1" for e in evs
        ),
    )
    event = next(
        e
        for e in events
        if e.type == "masa.relevant_agency.removed.v1" and e.subject == agency["id"]
    )
    assert event.data["reason"] == "Trust merged"


async def test_another_partnerships_client_sees_nothing(partners: Any) -> None:
    client, runtime = partners
    pid, other = await new_partnership(client), await new_partnership(client)
    as_other = await client_headers(client, other)
    agency = (
        await client.post(f"/partnerships/{pid}/agencies", json=agency_body(), headers=ADMIN)
    ).json()
    url = f"/partnerships/{pid}/agencies/{agency['id']}"
    before = await count_rows(runtime, OutboxEvent)
    assert (await client.get(url, headers=as_other)).status_code == 404
    assert (await client.patch(url, json={"reason": "Hijack"}, headers=as_other)).status_code == 404
    assert (
        await client.delete(url, params={"reason": "Hijack"}, headers=as_other)
    ).status_code == 404
    assert (await client.get(f"/partnerships/{pid}/agencies", headers=as_other)).status_code == 404
    posted = await client.post(
        f"/partnerships/{pid}/agencies", json=agency_body(), headers=as_other
    )
    assert posted.status_code == 404
    policy = await client.patch(
        f"/partnerships/{pid}/agency-review-policy", json={"cadence_months": 3}, headers=as_other
    )
    assert policy.status_code == 404
    # the agency seen through its own partnership's path only
    wrong_path = await client.get(f"/partnerships/{other}/agencies/{agency['id']}", headers=ADMIN)
    assert wrong_path.status_code == 404
    unknown = await client.post(
        f"/partnerships/{uuid.uuid4()}/agencies", json=agency_body(), headers=ADMIN
    )
    assert unknown.status_code == 404
    assert await count_rows(runtime, OutboxEvent) == before
    listed = await client.get(
        "/relevant-agency-categories", params={"valid_on": "2023-11-06"}, headers=as_other
    )
    codes = {c["code"] for c in listed.json()}
    assert "secure_16_19_academy_proprietor" in codes and "secure_college" not in codes
