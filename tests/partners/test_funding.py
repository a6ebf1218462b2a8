"""Funding over HTTP and its rules at their edges (domain.md section 3): financial years
(31 March / 1 April), proportionate shares (tolerance edge), unilateral flat amounts, the
council covering the shortfall, bad input, isolation and events."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select

from services.partners.app import create_app
from services.partners.funding.models import FundingContribution
from services.partners.funding.rules import (
    financial_year_of,
    flat_amount_across_partnerships,
    parse_financial_year,
    proportionate_shares,
    year_bounds,
)
from services.partners.settings import PartnersSettings
from shared.processes import EmbeddedBroker
from shared.tables import AuditEntry, OutboxEvent
from tests.support.apps import ADMIN, read_topic, running_app

pytestmark = pytest.mark.timeout(90)

# --- rules, pure --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "year"),
    [
        (date(2026, 3, 31), "2025-26"),
        (date(2026, 4, 1), "2026-27"),
        (date(2025, 4, 1), "2025-26"),
        (date(2025, 3, 31), "2024-25"),
        (date(1999, 12, 31), "1999-00"),
    ],
)
def test_financial_year_turns_on_1_april(day: date, year: str) -> None:
    assert financial_year_of(day) == year
    first, last = year_bounds(year)
    assert first <= day <= last


@pytest.mark.parametrize("bad", ["2025-27", "2025/26", "25-26", "2025-2026", "2025-25"])
def test_malformed_financial_years_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_financial_year(bad)


def test_year_bounds_are_1_april_to_31_march() -> None:
    assert year_bounds("2025-26") == (date(2025, 4, 1), date(2026, 3, 31))


@pytest.mark.parametrize(("c_paid", "flagged"), [(75, False), (74, True)])
def test_below_share_at_the_tolerance_edge(c_paid: int, flagged: bool) -> None:
    """Equal thirds of 300: a share of 100; with 25% tolerance 75 is fine, 74 is flagged."""
    paid = {"a": 300 - 105 - c_paid, "b": 105, "c": c_paid}
    shares = {
        s.partner_id: s
        for s in proportionate_shares("equal_thirds", ["a", "b", "c"], {}, paid, Decimal("0.25"))
    }
    assert shares["c"].expected_pence == 100
    assert shares["c"].below_share is flagged
    assert not shares["b"].below_share


def test_child_population_basis_weights_the_share() -> None:
    weights = {"a": Decimal(20000), "b": Decimal(10000), "c": Decimal(10000)}
    shares = {
        s.partner_id: s
        for s in proportionate_shares(
            "child_population", ["a", "b", "c"], weights, {"a": 200, "b": 200, "c": 200}, Decimal(0)
        )
    }
    assert shares["a"].expected_pence == 300
    assert shares["a"].below_share and not shares["b"].below_share
    assert shares["b"].above_share


@pytest.mark.parametrize(
    ("amounts", "populations", "flagged"),
    [
        ({"p1": 500_000, "p2": 500_000, "p3": 500_000}, {"p1": 10_000, "p2": 20_000}, True),
        ({"p1": 500_000, "p2": 500_000, "p3": 500_000}, {"p1": 10_000, "p2": 19_999}, False),
        ({"p1": 500_000, "p2": 500_000, "p3": 400_000}, {"p1": 10_000, "p2": 90_000}, False),
        ({"p1": 500_000, "p2": 500_000, "p3": 500_000}, {"p1": 10_000}, False),
    ],
)
def test_flat_amount_across_partnerships_of_different_size(
    amounts: dict[str, int], populations: dict[str, int | None], flagged: bool
) -> None:
    finding = flat_amount_across_partnerships(500_000, amounts, populations)
    assert (finding is not None) is flagged


# --- over HTTP ----------------------------------------------------------------------------


def _partnership_body() -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    return {
        "name": f"Funding Test Partnership {tag}",
        "councils": [{"name": "Test Council", "ons_code": f"E06{random.randint(0, 999999):06d}"}],
        "partners": [
            {"kind": "local_authority", "organisation": f"Council {tag}", "lead_role": "CEO"},
            {"kind": "health_board", "organisation": f"NHS ICB {tag}", "lead_role": "CEO"},
            {"kind": "police", "organisation": f"Police {tag}", "lead_role": "Chief Constable"},
        ],
    }


@pytest.fixture
async def partners(
    database_url: str, broker: EmbeddedBroker
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = create_app(
        PartnersSettings(
            database_url=database_url,
            environment="test",
            kafka_bootstrap_servers=broker.bootstrap_servers,
        )
    )
    async with running_app(app) as client:
        yield client, app.state.runtime


async def new_partnership(client: httpx.AsyncClient) -> tuple[str, dict[str, str], dict[str, str]]:
    """A partnership, its partners by kind, and the headers of its own client system."""
    created = await client.post("/partnerships", json=_partnership_body(), headers=ADMIN)
    assert created.status_code == 201, created.text
    body = created.json()
    system = await client.post(
        f"/partnerships/{body['id']}/client-systems",
        json={"name": "Finance system", "organisation": "Council", "allowed_event_types": ["x"]},
        headers=ADMIN,
    )
    assert system.status_code == 201, system.text
    token = system.json()["credential"]["token"]
    kinds = {p["kind"]: p["id"] for p in body["partners"]}
    return body["id"], kinds, {"Authorization": f"Bearer {token}"}


async def count(runtime: Any, model: Any) -> int:
    async with runtime.db.read() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


def partner(pid: str, money: int, **extra: Any) -> dict[str, Any]:
    return {
        "year": "2025-26",
        "contributor": {"kind": "statutory_partner", "partner_id": pid},
        "money_pence": money,
        **extra,
    }


async def test_analysis_shows_shares_shortfall_and_flags(partners: Any, broker: Any) -> None:
    client, _ = partners
    pid, kinds, own = await new_partnership(client)
    base = f"/partnerships/{pid}/funding"
    budget = await client.post(
        f"{base}/budgets", json={"year": "2025-26", "amount_pence": 20_000_000}, headers=own
    )
    assert budget.status_code == 201, budget.text
    bodies = [
        partner(kinds["local_authority"], 9_000_000, covers_shortfall=True),
        partner(
            kinds["health_board"],
            4_000_000,
            in_kind=[{"description": "Office space", "estimated_value_pence": 1_000_000}],
        ),
        partner(kinds["police"], 1_000_000, decided_unilaterally=True),
        {
            "contributed_on": "2026-03-31",
            "contributor": {"kind": "relevant_agency", "agency_id": "ag-1", "name": "Cafcass"},
            "money_pence": 500_000,
        },
    ]
    ids = []
    for body in bodies:
        response = await client.post(f"{base}/contributions", json=body, headers=own)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    assert response.json()["year"] == "2025-26"  # from 31 March 2026

    analysis = await client.get(f"{base}/2025-26/analysis", headers=own)
    assert analysis.status_code == 200, analysis.text
    doc = analysis.json()
    assert doc["total_pence"] == 15_500_000
    assert doc["in_kind_pence"] == 1_000_000
    assert doc["budget_pence"] == 20_000_000
    assert doc["balance_pence"] == -4_500_000 and doc["position"] == "shortfall"
    by_partner = {c["partner_id"]: c for c in doc["contributors"] if c["partner_id"]}
    assert by_partner[kinds["health_board"]]["total_pence"] == 5_000_000
    assert Decimal(by_partner[kinds["police"]]["expected_share"]) == Decimal("0.3333")
    assert any(c["name"] == "Cafcass" for c in doc["contributors"])
    flags = {(f["code"], f["partner_id"]) for f in doc["flags"]}
    assert ("below_proportionate_share", kinds["police"]) in flags
    assert ("decided_unilaterally", kinds["police"]) in flags
    assert ("council_covers_shortfall", kinds["local_authority"]) in flags
    assert ("below_proportionate_share", kinds["health_board"]) not in flags

    events = await read_topic(
        broker.bootstrap_servers,
        "partners.events",
        until=lambda evs: (
            sum(
                e.partnershipid == pid and e.type == "masa.funding_contribution.recorded.v1"
                for e in evs
            )
            == 4
        ),
    )
    types = [e.type for e in events if e.partnershipid == pid]
    assert types.count("masa.funding_contribution.recorded.v1") == 4
    assert "masa.funding_budget.set.v1" in types
    recorded = next(e for e in events if e.subject == ids[0])
    assert recorded.data["money_pence"] == 9_000_000


async def test_a_balanced_year_within_tolerance_has_no_flags(partners: Any) -> None:
    client, _ = partners
    pid, kinds, own = await new_partnership(client)
    base = f"/partnerships/{pid}/funding"
    await client.post(f"{base}/budgets", json={"year": "2025-26", "amount_pence": 300}, headers=own)
    for kind, money in (("local_authority", 121), ("health_board", 104), ("police", 75)):
        r = await client.post(
            f"{base}/contributions", json=partner(kinds[kind], money), headers=own
        )
        assert r.status_code == 201, r.text
    doc = (await client.get(f"{base}/2025-26/analysis", headers=own)).json()
    assert doc["position"] == "balanced"
    assert doc["flags"] == []
    # Settings change the tolerance: at 10%, 75 of 100 is far below, and the council's 121
    # (over 110) looks like it covers the gap.
    patched = await client.patch(f"{base}/settings", json={"tolerance": "0.10"}, headers=own)
    assert patched.status_code == 200, patched.text
    doc = (await client.get(f"{base}/2025-26/analysis", headers=own)).json()
    assert sorted((f["code"], f["partner_id"]) for f in doc["flags"]) == [
        ("below_proportionate_share", kinds["police"]),
        ("council_covers_shortfall", kinds["local_authority"]),
    ]


async def test_child_population_basis_and_flat_amounts_across_partnerships(partners: Any) -> None:
    client, _ = partners
    name = f"Regional Police {uuid.uuid4().hex[:6]}"
    populations = [20_000, 45_000, 90_000]
    pids = []
    for population in populations:
        pid, kinds, own = await new_partnership(client)
        pids.append(pid)
        weights = {kinds[k]: population for k in ("local_authority", "health_board", "police")}
        settings = await client.patch(
            f"/partnerships/{pid}/funding/settings",
            json={"basis": "child_population", "weights": weights},
            headers=own,
        )
        assert settings.status_code == 200, settings.text
        r = await client.post(
            f"/partnerships/{pid}/funding/contributions",
            json={"year": "2025-26", "contributor": {"kind": "other", "name": name},
                  "money_pence": 500_000},
            headers=own,
        )  # fmt: skip
        assert r.status_code == 201, r.text
    doc = (
        await client.get(f"/partnerships/{pids[0]}/funding/2025-26/analysis", headers=ADMIN)
    ).json()
    flat = [f for f in doc["flags"] if f["code"] == "flat_amount_across_partnerships"]
    assert len(flat) == 1 and flat[0]["contributor"] == name
    assert "20000" in flat[0]["detail"] and "90000" in flat[0]["detail"]
    for other in pids[1:]:
        assert other not in flat[0]["detail"]  # other partnerships stay unnamed


async def test_settings_need_weights_for_every_partner(partners: Any) -> None:
    client, runtime = partners
    pid, kinds, own = await new_partnership(client)
    before = await count(runtime, OutboxEvent)
    r = await client.patch(
        f"/partnerships/{pid}/funding/settings",
        json={"basis": "custom", "weights": {kinds["police"]: 1}},
        headers=own,
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "weights"
    r = await client.patch(
        f"/partnerships/{pid}/funding/settings", json={"weights": {"stranger": 1}}, headers=own
    )
    assert r.status_code == 422
    r = await client.patch(
        f"/partnerships/{pid}/funding/settings", json={"tolerance": 1}, headers=own
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "tolerance"
    assert await count(runtime, OutboxEvent) == before
    assert (await client.get(f"/partnerships/{pid}/funding/settings", headers=own)).json()[
        "basis"
    ] == "equal_thirds"


BAD_CONTRIBUTIONS: list[tuple[dict[str, Any], str]] = [
    ({"year": "2025-27"}, "year"),
    ({"year": "2025/26"}, "year"),
    ({"contributed_on": "2026-04-01"}, "contributed_on"),  # 1 April is next year
    ({"money_pence": -1}, "money_pence"),
    ({"money_pence": 0}, "money_pence"),
    (
        {"contributor": {"kind": "statutory_partner", "partner_id": "nobody"}},
        "contributor.partner_id",
    ),
    ({"contributor": {"kind": "other"}}, "contributor.name"),
    ({"contributor": {"kind": "donor", "name": "X Ltd"}}, "contributor.kind"),
    ({"in_kind": [{"description": "Room"}]}, "in_kind.0.estimated_value_pence"),
    ({"surprise": 1}, "surprise"),
]


async def test_bad_contributions_are_refused_naming_the_field(partners: Any) -> None:
    """One app for every case (each is a separate request; nothing may be written)."""
    client, runtime = partners
    pid, kinds, own = await new_partnership(client)
    url = f"/partnerships/{pid}/funding/contributions"
    before = (await count(runtime, FundingContribution), await count(runtime, OutboxEvent))
    for change, field in BAD_CONTRIBUTIONS:
        body = {**partner(kinds["police"], 1000), **change}
        r = await client.post(url, json=body, headers=own)
        assert r.status_code == 422, (change, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in r.json()["errors"]], (change, r.json())
    after = (await count(runtime, FundingContribution), await count(runtime, OutboxEvent))
    assert after == before
    # Without a year, the date decides it: 1 April 2026 is in 2026-27.
    body = {k: v for k, v in partner(kinds["police"], 1000).items() if k != "year"}
    ok = await client.post(url, json={**body, "contributed_on": "2026-04-01"}, headers=own)
    assert ok.status_code == 201, ok.text
    assert ok.json()["year"] == "2026-27"


async def test_31_march_is_the_last_day_of_the_year(partners: Any) -> None:
    client, _ = partners
    pid, kinds, own = await new_partnership(client)
    ok = await client.post(
        f"/partnerships/{pid}/funding/contributions",
        json=partner(kinds["police"], 1000, contributed_on="2026-03-31"),
        headers=own,
    )
    assert ok.status_code == 201, ok.text
    bad_year = await client.get(f"/partnerships/{pid}/funding/2025-2026/analysis", headers=own)
    assert bad_year.status_code == 422
    assert bad_year.json()["errors"][0]["field"] in {"year", "path.year"}


async def test_patch_withdraw_list_and_audit(partners: Any, broker: Any) -> None:
    client, runtime = partners
    pid, kinds, own = await new_partnership(client)
    base = f"/partnerships/{pid}/funding/contributions"
    made = [
        (await client.post(base, json=partner(kinds[k], 1000 * (i + 1)), headers=own)).json()
        for i, k in enumerate(["local_authority", "health_board", "police"])
    ]
    patched = await client.patch(
        f"{base}/{made[0]['id']}",
        json={"money_pence": 5000, "note": "Agreed at board"},
        headers=own,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["money_pence"] == 5000 and patched.json()["year"] == "2025-26"
    moved = await client.patch(
        f"{base}/{made[0]['id']}", json={"contributed_on": "2026-04-01"}, headers=own
    )
    assert moved.json()["year"] == "2026-27"
    bad = await client.patch(f"{base}/{made[0]['id']}", json={"money_pence": "lots"}, headers=own)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "money_pence"

    assert (await client.delete(f"{base}/{made[1]['id']}", headers=own)).status_code == 204
    again = await client.patch(f"{base}/{made[1]['id']}", json={"money_pence": 1}, headers=own)
    assert again.status_code == 409

    page = (await client.get(base, params={"year": "2025-26", "limit": 1}, headers=own)).json()
    assert page["total"] == 1 and len(page["items"]) == 1  # withdrawn one left out
    every = (await client.get(base, params={"include_withdrawn": "true"}, headers=own)).json()
    assert every["total"] == 3
    police = (await client.get(base, params={"partner_id": kinds["police"]}, headers=own)).json()
    assert [c["id"] for c in police["items"]] == [made[2]["id"]]
    assert (await client.get(base, params={"year": "x"}, headers=own)).status_code == 422

    async with runtime.db.read() as session:
        actions = (
            await session.exec(
                select(AuditEntry.action).where(AuditEntry.entity_id == made[0]["id"])
            )
        ).all()
    assert sorted(actions) == ["create", "update", "update"]
    events = await read_topic(
        broker.bootstrap_servers,
        "partners.events",
        until=lambda evs: any(e.type == "masa.funding_contribution.withdrawn.v1"
                              and e.subject == made[1]["id"] for e in evs),
    )  # fmt: skip
    updates = [e for e in events if e.subject == made[0]["id"] and "updated" in e.type]
    assert updates[0].data["changes"] == ["money_pence", "note"]


async def test_budgets_are_one_per_year_and_patched(partners: Any) -> None:
    client, _ = partners
    pid, _, own = await new_partnership(client)
    base = f"/partnerships/{pid}/funding/budgets"
    for year in ("2024-25", "2025-26"):
        r = await client.post(base, json={"year": year, "amount_pence": 100}, headers=own)
        assert r.status_code == 201, r.text
    clash = await client.post(base, json={"year": "2025-26", "amount_pence": 5}, headers=own)
    assert clash.status_code == 409
    bad = await client.post(base, json={"year": "2025-25", "amount_pence": 5}, headers=own)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "year"
    patched = await client.patch(f"{base}/2025-26", json={"amount_pence": 250}, headers=own)
    assert patched.status_code == 200 and patched.json()["amount_pence"] == 250
    assert (await client.get(f"{base}/2025-26", headers=own)).json()["amount_pence"] == 250
    assert (await client.get(f"{base}/2030-31", headers=own)).status_code == 404
    page = (await client.get(base, params={"limit": 1, "offset": 1}, headers=own)).json()
    assert page["total"] == 2 and [b["year"] for b in page["items"]] == ["2025-26"]


async def test_another_partnerships_client_gets_404(partners: Any) -> None:
    client, runtime = partners
    pid, kinds, own = await new_partnership(client)
    _, _, stranger = await new_partnership(client)
    made = await client.post(
        f"/partnerships/{pid}/funding/contributions", json=partner(kinds["police"], 10), headers=own
    )
    cid = made.json()["id"]
    before = await count(runtime, FundingContribution)
    base = f"/partnerships/{pid}/funding"
    for method, path, body in [
        ("GET", f"{base}/contributions", None),
        ("GET", f"{base}/contributions/{cid}", None),
        ("PATCH", f"{base}/contributions/{cid}", {"money_pence": 1}),
        ("DELETE", f"{base}/contributions/{cid}", None),
        ("POST", f"{base}/contributions", partner(kinds["police"], 10)),
        ("GET", f"{base}/2025-26/analysis", None),
        ("GET", f"{base}/settings", None),
        ("PATCH", f"{base}/settings", {"tolerance": "0.1"}),
        ("GET", f"{base}/budgets", None),
        ("POST", f"{base}/budgets", {"year": "2025-26", "amount_pence": 1}),
    ]:
        r = await client.request(method, path, json=body, headers=stranger)
        assert r.status_code == 404, (method, path, r.status_code)
    assert await count(runtime, FundingContribution) == before
    missing = await client.get("/partnerships/nope/funding/2025-26/analysis", headers=ADMIN)
    assert missing.status_code == 404
    # A contribution id of this partnership under another partnership's path: 404 as well.
    other_pid, _, _ = await new_partnership(client)
    crossed = await client.get(
        f"/partnerships/{other_pid}/funding/contributions/{cid}", headers=ADMIN
    )
    assert crossed.status_code == 404
