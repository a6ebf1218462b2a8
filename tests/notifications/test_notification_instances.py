"""Several instances and restarts: each notification is delivered by one instance at a time,
and one left mid-attempt by a stop is delivered again, with the same webhook-id."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

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
    webhooks,
)
from tests.support.apps import eventually
from tests.support.receiver_process import ReceiverHandle, run_receiver

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def receiver() -> Iterator[ReceiverHandle]:
    with run_receiver() as running:
        yield running


async def test_a_notification_left_mid_attempt_is_delivered_after_a_restart(
    database_url: str, broker: EmbeddedBroker, receiver: ReceiverHandle
) -> None:
    panel = code("panel")
    await receiver.acontrol(panel, delay_seconds=5)
    payload = incident([panel])
    settings = make_settings(
        database_url, broker, webhooks(receiver, panel), attempt_timeout_seconds=4
    )
    async with notifications_app(settings):
        await produce(broker.bootstrap_servers, as_event(payload))
        await eventually(lambda: receiver.adeliveries(panel))  # the attempt is under way
    # Stopped mid-attempt: nothing was recorded, the notification is still pending.
    await receiver.acontrol(panel, delay_seconds=0)
    async with notifications_app(settings) as client:
        [n] = await case_notifications(client, payload.case_id, 1, status="delivered")
        assert n["attempts"] == 1  # the interrupted attempt left no record
        assert [a["status_code"] for a in (await detail(client, n["id"]))["attempt_log"]] == [200]
        received = await receiver.adeliveries(panel)
        assert [d["webhook_id"] for d in received] == [n["id"], n["id"]]
        assert received[-1]["duplicate"]  # the receiver can tell, and dedupe


async def test_two_instances_never_deliver_the_same_notification_twice(
    database_url: str, broker: EmbeddedBroker, receiver: ReceiverHandle
) -> None:
    codes = [code(f"r{i}") for i in range(12)]
    for c in codes:  # slow answers widen the window in which both instances look for work
        await receiver.acontrol(c, delay_seconds=0.3)
    payload = incident(codes)
    first = make_settings(
        database_url,
        broker,
        webhooks(receiver, *codes),
        delivery_poll_seconds=0.05,
        delivery_concurrency=4,
    )
    # Same database; its own consumer group, so both instances consume the incident at once
    # (a group rebalance would only slow the test) and race to create the same rows too.
    second = first.model_copy(update={"consumer_group": f"test-{uuid.uuid4()}"})
    async with notifications_app(first) as one, notifications_app(second):
        await produce(broker.bootstrap_servers, as_event(payload))
        items = await case_notifications(
            one, payload.case_id, len(codes), status="delivered", within=30
        )
        assert all(i["attempts"] == 1 for i in items)
        for n in items:
            received = await receiver.adeliveries(n["recipient"])
            assert [d["webhook_id"] for d in received] == [n["id"]]
