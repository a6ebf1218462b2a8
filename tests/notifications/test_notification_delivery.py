"""Notification delivery end to end: IncidentNotified on Kafka -> signed webhooks to a real
receiver process, retries, deadlines, redirects, 410, give-up, idempotency, manual channel.

The service runs in-process on SQLite and on PostgreSQL; the broker and the receiver are real
processes. Each test uses its own case, partnership and recipient codes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from shared.events import CloudEvent
from shared.processes import EmbeddedBroker
from tests.notifications.notifications_support import (
    NOTIFICATIONS_TOPIC,
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
from tests.support.apps import eventually, read_topic
from tests.support.receiver_process import ReceiverHandle, run_receiver

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def receiver() -> Iterator[ReceiverHandle]:
    with run_receiver() as running:
        yield running


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def by_recipient(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {i["recipient"]: i for i in items}


async def events_for(
    broker: EmbeddedBroker, ids: set[str], type_suffix: str, count: int
) -> list[CloudEvent]:
    """Wait for ``count`` events of a type about the given notifications."""

    def ours(events: list[CloudEvent]) -> list[CloudEvent]:
        return [e for e in events if e.type.endswith(type_suffix) and e.subject in ids]

    events = await read_topic(
        broker.bootstrap_servers, NOTIFICATIONS_TOPIC, until=lambda evs: len(ours(evs)) >= count
    )
    return ours(events)


async def test_each_recipient_gets_one_signed_delivery(
    database_url: str, broker: EmbeddedBroker, receiver: ReceiverHandle
) -> None:
    panel, ofsted = code("panel"), code("ofsted")
    payload = incident([panel, ofsted])
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    event = as_event(payload, traceparent=f"00-{trace_id}-00f067aa0ba902b7-01")
    settings = make_settings(database_url, broker, webhooks(receiver, panel, ofsted))
    async with notifications_app(settings) as client:
        await produce(broker.bootstrap_servers, event)
        items = by_recipient(
            await case_notifications(client, payload.case_id, 2, status="delivered")
        )
        for recipient in (panel, ofsted):
            n = items[recipient]
            assert n["channel"] == "webhook" and n["attempts"] == 1
            assert n["rule_id"] == "SIN-5WD" and n["due_on"] == "2026-03-09"
            received = await receiver.adeliveries(recipient)
            assert len(received) == 1  # signature verified by the receiver, or not recorded
            delivery = received[0]
            assert delivery["outcome"] == "accepted"
            assert delivery["webhook_id"] == n["id"]
            full = await detail(client, n["id"])
            assert delivery["body"] == full["body"]
            assert full["body"]["data"]["case"]["case_id"] == payload.case_id
            assert full["body"]["data"]["notification_id"] == n["id"]
            assert [a["status_code"] for a in full["attempt_log"]] == [200]
            # The delivery continues the trace that carried the incident.
            assert delivery["headers"]["traceparent"].split("-")[1] == trace_id
        assert not [r for r in receiver.rejections() if r["recipient"] in (panel, ofsted)]
        ids = {items[panel]["id"], items[ofsted]["id"]}
        delivered = await events_for(broker, ids, "notification.delivered.v1", 2)
        assert {e.data["notification_id"] for e in delivered} == ids
        assert all(
            e.data["on_time"] is None or isinstance(e.data["on_time"], bool) for e in delivered
        )


async def test_failing_receiver_gets_n_plus_one_attempts(
    database_url: str, broker: EmbeddedBroker, receiver: ReceiverHandle
) -> None:
    panel = code("panel")
    await receiver.acontrol(panel, fail_next=3, status=503)
    payload = incident([panel])
    settings = make_settings(database_url, broker, webhooks(receiver, panel))
    async with notifications_app(settings) as client:
        await produce(broker.bootstrap_servers, as_event(payload))
        [n] = await case_notifications(client, payload.case_id, 1, status="delivered")
        assert n["attempts"] == 4
        full = await detail(client, n["id"])
        assert [a["status_code"] for a in full["attempt_log"]] == [503, 503, 503, 200]
        assert [a["number"] for a in full["attempt_log"]] == [1, 2, 3, 4]
        assert full["attempt_log"][0]["error"] == "HTTP 503"
        assert full["attempt_log"][-1]["error"] is None
        received = await receiver.adeliveries(panel)
        assert [d["outcome"] for d in received] == ["failed"] * 3 + ["accepted"]
        assert {d["webhook_id"] for d in received} == {n["id"]}  # same id on every attempt
        failed = await events_for(broker, {n["id"]}, "notification.attempt_failed.v1", 3)
        assert sorted(e.data["attempt"] for e in failed) == [1, 2, 3]
        assert all(e.data["next_attempt_at"] for e in failed)


async def test_redirect_is_not_followed(
    database_url: str, broker: EmbeddedBroker, receiver: ReceiverHandle
) -> None:
    panel = code("panel")
    await receiver.acontrol(panel, redirect=True)
    payload = incident([panel])
    settings = make_settings(database_url, broker, webhooks(receiver, panel))
    async with notifications_app(settings) as client:
        await produce(broker.bootstrap_servers, as_event(payload))
        [n] = await case_notifications(client, payload.case_id, 1)

        async def redirected_twice() -> bool:
            return (await detail(client, n["id"]))["attempts"] >= 2

        await eventually(redirected_twice)
        await receiver.acontrol(panel, redirect=False)
        [n] = await case_notifications(client, payload.case_id, 1, status="delivered")
        log = (await detail(client, n["id"]))["attempt_log"]
        assert {a["status_code"] for a in log[:-1]} == {307}
        assert "redirect not followed" in log[0]["error"]
        assert log[-1]["status_code"] == 200
        assert await receiver.adeliveries(f"{panel}-moved") == []  # never followed
        outcomes = [d["outcome"] for d in await receiver.adeliveries(panel)]
        assert outcomes == ["redirected"] * (len(log) - 1) + ["accepted"]


async def test_slow_endpoint_hits_the_attempt_deadline_and_is_retried(
    database_url: str, broker: EmbeddedBroker, receiver: ReceiverHandle
) -> None:
    slow, fast = code("slow"), code("fast")
    await receiver.acontrol(slow, delay_seconds=10)
    slow_case, fast_case = incident([slow]), incident([fast])
    settings = make_settings(
        database_url, broker, webhooks(receiver, slow, fast), attempt_timeout_seconds=4.0
    )
    async with notifications_app(settings) as client:
        await produce(broker.bootstrap_servers, as_event(slow_case))
        await eventually(lambda: receiver.adeliveries(slow))  # the slow attempt is under way
        await produce(broker.bootstrap_servers, as_event(fast_case))
        [n_fast] = await case_notifications(client, fast_case.case_id, 1, status="delivered")
        [n_slow] = await case_notifications(client, slow_case.case_id, 1)

        async def attempts_of_slow() -> list[dict[str, Any]]:
            log: list[dict[str, Any]] = (await detail(client, n_slow["id"]))["attempt_log"]
            return log

        first = (await eventually(attempts_of_slow))[0]
        # The slow endpoint held up only its own notification.
        assert at(n_fast["delivered_at"]) < at(first["finished_at"])
        assert first["status_code"] is None
        assert "deadline" in first["error"]
        assert 3900 <= first["duration_ms"] < 7000  # the deadline, not the 10 s delay
        await receiver.acontrol(slow, delay_seconds=0)
        [n_slow] = await case_notifications(client, slow_case.case_id, 1, status="delivered")
        log = (await detail(client, n_slow["id"]))["attempt_log"]
        assert len(log) >= 2 and log[-1]["status_code"] == 200
        assert all(a["status_code"] is None for a in log[:-1])
        assert n_fast["attempts"] == 1


async def test_410_gone_abandons_at_once(
    database_url: str, broker: EmbeddedBroker, receiver: ReceiverHandle
) -> None:
    gone = code("gone")
    await receiver.acontrol(gone, fail_next=1, status=410)
    payload = incident([gone])
    settings = make_settings(database_url, broker, webhooks(receiver, gone))
    async with notifications_app(settings) as client:
        await produce(broker.bootstrap_servers, as_event(payload))
        [n] = await case_notifications(client, payload.case_id, 1, status="abandoned")
        assert n["attempts"] == 1 and n["next_attempt_at"] is None
        assert "410" in n["last_error"]
        [abandoned] = await events_for(broker, {n["id"]}, "notification.abandoned.v1", 1)
        assert abandoned.data["attempts"] == 1
        await asyncio.sleep(0.5)  # several poll periods: nothing more is tried
        assert len(await receiver.adeliveries(gone)) == 1


async def test_retries_exhausted_abandon_with_an_event(
    database_url: str, broker: EmbeddedBroker, receiver: ReceiverHandle
) -> None:
    down = code("down")
    await receiver.acontrol(down, fail_next=100, status=500)
    payload = incident([down])
    settings = make_settings(database_url, broker, webhooks(receiver, down), retry_max_attempts=3)
    async with notifications_app(settings) as client:
        await produce(broker.bootstrap_servers, as_event(payload))
        [n] = await case_notifications(client, payload.case_id, 1, status="abandoned")
        assert n["attempts"] == 3 and n["last_error"] == "HTTP 500"
        full = await detail(client, n["id"])
        assert [a["status_code"] for a in full["attempt_log"]] == [500, 500, 500]
        [abandoned] = await events_for(broker, {n["id"]}, "notification.abandoned.v1", 1)
        assert abandoned.data["attempts"] == 3
        assert abandoned.data["last_error"] == "HTTP 500"
        assert abandoned.data["case_id"] == payload.case_id
        assert abandoned.partnershipid == payload.partnership_id
        failed = await events_for(broker, {n["id"]}, "notification.attempt_failed.v1", 3)
        last = next(e for e in failed if e.data["attempt"] == 3)
        assert last.data.get("next_attempt_at") is None
        assert len(await receiver.adeliveries(down)) == 3


async def test_the_same_incident_twice_notifies_once(
    database_url: str, broker: EmbeddedBroker, receiver: ReceiverHandle
) -> None:
    panel, dfe = code("panel"), code("dfe")
    payload = incident([panel, dfe])
    event = as_event(payload)
    replayed = as_event(payload)  # the same incident under a new event id (a replay)
    settings = make_settings(database_url, broker, webhooks(receiver, panel, dfe))
    async with notifications_app(settings) as client:
        await produce(broker.bootstrap_servers, event, event, replayed)
        items = await case_notifications(client, payload.case_id, 2, status="delivered")
        ids = {i["id"] for i in items}
        queued = await events_for(broker, ids, "notification.queued.v1", 2)
        await asyncio.sleep(1.0)  # let the copies be consumed, if they were to do anything
        items = await case_notifications(client, payload.case_id, 2, status="delivered")
        assert {i["id"] for i in items} == ids
        assert all(i["attempts"] == 1 for i in items)
        for recipient in (panel, dfe):
            received = await receiver.adeliveries(recipient)
            assert len(received) == 1 and not received[0]["duplicate"]
        queued = await events_for(broker, ids, "notification.queued.v1", 2)
        assert len(queued) == 2


async def test_recipient_without_webhook_is_left_for_manual_submission(
    database_url: str, broker: EmbeddedBroker, receiver: ReceiverHandle
) -> None:
    ofsted, unlisted, panel = code("ofsted"), code("unlisted"), code("panel")
    recipients: dict[str, Any] = {ofsted: {"name": "Ofsted"}, **webhooks(receiver, panel)}
    payload = incident([panel, ofsted, unlisted])
    settings = make_settings(database_url, broker, recipients)
    async with notifications_app(settings) as client:
        await produce(broker.bootstrap_servers, as_event(payload))
        items = by_recipient(await case_notifications(client, payload.case_id, 3))

        async def panel_delivered() -> bool:
            return (await detail(client, items[panel]["id"]))["status"] == "delivered"

        await eventually(panel_delivered)
        for recipient in (ofsted, unlisted):
            n = items[recipient]
            assert n["channel"] == "manual" and n["status"] == "awaiting_manual"
            assert n["attempts"] == 0 and n["next_attempt_at"] is None
            assert (await detail(client, n["id"]))["attempt_log"] == []
            assert await receiver.adeliveries(recipient) == []
        assert items[ofsted]["recipient_name"] == "Ofsted"
        manual_ids = {items[ofsted]["id"], items[unlisted]["id"]}
        queued = await events_for(broker, manual_ids, "notification.queued.v1", 2)
        assert {e.data["channel"] for e in queued} == {"manual"}
