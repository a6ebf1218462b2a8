"""A case's whole statutory path (domain.md s4), on SQLite and PostgreSQL: rapid review, the
decision, the Panel's answer, the local review with its deadlines, publication, recommendations
and closing; the timeline and the events on reviews.events."""

from __future__ import annotations

from datetime import date

import pytest

from services.reviews.app import create_app
from shared.processes import EmbeddedBroker
from tests.reviews.lifecycle_support import Lifecycle, lifecycle_client, rapid_review_body
from tests.reviews.reviews_support import (
    LEEDS,
    SettableClock,
    at_noon,
    reviews_settings,
    seed_partnership,
)
from tests.support.apps import read_topic, running_app

pytestmark = pytest.mark.timeout(90)
TOPIC = "reviews.events"


async def test_a_case_goes_from_notification_to_closed(
    database_url: str, broker: EmbeddedBroker
) -> None:
    clock = SettableClock(at_noon(date(2026, 12, 21)))
    app = create_app(reviews_settings(database_url, broker), clock=clock)
    async with running_app(app) as http:
        pid = await seed_partnership(app, LEEDS)
        lc = Lifecycle(app, http, clock, pid, await lifecycle_client(app, pid))
        h = lc.client.headers
        case_id = await lc.new_case()

        started = await lc.ok(case_id, "start_rapid_review")
        assert started["status"] == "rapid_review_in_progress"
        assert "submit_rapid_review" in started["allowed"]

        incomplete = await lc.step(case_id, "submit_rapid_review")
        assert incomplete.status_code == 409
        assert set(incomplete.json()["missing"]) == {
            "participants",
            "facts",
            "decision",
            "rationale",
        }

        put = await http.put(f"/cases/{case_id}/rapid-review", json=rapid_review_body(), headers=h)
        assert put.status_code == 201, put.text
        await lc.ok(case_id, "submit_rapid_review")
        rr = (await http.get(f"/cases/{case_id}/rapid-review", headers=h)).json()
        assert rr["sent_to_panel_on"] == "2026-12-21"
        # Once sent to the Panel, the record no longer changes.
        late_edit = await http.patch(
            f"/cases/{case_id}/rapid-review", json={"facts": "changed"}, headers=h
        )
        assert late_edit.status_code == 409

        await lc.ok(case_id, "decide")
        deadlines = {
            d["rule_id"]: d
            for d in (await http.get(f"/cases/{case_id}", headers=h)).json()["deadlines"]
        }
        assert deadlines["LCSPR-6M"]["starts_on"] == "2026-12-21"
        assert deadlines["LCSPR-6M"]["due_on"] == "2027-06-21"  # 6 calendar months

        panel = await http.post(
            f"/cases/{case_id}/panel-response",
            json={"outcome": "agrees", "comments": "Agree a local review."},
            headers=h,
        )
        assert panel.status_code == 201, panel.text
        assert panel.json()["status"] == "panel_responded"

        too_soon = await lc.step(case_id, "close")
        assert too_soon.status_code == 409  # a local review was decided

        await lc.ok(case_id, "commission_local_review")
        not_ready = await lc.step(case_id, "start_local_review")
        assert not_ready.status_code == 409
        assert set(not_ready.json()["missing"]) == {
            "reviewer_name",
            "reviewer_independence_declared",
            "terms_of_reference",
        }
        lr = await http.put(
            f"/cases/{case_id}/local-review",
            json={
                "reviewer_name": "A. Reviewer",
                "reviewer_organisation": "Independent",
                "reviewer_independence_declared": True,
                "reviewer_independence_statement": "No prior role with any agency involved.",
                "terms_of_reference": "The 12 months before the incident.",
                "methodology": "Systems approach",
                "milestones": [{"title": "Practitioner event", "due_on": "2027-02-15"}],
            },
            headers=h,
        )
        assert lr.status_code == 200, lr.text  # the record exists since the decision
        await lc.ok(case_id, "start_local_review")

        no_report = await lc.step(
            case_id, "share_final_report", planned_publication_on="2027-05-20"
        )
        assert no_report.status_code == 409
        draft = await http.post(
            f"/cases/{case_id}/local-review/reports",
            json={"title": "Draft", "text": "Draft text"},
            headers=h,
        )
        final = await http.post(
            f"/cases/{case_id}/local-review/reports",
            json={"title": "Final report", "final": True, "url": "https://example.org/r.pdf"},
            headers=h,
        )
        assert (draft.json()["version"], final.json()["version"]) == (1, 2)

        clock.at = at_noon(date(2027, 5, 4))  # Tuesday after the early May bank holiday
        shared = await lc.ok(case_id, "share_final_report", planned_publication_on="2027-05-20")
        # 7 working days before Thursday 20 May 2027 is Tuesday 11 May.
        assert shared["entry"]["detail"]["due_on"] == "2027-05-11"

        clock.at = at_noon(date(2027, 5, 12))
        early = await lc.step(case_id, "publish", url="https://example.org/published")
        assert early.status_code == 422
        assert early.json()["errors"][0]["field"] == "at"
        assert "2027-05-13" in early.json()["errors"][0]["detail"]

        clock.at = at_noon(date(2027, 5, 20))
        await lc.ok(case_id, "publish", url="https://example.org/published")
        review = (await http.get(f"/cases/{case_id}/local-review", headers=h)).json()
        assert (review["shared_on"], review["published_on"]) == ("2027-05-04", "2027-05-20")
        assert [d["rule_id"] for d in review["deadlines"]] == ["LCSPR-6M", "LCSPR-PRE-PUB-7WD"]

        rec = await http.post(
            f"/cases/{case_id}/recommendations",
            json={"source": "local_review", "text": "Joint health/social care training",
                  "owner_agency": "Leeds ICB", "due_on": "2027-09-30"},
            headers=h,
        )  # fmt: skip
        assert rec.status_code == 201
        rec_id = rec.json()["id"]
        blocked = await lc.step(case_id, "close")
        assert blocked.status_code == 409
        assert blocked.json()["pending_recommendations"] == [rec_id]

        with_action = await http.post(
            f"/cases/{case_id}/recommendations/{rec_id}/actions",
            json={"description": "Run 4 sessions", "owner_agency": "Leeds ICB"},
            headers=h,
        )
        action_id = with_action.json()["actions"][0]["id"]
        done = await http.patch(
            f"/cases/{case_id}/recommendations/{rec_id}/actions/{action_id}",
            json={"status": "done", "evidence": "Attendance records", "signed_off_by": "Chair"},
            headers=h,
        )
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "done"
        assert done.json()["actions"][0]["signed_off_at"] is not None

        closed = await lc.ok(case_id, "close", reason="All learning embedded")
        assert (closed["status"], closed["allowed"]) == ("closed", [])
        after = await lc.step(case_id, "start_rapid_review")
        assert after.status_code == 409
        assert after.json()["allowed"] == []

        timeline = (await http.get(f"/cases/{case_id}/timeline", headers=h)).json()
        steps = [e["transition"] for e in timeline["items"]]
        assert steps == [
            "start_rapid_review",
            "submit_rapid_review",
            "decide",
            "record_panel_response",
            "commission_local_review",
            "start_local_review",
            "share_final_report",
            "publish",
            "close",
        ]
        assert timeline["total"] == 9
        assert timeline["items"][0]["from_status"] == "notified"
        assert timeline["items"][-1]["reason"] == "All learning embedded"
        assert {e["actor"] for e in timeline["items"]} == {f"client:{lc.client.client_id}"}

        events = await read_topic(
            broker.bootstrap_servers,
            TOPIC,
            until=lambda evs: any(
                e.subject == case_id and e.data.get("to_status") == "closed" for e in evs
            ),
        )
        mine = [e for e in events if e.subject == case_id and e.type != "masa.incident.notified.v1"]
        assert all(e.partnershipid == pid for e in mine)
        moves = [e.data["transition"] for e in mine if e.type == "masa.case.transitioned.v1"]
        assert moves == steps
        by_type = {e.type: e.data for e in mine}
        assert by_type["masa.rapid_review.submitted.v1"]["decision"] == "local_review"
        assert by_type["masa.rapid_review.submitted.v1"]["late"] is False
        assert by_type["masa.local_review.decided.v1"]["lcspr_due_on"] == "2027-06-21"
        assert by_type["masa.panel_response.recorded.v1"]["outcome"] == "agrees"
        shared_event = by_type["masa.final_report.shared.v1"]
        assert shared_event["recipients"] == ["panel", "dfe", "ofsted"]
        assert (shared_event["due_on"], shared_event["report_version"]) == ("2027-05-11", 2)
        assert by_type["masa.review.published.v1"]["published_on"] == "2027-05-20"
