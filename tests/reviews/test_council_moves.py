"""A council that moves between partnerships (partners' council.left / council.joined, in
either order: they are keyed by different partnerships) routes its notifications to the new
one; the old partnership can no longer notify for it."""

from __future__ import annotations

from datetime import date

import pytest

from services.reviews.app import create_app
from shared.contracts.partners import CouncilJoined, CouncilLeft, CouncilRef
from shared.processes import EmbeddedBroker
from tests.reviews.reviews_support import (
    SettableClock,
    at_noon,
    council_codes,
    deliver,
    incident_body,
    reviews_settings,
    seed_client,
    seed_partnership,
)
from tests.support.apps import running_app

pytestmark = pytest.mark.timeout(90)


@pytest.mark.parametrize("left_first", [True, False])
async def test_a_moved_council_is_notified_by_its_new_partnership(
    database_url: str, broker: EmbeddedBroker, left_first: bool
) -> None:
    stays, moving, other = council_codes(3)
    clock = SettableClock(at_noon(date(2026, 12, 21)))
    app = create_app(reviews_settings(database_url, broker), clock=clock)
    async with running_app(app) as http:
        old = await seed_partnership(app, stays, moving)
        new = await seed_partnership(app, other)
        old_client, new_client = await seed_client(app, old), await seed_client(app, new)
        left = CouncilLeft(
            partnership_id=old, ons_code=moving, left_on=date(2026, 12, 1), moved_to=new
        )
        joined = CouncilJoined(
            partnership_id=new,
            council=CouncilRef(name="Moving Council", ons_code=moving),
            joined_on=date(2026, 12, 1),
            moved_from=old,
        )
        for payload in (left, joined) if left_first else (joined, left):
            await deliver(app, payload, payload.partnership_id)

        body = incident_body(council_ons_code=moving)
        accepted = await http.post("/incidents", json=body, headers=new_client.headers)
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["partnership_id"] == new

        refused = await http.post(
            "/incidents",
            json=incident_body(council_ons_code=moving),
            headers=old_client.headers,
        )
        assert refused.status_code == 422 and "council_ons_code" in refused.text
        still = await http.post(
            "/incidents", json=incident_body(council_ons_code=stays), headers=old_client.headers
        )
        assert still.status_code == 201, still.text
