"""The demo's one HTTP helper: a failed request stops the load with what the service said."""

from __future__ import annotations

from typing import Any

import httpx


class DemoError(RuntimeError):
    pass


def ok(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        raise DemoError(f"{what}: HTTP {response.status_code} {response.text[:500]}")
    return response.json() if response.content else None
