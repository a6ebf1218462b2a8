"""Incident intake over HTTP, on SQLite and PostgreSQL: the case, its deadlines, retries with
the same client reference, and the IncidentNotified event on Kafka."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import date
from typing import Any

import pytest

from services.reviews import cases
from services.reviews.app import create_app
from shared.processes import EmbeddedBroker
from tests.reviews.reviews_support import (
    BRADFORD,
    LEEDS,
    WAKEFIELD,
    SettableClock,
    at_noon,
    count_rows,
    incident_body,
    reviews_settings,
    seed_client,
    seed_partnership,
)
from tests.support.apps import ADMIN, read_topic, running_app

pytestmark = pytest.mark.timeout(90)

TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
TOPIC = "reviews.events"


async def test_notification_is_stored_with_deadlines_and_published(
    database_url: str, broker: EmbeddedBroker
) -> None:
    clock = SettableClock(at_noon(date(2026, 12, 21)))  # Monday after the council knew
    app = create_app(reviews_settings(database_url, broker), clock=clock)
    async with running_app(app) as http:
        leeds = await seed_partnership(app, LEEDS, BRADFORD)
        wakefield = await seed_partnership(app, WAKEFIELD)
        client = await seed_client(app, leeds)
        body = incident_body(involved_council_ons_codes=[WAKEFIELD, BRADFORD])

        created = await http.post("/incidents", json=body, headers=client.headers)

        assert created.status_code == 201, created.text
        case = created.json()
        assert case["status"] == "notified"
        assert case["partnership_id"] == leeds  # a client's own partnership by default
        assert case["needs_rapid_review"] is True
        assert case["notify"] == ["panel", "ofsted", "dfe"]
        assert case["notified_at"].startswith("2026-12-21T12:00:00")
        assert case["involved_partnership_ids"] == [wakefield]  # Bradford is Leeds's own
        assert [(d["rule_id"], d["starts_on"], d["due_on"]) for d in case["deadlines"]] == [
            ("SIN-5WD", "2026-12-18", "2026-12-29"),
            ("RR-15WD", "2026-12-21", "2027-01-14"),
        ]
        sin = case["deadlines"][0]
        assert sin["edition"] == "WT2023"
        assert sin["recipients"] == ["panel", "ofsted", "dfe", "local_partners"]
        assert sin["title"]

        fetched = await http.get(f"/cases/{case['case_id']}", headers=client.headers)
        assert fetched.status_code == 200
        assert fetched.json() == case
        listed = await http.get("/cases", params={"status": "notified"}, headers=ADMIN)
        assert [c["case_id"] for c in listed.json()["items"]] == [case["case_id"]]
        assert listed.json()["total"] == 1

        events = await read_topic(
            broker.bootstrap_servers,
            TOPIC,
            until=lambda evs: any(e.subject == case["case_id"] for e in evs),
        )
        (event,) = [e for e in events if e.subject == case["case_id"]]
        assert event.type == "masa.incident.notified.v1"
        assert event.partnershipid == leeds
        assert event.traceparent is not None and TRACEPARENT.match(event.traceparent)
        data = event.data
        assert data["case_id"] == case["case_id"]
        assert data["notify"] == ["panel", "ofsted", "dfe"]
        assert data["needs_rapid_review"] is True
        assert data["aware_on"] == "2026-12-18"
        assert data["involved_partnership_ids"] == [wakefield]
        assert [(d["rule_id"], d["due_on"], d["recipients"]) for d in data["deadlines"]] == [
            ("SIN-5WD", "2026-12-29", ["panel", "ofsted", "dfe", "local_partners"]),
            ("RR-15WD", "2027-01-14", ["panel"]),
        ]
        assert data["children"] == [
            {
                "reference": "LCC-C-0042",
                "age_years": 3,
                "sex": "female",
                "ethnicity": "white",
                "disability": False,
                "looked_after": False,
                "placement_type": None,
                "child_in_need_plan": True,
                "child_protection_plan": False,
                "known_to_agencies": True,
            }
        ]
        assert "further_children_note" not in data  # free text stays in the case record


async def test_a_retry_returns_the_same_case_and_publishes_once(
    database_url: str, broker: EmbeddedBroker
) -> None:
    clock = SettableClock(at_noon(date(2026, 12, 21)))
    app = create_app(reviews_settings(database_url, broker), clock=clock)
    async with running_app(app) as http:
        leeds = await seed_partnership(app, LEEDS)
        client = await seed_client(app, leeds)
        body = incident_body()

        first = await http.post("/incidents", json=body, headers=client.headers)
        clock.at = at_noon(date(2026, 12, 22))  # the retry comes a day later
        again = await http.post("/incidents", json=body, headers=client.headers)
        by_admin = await http.post(
            "/incidents", json={**body, "partnership_id": leeds}, headers=ADMIN
        )
        changed = await http.post(
            "/incidents", json={**body, "nature": "death"}, headers=client.headers
        )

        assert first.status_code == 201, first.text
        assert again.status_code == 200, again.text
        assert again.json() == first.json()  # notified_at and deadlines are the first ones
        assert by_admin.status_code == 200
        assert by_admin.json()["case_id"] == first.json()["case_id"]
        assert changed.status_code == 409
        assert changed.headers["content-type"] == "application/problem+json"
        assert changed.json()["case_id"] == first.json()["case_id"]
        assert (await http.get("/cases", headers=client.headers)).json()["total"] == 1
        assert await count_rows(app, "outbox_event") == 1

        # Events are published in outbox order, per partnership in order on one partition:
        # once a later marker case is on the topic, any second event would be there too.
        marker = await http.post("/incidents", json=incident_body(), headers=client.headers)
        assert marker.status_code == 201
        case_id, marker_id = first.json()["case_id"], marker.json()["case_id"]
        events = await read_topic(
            broker.bootstrap_servers,
            TOPIC,
            until=lambda evs: any(e.subject == marker_id for e in evs),
        )
        assert len([e for e in events if e.subject == case_id]) == 1


async def test_concurrent_retries_create_one_case(
    database_url: str, broker: EmbeddedBroker
) -> None:
    app = create_app(
        reviews_settings(database_url, broker), clock=SettableClock(at_noon(date(2026, 12, 21)))
    )
    async with running_app(app) as http:
        client = await seed_client(app, await seed_partnership(app, LEEDS))
        body = incident_body()

        responses = await asyncio.gather(
            *(http.post("/incidents", json=body, headers=client.headers) for _ in range(3))
        )

        assert sorted(r.status_code for r in responses) == [200, 200, 201]
        assert len({r.json()["case_id"] for r in responses}) == 1
        assert (await http.get("/cases", headers=client.headers)).json()["total"] == 1
        assert await count_rows(app, "outbox_event") == 1


async def test_a_retry_that_loses_the_race_on_the_unique_index_gets_the_case(
    database_url: str, broker: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lookup can miss a case a concurrent retry is committing (PostgreSQL); the unique
    index then refuses the insert, and the retry is answered with the winner's case."""
    app = create_app(
        reviews_settings(database_url, broker), clock=SettableClock(at_noon(date(2026, 12, 21)))
    )
    async with running_app(app) as http:
        client = await seed_client(app, await seed_partnership(app, LEEDS))
        body = incident_body()
        first = await http.post("/incidents", json=body, headers=client.headers)
        look_up = cases._look_up

        async def missing_the_case(*args: Any) -> Any:
            return dataclasses.replace(await look_up(*args), case_id=None)

        monkeypatch.setattr(cases, "_look_up", missing_the_case)
        again = await http.post("/incidents", json=body, headers=client.headers)
        changed = await http.post(
            "/incidents", json={**body, "nature": "death"}, headers=client.headers
        )

        assert first.status_code == 201, first.text
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
        assert changed.status_code == 409, changed.text
        assert await count_rows(app, "case") == 1
        assert await count_rows(app, "case_deadline") == 2
        assert await count_rows(app, "outbox_event") == 1
        assert await count_rows(app, "audit_entry") == 2  # notify, notify_retry
