"""Server-rendered pages. For now one static shell; its inline script and style are allowed by
hash in a strict Content-Security-Policy, so nothing else can run next to the API token."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from pathlib import Path

from fastapi.responses import HTMLResponse

PAGES = Path(__file__).parent / "html"


def _hashes(html: str, tag: str) -> str:
    bodies = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.DOTALL)
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() + "'"
        for b in bodies
    )


@lru_cache(maxsize=1)
def _dashboard() -> tuple[str, str]:
    html = (PAGES / "dashboard.html").read_text(encoding="utf-8")
    csp = (
        "default-src 'none'; "
        f"script-src {_hashes(html, 'script')}; style-src {_hashes(html, 'style')}; "
        "connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )
    return html, csp


def dashboard_page() -> HTMLResponse:
    html, csp = _dashboard()
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": csp,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )
