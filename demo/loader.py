"""Load the demo into running services over HTTP, as partnership staff (the admin token) and
the councils' case systems (their own tokens) would. Running it again finds the demo already
there and changes nothing."""

from __future__ import annotations

import argparse
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from demo import data
from demo.cases import advance_cases
from demo.http import DemoError, ok
from demo.records import load_records
from shared.settings import DEV_ADMIN_TOKEN


@dataclass
class Loaded:
    """What the demo created (printed for the person who ran it)."""

    partnerships: dict[str, str] = field(default_factory=dict)  # label -> id
    tokens: dict[str, str] = field(default_factory=dict)  # label -> case-system token
    cases: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    already_loaded: bool = False


def wait_ready(client: httpx.Client, urls: dict[str, str], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    for name, url in urls.items():
        while True:
            try:
                if client.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise DemoError(f"{name} at {url} is not ready")
            time.sleep(0.3)


def load(
    urls: dict[str, str], admin_token: str = DEV_ADMIN_TOKEN, today: date | None = None
) -> Loaded:
    """Create the demo partnerships and cases unless they exist already."""
    today = today or date.today()
    admin = {"Authorization": f"Bearer {admin_token}"}
    loaded = Loaded()
    with httpx.Client(timeout=30, headers=admin) as client:
        wait_ready(client, urls)
        partners = urls["partners"]
        existing = ok(
            client.get(f"{partners}/partnerships", params={"name": "(demo)"}), "list partnerships"
        )
        if existing["total"]:
            loaded.already_loaded = True
            loaded.partnerships = {p["name"]: p["id"] for p in existing["items"]}
            return loaded
        created = {
            "single": _partnership(client, partners, data.SINGLE, data.SINGLE_GEOGRAPHY),
            "regional": _partnership(client, partners, data.REGIONAL, data.REGIONAL_GEOGRAPHY),
        }
        for label, p in created.items():
            loaded.partnerships[p["name"]] = p["id"]
            _delegations(client, partners, p, data.DELEGATIONS[label])
            analysis = load_records(client, partners, p, regional=label == "regional")
            flags = sorted({f["code"] for f in analysis.get("flags", [])})
            loaded.notes.append(f"{p['name']}: funding {analysis['year']} flags: {flags or 'none'}")
            loaded.tokens[p["name"]] = _case_system(client, partners, p)
        if "reviews" in urls:
            _cases(client, urls["reviews"], created, loaded, today)
            loaded.notes.extend(advance_cases(client, urls["reviews"], loaded.cases))
    return loaded


def _partnership(
    client: httpx.Client, partners: str, body: dict[str, Any], geography: str
) -> dict[str, Any]:
    p: dict[str, Any] = ok(client.post(f"{partners}/partnerships", json=body), "partnership")
    ok(client.patch(f"{partners}/partnerships/{p['id']}", json={"geography": geography}), "patch")
    for status, on in (("published", "2019-06-28"), ("implemented", "2019-09-29")):
        ok(
            client.post(
                f"{partners}/partnerships/{p['id']}/status",
                json={"status": status, "effective_on": on},
            ),
            f"status {status}",
        )
    return p


def _delegations(
    client: httpx.Client,
    partners: str,
    p: dict[str, Any],
    delegations: list[tuple[str, str, str, str]],
) -> None:
    for kind, name, rank, accountable_to in delegations:
        partner = next(x for x in p["partners"] if x["kind"] == kind)
        ok(
            client.post(
                f"{partners}/partnerships/{p['id']}/partners/{partner['id']}/delegations",
                json={
                    "delegate_name": name,
                    "delegate_role": rank.replace("_", " ").capitalize(),
                    "rank": rank,
                    "scope": "Represents the partner at the executive; agrees policy, "
                    "resources and practice on its behalf",
                    "accountable_to": accountable_to,
                    "delegated_on": "2023-12-15",
                },
            ),
            f"delegation {name}",
        )


def _case_system(client: httpx.Client, partners: str, p: dict[str, Any]) -> str:
    system = ok(
        client.post(
            f"{partners}/partnerships/{p['id']}/client-systems",
            json={
                "name": f"Children's case system ({p['councils'][0]['name']})",
                "organisation": p["councils"][0]["name"],
                "allowed_event_types": ["incident.notified"],
            },
        ),
        "client system",
    )
    token: str = system["credential"]["token"]
    return token


def _incident(council: str, aware_on: date, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_reference": f"DEMO-{uuid.uuid4().hex[:10]}",
        "council_ons_code": council,
        "kind": "death_or_serious_harm",
        "nature": "serious_harm",
        "abuse_or_neglect_known_or_suspected": True,
        "incident_date": str(aware_on - timedelta(days=2)),
        "aware_on": str(aware_on),
        "location": "Family home",
        "children": [
            {
                "reference": f"DEMO-C-{uuid.uuid4().hex[:6]}",
                "age_years": 4,
                "sex": "male",
                "ethnicity": "mixed",
                "disability": False,
                "looked_after": False,
                "child_in_need_plan": True,
                "child_protection_plan": False,
                "known_to_agencies": True,
            }
        ],
    }
    body.update(changes)
    return body


def _cases(
    client: httpx.Client,
    reviews: str,
    created: dict[str, dict[str, Any]],
    loaded: Loaded,
    today: date,
) -> None:
    """Serious incident notifications of various ages: some recent, some whose statutory
    deadlines have passed (overdue)."""
    plan: list[tuple[str, str, date, dict[str, Any]]] = [
        ("single", "E08000035", today - timedelta(days=1), {}),
        ("single", "E08000035", today - timedelta(days=40), {}),  # rapid review overdue
        ("regional", "E08000032", today - timedelta(days=3), {"nature": "death"}),
        ("regional", "E08000034", today - timedelta(days=60), {}),
        (
            "regional",
            "E08000033",
            today - timedelta(days=10),
            {
                "kind": "looked_after_child_death",
                "nature": "death",
                "abuse_or_neglect_known_or_suspected": False,
                "children": [
                    {
                        "reference": "DEMO-C-LAC01",
                        "age_years": 15,
                        "sex": "female",
                        "looked_after": True,
                        "known_to_agencies": True,
                    }
                ],
            },
        ),
    ]
    for label, council, aware_on, changes in plan:
        p = created[label]
        headers = {"Authorization": f"Bearer {loaded.tokens[p['name']]}"}
        body = _incident(council, aware_on, **changes)
        deadline = time.monotonic() + 30
        while True:  # the partnership and token reach reviews through partners.events
            response = client.post(f"{reviews}/incidents", json=body, headers=headers)
            if response.status_code in (200, 201) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        case = ok(response, f"incident in {council}")
        loaded.cases.append(case["case_id"])


def describe(loaded: Loaded) -> str:
    if loaded.already_loaded:
        return "Demo data already loaded: " + ", ".join(loaded.partnerships) + "."
    lines = ["Demo data loaded:"]
    for name, pid in loaded.partnerships.items():
        lines.append(f"  {name}: {pid}")
        if name in loaded.tokens:
            lines.append(f"    case-system token (shown once): {loaded.tokens[name]}")
    lines.append(f"  {len(loaded.cases)} serious incident notifications (some overdue)")
    lines.extend(f"  {note}" for note in loaded.notes)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partners", default="http://127.0.0.1:8001")
    parser.add_argument("--reviews", default="http://127.0.0.1:8002")
    parser.add_argument("--admin-token", default=DEV_ADMIN_TOKEN)
    args = parser.parse_args()
    print(describe(load({"partners": args.partners, "reviews": args.reviews}, args.admin_token)))
