"""The Kafka bus over aiokafka: the only module in the platform that talks to Kafka.

Producer: ``acks="all"`` set explicitly (aiokafka's default is ``acks=1``); the idempotent
producer is switchable on for Apache Kafka (the embedded broker lacks it). Topics are created
at start-up. Records are keyed by partnership id so each partnership's events stay in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger("masa.bus")

Headers = list[tuple[str, bytes]]


class KafkaBus:
    """One producer per service process, plus the admin operations the platform needs."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str,
        idempotent: bool = False,
        partitions: int = 6,
        replication_factor: int = 1,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.idempotent = idempotent
        self.partitions = partitions
        self.replication_factor = replication_factor
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            acks="all",
            enable_idempotence=self.idempotent,
            linger_ms=1,
            request_timeout_ms=15000,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    @property
    def started(self) -> bool:
        return self._producer is not None

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("bus not started")
        return self._producer

    async def ensure_topics(self, names: Sequence[str]) -> list[str]:
        """Create missing topics; returns the ones this call created."""
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap_servers, client_id=f"{self.client_id}-admin"
        )
        await admin.start()
        created: list[str] = []
        try:
            existing = set(await admin.list_topics())
            missing = [n for n in dict.fromkeys(names) if n not in existing]
            for name in missing:
                try:
                    await admin.create_topics(
                        [NewTopic(name, self.partitions, self.replication_factor)]
                    )
                    created.append(name)
                except TopicAlreadyExistsError:
                    pass
        finally:
            await admin.close()
        if created:
            log.info("created topics %s", created)
        return created

    async def send(
        self, topic: str, *, key: str, value: bytes, headers: Headers | None = None
    ) -> asyncio.Future[Any]:
        """Enqueue a record; await the returned future for the broker's acknowledgement."""
        return await self.producer.send(topic, value=value, key=key.encode(), headers=headers or [])

    async def end_offsets(self, topic: str, *, within: float = 5.0) -> int:
        """Sum of the end offsets of a topic's partitions (how many records it has held).

        The embedded broker answers ListOffsets(latest) with the last *batch's* base offset
        + 1, so six records sent in one batch read as an end offset of 1. The high watermark
        of a fetch is right on both brokers, so each non-empty partition is fetched once from
        its reported end - 1 (the last batch) and the larger of the two is taken.
        """
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=f"{self.client_id}-offsets",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in parts]
            if not tps:
                return 0
            ends = {tp: int(end) for tp, end in (await consumer.end_offsets(tps)).items()}
            held = [tp for tp, end in ends.items() if end > 0]
            if held:
                consumer.assign(held)
                for tp in held:
                    consumer.seek(tp, ends[tp] - 1)
                deadline = asyncio.get_running_loop().time() + within
                waiting = set(held)
                while waiting and asyncio.get_running_loop().time() < deadline:
                    await consumer.getmany(*waiting, timeout_ms=200)
                    for tp in list(waiting):
                        highwater = consumer.highwater(tp)
                        if highwater is not None:
                            ends[tp] = max(ends[tp], int(highwater))
                            waiting.discard(tp)
            return sum(ends.values())
        finally:
            await consumer.stop()

    async def ping(self, within: float = 2.0) -> None:
        """Raise unless the broker answers a metadata request."""
        async with asyncio.timeout(within):
            await self.producer.client.fetch_all_metadata()

    def consumer(self, group_id: str, topics: Sequence[str], **kwargs: Any) -> AIOKafkaConsumer:
        """A consumer-group member; offsets are committed by the caller, never automatically."""
        return AIOKafkaConsumer(
            *topics,
            bootstrap_servers=self.bootstrap_servers,
            client_id=f"{self.client_id}-consumer",
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **kwargs,
        )
