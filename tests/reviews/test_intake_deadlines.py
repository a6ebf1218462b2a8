"""Deadlines in the intake response, on the edges: Christmas substitute days, the notification
date in England (not UTC), proclaimed holidays and (verify) periods from settings, and the
edition in force when the clock started."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import ValidationError

from services.reviews.app import create_app
from services.reviews.settings import ReviewsSettings
from shared.processes import EmbeddedBroker
from tests.reviews.reviews_support import (
    LEEDS,
    SettableClock,
    at_noon,
    incident_body,
    reviews_settings,
    seed_partnership,
)
from tests.support.apps import ADMIN, running_app

pytestmark = pytest.mark.timeout(60)

PROCLAIMED = date(2026, 9, 14)  # a one-off bank holiday an operator adds without a release


@dataclass
class Service:
    http: httpx.AsyncClient
    clock: SettableClock
    partnership_id: str

    async def notify(self, now: datetime, **changes: Any) -> dict[str, Any]:
        self.clock.at = now
        body = incident_body(partnership_id=self.partnership_id, **changes)
        response = await self.http.post("/incidents", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result


def due(case: dict[str, Any]) -> dict[str, str]:
    return {d["rule_id"]: d["due_on"] for d in case["deadlines"]}


@pytest_asyncio.fixture(scope="module")
async def service(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Service]:
    url = f"sqlite:///{tmp_path_factory.mktemp('reviews-deadlines')}/reviews.db"
    settings = reviews_settings(
        url, broker, extra_bank_holidays=[PROCLAIMED], rule_overrides={"CARE-LEAVER-DEATH": 10}
    )
    clock = SettableClock(at_noon(date(2026, 12, 21)))
    app = create_app(settings, clock=clock)
    async with running_app(app) as http:
        yield Service(http, clock, await seed_partnership(app, LEEDS))


async def test_aware_on_friday_before_christmas_2026_is_due_tuesday_29_december(
    service: Service,
) -> None:
    case = await service.notify(at_noon(date(2026, 12, 18)), aware_on="2026-12-18")
    # 25 Dec is a Friday; Boxing Day a Saturday, so Monday 28 Dec is the substitute holiday.
    assert due(case)["SIN-5WD"] == "2026-12-29"
    # Same-day notification: the rapid review clock starts on the 18th too, and skips
    # 25 and 28 December and 1 January 2027.
    assert due(case)["RR-15WD"] == "2027-01-13"


async def test_rapid_review_counts_from_the_notification_date_not_the_aware_date(
    service: Service,
) -> None:
    case = await service.notify(at_noon(date(2026, 12, 21)), aware_on="2026-12-18")
    rapid = case["deadlines"][1]
    assert (rapid["rule_id"], rapid["starts_on"], rapid["due_on"]) == (
        "RR-15WD",
        "2026-12-21",
        "2027-01-14",
    )
    assert rapid["recipients"] == ["panel"]


async def test_notification_date_is_the_date_in_england(service: Service) -> None:
    # 23:30 UTC on Thursday 4 June 2026 is 00:30 BST on Friday 5 June.
    case = await service.notify(
        datetime(2026, 6, 4, 23, 30, tzinfo=UTC), incident_date="2026-06-02", aware_on="2026-06-03"
    )
    assert due(case)["SIN-5WD"] == "2026-06-10"
    assert case["deadlines"][1]["starts_on"] == "2026-06-05"
    assert due(case)["RR-15WD"] == "2026-06-26"  # from Thursday it would be the 25th


async def test_a_proclaimed_holiday_from_settings_moves_the_deadline(service: Service) -> None:
    case = await service.notify(
        at_noon(date(2026, 9, 10)), incident_date="2026-09-09", aware_on="2026-09-10"
    )
    assert due(case)["SIN-5WD"] == "2026-09-18"  # the 17th without the proclaimed Monday


async def test_a_verify_period_comes_from_settings(service: Service) -> None:
    case = await service.notify(
        at_noon(date(2026, 3, 2)),
        kind="care_leaver_death",
        nature="death",
        abuse_or_neglect_known_or_suspected=False,
        incident_date="2026-03-01",
        aware_on="2026-03-02",
        children=[{"reference": "LCC-CL-7", "age_years": 22}],
    )
    (deadline,) = case["deadlines"]
    assert (deadline["rule_id"], deadline["due_on"], deadline["verify"]) == (
        "CARE-LEAVER-DEATH",
        "2026-03-16",
        True,
    )  # 10 working days, as configured
    assert case["notify"] == ["dfe", "ofsted"]
    assert case["needs_rapid_review"] is False


async def test_looked_after_child_death_without_abuse_goes_to_dfe_and_ofsted_only(
    service: Service,
) -> None:
    lac = [
        {
            "reference": "LCC-LAC-9",
            "age_years": 15,
            "looked_after": True,
            "placement_type": "foster_care",
        }
    ]
    plain = await service.notify(
        at_noon(date(2026, 3, 3)),
        kind="looked_after_child_death",
        nature="death",
        abuse_or_neglect_known_or_suspected=False,
        incident_date="2026-03-01",
        aware_on="2026-03-02",
        children=lac,
    )
    suspected = await service.notify(
        at_noon(date(2026, 3, 3)),
        kind="looked_after_child_death",
        nature="death",
        abuse_or_neglect_known_or_suspected=True,
        incident_date="2026-03-01",
        aware_on="2026-03-02",
        children=lac,
    )
    assert plain["notify"] == ["dfe", "ofsted"]
    assert [d["rule_id"] for d in plain["deadlines"]] == ["LAC-DEATH"]
    assert plain["needs_rapid_review"] is False
    assert suspected["notify"] == ["dfe", "ofsted", "panel"]
    assert [d["rule_id"] for d in suspected["deadlines"]] == ["LAC-DEATH", "RR-15WD"]
    assert due(suspected)["RR-15WD"] == "2026-03-24"


async def test_the_edition_in_force_when_the_clock_started_applies(service: Service) -> None:
    case = await service.notify(
        at_noon(date(2023, 12, 15)), incident_date="2023-12-13", aware_on="2023-12-14"
    )
    assert {d["edition"] for d in case["deadlines"]} == {"WT2018"}


def test_only_periods_marked_verify_can_be_overridden() -> None:
    with pytest.raises(ValidationError, match="confirmed rule"):
        ReviewsSettings(rule_overrides={"SIN-5WD": 3})
    with pytest.raises(ValidationError, match="unknown deadline rule"):
        ReviewsSettings(rule_overrides={"SIN-5": 3})
    with pytest.raises(ValidationError, match="unknown time zone"):
        ReviewsSettings(timezone="Europe/Londres")
    assert ReviewsSettings(rule_overrides={"CARE-LEAVER-DEATH": 7}).rule_overrides == {
        "CARE-LEAVER-DEATH": 7
    }
