"""Events of the case lifecycle (payloads registered on import)."""

from __future__ import annotations
