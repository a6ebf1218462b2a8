"""Webhook deliveries keep their connection alive, and a long answer costs its connection.

An endpoint that answers briefly is reached over one TCP connection for a stream of
deliveries (a connection per delivery made every webhook pay a connect and an address lookup:
measured as more CPU than the rest of the attempt under ``make bench``). One that answers more
than ``ANSWER_READ_LIMIT`` bytes still gets its delivery recorded as delivered, but its
connection is dropped instead of our reading the rest.

The endpoint is a small HTTP/1.1 server in the test's event loop that counts connections and
does not check signatures (tests/notifications/test_notification_delivery.py does).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from services.notifications.delivery import ANSWER_READ_LIMIT
from services.notifications.signing import generate_secret
from shared.processes import EmbeddedBroker
from tests.notifications.notifications_support import (
    as_event,
    case_notifications,
    code,
    incident,
    make_settings,
    notifications_app,
    produce,
)

pytestmark = pytest.mark.timeout(90)


@dataclass
class CountingEndpoint:
    """Answers every POST with 200 and ``answer_bytes`` of body; counts connections."""

    answer_bytes: int
    connections: int = 0
    requests: int = 0
    port: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                self.requests += 1
                body = b"x" * self.answer_bytes
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"
                    + f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed the connection
        finally:
            writer.close()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[CountingEndpoint]:
        server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()

    def recipient(self, recipient_code: str) -> dict[str, str]:
        return {
            "name": "Counting endpoint",
            "webhook_url": f"http://127.0.0.1:{self.port}/hooks/{recipient_code}",
            "secret": generate_secret(),
        }


async def deliver_one_by_one(
    database_url: str, broker: EmbeddedBroker, endpoint: CountingEndpoint, count: int
) -> None:
    """``count`` incidents, each waited for until delivered, to one recipient."""
    recipient = code("panel")
    settings = make_settings(database_url, broker, {recipient: endpoint.recipient(recipient)})
    async with notifications_app(settings) as client:
        for _ in range(count):
            payload = incident([recipient])
            await produce(broker.bootstrap_servers, as_event(payload))
            await case_notifications(client, payload.case_id, 1, status="delivered")


async def test_deliveries_to_a_brief_endpoint_share_one_connection(
    database_url: str, broker: EmbeddedBroker
) -> None:
    async with CountingEndpoint(answer_bytes=len(b'{"ok":true}')).running() as endpoint:
        await deliver_one_by_one(database_url, broker, endpoint, 4)
    assert endpoint.requests == 4
    assert endpoint.connections == 1


async def test_a_long_answer_is_not_read_its_connection_is_dropped(
    database_url: str, broker: EmbeddedBroker
) -> None:
    async with CountingEndpoint(answer_bytes=4 * ANSWER_READ_LIMIT).running() as endpoint:
        await deliver_one_by_one(database_url, broker, endpoint, 3)
    assert endpoint.requests == 3  # each delivered (the status is what counts) ...
    assert endpoint.connections == 3  # ... over a connection of its own
