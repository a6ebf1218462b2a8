"""The delivery worker: signed webhook POSTs, at least once, each attempt on record.

Loop: claim due notifications (a short transaction that sets a lease), deliver each in its own
task (at most ``delivery_concurrency`` at a time, so one slow endpoint holds up only its own
slot), then record the attempt, the notification's new state, its event and an audit entry.
Attempts that finish while a record is being written are recorded together in the next
transaction (group commit: one incident's three deliveries finish within milliseconds of
each other, and a transaction per attempt was most of the service's CPU under load, measured
with ``make bench``). No transaction is held open across an HTTP call.

Several instances on PostgreSQL: the claim selects ``FOR UPDATE SKIP LOCKED`` and writes a
lease (``claimed_until``, ``claim_token``) longer than an attempt can take, so two instances
never deliver the same notification at the same time. A crash mid-attempt leaves the row
pending; when its lease runs out it is delivered again with the same ``webhook-id``
(at-least-once; exactly-once for receivers that dedupe, as Standard Webhooks asks them to).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Histogram
from sqlalchemy import bindparam, or_, select, update
from sqlmodel import col

from services.notifications.domain import (
    DELIVERIES_QUEUED,
    ERROR_MAX,
    SERVICE_ACTOR,
    WEBHOOK,
    AttemptResult,
    Decision,
    decide,
    encode_body,
    on_time,
)
from services.notifications.models import ATTEMPT_TABLE, NOTIFICATION_TABLE, Notification
from services.notifications.retry import parse_retry_after
from services.notifications.settings import NotificationsSettings, RecipientConfig
from services.notifications.signing import signed_headers
from shared.audit import record_audit
from shared.contracts.notifications import (
    NotificationAbandoned,
    NotificationAttemptFailed,
    NotificationDelivered,
)
from shared.db import Database, is_sqlite
from shared.outbox import Outbox
from shared.service import Runtime
from shared.tables import utcnow
from shared.telemetry import current_traceparent, span_from

log = logging.getLogger("masa.notifications.delivery")

USER_AGENT = "masa-notifications/0.1 (Standard Webhooks)"
# Bytes of a webhook's answer read so its connection is kept alive (a new TCP connection per
# delivery cost more CPU than the rest of the attempt, measured with make bench); an endpoint
# answering more than this loses its connection instead of our time.
ANSWER_READ_LIMIT = 64 * 1024

AUDIT_ACTIONS = {
    "delivered": "delivered",
    "pending": "attempt_failed",
    "abandoned": "abandoned",
    "awaiting_manual": "awaiting_manual",
}
ATTEMPTS = Counter(
    "masa_notification_attempts_total", "Webhook delivery attempts", ["recipient", "outcome"]
)
ATTEMPT_SECONDS = Histogram(
    "masa_notification_attempt_seconds", "Duration of webhook delivery attempts", ["recipient"]
)


# What recording an attempt reads of its notification (Core rows: no ORM objects to build).
_RECORD_COLUMNS = [
    NOTIFICATION_TABLE.c[name]
    for name in (
        "id",
        "attempts",
        "first_attempt_at",
        "status",
        "claim_token",
        "partnership_id",
        "case_id",
        "recipient",
        "due_on",
    )
]
_SET_ATTEMPTS = {
    "attempts": bindparam("b_attempts"),
    "first_attempt_at": bindparam(
        "b_first_attempt_at", type_=NOTIFICATION_TABLE.c.first_attempt_at.type
    ),
    "updated_at": bindparam("b_updated_at", type_=NOTIFICATION_TABLE.c.updated_at.type),
}
# The attempt of a lost lease: counted, the state left to the lease holder.
_COUNT_ATTEMPT = (
    update(NOTIFICATION_TABLE)
    .where(NOTIFICATION_TABLE.c.id == bindparam("b_id"))
    .values(**_SET_ATTEMPTS)
)
_DECIDE = (
    update(NOTIFICATION_TABLE)
    .where(NOTIFICATION_TABLE.c.id == bindparam("b_id"))
    .values(
        **_SET_ATTEMPTS,
        status=bindparam("b_status"),
        last_error=bindparam("b_last_error"),
        next_attempt_at=bindparam(
            "b_next_attempt_at", type_=NOTIFICATION_TABLE.c.next_attempt_at.type
        ),
        delivered_at=bindparam("b_delivered_at", type_=NOTIFICATION_TABLE.c.delivered_at.type),
        claimed_until=None,
        claim_token=None,
    )
)


@dataclass(frozen=True)
class _Recorded:
    """What an attempt's event needs to say about its notification."""

    id: str
    case_id: str | None
    partnership_id: str
    recipient: str
    due_on: date | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class Claim:
    """A notification this worker holds the lease on, with what it needs to deliver it."""

    id: str
    token: str
    recipient: str
    partnership_id: str
    body: dict[str, Any]
    traceparent: str | None


