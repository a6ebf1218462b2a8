"""A queued notification's body carries the children's references: the database holds it
encrypted (shared.crypto), the API shows it to the partnership's own callers."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shared.db import sync_url
from shared.processes import EmbeddedBroker
from tests.notifications.notifications_support import (
    as_event,
    case_notifications,
    code,
    detail,
    incident,
    make_settings,
    notifications_app,
    produce,
)

pytestmark = pytest.mark.timeout(90)


async def test_notification_bodies_are_ciphertext_at_rest(
    database_url: str, broker: EmbeddedBroker
) -> None:
    panel = code("panel")
    payload = incident([panel])
    reference = payload.children[0].reference
    settings = make_settings(database_url, broker, {})  # manual channel: nothing is sent
    async with notifications_app(settings) as client:
        await produce(broker.bootstrap_servers, as_event(payload))
        [queued] = await case_notifications(client, payload.case_id, 1)
        shown = await detail(client, queued["id"])
        assert shown["body"]["data"]["case"]["children"][0]["reference"] == reference

    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            stored = conn.execute(
                sa.text("SELECT body FROM notification WHERE id = :id"), {"id": queued["id"]}
            ).scalar_one()
    finally:
        engine.dispose()
    assert stored.startswith("enc1:") and reference not in stored
