"""The partners and reviews services side by side (in-process, one real broker): a partnership
registered in partners becomes usable in reviews, and a client system's token registered
there authenticates here, until it is revoked there."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
import pytest

from services.partners.app import create_app as create_partners_app
from services.partners.settings import PartnersSettings
from services.reviews.app import create_app as create_reviews_app
from shared.processes import EmbeddedBroker
from tests.reviews.reviews_support import (
    SettableClock,
    at_noon,
    council_codes,
    incident_body,
    reviews_settings,
)
from tests.support.apps import ADMIN, eventually, running_app

pytestmark = pytest.mark.timeout(90)


async def test_partnership_and_client_from_partners_work_in_reviews(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> None:
    leeds, bradford = council_codes(2)  # see council_codes: not the shared constants
    folder = tmp_path_factory.mktemp("partners-reviews")
    partners_app = create_partners_app(
        PartnersSettings(
            database_url=f"sqlite:///{folder}/partners.db",
            kafka_bootstrap_servers=broker.bootstrap_servers,
            environment="test",
        )
    )
    reviews_app = create_reviews_app(
        reviews_settings(f"sqlite:///{folder}/reviews.db", broker),
        clock=SettableClock(at_noon(date(2026, 12, 21))),
    )
    async with running_app(partners_app) as partners, running_app(reviews_app) as reviews:
        partnership = await partners.post(
            "/partnerships",
            headers=ADMIN,
            json={
                "name": f"Leeds and Bradford {uuid.uuid4().hex[:6]}",
                "councils": [
                    {"name": "Leeds City Council", "ons_code": leeds},
                    {"name": "Bradford Council", "ons_code": bradford},
                ],
                "partners": [
                    {
                        "kind": "local_authority",
                        "organisation": "Leeds City Council",
                        "lead_role": "Chief Executive",
                    },
                    {
                        "kind": "health_board",
                        "organisation": "West Yorkshire ICB",
                        "lead_role": "Chief Executive",
                    },
                    {
                        "kind": "police",
                        "organisation": "West Yorkshire Police",
                        "lead_role": "Chief Constable",
                    },
                ],
            },
        )
        assert partnership.status_code == 201, partnership.text
        partnership_id = partnership.json()["id"]
        system = await partners.post(
            f"/partnerships/{partnership_id}/client-systems",
            headers=ADMIN,
            json={
                "name": "Leeds case system",
                "organisation": "Leeds City Council",
                "allowed_event_types": ["incident.notified"],
            },
        )
        assert system.status_code == 201, system.text
        token = system.json()["credential"]["token"]
        client = {"Authorization": f"Bearer {token}"}

        async def accepted() -> bool:
            return (await reviews.get("/cases", headers=client)).status_code == 200

        await eventually(accepted)  # the credential has travelled over partners.events
        created = await reviews.post(
            "/incidents", headers=client, json=incident_body(council_ons_code=bradford)
        )
        assert created.status_code == 201, created.text
        assert created.json()["partnership_id"] == partnership_id

        revoked = await partners.delete(
            f"/client-systems/{system.json()['client_id']}/credentials/"
            f"{system.json()['credential']['credential_id']}",
            headers=ADMIN,
        )
        assert revoked.status_code == 204

        async def refused() -> httpx.Response | None:
            response = await reviews.get("/cases", headers=client)
            return response if response.status_code == 401 else None

        await eventually(refused)
