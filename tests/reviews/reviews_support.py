"""Helpers for the reviews tests: settings, a settable clock, seeding the local copy of the
partner registry through the service's own event handlers, and request bodies."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func
from sqlalchemy import table as sa_table
from sqlmodel import select

from services.reviews.handlers import HANDLERS
from services.reviews.settings import ReviewsSettings
from shared.auth import generate_token
from shared.contracts.partners import (
    ClientCredentialIssued,
    ClientCredentialRevoked,
    ClientSystemRegistered,
    CouncilRef,
    PartnershipCreated,
    SafeguardingPartnerRef,
)
from shared.events import EventPayload, make_event
from shared.processes import EmbeddedBroker
from shared.service import Runtime


def council_codes(n: int) -> list[str]:
    """Distinct, valid, random ONS codes. The apps under test also read every partnership
    other tests register on the shared partners.events topic; real codes (Leeds is
    E08000035) could be claimed there by another partnership and move a council away."""
    return [f"E08{number:06d}" for number in random.sample(range(10**6), n)]


LEEDS, BRADFORD, WAKEFIELD, KIRKLEES = council_codes(4)


def reviews_settings(database_url: str, broker: EmbeddedBroker, **extra: Any) -> ReviewsSettings:
    """Explicit settings; an own consumer group, so no test waits for another's to leave."""
    return ReviewsSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        environment="test",
        consumer_group=f"test-reviews-{uuid.uuid4()}",
        **extra,
    )


class SettableClock:
    """The service's clock in tests: "now" is whatever the test says."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def at_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC)


def runtime_of(app: FastAPI) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


async def deliver(app: FastAPI, payload: EventPayload, partnership_id: str) -> None:
    """Run the service's handler for one partners event, as the consumer would."""
    event = make_event(payload, source="partners", partnership_id=partnership_id)
    async with runtime_of(app).db.transaction() as session:
        await HANDLERS[event.type](session, event, payload)


async def seed_partnership(app: FastAPI, *councils: str, name: str = "Test partnership") -> str:
    partnership_id = str(uuid.uuid4())
    await deliver(
        app,
        PartnershipCreated(
            partnership_id=partnership_id,
            name=name,
            status="drafting_arrangements",
            councils=[CouncilRef(name=f"Council {code}", ons_code=code) for code in councils],
            partners=[
                SafeguardingPartnerRef(
                    id=str(uuid.uuid4()), kind=kind, organisation=kind, lead_role="Chief Executive"
                )
                for kind in ("local_authority", "health_board", "police")
            ],
        ),
        partnership_id,
    )
    return partnership_id


class SeededClient:
    def __init__(self, client_id: str, credential_id: str, token: str) -> None:
        self.client_id = client_id
        self.credential_id = credential_id
        self.headers = {"Authorization": f"Bearer {token}"}


async def seed_client(
    app: FastAPI, partnership_id: str, allowed: tuple[str, ...] = ("incident.notified",)
) -> SeededClient:
    client_id, credential_id = str(uuid.uuid4()), str(uuid.uuid4())
    token, token_hash = generate_token()
    await deliver(
        app,
        ClientSystemRegistered(
            client_id=client_id,
            partnership_id=partnership_id,
            name="Case system",
            organisation="Council",
            allowed_event_types=list(allowed),
        ),
        partnership_id,
    )
    await deliver(
        app,
        ClientCredentialIssued(
            credential_id=credential_id,
            client_id=client_id,
            partnership_id=partnership_id,
            token_hash=token_hash,
        ),
        partnership_id,
    )
    return SeededClient(client_id, credential_id, token)


async def revoke_client(app: FastAPI, client: SeededClient, partnership_id: str) -> None:
    await deliver(
        app,
        ClientCredentialRevoked(
            credential_id=client.credential_id,
            client_id=client.client_id,
            partnership_id=partnership_id,
        ),
        partnership_id,
    )


async def count_rows(app: FastAPI, table: str) -> int:
    """Rows in one of the service's tables (to prove a refused request wrote nothing)."""
    async with runtime_of(app).db.read() as session:
        return int((await session.exec(select(func.count()).select_from(sa_table(table)))).one())


def incident_body(**changes: Any) -> dict[str, Any]:
    """A valid notification: a serious incident in Leeds that the council knew of on
    Friday 18 December 2026."""
    body: dict[str, Any] = {
        "client_reference": f"LCC-SIN-{uuid.uuid4().hex[:12]}",
        "council_ons_code": LEEDS,
        "kind": "death_or_serious_harm",
        "nature": "serious_harm",
        "abuse_or_neglect_known_or_suspected": True,
        "incident_date": "2026-12-16",
        "aware_on": "2026-12-18",
        "location": "Family home, LS9",
        "children": [
            {
                "reference": "LCC-C-0042",
                "age_years": 3,
                "sex": "female",
                "ethnicity": "white",
                "disability": False,
                "looked_after": False,
                "child_in_need_plan": True,
                "child_protection_plan": False,
                "known_to_agencies": True,
            }
        ],
    }
    body.update(changes)
    return body
