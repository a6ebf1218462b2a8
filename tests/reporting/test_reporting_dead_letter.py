"""The shared consumer end to end: a record it cannot read goes to ``<topic>.dlq`` with the
reason, and consumption carries on with the next record."""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from shared.contracts.notifications import NotificationQueued
from shared.events import CloudEvent
from shared.processes import EmbeddedBroker
from shared.settings import DEAD_LETTER_SUFFIX
from tests.reporting.reporting_feed import (
    NOTIFICATIONS,
    Feed,
    new_id,
    queued,
    reporting,
    settings_for,
    summary_when,
)


async def _records(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` up to its current end, raw (dead letters are not events)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        assert tps, f"{topic} does not exist"
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + 20
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            assert time.monotonic() < deadline, f"timed out reading {topic}"
            batch = await consumer.getmany(timeout_ms=300)
            for part in batch.values():
                records.extend(part)
        return records
    finally:
        await consumer.stop()


async def test_malformed_records_are_dead_lettered_and_consumption_continues(
    database_url: str, broker: EmbeddedBroker
) -> None:
    pid, bad_case, case_id, nid = new_id(), new_id(), new_id(), new_id()
    settings = settings_for(database_url, broker)
    not_json = f"not json {new_id()}".encode()
    # A well-formed envelope whose payload breaks its contract (no notification_id, recipient).
    broken = CloudEvent(
        source="/masa/notifications",
        type=NotificationQueued.type_name(),
        partnershipid=pid,
        data={"partnership_id": pid, "case_id": bad_case},
    ).to_bytes()
    # An event type nobody handles is skipped, not dead-lettered (consumers ignore the unknown).
    unknown = CloudEvent(
        source="/masa/notifications",
        type="masa.something.happened.v1",
        partnershipid=pid,
        data={"case_id": bad_case},
    ).to_bytes()
    # notifications.events: of the services, only reporting consumes it, so these records are
    # dead-lettered by this test's app alone.
    async with reporting(database_url, broker, settings) as client, Feed(broker) as feed:
        await feed.send_raw(NOTIFICATIONS, pid, not_json)
        await feed.send_raw(NOTIFICATIONS, pid, broken)
        await feed.send_raw(NOTIFICATIONS, pid, unknown)
        await feed.send(NOTIFICATIONS, queued(pid, case_id, nid), partnership_id=pid)

        body = await summary_when(client, pid, lambda b: b["deliveries"]["queued"] == 1)
        assert body["deliveries"] == {"queued": 1, "retrying": 0, "delivered": 0, "abandoned": 0}

        # The valid event after them was applied, so their dead letters were already written.
        dead = {
            r.value: r
            for r in await _records(broker.bootstrap_servers, NOTIFICATIONS + DEAD_LETTER_SUFFIX)
            if r.value in (not_json, broken, unknown)
            and dict(r.headers).get("dlq_consumer_group") == settings.consumer_group.encode()
        }
    assert set(dead) == {not_json, broken}
    for value, reason in ((not_json, "not JSON"), (broken, "invalid masa.notification.queued")):
        record = dead[value]
        headers = {k: v.decode() for k, v in record.headers}
        assert reason in headers["dlq_reason"]
        assert headers["dlq_source_topic"] == NOTIFICATIONS
        assert headers["dlq_consumer_group"] == settings.consumer_group
        assert record.key == pid.encode()