class DeliveryWorker:
    def __init__(self, settings: NotificationsSettings, db: Database, outbox: Outbox) -> None:
        self.settings = settings
        self.db = db
        self.outbox = outbox
        self.policy = settings.retry_policy()
        self.inflight: dict[str, tuple[Claim, asyncio.Task[None]]] = {}
        self._wake = asyncio.Event()
        self._client: httpx.AsyncClient | None = None
        # Finished attempts waiting for the next group commit, and what wakes its writer.
        self._to_record: list[tuple[Claim, AttemptResult, asyncio.Future[Decision | None]]] = []
        self._record_wake = asyncio.Event()
        self._more_due = False  # the last claim left due notifications behind
        # Woken by transactions that queued deliveries, not by every commit with events (its
        # own records emit events too: each would cost an empty claim transaction).
        db.on_commit(DELIVERIES_QUEUED, self.wake)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        s = self.settings
        limits = httpx.Limits(
            max_connections=s.delivery_concurrency, max_keepalive_connections=s.delivery_concurrency
        )
        async with httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(s.attempt_timeout_seconds),
            limits=limits,
            headers={"user-agent": USER_AGENT},
        ) as client:
            self._client = client
            recorder = asyncio.create_task(self._record_loop(), name="delivery-recorder")
            try:
                await self.release_stale_claims()
                while True:
                    self._wake.clear()
                    try:
                        await self.dispatch_due()
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("claiming due notifications failed; will retry")
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(s.delivery_poll_seconds):
                            await self._wake.wait()
            finally:
                await self._shutdown(recorder)
                self._client = None

    async def release_stale_claims(self) -> None:
        """On SQLite (one process by design) every lease at start-up is a dead process's:
        hand them back so a crash costs no wait. On PostgreSQL other instances may be alive,
        so leases there simply lapse."""
        if not is_sqlite(self.db.url):
            return
        async with self.db.transaction() as session:
            await session.exec(
                update(Notification)
                .where(col(Notification.claim_token).is_not(None))
                .values(claimed_until=None, claim_token=None)
            )

    async def dispatch_due(self) -> int:
        """Claim what is due (as many as there are free slots) and start delivering it."""
        free = self.settings.delivery_concurrency - len(self.inflight)
        if free <= 0:
            self._more_due = True  # a finishing delivery wakes the loop
            return 0
        wanted = min(free, self.settings.delivery_batch_size)
        claims = await self.claim(wanted)
        for claim in claims:
            task = asyncio.create_task(self._deliver_logged(claim), name=f"deliver-{claim.id}")
            self.inflight[claim.id] = (claim, task)
            task.add_done_callback(functools.partial(self._finished, claim.id))
        self._more_due = len(claims) == wanted
        if self._more_due:
            self.wake()  # there may be more due than one batch
        return len(claims)

    def _finished(self, notification_id: str, _task: asyncio.Task[None]) -> None:
        self.inflight.pop(notification_id, None)
        # A freed slot matters only if due work was left waiting for one; otherwise every
        # finished delivery would cost an empty claim transaction.
        if self._more_due:
            self.wake()

    async def claim(self, limit: int) -> list[Claim]:
        """Lease up to ``limit`` due webhook notifications, oldest due first."""
        now = utcnow()
        token = str(uuid.uuid4())
        n = NOTIFICATION_TABLE.c
        query = (
            select(n.id, n.recipient, n.partnership_id, n.body, n.traceparent)
            .where(n.status == "pending")
            .where(n.channel == WEBHOOK)
            .where(n.next_attempt_at <= now)
            .where(or_(n.claimed_until.is_(None), n.claimed_until <= now))
            .order_by(n.next_attempt_at, n.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite serialises writers anyway
        )
        if self.inflight:
            query = query.where(n.id.not_in(list(self.inflight)))
        async with self.db.transaction() as session:
            conn = await session.connection()
            rows = (await conn.execute(query)).all()
            if rows:
                await conn.execute(
                    update(NOTIFICATION_TABLE)
                    .where(n.id.in_([r.id for r in rows]))
                    .values(
                        claimed_until=now + timedelta(seconds=self.settings.claim_seconds),
                        claim_token=token,
                    )
                )
        return [
            Claim(
                id=r.id,
                token=token,
                recipient=r.recipient,
                partnership_id=r.partnership_id,
                body=dict(r.body),
                traceparent=r.traceparent,
            )
            for r in rows
        ]

    async def _deliver_logged(self, claim: Claim) -> None:
        try:
            await self.deliver(claim)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The lease runs out and the notification is tried again: nothing is lost.
            log.exception("recording the delivery of %s failed", claim.id)

    async def deliver(self, claim: Claim) -> None:
        """One attempt, inside a span continuing the trace that queued the notification."""
        attributes = {
            "masa.notification.id": claim.id,
            "masa.notification.recipient": claim.recipient,
        }
        with span_from(
            "notification deliver", claim.traceparent, SpanKind.INTERNAL, attributes
        ) as span:
            config = self.settings.recipients.get(claim.recipient)
            if config is None or config.webhook_url is None or config.secret is None:
                await self.record_unreachable(claim)
                return
            result = await self.attempt(claim, config)
            span.set_attribute("http.response.status_code", result.status_code or 0)
            if result.describe():
                span.set_status(Status(StatusCode.ERROR, result.describe()))
            await self.record(claim, result)

    async def attempt(self, claim: Claim, config: RecipientConfig) -> AttemptResult:
        """POST the body once; a total deadline bounds the whole exchange."""
        assert config.webhook_url is not None and config.secret is not None
        assert self._client is not None, "the worker is not running"
        body = encode_body(claim.body)
        started = utcnow()
        headers = signed_headers(config.secret.get_secret_value(), claim.id, body, now=started)
        headers["content-type"] = "application/json"
        # The receiver continues the incident's trace (the httpx instrumentation, when spans
        # are exported, replaces this with its own client span's context).
        traceparent = current_traceparent()
        if traceparent:
            headers["traceparent"] = traceparent
        status_code: int | None = None
        error: str | None = None
        retry_after: float | None = None
        timeout = self.settings.attempt_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                request = self._client.build_request(
                    "POST", str(config.webhook_url), content=body, headers=headers
                )
                response = await self._client.send(request, stream=True)
                try:
                    # Only the status matters, but a connection can be used again only once
                    # the answer's body is read: read a short one, drop a long one.
                    received = 0
                    async for chunk in response.aiter_raw():
                        received += len(chunk)
                        if received > ANSWER_READ_LIMIT:
                            break
                finally:
                    await response.aclose()
            status_code = response.status_code
            retry_after = parse_retry_after(response.headers.get("retry-after"))
        except TimeoutError:
            error = f"no answer within the {timeout:g}s deadline"
        except httpx.TimeoutException as exc:
            error = f"no answer within the {timeout:g}s deadline ({exc.__class__.__name__})"
        except httpx.HTTPError as exc:
            error = f"{exc.__class__.__name__}: {exc}"
        except Exception as exc:  # a bad URL must fail the attempt, not the worker
            error = f"{exc.__class__.__name__}: {exc}"
        return AttemptResult(
            started_at=started,
            finished_at=utcnow(),
            status_code=status_code,
            error=error[:ERROR_MAX] if error else None,
            retry_after_seconds=retry_after,
        )

    async def record(self, claim: Claim, result: AttemptResult) -> Decision | None:
        """Record the attempt in the next group commit; answers once it has committed."""
        done: asyncio.Future[Decision | None] = asyncio.get_running_loop().create_future()
        self._to_record.append((claim, result, done))
        self._record_wake.set()
        return await done

    async def _record_loop(self) -> None:
        """Write finished attempts, all that are waiting, one transaction at a time."""
        while True:
            await self._record_wake.wait()
            # Attempts finish a few milliseconds apart (one incident: three recipients); the
            # receipt is not on anyone's critical path, so let them share a transaction.
            await asyncio.sleep(self.settings.record_linger_seconds)
            self._record_wake.clear()
            batch, self._to_record = self._to_record, []
            if not batch:
                continue
            try:
                decisions = await self._record_batch([(c, r) for c, r, _ in batch])
            except asyncio.CancelledError:
                for _, _, done in batch:
                    done.cancel()
                raise
            except Exception as exc:  # each delivery logs it; the leases run out
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (claim, result, done), decision in zip(batch, decisions, strict=True):
                if not done.done():
                    done.set_result(decision)
                if decision is not None:
                    self._after_record(claim, result, decision)

    async def _record_batch(
        self, batch: list[tuple[Claim, AttemptResult]]
    ) -> list[Decision | None]:
        """Each attempt, its notification's new state, its event and an audit entry, in one
        transaction."""
        decisions: list[Decision | None] = []
        attempts: list[dict[str, Any]] = []
        counted: list[dict[str, Any]] = []
        decided: list[dict[str, Any]] = []
        async with self.db.transaction() as session:
            conn = await session.connection()
            ids = [claim.id for claim, _ in batch]
            query = (
                select(*_RECORD_COLUMNS).where(NOTIFICATION_TABLE.c.id.in_(ids)).with_for_update()
            )
            current = {row.id: row for row in (await conn.execute(query)).all()}
            now = utcnow()
            for claim, result in batch:
                row = current.get(claim.id)
                if row is None:
                    decisions.append(None)
                    continue
                number = row.attempts + 1
                first_attempt_at = row.first_attempt_at or result.started_at
                attempts.append(
                    {
                        "notification_id": row.id,
                        "number": number,
                        "started_at": result.started_at,
                        "finished_at": result.finished_at,
                        "status_code": result.status_code,
                        "error": result.describe(),
                        "duration_ms": result.duration_ms,
                    }
                )
                values = {
                    "b_id": row.id,
                    "b_attempts": number,
                    "b_first_attempt_at": first_attempt_at,
                    "b_updated_at": now,
                }
                if row.status != "pending" or row.claim_token != claim.token:
                    # Our lease ran out and another worker took over: keep the proof of this
                    # attempt, leave the state to the lease holder.
                    log.warning("attempt on %s recorded after its lease was lost", row.id)
                    counted.append(values)
                    decisions.append(None)
                    continue
                decision = decide(
                    result,
                    attempt_number=number,
                    first_attempt_at=first_attempt_at,
                    policy=self.policy,
                )
                delivered_at = result.finished_at if decision.status == "delivered" else None
                decided.append(
                    {
                        **values,
                        "b_status": decision.status,
                        "b_last_error": decision.error,
                        "b_next_attempt_at": decision.next_attempt_at,
                        "b_delivered_at": delivered_at,
                    }
                )
                recorded = _Recorded(
                    id=row.id,
                    case_id=row.case_id,
                    partnership_id=row.partnership_id,
                    recipient=row.recipient,
                    due_on=row.due_on,
                    delivered_at=delivered_at,
                )
                self._emit(session, recorded, decision, number)
                record_audit(
                    session,
                    SERVICE_ACTOR,
                    AUDIT_ACTIONS[decision.status],
                    "notification",
                    row.id,
                    partnership_id=row.partnership_id,
                    detail={
                        "attempt": number,
                        "status_code": result.status_code,
                        "error": decision.error,
                    },
                )
                decisions.append(decision)
            if attempts:
                await conn.execute(ATTEMPT_TABLE.insert(), attempts)
            if counted:
                await conn.execute(_COUNT_ATTEMPT, counted)
            if decided:
                await conn.execute(_DECIDE, decided)
        return decisions

    def _after_record(self, claim: Claim, result: AttemptResult, decision: Decision) -> None:
        ATTEMPTS.labels(claim.recipient, decision.status).inc()
        ATTEMPT_SECONDS.labels(claim.recipient).observe(result.duration_ms / 1000)
        if decision.next_attempt_at is not None:
            wait = (decision.next_attempt_at - utcnow()).total_seconds()
            if wait < self.settings.delivery_poll_seconds:
                asyncio.get_running_loop().call_later(max(0.0, wait), self.wake)

    def _emit(self, session: Any, n: _Recorded, decision: Decision, number: int) -> None:
        common = {
            "notification_id": n.id,
            "case_id": n.case_id or "",  # "" = no case (README, Events)
            "partnership_id": n.partnership_id,
            "recipient": n.recipient,
        }
        if decision.status == "delivered":
            assert n.delivered_at is not None
            self.outbox.emit(
                session,
                NotificationDelivered(
                    **common,
                    delivered_at=n.delivered_at,
                    attempts=number,
                    on_time=on_time(n.delivered_at, n.due_on),
                ),
                partnership_id=n.partnership_id,
                subject=n.id,
            )
            return
        error = decision.error or "failed"
        self.outbox.emit(
            session,
            NotificationAttemptFailed(
                **common,
                attempt=number,
                error=error,
                next_attempt_at=decision.next_attempt_at,
            ),
            partnership_id=n.partnership_id,
            subject=n.id,
        )
        if decision.status == "abandoned":
            self.outbox.emit(
                session,
                NotificationAbandoned(
                    **common,
                    attempts=number,
                    last_error=error,
                ),
                partnership_id=n.partnership_id,
                subject=n.id,
            )

    async def record_unreachable(self, claim: Claim) -> None:
        """The recipient's webhook was removed from the settings: a person must act now."""
        async with self.db.transaction() as session:
            n = await session.get(Notification, claim.id, with_for_update=True)
            if n is None or n.status != "pending" or n.claim_token != claim.token:
                return
            error = f"recipient {n.recipient!r} has no webhook configured any more"
            n.status, n.last_error = "abandoned", error
            n.next_attempt_at = n.claimed_until = n.claim_token = None
            n.updated_at = utcnow()
            session.add(n)
            self.outbox.emit(
                session,
                NotificationAbandoned(
                    notification_id=n.id,
                    case_id=n.case_id or "",
                    partnership_id=n.partnership_id,
                    recipient=n.recipient,
                    attempts=n.attempts,
                    last_error=error,
                ),
                partnership_id=n.partnership_id,
                subject=n.id,
            )
            record_audit(
                session,
                SERVICE_ACTOR,
                "abandoned",
                "notification",
                n.id,
                partnership_id=n.partnership_id,
                detail={"error": error},
            )

    async def _shutdown(self, recorder: asyncio.Task[None]) -> None:
        """Stop in-flight attempts and hand their leases back, so a restart retries at once."""
        claims = [claim for claim, _ in self.inflight.values()]
        tasks = [task for _, task in self.inflight.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        recorder.cancel()
        await asyncio.gather(recorder, return_exceptions=True)
        if not claims:
            return
        try:
            async with self.db.transaction() as session:
                for claim in claims:
                    await session.exec(
                        update(Notification)
                        .where(col(Notification.id) == claim.id)
                        .where(col(Notification.claim_token) == claim.token)
                        .values(claimed_until=None, claim_token=None)
                    )
        except Exception:
            log.warning(
                "could not hand back %d claims; they lapse in %.0fs",
                len(claims),
                self.settings.claim_seconds,
                exc_info=True,
            )


async def delivery_worker(runtime: Runtime) -> None:
    """The ``ServiceSpec.workers`` entry: runs until the service stops."""
    settings = runtime.settings
    if not isinstance(settings, NotificationsSettings):
        raise TypeError("the delivery worker needs NotificationsSettings")
    await DeliveryWorker(settings, runtime.db, runtime.outbox).run()
