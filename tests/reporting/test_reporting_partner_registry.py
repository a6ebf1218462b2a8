"""The partnership view from the partner registry's events: status and its history, councils
covered, delegations, relevant agencies, scrutiny, strategic links, published arrangements and
funding by financial year. Replays change nothing; another partnership's client gets 404 and
an event naming the wrong partnership cannot touch a record."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from services.reporting.readmodel import london_today
from shared.auth import generate_token
from shared.contracts.partners import (
    ClientCredentialIssued,
    ClientSystemRegistered,
    CouncilJoined,
    CouncilLeft,
    DelegationEnded,
    DelegationRecorded,
    PartnershipStatusChanged,
    PartnershipUpdated,
)
from shared.contracts.partners.agencies import (
    RelevantAgencyNamed,
    RelevantAgencyRemoved,
    RelevantAgencyState,
)
from shared.contracts.partners.arrangements import ArrangementsPublished
from shared.contracts.partners.funding import (
    FundingBudgetSet,
    FundingContributionRecorded,
    FundingContributionUpdated,
    FundingContributionWithdrawn,
)
from shared.contracts.partners.scrutiny import (
    ScrutineerRef,
    ScrutinyArrangementRecorded,
    ScrutinyArrangementState,
    StrategicLinkRecorded,
    StrategicLinkState,
)
from shared.events import EventPayload
from shared.processes import EmbeddedBroker
from tests.reporting.lifecycle_feed import LEEDS, WAKEFIELD, resend
from tests.reporting.reporting_feed import (
    PARTNERS,
    Feed,
    bearer,
    new_id,
    partnership_created,
    reporting,
    summary_when,
)
from tests.support.apps import ADMIN

pytestmark = pytest.mark.timeout(90)
D1, D2 = date(2025, 9, 1), date(2025, 12, 1)


def _delegation(pid: str, delegation_id: str, below: bool) -> DelegationRecorded:
    return DelegationRecorded(
        partnership_id=pid,
        delegation_id=delegation_id,
        partner_id=new_id(),
        partner_kind="police",
        delegate_name="A Officer",
        rank="Detective Superintendent",
        levels_below_lead=3 if below else 1,
        below_threshold=below,
        delegated_on=D1,
    )


def _agency(pid: str, agency_id: str) -> RelevantAgencyNamed:
    return RelevantAgencyNamed(
        partnership_id=pid,
        agency=RelevantAgencyState(
            agency_id=agency_id,
            name=f"Agency {agency_id[:4]}",
            category="education",
            heading="Education and childcare",
            reason="works with children",
            education_setting=True,
            youth_custody_or_residential=False,
            designated_health_professionals=False,
            named_on=D1,
            next_review_due=D2,
        ),
    )


def _link(pid: str, linked_to: date | None) -> StrategicLinkRecorded:
    return StrategicLinkRecorded(
        partnership_id=pid,
        link=StrategicLinkState(
            link_id=new_id(),
            name="Health and wellbeing board",
            kind="health_and_wellbeing_board",
            linked_from=D1,
            linked_to=linked_to,
        ),
    )


def _published(pid: str, version: int) -> ArrangementsPublished:
    return ArrangementsPublished(
        partnership_id=pid,
        arrangements_version=version,
        url=f"https://example.org/arrangements-v{version}.pdf",
        published_on=D1 + timedelta(days=version),
        implementation_date=D2,
    )


def _contribution(pid: str, contribution_id: str, money: int, in_kind: int) -> EventPayload:
    return FundingContributionRecorded(
        partnership_id=pid,
        contribution_id=contribution_id,
        year="2025-26",
        contributor_kind="safeguarding_partner",
        contributor_name="West Yorkshire Police",
        money_pence=money,
        in_kind_pence=in_kind,
        decided_unilaterally=False,
        covers_shortfall=False,
    )


async def test_partnership_figures_follow_the_registry_and_ignore_replays(
    database_url: str, broker: EmbeddedBroker
) -> None:
    a, b = new_id(), new_id()
    del1, del2, del3, ag1, ag2 = new_id(), new_id(), new_id(), new_id(), new_id()
    budget, c1, c2 = new_id(), new_id(), new_id()
    client_id = new_id()
    token, token_hash = generate_token()
    async with reporting(database_url, broker) as client, Feed(broker) as feed:

        async def send_a(payload: EventPayload) -> Any:
            return await feed.send(PARTNERS, payload, partnership_id=a)

        await send_a(partnership_created(a, "Partnership A"))
        await feed.send(PARTNERS, partnership_created(b, "Partnership B"), partnership_id=b)
        to_published = await send_a(
            PartnershipStatusChanged(
                partnership_id=a,
                status="published",
                previous_status="drafting_arrangements",
                effective_on=D1,
            )
        )
        await send_a(
            PartnershipStatusChanged(
                partnership_id=a, status="implemented", previous_status="published", effective_on=D2
            )
        )
        leeds_joined = await send_a(CouncilJoined(partnership_id=a, council=LEEDS, joined_on=D1))
        await send_a(CouncilJoined(partnership_id=a, council=WAKEFIELD, joined_on=D1))
        await send_a(CouncilLeft(partnership_id=a, ons_code=LEEDS.ons_code, left_on=D2))
        await send_a(_delegation(a, del1, below=True))
        await send_a(_delegation(a, del2, below=False))
        del3_recorded = await send_a(_delegation(a, del3, below=True))
        await send_a(
            DelegationEnded(partnership_id=a, delegation_id=del3, partner_id=new_id(), ended_on=D2)
        )
        await send_a(_agency(a, ag1))
        ag2_named = await send_a(_agency(a, ag2))
        await send_a(
            RelevantAgencyRemoved(partnership_id=a, agency_id=ag2, removed_on=D2, reason="closed")
        )
        await send_a(
            ScrutinyArrangementRecorded(
                partnership_id=a,
                arrangement=ScrutinyArrangementState(
                    arrangement_id=new_id(),
                    model="independent_scrutineer",
                    scrutineers=[ScrutineerRef(name="J Smith", independence_statement="none")],
                    scope="all",
                    reporting_arrangements="yearly",
                    starts_on=D1,
                ),
            )
        )
        await send_a(_link(a, None))
        await send_a(_link(a, london_today() - timedelta(days=1)))  # ended yesterday
        v1 = await send_a(_published(a, 1))
        await send_a(_published(a, 2))
        first_budget = await send_a(
            FundingBudgetSet(
                partnership_id=a, budget_id=budget, year="2025-26", amount_pence=10_000
            )
        )
        await send_a(
            FundingBudgetSet(
                partnership_id=a,
                budget_id=budget,
                year="2025-26",
                amount_pence=12_000,
                previous_amount_pence=10_000,
            )
        )
        await send_a(
            FundingBudgetSet(
                partnership_id=a, budget_id=new_id(), year="2026-27", amount_pence=9_000
            )
        )
        await send_a(_contribution(a, c1, 5_000, 1_000))
        await send_a(
            FundingContributionUpdated(
                partnership_id=a,
                contribution_id=c1,
                year="2025-26",
                money_pence=6_000,
                in_kind_pence=1_000,
                decided_unilaterally=False,
                covers_shortfall=False,
                changes=["money_pence"],
            )
        )
        c2_recorded = await send_a(_contribution(a, c2, 700, 0))
        await send_a(
            FundingContributionWithdrawn(partnership_id=a, contribution_id=c2, year="2025-26")
        )

        # Replays under new event ids with their original times: none may change a figure.
        for old in (to_published, leeds_joined, del3_recorded, ag2_named, v1, first_budget):
            await resend(feed, PARTNERS, old)
        await resend(feed, PARTNERS, c2_recorded)
        # The wrong partnership naming A's delegation cannot end it.
        await feed.send(
            PARTNERS,
            DelegationEnded(partnership_id=b, delegation_id=del1, partner_id=new_id(), ended_on=D2),
            partnership_id=b,
        )
        # Credentials for B's client; the last event on A's partition is a rename.
        await feed.send(
            PARTNERS,
            ClientSystemRegistered(
                client_id=client_id,
                partnership_id=b,
                name="B system",
                organisation="B Council",
                allowed_event_types=[],
            ),
            partnership_id=b,
        )
        await feed.send(
            PARTNERS,
            ClientCredentialIssued(
                credential_id=new_id(), client_id=client_id, partnership_id=b, token_hash=token_hash
            ),
            partnership_id=b,
        )
        await send_a(PartnershipUpdated(partnership_id=a, changes={"name": "Partnership A (new)"}))

        body = await summary_when(client, a, lambda s: s["name"] == "Partnership A (new)")
        assert (body["status"], body["status_since"]) == ("implemented", D2.isoformat())
        assert [(h["status"], h["effective_on"]) for h in body["status_history"]] == [
            ("published", D1.isoformat()),
            ("implemented", D2.isoformat()),
        ]
        assert [c["ons_code"] for c in body["councils"]] == [WAKEFIELD.ons_code]
        assert body["delegations"] == {"current": 2, "below_threshold": 1}
        assert body["registry"] == {
            "relevant_agencies": 1,
            "scrutiny_arrangements": 1,
            "strategic_links": 1,
        }
        assert body["arrangements"] == {
            "version": 2,
            "url": "https://example.org/arrangements-v2.pdf",
            "published_on": (D1 + timedelta(days=2)).isoformat(),
            "implementation_date": D2.isoformat(),
        }
        assert body["funding"] == [
            {
                "year": "2025-26",
                "budget_pence": 12_000,
                "contributions_money_pence": 6_000,
                "contributions_in_kind_pence": 1_000,
                "contributions_total_pence": 7_000,
            },
            {
                "year": "2026-27",
                "budget_pence": 9_000,
                "contributions_money_pence": 0,
                "contributions_in_kind_pence": 0,
                "contributions_total_pence": 0,
            },
        ]
        listed = (await client.get("/partnerships", headers=ADMIN, params={"limit": 200})).json()
        mine = next(p for p in listed["items"] if p["partnership_id"] == a)
        assert {k: v for k, v in mine.items() if k != "cases"} == {
            k: v for k, v in body.items() if k not in ("cases", "status_history")
        }

        # B's client: its own partnership, with none of A's figures; A answers 404.
        theirs = await summary_when(
            client, b, lambda s: s["name"] == "Partnership B", headers=bearer(token)
        )
        assert theirs["delegations"] == {"current": 0, "below_threshold": 0}
        assert theirs["registry"] == {
            "relevant_agencies": 0,
            "scrutiny_arrangements": 0,
            "strategic_links": 0,
        }
        assert (theirs["arrangements"], theirs["funding"]) == (None, [])
        r = await client.get(f"/partnerships/{a}/summary", headers=bearer(token))
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
        page = (await client.get("/partnerships", headers=bearer(token))).json()
        assert [p["partnership_id"] for p in page["items"]] == [b]
