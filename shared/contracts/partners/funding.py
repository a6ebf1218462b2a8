"""Events of the partner registry's funding feature (payloads registered on import)."""

from __future__ import annotations
