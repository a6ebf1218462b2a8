"""The deadline scheduler as a worker, on SQLite and PostgreSQL: two instances and extra
concurrent ticks fire each alert once; a restart after missed ticks catches up without
firing again what already fired."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI

from services.reviews.app import create_app
from services.reviews.deadlines.monitor import Monitor
from services.reviews.deadlines.scheduler import tick
from services.reviews.settings import ReviewsSettings
from shared.events import CloudEvent
from shared.processes import EmbeddedBroker
from tests.reviews.reviews_support import (
    LEEDS,
    SettableClock,
    at_noon,
    incident_body,
    reviews_settings,
    runtime_of,
    seed_partnership,
)
from tests.support.apps import ADMIN, eventually, read_topic, running_app

pytestmark = pytest.mark.timeout(90)

APPROACHING = "masa.deadline.approaching.v1"
BREACHED = "masa.deadline.breached.v1"


def _settings(database_url: str, broker: EmbeddedBroker) -> ReviewsSettings:
    return reviews_settings(
        database_url, broker, deadline_check_interval_seconds=0.05, deadline_lead_working_days=2
    )


async def _notify(http: Any, partnership_id: str, clock: SettableClock, aware_on: date) -> str:
    clock.at = at_noon(aware_on)
    body = incident_body(
        partnership_id=partnership_id,
        aware_on=aware_on.isoformat(),
        incident_date=aware_on.isoformat(),
    )
    response = await http.post("/incidents", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    case_id: str = response.json()["case_id"]
    return case_id


async def _alerts(http: Any, case_id: str) -> list[tuple[str, str, str]]:
    response = await http.get("/deadlines", params={"case_id": case_id}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return sorted(
        (i["rule_id"], a["kind"], a["due_on"])
        for i in response.json()["items"]
        for a in i["alerts"]
    )


def _fired(events: list[CloudEvent], case_id: str) -> list[tuple[str, str, str]]:
    """Alert events of a case, one per event id (the relay is at least once; consumers dedupe
    by id): a double-fired alert would show as two ids."""
    unique = {e.id: e for e in events if e.subject == case_id and e.type in (APPROACHING, BREACHED)}
    return sorted(
        (e.data["rule_id"], e.type.split(".")[2], e.data["due_on"]) for e in unique.values()
    )


async def _events_until_met(broker: EmbeddedBroker, topic: str, case_id: str) -> list[CloudEvent]:
    """Every event of the topic up to the case's deadline.met event, which was committed after
    every alert (outbox order is commit order per partnership)."""
    return await read_topic(
        broker.bootstrap_servers,
        topic,
        until=lambda evs: any(
            e.subject == case_id and e.type == "masa.deadline.met.v1" for e in evs
        ),
    )


async def test_two_instances_and_concurrent_ticks_fire_each_alert_once(
    database_url: str, broker: EmbeddedBroker
) -> None:
    settings = _settings(database_url, broker)
    clock = SettableClock(at_noon(date(2026, 12, 18)))
    one, two = create_app(settings, clock=clock), create_app(settings, clock=clock)
    async with running_app(one) as http, running_app(two):
        partnership = await seed_partnership(one, LEEDS)
        case = await _notify(http, partnership, clock, date(2026, 12, 18))  # SIN due 29 Dec

        expected_approach = [("SIN-5WD", "approaching", "2026-12-29")]
        clock.at = at_noon(date(2026, 12, 23))
        # Both workers tick every 50 ms; four more ticks race them.
        monitors = [Monitor.from_settings(settings, clock) for _ in range(4)]
        apps: list[FastAPI] = [one, two, one, two]
        ticks = [
            tick(runtime_of(a).db, runtime_of(a).outbox, m)
            for a, m in zip(apps, monitors, strict=True)
        ]
        await asyncio.gather(*ticks)
        await eventually(lambda: _alerts(http, case), timeout=10)
        assert await _alerts(http, case) == expected_approach

        clock.at = at_noon(date(2026, 12, 30))  # SIN breached, RR-15WD (13 Jan) not yet due
        expected = sorted([*expected_approach, ("SIN-5WD", "breached", "2026-12-29")])

        async def settled() -> bool:
            return await _alerts(http, case) == expected

        await eventually(settled, timeout=10)
        await asyncio.sleep(0.3)  # several more ticks of both instances
        assert await _alerts(http, case) == expected
        met = await http.post(
            f"/cases/{case}/deadlines/SIN-5WD/met", json={"met_on": "2026-12-30"}, headers=ADMIN
        )
        assert met.status_code == 201, met.text
        events = await _events_until_met(broker, settings.topic, case)
        assert _fired(events, case) == expected


async def test_a_restart_catches_up_missed_ticks_without_firing_again(
    database_url: str, broker: EmbeddedBroker
) -> None:
    settings = _settings(database_url, broker)
    clock = SettableClock(at_noon(date(2028, 2, 22)))
    first = create_app(settings, clock=clock)
    async with running_app(first) as http:
        partnership = await seed_partnership(first, LEEDS)
        case = await _notify(http, partnership, clock, date(2028, 2, 22))  # SIN due 29 Feb 2028
        clock.at = at_noon(date(2028, 2, 25))  # Friday: 28 and 29 left

        async def approached() -> bool:
            return await _alerts(http, case) == [("SIN-5WD", "approaching", "2028-02-29")]

        await eventually(approached, timeout=10)

    # Down from Friday 25 February to Wednesday 15 March 2028: every tick missed. RR-15WD
    # (due 14 March) was never approached; it is breached now, so only the breach fires.
    clock.at = at_noon(date(2028, 3, 15))
    second = create_app(settings, clock=clock)
    async with running_app(second) as http:
        expected = [
            ("RR-15WD", "breached", "2028-03-14"),
            ("SIN-5WD", "approaching", "2028-02-29"),
            ("SIN-5WD", "breached", "2028-02-29"),
        ]

        async def caught_up() -> bool:
            return await _alerts(http, case) == expected

        await eventually(caught_up, timeout=10)
        await asyncio.sleep(0.3)
        assert await _alerts(http, case) == expected
        met = await http.post(
            f"/cases/{case}/deadlines/SIN-5WD/met", json={"met_on": "2028-03-15"}, headers=ADMIN
        )
        assert met.status_code == 201, met.text
        events = await _events_until_met(broker, settings.topic, case)
        assert _fired(events, case) == expected
