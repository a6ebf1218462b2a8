"""The dashboard page: an accessible shell that asks for the token and calls the JSON API."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from shared.processes import EmbeddedBroker
from tests.reporting.reporting_feed import reporting


class _Outline(HTMLParser):
    """Collects the tags (with attributes) a reader of the page relies on."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]


async def test_dashboard_page_is_html_with_the_token_form_and_the_table(
    sqlite_url: str, broker: EmbeddedBroker
) -> None:
    async with reporting(sqlite_url, broker) as client:
        r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = _Outline()
    page.feed(r.text)
    assert page.find("html") == [{"lang": "en-GB"}]
    assert len(page.find("h1")) == 1 and page.find("main")
    # The form: a labelled password field for the token.
    assert page.find("form")
    token = next(a for a in page.find("input") if a.get("id") == "token")
    assert token["type"] == "password"
    assert {"for": "token"} in page.find("label")
    # The table: a caption and column headers with their scope.
    assert page.find("table") and page.find("caption")
    assert [a.get("scope") for a in page.find("th")] == ["col"] * 6
    assert re.search(r"<caption>\s*Partnerships, open cases", r.text)
    # The script calls the API with the token from sessionStorage; nothing external is loaded.
    assert "sessionStorage" in r.text and "Bearer " in r.text
    assert not re.search(r"""(src|href)=["']https?://""", r.text)
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp
    assert "unsafe-inline" not in csp
