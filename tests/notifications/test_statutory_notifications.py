"""Statutory notifications after the incident (domain.md sections 2 and 4): ARR-DFE from
``arrangements.published`` (no case), RR-15WD from ``rapid_review.submitted``,
LCSPR-PRE-PUB-7WD from ``final_report.shared`` and LCSPR-6M from ``review.published``.

The service runs in-process on SQLite and PostgreSQL with a real broker and a real receiver
process. Each test configures its own recipient codes (``rule_recipients``); a fresh consumer
group reads the topics from the beginning, so earlier tests' events are notified to those codes
too, and every check filters on its own partnership (or notification ids).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from services.notifications.domain import (
    encode_body,
    notification_id,
    subject_notification_id,
)
from services.notifications.signing import verify
from shared.contracts.partners.arrangements import ArrangementsPublished
from shared.contracts.reviews.lifecycle import (
    FinalReportShared,
    RapidReviewSubmitted,
    ReviewPublished,
)
from shared.events import CloudEvent, EventPayload, make_event
from shared.processes import EmbeddedBroker
from tests.notifications.notifications_support import (
    NOTIFICATIONS_TOPIC,
    code,
    detail,
    make_settings,
    notifications_app,
    produce,
    webhooks,
)
from tests.notifications.test_notifications_api import bearer, credential_events
from tests.support.apps import ADMIN, eventually, read_topic
from tests.support.receiver_process import ReceiverHandle, run_receiver

pytestmark = pytest.mark.timeout(90)

PARTNERS_TOPIC = "partners.events"
REVIEWS_TOPIC = "reviews.events"


@pytest.fixture(scope="module")
def receiver() -> Iterator[ReceiverHandle]:
    with run_receiver() as running:
        yield running


def event_of(payload: EventPayload, source: str, partnership_id: str, subject: str) -> CloudEvent:
    """A fresh event (new id) for the payload: producing it twice is a replay."""
    return make_event(payload, source=source, partnership_id=partnership_id, subject=subject)


def arrangements(partnership_id: str, version: int = 3) -> ArrangementsPublished:
    return ArrangementsPublished(
        partnership_id=partnership_id,
        arrangements_version=version,
        url=f"https://example.org/{partnership_id}/arrangements-v{version}.pdf",
        published_on=date(2026, 4, 1),
        implementation_date=date(2026, 7, 1),
        supersedes_version=version - 1,
    )


def arrangements_event(payload: ArrangementsPublished) -> CloudEvent:
    return event_of(payload, "partners", payload.partnership_id, payload.partnership_id)


async def listed(
    client: httpx.AsyncClient,
    params: dict[str, str],
    count: int,
    *,
    where: Callable[[dict[str, Any]], bool] = lambda item: True,
    settled: bool = False,
    within: float = 30.0,
) -> list[dict[str, Any]]:
    """Wait until the list (as the admin) has ``count`` items ``where`` holds; ``settled``:
    none of them pending."""

    async def check() -> list[dict[str, Any]] | None:
        response = await client.get(
            "/notifications", headers=ADMIN, params={**params, "limit": "200"}
        )
        items: list[dict[str, Any]] = [i for i in response.json()["items"] if where(i)]
        if len(items) != count:
            return None
        if settled and any(i["status"] == "pending" for i in items):
            return None
        return items

    result: list[dict[str, Any]] = await eventually(check, timeout=within)
    return result


async def queued_events(broker: EmbeddedBroker, ids: set[str], at_least: int) -> list[CloudEvent]:
    """The ``notification.queued`` events about these notifications."""

    def ours(events: list[CloudEvent]) -> list[CloudEvent]:
        return [e for e in events if e.type.endswith("notification.queued.v1") and e.subject in ids]

    events = await read_topic(
        broker.bootstrap_servers,
        NOTIFICATIONS_TOPIC,
        until=lambda evs: len(ours(evs)) >= at_least,
    )
    return ours(events)


async def assert_signed_delivery(
    client: httpx.AsyncClient, receiver: ReceiverHandle, recipient: str, n: dict[str, Any]
) -> dict[str, Any]:
    """The receiver holds one accepted, correctly signed delivery of exactly the stored body."""
    received = [d for d in await receiver.adeliveries(recipient) if d["webhook_id"] == n["id"]]
    assert [d["outcome"] for d in received] == ["accepted"]
    full = await detail(client, n["id"])
    delivery = received[0]
    assert delivery["body"] == full["body"]
    # Re-check the signature here too: over the stored body's exact bytes, with the secret.
    verify(
        receiver.secret_for(recipient),
        delivery["headers"],
        encode_body(full["body"]),
        tolerance_seconds=None,
    )
    assert [a["status_code"] for a in full["attempt_log"]] == [200]
    return full


def test_case_ids_are_unchanged_and_other_subjects_cannot_collide_with_a_case() -> None:
    assert subject_notification_id("case", "c-1", "SIN-5WD", "panel") == notification_id(
        "c-1", "SIN-5WD", "panel"
    )
    arrangements_id = subject_notification_id("arrangements", "p-1/v3", "ARR-DFE", "dfe")
    assert arrangements_id == subject_notification_id("arrangements", "p-1/v3", "ARR-DFE", "dfe")
    assert arrangements_id != notification_id("p-1/v3", "ARR-DFE", "dfe")
    assert arrangements_id != subject_notification_id("arrangements", "p-1/v4", "ARR-DFE", "dfe")


async def test_published_arrangements_tell_dfe_the_link_once_per_version(
    database_url: str, broker: EmbeddedBroker, receiver: ReceiverHandle
) -> None:
    dfe = code("dfe")
    partnership = f"p-{uuid.uuid4()}"
    published = arrangements(partnership)
    settings = make_settings(
        database_url, broker, webhooks(receiver, dfe), rule_recipients={"ARR-DFE": [dfe]}
    )
    async with notifications_app(settings) as client:
        await produce(broker.bootstrap_servers, arrangements_event(published), topic=PARTNERS_TOPIC)

        def ours(item: dict[str, Any]) -> bool:
            return bool(item["partnership_id"] == partnership)

        [n] = await listed(client, {"recipient": dfe}, 1, where=ours, settled=True)
        assert n["status"] == "delivered" and n["channel"] == "webhook"
        assert (n["subject_kind"], n["subject_id"]) == ("arrangements", f"{partnership}/v3")
        assert n["case_id"] is None and n["partnership_id"] == partnership
        assert n["rule_id"] == "ARR-DFE" and n["due_on"] is None
        full = await assert_signed_delivery(client, receiver, dfe, n)
        body = full["body"]
        assert (body["type"], body["version"]) == ("arrangements.published", 1)
        assert body["data"]["notification_id"] == n["id"] and body["data"]["recipient"] == dfe
        assert body["data"]["rule_id"] == "ARR-DFE"
        assert body["data"]["arrangements"] == {
            "partnership_id": partnership,
            "arrangements_version": 3,
            "url": published.url,
            "published_on": "2026-04-01",
            "implementation_date": "2026-07-01",
            "supersedes_version": 2,
        }
        [queued] = await queued_events(broker, {n["id"]}, 1)
        assert queued.data["rule_id"] == "ARR-DFE" and queued.data["case_id"] == ""
        assert queued.partnershipid == partnership

        # The same publication again (new event id), then a republication: one more, not two.
        # Same partnership = same partition: once v4 is queued, the replay was handled.
        await produce(
            broker.bootstrap_servers,
            arrangements_event(published),
            arrangements_event(arrangements(partnership, version=4)),
            topic=PARTNERS_TOPIC,
        )
        items = await listed(client, {"recipient": dfe}, 2, where=ours, settled=True)
        assert sorted(i["subject_id"] for i in items) == [f"{partnership}/v3", f"{partnership}/v4"]
        assert len([d for d in await receiver.adeliveries(dfe) if d["webhook_id"] == n["id"]]) == 1
        assert len(await queued_events(broker, {i["id"] for i in items}, 2)) == 2


async def test_case_steps_notify_the_panel_dfe_and_ofsted(
    database_url: str, broker: EmbeddedBroker, receiver: ReceiverHandle
) -> None:
    panel, dfe, ofsted = code("panel"), code("dfe"), code("ofsted")
    partnership, case_id = f"p-{uuid.uuid4()}", f"case-{uuid.uuid4()}"
    # The Panel has a webhook; Ofsted is configured without one; DfE is not configured at all:
    # both of those are the manual channel.
    recipients = {**webhooks(receiver, panel), ofsted: {"name": "Ofsted"}}
    settings = make_settings(
        database_url,
        broker,
        recipients,
        rule_recipients={"RR-15WD": [panel], "LCSPR-6M": [panel]},
    )
    rapid = RapidReviewSubmitted(
        case_id=case_id,
        partnership_id=partnership,
        sent_to_panel_on=date(2026, 3, 20),
        decision="local_review",
        criteria=["improvements_needed"],
        due_on=date(2026, 3, 23),
    )
    report = FinalReportShared(
        case_id=case_id,
        partnership_id=partnership,
        shared_on=date(2026, 8, 3),
        planned_publication_on=date(2026, 8, 20),
        due_on=date(2026, 8, 11),
        recipients=[panel, dfe, ofsted],
        report_version=2,
    )
    published = ReviewPublished(
        case_id=case_id,
        partnership_id=partnership,
        published_on=date(2026, 8, 20),
        url="https://example.org/lcspr/child-a.pdf",
        lcspr_due_on=date(2026, 9, 1),
    )
    steps = [rapid, report, published]

    def events() -> list[CloudEvent]:
        return [event_of(p, "reviews", partnership, case_id) for p in steps]

    async with notifications_app(settings) as client:
        await produce(broker.bootstrap_servers, *events(), topic=REVIEWS_TOPIC)
        items = await listed(client, {"case_id": case_id}, 5, settled=True)
        by_key = {(i["rule_id"], i["recipient"]): i for i in items}
        assert set(by_key) == {
            ("RR-15WD", panel),
            ("LCSPR-PRE-PUB-7WD", panel),
            ("LCSPR-PRE-PUB-7WD", dfe),
            ("LCSPR-PRE-PUB-7WD", ofsted),
            ("LCSPR-6M", panel),
        }
        assert all(i["subject_kind"] == "case" and i["subject_id"] == case_id for i in items)
        # The due date each event gives, under its rule.
        assert by_key["RR-15WD", panel]["due_on"] == "2026-03-23"
        assert by_key["LCSPR-PRE-PUB-7WD", dfe]["due_on"] == "2026-08-11"
        assert by_key["LCSPR-6M", panel]["due_on"] == "2026-09-01"
        # Unknown or webhook-less recipients wait for a person; the Panel is sent webhooks.
        for recipient in (dfe, ofsted):
            n = by_key["LCSPR-PRE-PUB-7WD", recipient]
            assert (n["channel"], n["status"], n["attempts"]) == ("manual", "awaiting_manual", 0)
        assert by_key["LCSPR-PRE-PUB-7WD", ofsted]["recipient_name"] == "Ofsted"
        assert by_key["LCSPR-PRE-PUB-7WD", dfe]["recipient_name"] == dfe
        assert not await receiver.adeliveries(dfe) and not await receiver.adeliveries(ofsted)

        bodies = {}
        for rule in ("RR-15WD", "LCSPR-PRE-PUB-7WD", "LCSPR-6M"):
            n = by_key[rule, panel]
            assert (n["channel"], n["status"]) == ("webhook", "delivered")
            body = (await assert_signed_delivery(client, receiver, panel, n))["body"]
            assert body["version"] == 1 and body["data"]["rule_id"] == rule
            assert body["data"]["case"] == {"case_id": case_id, "partnership_id": partnership}
            bodies[rule] = body
        assert bodies["RR-15WD"]["type"] == "rapid_review.submitted"
        assert bodies["RR-15WD"]["data"]["rapid_review"] == {
            "sent_to_panel_on": "2026-03-20",
            "decision": "local_review",
            "criteria": ["improvements_needed"],
            "late": False,
        }
        assert bodies["LCSPR-PRE-PUB-7WD"]["type"] == "final_report.shared"
        assert bodies["LCSPR-PRE-PUB-7WD"]["data"]["final_report"] == {
            "report_version": 2,
            "shared_on": "2026-08-03",
            "planned_publication_on": "2026-08-20",
            "late": False,
        }
        assert bodies["LCSPR-6M"]["type"] == "review.published"
        assert bodies["LCSPR-6M"]["data"]["publication"] == {
            "published_on": "2026-08-20",
            "url": "https://example.org/lcspr/child-a.pdf",
            "late": False,
        }
        manual = await detail(client, by_key["LCSPR-PRE-PUB-7WD", dfe]["id"])
        assert manual["body"]["data"]["final_report"]["report_version"] == 2
        assert manual["attempt_log"] == []

        # Every step again under new event ids, then a sentinel step of another case of the
        # partnership (same partition): once it is queued, the replays were handled.
        sentinel = RapidReviewSubmitted(**{**rapid.model_dump(), "case_id": f"case-{uuid.uuid4()}"})
        await produce(
            broker.bootstrap_servers,
            *events(),
            event_of(sentinel, "reviews", partnership, sentinel.case_id),
            topic=REVIEWS_TOPIC,
        )
        [last] = await listed(client, {"case_id": sentinel.case_id}, 1, settled=True)
        again = await listed(client, {"case_id": case_id}, 5)
        assert {i["id"] for i in again} == {i["id"] for i in items}
        assert len(await queued_events(broker, {i["id"] for i in items}, 5)) == 5
        ids = {i["id"] for i in items} | {last["id"]}
        accepted = [
            d["webhook_id"]
            for d in await receiver.adeliveries(panel)
            if d["outcome"] == "accepted" and d["webhook_id"] in ids
        ]
        assert len(accepted) == 4  # three steps of the case and the sentinel's, once each


async def test_a_client_lists_only_its_own_partnerships_statutory_notifications(
    database_url: str, broker: EmbeddedBroker
) -> None:
    dfe, panel = code("dfe"), code("panel")
    ours, theirs = f"p-{uuid.uuid4()}", f"p-{uuid.uuid4()}"
    token, _, partner_events = credential_events(ours)
    settings = make_settings(
        database_url, broker, {}, rule_recipients={"ARR-DFE": [dfe], "RR-15WD": [panel]}
    )
    their_case = RapidReviewSubmitted(
        case_id=f"case-{uuid.uuid4()}",
        partnership_id=theirs,
        sent_to_panel_on=date(2026, 3, 20),
        decision="no_local_review",
        criteria=[],
    )
    async with notifications_app(settings) as client:
        await produce(
            broker.bootstrap_servers,
            *partner_events,
            arrangements_event(arrangements(ours)),
            arrangements_event(arrangements(theirs)),
            topic=PARTNERS_TOPIC,
        )
        await produce(
            broker.bootstrap_servers,
            event_of(their_case, "reviews", theirs, their_case.case_id),
            topic=REVIEWS_TOPIC,
        )
        all_dfe = await listed(
            client, {"recipient": dfe}, 2, where=lambda i: i["partnership_id"] in (ours, theirs)
        )
        [their_review] = await listed(client, {"case_id": their_case.case_id}, 1)
        assert their_review["rule_id"] == "RR-15WD" and their_review["due_on"] is None
        mine = next(i for i in all_dfe if i["partnership_id"] == ours)
        other = next(i for i in all_dfe if i["partnership_id"] == theirs)

        async def authenticated() -> httpx.Response | None:
            response = await client.get("/notifications", headers=bearer(token))
            return response if response.status_code == 200 else None

        page = (await eventually(authenticated)).json()
        assert [i["id"] for i in page["items"]] == [mine["id"]] and page["total"] == 1
        assert page["items"][0]["subject_kind"] == "arrangements"
        own = await client.get(f"/notifications/{mine['id']}", headers=bearer(token))
        assert own.status_code == 200
        assert own.json()["body"]["data"]["arrangements"]["partnership_id"] == ours
        for hidden_id in (other["id"], their_review["id"]):
            hidden = await client.get(f"/notifications/{hidden_id}", headers=bearer(token))
            assert hidden.status_code == 404
            assert hidden.headers["content-type"].startswith("application/problem+json")
        by_kind = await client.get(
            "/notifications", headers=bearer(token), params={"subject_kind": "case"}
        )
        assert by_kind.json()["total"] == 0
        bad_kind = await client.get(
            "/notifications", headers=bearer(token), params={"subject_kind": "planet"}
        )
        assert bad_kind.status_code == 422
