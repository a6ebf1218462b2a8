"""Deadline monitoring through the API: due soon / overdue on the working-day edges (a
weekend, Easter, Christmas, New Year, leap day 2028), the scheduler's alerts on those
boundaries, marking met, correcting dates, the rule book, isolation and bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlmodel import select

from services.reviews.app import create_app
from services.reviews.deadlines.monitor import Monitor
from services.reviews.deadlines.scheduler import TickResult, tick
from services.reviews.settings import ReviewsSettings
from shared.processes import EmbeddedBroker
from shared.tables import AuditEntry
from tests.reviews.reviews_support import (
    BRADFORD,
    LEEDS,
    SeededClient,
    SettableClock,
    at_noon,
    count_rows,
    incident_body,
    reviews_settings,
    runtime_of,
    seed_client,
    seed_partnership,
)
from tests.support.apps import ADMIN, read_topic, running_app

pytestmark = pytest.mark.timeout(90)

SIN = "SIN-5WD"


@dataclass
class World:
    app: FastAPI
    http: httpx.AsyncClient
    clock: SettableClock
    settings: ReviewsSettings
    a: str
    b: str
    a_client: SeededClient
    b_client: SeededClient

    def at(self, day: str) -> None:
        self.clock.at = at_noon(date.fromisoformat(day))

    async def notify(self, aware_on: str, **changes: Any) -> str:
        """A Leeds case notified on the day the council became aware."""
        self.at(aware_on)
        body = incident_body(**({"aware_on": aware_on, "incident_date": aware_on} | changes))
        response = await self.http.post("/incidents", json=body, headers=self.a_client.headers)
        assert response.status_code == 201, response.text
        case_id: str = response.json()["case_id"]
        return case_id

    async def deadline(self, case_id: str, rule_id: str = SIN, **params: Any) -> dict[str, Any]:
        response = await self.http.get(
            "/deadlines",
            params={"case_id": case_id, "rule_id": rule_id, **params},
            headers=self.a_client.headers,
        )
        assert response.status_code == 200, response.text
        (item,) = response.json()["items"]
        result: dict[str, Any] = item
        return result

    async def due_soon(self, case_id: str, rule_id: str = SIN) -> bool:
        response = await self.http.get(
            "/deadlines",
            params={"case_id": case_id, "rule_id": rule_id, "status": "due_soon"},
            headers=self.a_client.headers,
        )
        assert response.status_code == 200, response.text
        return response.json()["total"] == 1

    async def tick(self, day: str) -> TickResult:
        self.at(day)
        runtime = runtime_of(self.app)
        return await tick(
            runtime.db, runtime.outbox, Monitor.from_settings(self.settings, self.clock)
        )

    async def alerts(self, case_id: str, rule_id: str = SIN) -> list[tuple[str, str]]:
        item = await self.deadline(case_id, rule_id)
        return [(a["kind"], a["due_on"]) for a in item["alerts"]]


@pytest_asyncio.fixture(scope="module")
async def world(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    url = f"sqlite:///{tmp_path_factory.mktemp('reviews-deadline-monitoring')}/reviews.db"
    # The worker ticks at start only (an hour's interval): the tests tick on the days they set.
    settings = reviews_settings(
        url, broker, deadline_check_interval_seconds=3600, deadline_lead_working_days=2
    )
    clock = SettableClock(at_noon(date(2026, 12, 18)))
    app = create_app(settings, clock=clock)
    async with running_app(app) as http:
        a, b = await seed_partnership(app, LEEDS), await seed_partnership(app, BRADFORD)
        a_client, b_client = await seed_client(app, a), await seed_client(app, b)
        yield World(app, http, clock, settings, a, b, a_client, b_client)


# -- the edges (domain.md s8 working days; lead time 2 working days) ---------------------------


async def test_christmas_2026_due_soon_and_breach_boundaries(world: World) -> None:
    case = await world.notify("2026-12-18")  # Friday; due Tuesday 29 December (domain.md s8)
    world.at("2026-12-22")  # 23, 24, 29 left: 3 working days
    item = await world.deadline(case)
    assert (item["due_on"], item["working_days_remaining"]) == ("2026-12-29", 3)
    assert item["calendar_days_remaining"] == 7
    assert not item["due_soon"] and not await world.due_soon(case)
    await world.tick("2026-12-22")
    assert await world.alerts(case) == []
    world.at("2026-12-23")  # 24 and 29 left: Christmas Day and the substitute 28th skipped
    assert await world.due_soon(case)
    assert (await world.deadline(case))["working_days_remaining"] == 2
    await world.tick("2026-12-23")
    assert await world.alerts(case) == [("approaching", "2026-12-29")]
    world.at("2026-12-29")  # the due day itself: 0 left, still open
    item = await world.deadline(case)
    assert (item["status"], item["working_days_remaining"], item["due_soon"]) == ("open", 0, True)
    await world.tick("2026-12-29")
    assert await world.alerts(case) == [("approaching", "2026-12-29")]
    await world.tick("2026-12-30")  # the day after: breached
    item = await world.deadline(case)
    assert (item["status"], item["working_days_remaining"]) == ("overdue", -1)
    assert await world.alerts(case) == [
        ("approaching", "2026-12-29"),
        ("breached", "2026-12-29"),
    ]


async def test_new_year_2027_skips_new_years_day(world: World) -> None:
    case = await world.notify("2026-12-29")  # 30, 31, (1 Jan), 4, 5, 6: due Wed 6 January
    world.at("2026-12-31")  # 4, 5, 6 left
    item = await world.deadline(case)
    assert (item["due_on"], item["working_days_remaining"], item["due_soon"]) == (
        "2027-01-06",
        3,
        False,
    )
    await world.tick("2027-01-01")  # New Year's Day: 4, 5, 6 still left
    assert await world.alerts(case) == []
    await world.tick("2027-01-04")
    assert await world.alerts(case) == [("approaching", "2027-01-06")]
    await world.tick("2027-01-06")
    assert (await world.deadline(case))["status"] == "open"
    await world.tick("2027-01-07")
    assert ("breached", "2027-01-06") in await world.alerts(case)


async def test_friday_before_a_monday_due_date_counts_the_weekend_as_nothing(
    world: World,
) -> None:
    case = await world.notify("2027-03-01")  # Monday; due Monday 8 March
    world.at("2027-03-03")  # Wednesday: 4, 5, 8 left
    assert not await world.due_soon(case)
    world.at("2027-03-05")  # Friday: only Monday left, three calendar days away
    item = await world.deadline(case)
    assert (item["working_days_remaining"], item["calendar_days_remaining"]) == (1, 3)
    assert item["due_soon"]
    await world.tick("2027-03-06")  # Saturday: not yet breached
    assert await world.alerts(case) == [("approaching", "2027-03-08")]
    await world.tick("2027-03-09")
    assert await world.alerts(case) == [("approaching", "2027-03-08"), ("breached", "2027-03-08")]


async def test_easter_bank_holidays_are_not_working_days(world: World) -> None:
    # Aware Monday 22 March 2027: 23, 24, 25, (Good Friday 26), (Easter Monday 29), 30, 31.
    case = await world.notify("2027-03-22")
    world.at("2027-03-24")  # 25, 30, 31 left
    assert (await world.deadline(case))["due_on"] == "2027-03-31"
    assert not await world.due_soon(case)
    world.at("2027-03-25")  # Thursday before Easter: 30 and 31 left, six calendar days away
    item = await world.deadline(case)
    assert (item["working_days_remaining"], item["calendar_days_remaining"]) == (2, 6)
    assert await world.due_soon(case)


async def test_leap_day_2028_is_a_due_date_and_breach_comes_on_1_march(world: World) -> None:
    case = await world.notify("2028-02-22")  # Tuesday: 23, 24, 25, 28, 29 February
    assert (await world.deadline(case))["due_on"] == "2028-02-29"
    await world.tick("2028-02-29")
    item = await world.deadline(case)
    assert (item["status"], item["working_days_remaining"]) == ("open", 0)
    assert await world.alerts(case) == [("approaching", "2028-02-29")]
    await world.tick("2028-03-01")
    item = await world.deadline(case)
    assert (item["status"], item["working_days_remaining"]) == ("overdue", -1)
    assert ("breached", "2028-02-29") in await world.alerts(case)
    events = await read_topic(
        world.settings.kafka_bootstrap_servers,
        world.settings.topic,
        until=lambda evs: any(
            e.subject == case and e.type == "masa.deadline.breached.v1" for e in evs
        ),
    )
    (breach,) = {
        e.id: e for e in events if e.subject == case and e.type == "masa.deadline.breached.v1"
    }.values()
    assert breach.partnershipid == world.a
    assert breach.data["rule_id"] == SIN and breach.data["due_on"] == "2028-02-29"
    assert breach.data["working_days_overdue"] == 1 and breach.data["calendar_days_overdue"] == 1


async def test_a_deadline_first_seen_overdue_gets_only_the_breach(world: World) -> None:
    # Aware on the early May bank holiday (Monday 3 May 2027): due Monday 10 May.
    case = await world.notify("2027-05-03")
    await world.tick("2027-06-01")  # the scheduler was down for weeks: catch up
    assert await world.alerts(case) == [("breached", "2027-05-10")]


# -- queries ----------------------------------------------------------------------------------


async def test_status_filters_within_days_and_paging(world: World) -> None:
    case = await world.notify("2027-07-05")  # SIN due Mon 12 July; RR-15WD due Mon 26 July
    world.at("2027-07-06")
    params: dict[str, Any] = {"case_id": case}

    async def rules(**extra: Any) -> list[str]:
        response = await world.http.get(
            "/deadlines", params=params | extra, headers=world.a_client.headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["as_of"] == world.clock.at.date().isoformat()
        return [i["rule_id"] for i in response.json()["items"]]

    assert await rules() == [SIN, "RR-15WD"]
    assert await rules(status="open") == [SIN, "RR-15WD"]
    assert await rules(status="due_soon") == []
    assert await rules(status="due_soon", within_days=4) == [SIN]  # 7, 8, 9, 12
    assert await rules(status="due_soon", within_days=3) == []
    page = await world.http.get(
        "/deadlines", params=params | {"limit": 1, "offset": 1}, headers=world.a_client.headers
    )
    assert page.json()["total"] == 2 and [i["rule_id"] for i in page.json()["items"]] == ["RR-15WD"]
    world.at("2027-07-13")
    assert await rules(status="overdue") == [SIN]
    assert await rules(status="open") == ["RR-15WD"]


async def test_mark_met_stops_alerts_and_is_audited(world: World) -> None:
    case = await world.notify("2027-09-06")  # SIN due Mon 13 September
    world.at("2027-09-08")
    url = f"/cases/{case}/deadlines/{SIN}/met"
    audits = await count_rows(world.app, "audit_entry")
    response = await world.http.post(
        url, json={"met_on": "2027-09-08"}, headers=world.a_client.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "met" and response.json()["met_on_time"] is True
    assert await count_rows(world.app, "audit_entry") == audits + 1
    again = await world.http.post(
        url, json={"met_on": "2027-09-08"}, headers=world.a_client.headers
    )
    assert again.status_code == 200
    other = await world.http.post(
        url, json={"met_on": "2027-09-07"}, headers=world.a_client.headers
    )
    assert other.status_code == 409
    await world.tick("2027-09-20")  # long after: the met SIN deadline never alerts
    assert await world.alerts(case) == []
    met = await world.http.get(
        "/deadlines", params={"case_id": case, "status": "met"}, headers=world.a_client.headers
    )
    assert [i["rule_id"] for i in met.json()["items"]] == [SIN]
    events = await read_topic(
        world.settings.kafka_bootstrap_servers,
        world.settings.topic,
        until=lambda evs: any(e.subject == case and e.type == "masa.deadline.met.v1" for e in evs),
    )
    (event,) = {e.id: e for e in events if e.subject == case and e.type.endswith("met.v1")}.values()
    assert event.data["met_on"] == "2027-09-08" and event.data["on_time"] is True


# -- corrections ------------------------------------------------------------------------------


async def test_correcting_aware_on_recomputes_and_alerts_again_for_the_new_date(
    world: World,
) -> None:
    case = await world.notify("2027-10-11", incident_date="2027-10-01")  # SIN due Mon 18 Oct
    rr_before = (await world.deadline(case, "RR-15WD"))["due_on"]
    await world.tick("2027-10-15")  # Friday: approaching for the 18th
    assert await world.alerts(case) == [("approaching", "2027-10-18")]
    audits = await count_rows(world.app, "audit_entry")
    response = await world.http.patch(
        f"/cases/{case}/dates",
        json={"aware_on": "2027-10-08", "reason": "The referral was received on the Friday"},
        headers=world.a_client.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["changes"] == [
        {"field": "aware_on", "previous": "2027-10-11", "value": "2027-10-08"}
    ]
    (moved,) = body["deadlines"]
    assert (moved["rule_id"], moved["previous_due_on"], moved["due_on"]) == (
        SIN,
        "2027-10-18",
        "2027-10-15",
    )
    assert moved["edition"] == "WT2023"
    assert await count_rows(world.app, "audit_entry") == audits + 1
    # RR-15WD counts from the notification, which the correction does not move.
    assert (await world.deadline(case, "RR-15WD"))["due_on"] == rr_before
    # Today (15th) is now the due day: a new approach fires for the new date; the old is kept.
    await world.tick("2027-10-15")
    await world.tick("2027-10-18")
    assert await world.alerts(case) == [
        ("approaching", "2027-10-18"),
        ("approaching", "2027-10-15"),
        ("breached", "2027-10-15"),
    ]
    events = await read_topic(
        world.settings.kafka_bootstrap_servers,
        world.settings.topic,
        until=lambda evs: any(
            e.subject == case and e.type == "masa.deadline.recomputed.v1" for e in evs
        ),
    )
    (event,) = {e.id: e for e in events if e.subject == case and "recomputed" in e.type}.values()
    assert event.data["reason"] == "The referral was received on the Friday"
    assert event.data["deadlines"][0]["due_on"] == "2027-10-15"


async def test_correction_keeps_the_edition_the_case_started_with(world: World) -> None:
    case = await world.notify("2023-12-15")  # the first day of WT2023
    world.at("2023-12-15")
    response = await world.http.patch(
        f"/cases/{case}/dates",
        json={"aware_on": "2023-12-14", "incident_date": "2023-12-14", "reason": "Typo"},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    (moved,) = response.json()["deadlines"]
    assert moved["edition"] == "WT2023"  # 14 December was WT2018's last day: not switched
    assert moved["due_on"] == "2023-12-21"
    assert (await world.deadline(case))["edition"] == "WT2023"


async def test_correcting_only_the_incident_date_moves_no_deadline(world: World) -> None:
    case = await world.notify("2027-11-10")
    response = await world.http.patch(
        f"/cases/{case}/dates",
        json={"incident_date": "2027-11-01", "reason": "Date of the incident confirmed"},
        headers=world.a_client.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["incident_date"] == "2027-11-01"
    assert response.json()["deadlines"] == []


# -- the rule book ----------------------------------------------------------------------------


async def test_rules_lists_every_edition_with_its_source(world: World) -> None:
    response = await world.http.get("/rules", params={"limit": 200}, headers=world.a_client.headers)
    assert response.status_code == 200, response.text
    rules = {(r["id"], r["edition"]): r for r in response.json()["items"]}
    assert response.json()["total"] == len(rules)
    sin = rules[(SIN, "WT2023")]
    assert (sin["period"], sin["unit"], sin["effective_from"], sin["effective_to"]) == (
        5,
        "working_days",
        "2023-12-15",
        None,
    )
    assert sin["source"] == "domain.md s4 SIN-5WD" and sin["lead_working_days"] == 2
    assert rules[(SIN, "WT2018")]["effective_to"] == "2023-12-14"
    assert ("CARE-LEAVER-DEATH", "WT2018") not in rules
    verify = await world.http.get(
        "/rules", params={"verify": "true", "edition": "WT2023"}, headers=world.a_client.headers
    )
    assert "CARE-LEAVER-DEATH" in {r["id"] for r in verify.json()["items"]}
    assert all(r["verify"] for r in verify.json()["items"])


async def test_rules_show_a_configured_verify_override(
    broker: EmbeddedBroker, tmp_path: Any
) -> None:
    settings = reviews_settings(
        f"sqlite:///{tmp_path}/reviews.db",
        broker,
        rule_overrides={"CARE-LEAVER-DEATH": 7},
        deadline_lead_times={"RR-15WD": 5},
    )
    async with running_app(create_app(settings)) as http:
        response = await http.get("/rules", params={"rule_id": "CARE-LEAVER-DEATH"}, headers=ADMIN)
        (rule,) = response.json()["items"]
        assert (rule["period"], rule["default_period"], rule["overridden"]) == (7, 5, True)
        rr = await http.get("/rules", params={"rule_id": "RR-15WD", "limit": 1}, headers=ADMIN)
        assert rr.json()["items"][0]["lead_working_days"] == 5 and rr.json()["total"] == 2


# -- isolation --------------------------------------------------------------------------------


async def test_another_partnership_sees_nothing_and_gets_404(world: World) -> None:
    case = await world.notify("2027-12-01")
    b = world.b_client.headers
    listed = await world.http.get("/deadlines", params={"case_id": case}, headers=b)
    assert listed.status_code == 200 and listed.json()["total"] == 0
    mine = await world.http.get("/deadlines", params={"partnership_id": world.a}, headers=b)
    assert mine.json()["total"] == 0
    admin = await world.http.get("/deadlines", params={"case_id": case}, headers=ADMIN)
    assert admin.json()["total"] == 2
    audits = await count_rows(world.app, "audit_entry")
    met = await world.http.post(
        f"/cases/{case}/deadlines/{SIN}/met", json={"met_on": "2027-12-01"}, headers=b
    )
    assert met.status_code == 404
    patch = await world.http.patch(
        f"/cases/{case}/dates", json={"aware_on": "2027-11-30", "reason": "Not ours"}, headers=b
    )
    assert patch.status_code == 404
    assert await count_rows(world.app, "audit_entry") == audits
    assert (await world.http.get("/deadlines")).status_code == 401
    assert (await world.http.get("/rules")).status_code == 401


# -- bad input --------------------------------------------------------------------------------


def _fields(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e.get("field") or e.get("pointer", "") for e in response.json().get("errors", [])}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "late"}, "status"),
        ({"within_days": -1, "status": "due_soon"}, "within_days"),
        ({"within_days": 3, "status": "overdue"}, "within_days"),
        ({"rule_id": "NOT-A-RULE"}, "rule_id"),
        ({"rule_id": "lower case"}, "rule_id"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
async def test_deadline_queries_refuse_bad_parameters(
    world: World, params: dict[str, Any], field: str
) -> None:
    response = await world.http.get("/deadlines", params=params, headers=world.a_client.headers)
    assert any(field in f for f in _fields(response))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "met_on"),
        ({"met_on": "not a date"}, "met_on"),
        ({"met_on": "2099-01-01"}, "met_on"),  # the future
        ({"met_on": "2027-01-01"}, "met_on"),  # before the council became aware
        ({"met_on": "2028-01-05", "note": "x"}, "note"),
    ],
)
async def test_mark_met_refuses_bad_input_and_writes_nothing(
    world: World, body: dict[str, Any], field: str
) -> None:
    case = await world.notify("2028-01-04")
    world.at("2028-01-06")
    before = await count_rows(world.app, "deadline_met"), await count_rows(world.app, "audit_entry")
    response = await world.http.post(
        f"/cases/{case}/deadlines/{SIN}/met", json=body, headers=world.a_client.headers
    )
    assert any(field in f for f in _fields(response))
    after = await count_rows(world.app, "deadline_met"), await count_rows(world.app, "audit_entry")
    assert after == before
    unknown = await world.http.post(
        f"/cases/{case}/deadlines/LCSPR-6M/met",
        json={"met_on": "2028-01-05"},
        headers=world.a_client.headers,
    )
    assert unknown.status_code == 404  # the case has no such deadline


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "Nothing to correct"}, "aware_on"),
        ({"aware_on": "2028-02-07"}, "reason"),
        ({"aware_on": "2028-02-07", "reason": ""}, "reason"),
        ({"aware_on": None, "reason": "Unknown"}, "aware_on"),
        ({"aware_on": "2028-02-10", "reason": "After the notification"}, "aware_on"),
        ({"aware_on": "2028-02-01", "reason": "Before the incident"}, "aware_on"),
        ({"incident_date": "2028-02-09", "reason": "After awareness"}, "incident_date"),
        ({"aware_on": "someday", "reason": "Bad date"}, "aware_on"),
        ({"aware_on": "2028-02-07", "reason": "Extra", "due_on": "2028-03-01"}, "due_on"),
    ],
)
async def test_correction_refuses_bad_input_and_writes_nothing(
    world: World, body: dict[str, Any], field: str
) -> None:
    case = await world.notify("2028-02-08", incident_date="2028-02-02")
    before = await count_rows(world.app, "audit_entry"), await count_rows(world.app, "outbox_event")
    response = await world.http.patch(
        f"/cases/{case}/dates", json=body, headers=world.a_client.headers
    )
    assert any(field in f for f in _fields(response))
    after = await count_rows(world.app, "audit_entry"), await count_rows(world.app, "outbox_event")
    assert after == before
    assert (await world.deadline(case))["due_on"] == "2028-02-15"


async def test_rules_refuse_bad_parameters(world: World) -> None:
    for params, field in (
        ({"edition": "WT1999"}, "edition"),
        ({"rule_id": "NOPE-1"}, "rule_id"),
        ({"in_force_on": "yesterday"}, "in_force_on"),
        ({"limit": 500}, "limit"),
    ):
        response = await world.http.get("/rules", params=params, headers=ADMIN)
        assert any(field in f for f in _fields(response)), params


def test_settings_refuse_unknown_rules_and_negative_lead_times() -> None:
    with pytest.raises(ValueError, match="unknown deadline rule"):
        ReviewsSettings(deadline_lead_times={"SIN-5DW": 2})
    with pytest.raises(ValueError, match="lead time"):
        ReviewsSettings(deadline_lead_times={SIN: -1})
    with pytest.raises(ValueError):
        ReviewsSettings(deadline_check_interval_seconds=0)


async def test_listing_deadlines_audits_a_read_of_each_case_shown(world: World) -> None:
    case = await world.notify("2027-07-05")
    world.at("2027-07-06")

    async def reads() -> list[AuditEntry]:
        async with world.app.state.runtime.db.read() as session:
            rows = await session.exec(
                select(AuditEntry)
                .where(AuditEntry.entity_id == case)
                .where(AuditEntry.action == "read")
            )
            return list(rows.all())

    before = len(await reads())
    listed = await world.http.get(
        "/deadlines", params={"case_id": case}, headers=world.a_client.headers
    )
    assert listed.status_code == 200 and listed.json()["total"] == 2
    after = await reads()
    assert len(after) == before + 1  # two deadlines of one case: one read entry
    assert after[-1].detail == {"via": "deadlines"}
