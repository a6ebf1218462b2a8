"""Events of the case deadlines (payloads registered on import)."""

from __future__ import annotations
