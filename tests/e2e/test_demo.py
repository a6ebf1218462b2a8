"""``make demo``: the loader fills real services with the demo over HTTP, once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from demo.loader import load
from shared.stack import Stack, free_service_ports
from tests.e2e.e2e_support import PLATFORM_ENV, bytecode_cache_env
from tests.support.apps import ADMIN

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def stack(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    pycache = tmp_path_factory.getbasetemp() / "e2e-pycache"
    with Stack(
        tmp_path / "data",
        services=("partners", "reviews"),
        ports=free_service_ports(),
        env={**PLATFORM_ENV, **bytecode_cache_env(pycache)},
        wait_ready=True,
        start_timeout=120.0,
    ) as running:
        yield running


def test_the_demo_loads_once(stack: Stack) -> None:
    today = date.today()
    loaded = load(stack.urls, today=today)
    assert not loaded.already_loaded
    assert len(loaded.partnerships) == 2 and len(loaded.cases) == 5
    partners, reviews = stack.urls["partners"], stack.urls["reviews"]
    with httpx.Client(headers=ADMIN, timeout=15) as http:
        listed = http.get(f"{partners}/partnerships", params={"name": "(demo)"}).json()
        by_scope = {p["scope"]: p for p in listed["items"]}
        assert set(by_scope) == {"single_council", "multi_council"}
        regional = by_scope["multi_council"]
        assert len(regional["councils"]) == 3 and regional["status"] == "implemented"
        police = {
            p["organisation"] for p in listed["items"][0]["partners"] if p["kind"] == "police"
        } & {p["organisation"] for p in regional["partners"] if p["kind"] == "police"}
        assert police, "the two partnerships share a police force"
        flagged = http.get(
            f"{partners}/partnerships/{regional['id']}/delegations",
            params={"below_threshold": True},
        ).json()
        assert [d["rank"] for d in flagged["items"]] == ["superintendent"]

        agencies = http.get(f"{partners}/partnerships/{regional['id']}/agencies").json()
        assert agencies["total"] == 3
        published = http.get(
            f"{partners}/partnerships/{regional['id']}/arrangements",
            params={"status": "published"},
        ).json()
        assert [a["url"] for a in published["items"]] == [
            "https://example.org/safeguarding/arrangements-2026.pdf"
        ]
        analysis = http.get(
            f"{partners}/partnerships/{regional['id']}/funding/2026-27/analysis"
        ).json()
        assert {"decided_unilaterally", "below_proportionate_share"} <= {
            f["code"] for f in analysis["flags"]
        }

        cases = [http.get(f"{reviews}/cases/{case_id}").json() for case_id in loaded.cases]
        assert sorted(c["status"] for c in cases) == [
            "closed",
            "local_review_in_progress",
            "notified",
            "notified",
            "rapid_review_in_progress",
        ]
        overdue = [
            d for c in cases for d in c["deadlines"] if date.fromisoformat(d["due_on"]) < today
        ]
        assert overdue, "the demo includes overdue cases"

    again = load(stack.urls, today=today)
    assert again.already_loaded
    with httpx.Client(headers=ADMIN, timeout=15) as http:
        assert http.get(f"{partners}/partnerships", params={"name": "(demo)"}).json()["total"] == 2
