"""Events of the partner registry's scrutiny feature (payloads registered on import)."""

from __future__ import annotations
