"""The lifecycle's rules on their edges (domain.md s4): every transition from the wrong state
is a 409 listing the allowed ones, branches (no rapid review needed, not meeting the criteria,
no local review, the Panel disagreeing or taking the case), late steps need a reason, bad input
is a 422 naming the field with nothing written, and another partnership sees nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
import pytest_asyncio

from services.reviews.app import create_app
from services.reviews.lifecycle.machine import (
    BY_NAME,
    OPEN_STATES,
    TRANSITIONS,
    Decision,
    State,
    allowed_from,
    decision_criteria_errors,
)
from shared.processes import EmbeddedBroker
from tests.reviews.lifecycle_support import Lifecycle, lifecycle_client, rapid_review_body
from tests.reviews.reviews_support import (
    BRADFORD,
    LEEDS,
    SeededClient,
    SettableClock,
    at_noon,
    count_rows,
    reviews_settings,
    seed_client,
    seed_partnership,
)
from tests.support.apps import ADMIN, read_topic, running_app

pytestmark = pytest.mark.timeout(90)
NOTIFIED_AT = at_noon(date(2026, 12, 21))


class World(Lifecycle):
    other: SeededClient  # a client of another partnership (Bradford)


@pytest_asyncio.fixture(scope="module")
async def world(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    url = f"sqlite:///{tmp_path_factory.mktemp('reviews-lifecycle')}/reviews.db"
    clock = SettableClock(NOTIFIED_AT)
    app = create_app(reviews_settings(url, broker), clock=clock)
    async with running_app(app) as http:
        leeds, bradford = await seed_partnership(app, LEEDS), await seed_partnership(app, BRADFORD)
        w = World(app, http, clock, leeds, await lifecycle_client(app, leeds))
        w.other = await lifecycle_client(app, bradford)
        yield w


@pytest.fixture(autouse=True)
def _reset_clock(world: World) -> None:
    world.clock.at = NOTIFIED_AT


# -- the machine as data ----------------------------------------------------------------------


EXPECTED_ALLOWED = {
    "notified": [
        "start_rapid_review",
        "close_no_rapid_review_needed",
        "close_not_meeting_criteria",
    ],
    "rapid_review_in_progress": ["submit_rapid_review", "close_not_meeting_criteria"],
    "rapid_review_submitted": ["decide", "close_not_meeting_criteria"],
    "decided": ["record_panel_response", "close_not_meeting_criteria"],
    "panel_responded": ["commission_local_review", "close", "close_not_meeting_criteria"],
    "local_review_commissioned": ["start_local_review", "close_not_meeting_criteria"],
    "local_review_in_progress": ["share_final_report", "close_not_meeting_criteria"],
    "final_report_shared": ["publish", "withhold_publication", "close_not_meeting_criteria"],
    "published": ["close", "close_not_meeting_criteria"],
    "publication_withheld": ["close", "close_not_meeting_criteria"],
    "closed": [],
}


def test_the_transition_table() -> None:
    assert {s.value: allowed_from(s.value) for s in State} == EXPECTED_ALLOWED
    assert len(BY_NAME) == len(TRANSITIONS)
    assert BY_NAME["close_not_meeting_criteria"].sources == OPEN_STATES
    assert {t.name for t in TRANSITIONS if t.reason_required} == {
        "withhold_publication",
        "close_not_meeting_criteria",
    }


@pytest.mark.parametrize(
    ("decision", "criteria", "ok"),
    [
        (Decision.local_review, ["reg11.recurrent_themes"], True),
        (Decision.local_review, ["reg3.recurrent_themes"], False),  # reg 3 is not reg 11
        (Decision.local_review, [], False),
        (Decision.national_review_recommended, ["reg3.law_or_guidance_change"], True),
        (Decision.national_review_recommended, ["reg11.improvements_needed"], False),
        (Decision.no_local_review, [], True),
        (None, ["reg11.nope"], False),
    ],
)
def test_decisions_cite_their_regulations_criteria(
    decision: Decision | None, criteria: list[str], ok: bool
) -> None:
    assert (decision_criteria_errors(decision, criteria) == []) is ok


async def test_the_lifecycle_is_served_as_data(world: World) -> None:
    body = (await world.http.get("/case-lifecycle", headers=world.client.headers)).json()
    assert body["states"] == list(EXPECTED_ALLOWED)
    assert {c["code"].split(".")[0] for c in body["criteria"]} == {"reg11", "reg3"}
    submit = next(t for t in body["transitions"] if t["name"] == "submit_rapid_review")
    assert submit["event"] == "masa.rapid_review.submitted.v1"


# -- illegal transitions and bad input --------------------------------------------------------


@pytest.mark.parametrize(
    "transition", [t.name for t in TRANSITIONS if t.name not in EXPECTED_ALLOWED["notified"]]
)
async def test_a_transition_from_the_wrong_state_is_409(world: World, transition: str) -> None:
    case_id = await world.new_case()
    response = await world.step(case_id, transition, reason="because")
    assert response.status_code == 409
    assert response.json()["allowed"] == EXPECTED_ALLOWED["notified"]
    assert response.json()["status"] == "notified"
    assert await world.status(case_id) == "notified"


async def test_illegal_from_the_middle_and_from_closed(world: World) -> None:
    case_id = await world.new_case()
    await world.to_decided(case_id)
    again = await world.step(case_id, "decide")
    assert again.status_code == 409
    assert again.json()["allowed"] == EXPECTED_ALLOWED["decided"]
    await world.ok(case_id, "close_not_meeting_criteria", reason="Not abuse or neglect")
    for name in ("record_panel_response", "close_not_meeting_criteria"):
        closed = await world.step(case_id, name, reason="x")
        assert (closed.status_code, closed.json()["allowed"]) == (409, [])


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"transition": "fly_to_the_moon"}, "transition"),
        ({"transition": ""}, "transition"),
        ({"transition": "start_rapid_review", "colour": "blue"}, "colour"),
        ({"transition": "start_rapid_review", "at": "2027-01-01T12:00:00Z"}, "at"),
        ({"transition": "start_rapid_review", "at": "2026-12-20T12:00:00Z"}, "at"),
        ({"transition": "start_rapid_review", "at": "2026-12-21T12:00:00"}, "at"),  # naive
        ({"transition": "close_not_meeting_criteria"}, "reason"),
        ({}, "transition"),
    ],
)
async def test_bad_transition_requests_are_422_and_write_nothing(
    world: World, payload: dict[str, object], field: str
) -> None:
    case_id = await world.new_case()
    before = await count_rows(world.app, "case_timeline")
    response = await world.http.post(
        f"/cases/{case_id}/transitions", json=payload, headers=world.client.headers
    )
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}
    assert await count_rows(world.app, "case_timeline") == before
    assert await world.status(case_id) == "notified"


async def test_a_step_payload_is_checked_against_its_own_model(world: World) -> None:
    case_id = await world.new_case()
    await world.to_local_review_in_progress(case_id)
    await world.http.post(
        f"/cases/{case_id}/local-review/reports",
        json={"title": "Final", "final": True, "text": "..."},
        headers=world.client.headers,
    )
    missing = await world.step(case_id, "share_final_report")
    bad = await world.step(case_id, "share_final_report", planned_publication_on="soon")
    past = await world.step(case_id, "share_final_report", planned_publication_on="2026-12-01")
    for response in (missing, bad, past):
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "planned_publication_on"
    assert await world.status(case_id) == "local_review_in_progress"


# -- branches ---------------------------------------------------------------------------------


async def test_a_notification_needing_no_rapid_review_closes_directly(world: World) -> None:
    lac = await world.new_case(
        kind="looked_after_child_death",
        nature="death",
        abuse_or_neglect_known_or_suspected=False,
        children=[{"reference": "LCC-C-0099", "age_years": 15, "looked_after": True}],
    )
    closed = await world.ok(lac, "close_no_rapid_review_needed")
    assert closed["status"] == "closed"
    serious = await world.new_case()
    refused = await world.step(serious, "close_no_rapid_review_needed")
    assert refused.status_code == 409
    assert "close_not_meeting_criteria" in refused.json()["allowed"]


async def test_a_case_not_meeting_the_criteria_closes_with_a_reason(world: World) -> None:
    case_id = await world.new_case()
    await world.ok(case_id, "start_rapid_review")
    closed = await world.ok(case_id, "close_not_meeting_criteria", reason="Accidental injury")
    assert closed["entry"]["reason"] == "Accidental injury"
    assert closed["entry"]["from_status"] == "rapid_review_in_progress"


async def test_no_local_review_closes_after_the_panel_answers(world: World) -> None:
    case_id = await world.new_case()
    await world.to_panel_responded(case_id, decision="no_local_review", outcome="agrees")
    refused = await world.step(case_id, "commission_local_review")
    assert refused.status_code == 409
    assert (await world.ok(case_id, "close"))["status"] == "closed"
    case = (await world.http.get(f"/cases/{case_id}", headers=world.client.headers)).json()
    assert "LCSPR-6M" not in {d["rule_id"] for d in case["deadlines"]}


async def test_the_panel_disagreeing_lets_partners_commission_a_local_review(
    world: World,
) -> None:
    case_id = await world.new_case()
    await world.to_panel_responded(case_id, decision="no_local_review", outcome="disagrees")
    world.clock.at = at_noon(date(2027, 1, 29))
    await world.ok(case_id, "commission_local_review")
    review = (
        await world.http.get(f"/cases/{case_id}/local-review", headers=world.client.headers)
    ).json()
    assert review["deadlines"] == [
        {"rule_id": "LCSPR-6M", "starts_on": "2027-01-29", "due_on": "2027-07-29",
         "edition": "WT2023"}
    ]  # fmt: skip


async def test_the_panel_taking_the_case_opens_a_national_review(world: World) -> None:
    case_id = await world.new_case()
    await world.to_decided(case_id, decision="national_review_recommended")
    bad = await world.http.post(
        f"/cases/{case_id}/panel-response", json={"outcome": "maybe"}, headers=world.client.headers
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "outcome"
    response = await world.http.post(
        f"/cases/{case_id}/panel-response",
        json={"outcome": "national_review", "national_review_title": "Infant deaths"},
        headers=world.client.headers,
    )
    assert response.status_code == 201, response.text
    review_id = response.json()["national_review_id"]
    mine = await world.http.get(f"/national-reviews/{review_id}", headers=world.client.headers)
    assert (mine.json()["kind"], mine.json()["case_ids"]) == ("case", [case_id])
    theirs = await world.http.get(f"/national-reviews/{review_id}", headers=world.other.headers)
    assert theirs.status_code == 404
    again = await world.http.post(
        f"/cases/{case_id}/panel-response", json={"outcome": "agrees"}, headers=world.client.headers
    )
    assert again.status_code == 409
    unnamed = await world.http.post(
        f"/cases/{case_id}/recommendations",
        json={"source": "national_review", "text": "x", "owner_agency": "DfE"},
        headers=world.client.headers,
    )
    assert unnamed.status_code == 422
    assert unnamed.json()["errors"][0]["field"] == "national_review_id"
    named = await world.http.post(
        f"/cases/{case_id}/recommendations",
        json={"source": "national_review", "text": "x", "owner_agency": "DfE",
              "national_review_id": review_id},
        headers=world.client.headers,
    )  # fmt: skip
    assert named.status_code == 201


async def test_thematic_national_reviews_span_partnerships(world: World) -> None:
    a_case = await world.new_case()
    b_case = await world.new_case(headers=world.other.headers, council_ons_code=BRADFORD)
    body = {"title": "Adolescents and criminal exploitation", "case_ids": [a_case, b_case]}
    forbidden = await world.http.post("/national-reviews", json=body, headers=world.client.headers)
    assert forbidden.status_code == 403
    unknown = await world.http.post(
        "/national-reviews", json={**body, "case_ids": ["nope", a_case]}, headers=ADMIN
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "case_ids.0"
    created = await world.http.post("/national-reviews", json=body, headers=ADMIN)
    assert created.status_code == 201
    review_id = created.json()["id"]
    seen_by_a = await world.http.get(f"/national-reviews/{review_id}", headers=world.client.headers)
    assert seen_by_a.json()["case_ids"] == [a_case]  # never another partnership's case
    listed = await world.http.get(
        "/national-reviews", params={"kind": "thematic", "limit": 1}, headers=world.other.headers
    )
    assert listed.json()["total"] >= 1 and len(listed.json()["items"]) == 1


async def test_withholding_publication_needs_a_reason_and_is_announced(
    world: World, broker: EmbeddedBroker
) -> None:
    case_id = await world.new_case()
    await world.to_final_report_shared(case_id, planned="2027-01-20")
    no_reason = await world.step(case_id, "withhold_publication")
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    await world.ok(
        case_id,
        "withhold_publication",
        reason="Publication would identify the siblings",
        improvements_url="https://example.org/improvements",
    )
    review = (
        await world.http.get(f"/cases/{case_id}/local-review", headers=world.client.headers)
    ).json()
    assert review["withheld_reason"] == "Publication would identify the siblings"
    assert (await world.ok(case_id, "close"))["status"] == "closed"
    events = await read_topic(
        broker.bootstrap_servers,
        "reviews.events",
        until=lambda evs: any(
            e.subject == case_id and e.type == "masa.review_withholding.recorded.v1" for e in evs
        ),
    )
    (withheld,) = [e for e in events if e.type == "masa.review_withholding.recorded.v1"
                   and e.subject == case_id]  # fmt: skip
    assert withheld.data["improvements_url"] == "https://example.org/improvements"


# -- late steps need a reason -----------------------------------------------------------------


async def test_a_rapid_review_sent_after_rr_15wd_needs_a_late_reason(world: World) -> None:
    case_id = await world.new_case()
    await world.ok(case_id, "start_rapid_review")
    await world.http.put(
        f"/cases/{case_id}/rapid-review", json=rapid_review_body(), headers=world.client.headers
    )
    case = (await world.http.get(f"/cases/{case_id}", headers=world.client.headers)).json()
    due = date.fromisoformat(
        next(d for d in case["deadlines"] if d["rule_id"] == "RR-15WD")["due_on"]
    )
    world.clock.at = at_noon(due)  # on the due day: in time
    on_time = await world.step(case_id, "submit_rapid_review", at=at_noon(due).isoformat())
    assert on_time.status_code == 200
    assert on_time.json()["entry"]["detail"]["late"] is False

    world.clock.at = NOTIFIED_AT
    late_case = await world.new_case()
    await world.ok(late_case, "start_rapid_review")
    await world.http.put(
        f"/cases/{late_case}/rapid-review", json=rapid_review_body(), headers=world.client.headers
    )
    world.clock.at = at_noon(due + timedelta(days=1))
    late = await world.step(late_case, "submit_rapid_review")
    assert late.status_code == 422 and late.json()["errors"][0]["field"] == "late_reason"
    explained = await world.ok(late_case, "submit_rapid_review", late_reason="Police disclosure")
    assert explained["entry"]["detail"] == {
        "sent_to_panel_on": (due + timedelta(days=1)).isoformat(),
        "late": True,
        "late_reason": "Police disclosure",
    }


async def test_a_report_shared_under_7_working_days_before_publication_is_late(
    world: World,
) -> None:
    case_id = await world.new_case()
    await world.to_local_review_in_progress(case_id)
    await world.http.post(
        f"/cases/{case_id}/local-review/reports",
        json={"title": "Final", "final": True, "text": "..."},
        headers=world.client.headers,
    )
    # 7 working days before Thursday 31 Dec 2026 (skipping 25 and 28 Dec) is Friday 18 Dec;
    # before Monday 4 January 2027 (skipping 1 Jan too) it is Monday 21 Dec, sharing day.
    late = await world.step(case_id, "share_final_report", planned_publication_on="2026-12-31")
    assert late.status_code == 422 and late.json()["errors"][0]["field"] == "late_reason"
    on_time = await world.ok(case_id, "share_final_report", planned_publication_on="2027-01-04")
    assert on_time["entry"]["detail"]["due_on"] == "2026-12-21"


# -- rapid review, local review and report records --------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"criteria": ["reg99.anything"]}, "criteria.0"),
        ({"criteria": []}, "criteria"),  # a local review decision cites reg 11
        ({"rationale": None}, "rationale"),
        ({"decision": "shrug"}, "decision"),
        ({"participants": [{"agency": ""}]}, "participants.0.agency"),
        ({"child_name": "Jane"}, "child_name"),
    ],
)
async def test_bad_rapid_reviews_are_422_and_write_nothing(
    world: World, changes: dict[str, object], field: str
) -> None:
    case_id = await world.new_case()
    response = await world.http.put(
        f"/cases/{case_id}/rapid-review",
        json=rapid_review_body(**changes),
        headers=world.client.headers,
    )
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}
    got = await world.http.get(f"/cases/{case_id}/rapid-review", headers=world.client.headers)
    assert got.status_code == 404


async def test_patch_changes_only_the_fields_sent(world: World) -> None:
    case_id = await world.new_case()
    url = f"/cases/{case_id}/rapid-review"
    await world.http.put(url, json=rapid_review_body(), headers=world.client.headers)
    patched = await world.http.patch(
        url, json={"learning": ["Escalation"]}, headers=world.client.headers
    )
    assert patched.status_code == 200
    assert patched.json()["learning"] == ["Escalation"]
    assert patched.json()["decision"] == "local_review"
    bad = await world.http.patch(
        url, json={"decision": "no_local_review", "criteria": ["reg3.nope"]},
        headers=world.client.headers,
    )  # fmt: skip
    assert bad.status_code == 422
    assert (await world.http.get(url, headers=world.client.headers)).json()["decision"] == (
        "local_review"
    )


async def test_local_review_and_report_bad_input(world: World) -> None:
    case_id = await world.new_case()
    too_early = await world.http.put(
        f"/cases/{case_id}/local-review", json={}, headers=world.client.headers
    )
    assert too_early.status_code == 409
    await world.to_panel_responded(case_id)
    await world.ok(case_id, "commission_local_review")
    for body, field in (
        ({"reviewer_independence_declared": True}, "reviewer_name"),
        ({"milestones": [{"title": "x"}]}, "milestones.0.due_on"),
    ):
        response = await world.http.put(
            f"/cases/{case_id}/local-review", json=body, headers=world.client.headers
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field
    for body, field in (
        ({"title": "No content"}, "text"),
        ({"title": "x", "url": "not a url"}, "url"),
        ({"url": "https://example.org"}, "title"),
    ):
        response = await world.http.post(
            f"/cases/{case_id}/local-review/reports", json=body, headers=world.client.headers
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field
    listed = await world.http.get(
        f"/cases/{case_id}/local-review/reports", headers=world.client.headers
    )
    assert listed.json()["total"] == 0


# -- recommendations and actions --------------------------------------------------------------


async def test_recommendations_paginate_filter_and_withdraw(world: World) -> None:
    case_id = await world.new_case()
    base = f"/cases/{case_id}/recommendations"
    h = world.client.headers
    for body, field in (
        ({"source": "gossip", "text": "x", "owner_agency": "LCC"}, "source"),
        ({"source": "rapid_review", "text": "x"}, "owner_agency"),
        ({"source": "rapid_review", "text": "", "owner_agency": "LCC"}, "text"),
    ):
        bad = await world.http.post(base, json=body, headers=h)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == field
    ids = []
    for i in range(3):
        created = await world.http.post(
            base,
            json={"source": "rapid_review", "text": f"R{i}", "owner_agency": f"Agency {i}"},
            headers=h,
        )
        ids.append(created.json()["id"])
    page = (await world.http.get(base, params={"limit": 2, "offset": 1}, headers=h)).json()
    assert ([r["id"] for r in page["items"]], page["total"]) == (ids[1:], 3)

    action = (
        await world.http.post(
            f"{base}/{ids[0]}/actions",
            json={"description": "Audit", "owner_agency": "Agency 0"},
            headers=h,
        )
    ).json()["actions"][0]
    not_signed = await world.http.patch(
        f"{base}/{ids[0]}/actions/{action['id']}", json={"status": "done"}, headers=h
    )
    assert not_signed.status_code == 422
    assert {e["field"] for e in not_signed.json()["errors"]} == {"evidence", "signed_off_by"}
    await world.http.patch(
        f"{base}/{ids[0]}/actions/{action['id']}",
        json={"status": "done", "evidence": "Audit report", "signed_off_by": "Board"},
        headers=h,
    )
    withdrawn = await world.http.patch(
        f"{base}/{ids[1]}", json={"withdrawn_reason": "Superseded by R2"}, headers=h
    )
    assert withdrawn.json()["status"] == "withdrawn"
    by_status = {}
    for st in ("open", "done", "withdrawn"):
        listed = await world.http.get(base, params={"status": st}, headers=h)
        by_status[st] = [r["id"] for r in listed.json()["items"]]
    assert by_status == {"open": [ids[2]], "done": [ids[0]], "withdrawn": [ids[1]]}
    agency = await world.http.get(base, params={"owner_agency": "Agency 2"}, headers=h)
    assert [r["id"] for r in agency.json()["items"]] == [ids[2]]
    frozen = await world.http.patch(f"{base}/{ids[1]}", json={"text": "again"}, headers=h)
    assert frozen.status_code == 409
    bad_filter = await world.http.get(base, params={"status": "finished", "limit": 0}, headers=h)
    assert {e["field"] for e in bad_filter.json()["errors"]} == {"query.status", "query.limit"}


# -- who may do what --------------------------------------------------------------------------


async def test_a_client_needs_the_grant_for_a_statutory_step(world: World) -> None:
    case_id = await world.new_case()
    narrow = await seed_client(world.app, world.partnership_id, allowed=("case.transitioned",))
    await world.ok(case_id, "start_rapid_review")
    await world.http.put(
        f"/cases/{case_id}/rapid-review", json=rapid_review_body(), headers=narrow.headers
    )
    refused = await world.step(case_id, "submit_rapid_review", headers=narrow.headers)
    assert refused.status_code == 403
    assert await world.status(case_id) == "rapid_review_in_progress"


async def test_another_partnership_sees_and_changes_nothing(world: World) -> None:
    case_id = await world.new_case()
    await world.to_local_review_in_progress(case_id)
    rec = await world.http.post(
        f"/cases/{case_id}/recommendations",
        json={"source": "local_review", "text": "x", "owner_agency": "LCC"},
        headers=world.client.headers,
    )
    rec_id = rec.json()["id"]
    action_id = (
        await world.http.post(
            f"/cases/{case_id}/recommendations/{rec_id}/actions",
            json={"description": "y", "owner_agency": "LCC"},
            headers=world.client.headers,
        )
    ).json()["actions"][0]["id"]
    c = f"/cases/{case_id}"
    o = world.other.headers
    responses = [
        await world.http.post(
            f"{c}/transitions", json={"transition": "share_final_report"}, headers=o
        ),
        await world.http.get(f"{c}/timeline", headers=o),
        await world.http.get(f"{c}/rapid-review", headers=o),
        await world.http.put(f"{c}/rapid-review", json=rapid_review_body(), headers=o),
        await world.http.patch(f"{c}/rapid-review", json={"facts": "x"}, headers=o),
        await world.http.get(f"{c}/panel-response", headers=o),
        await world.http.post(f"{c}/panel-response", json={"outcome": "agrees"}, headers=o),
        await world.http.get(f"{c}/local-review", headers=o),
        await world.http.put(f"{c}/local-review", json={}, headers=o),
        await world.http.patch(f"{c}/local-review", json={}, headers=o),
        await world.http.get(f"{c}/local-review/reports", headers=o),
        await world.http.post(
            f"{c}/local-review/reports", json={"title": "t", "text": "x"}, headers=o
        ),
        await world.http.get(f"{c}/recommendations", headers=o),
        await world.http.post(
            f"{c}/recommendations",
            json={"source": "local_review", "text": "x", "owner_agency": "B"},
            headers=o,
        ),
        await world.http.get(f"{c}/recommendations/{rec_id}", headers=o),
        await world.http.patch(f"{c}/recommendations/{rec_id}", json={"text": "z"}, headers=o),
        await world.http.post(
            f"{c}/recommendations/{rec_id}/actions",
            json={"description": "d", "owner_agency": "B"},
            headers=o,
        ),
        await world.http.patch(
            f"{c}/recommendations/{rec_id}/actions/{action_id}",
            json={"status": "in_progress"},
            headers=o,
        ),
    ]
    assert [r.status_code for r in responses] == [404] * len(responses)
    assert {r.json()["detail"] for r in responses} == {"Case not found."}
    assert await world.status(case_id) == "local_review_in_progress"
    mine = await world.http.get(f"{c}/recommendations/{rec_id}", headers=world.client.headers)
    assert mine.json()["text"] == "x" and mine.json()["actions"][0]["status"] == "open"
    admin = await world.http.get(f"{c}/timeline", headers=ADMIN)
    assert admin.status_code == 200


async def test_reads_and_writes_are_audited(world: World) -> None:
    case_id = await world.new_case()
    before = await count_rows(world.app, "audit_entry")
    await world.ok(case_id, "start_rapid_review")
    await world.http.get(f"/cases/{case_id}/timeline", headers=world.client.headers)
    assert await count_rows(world.app, "audit_entry") == before + 2
