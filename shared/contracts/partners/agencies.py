"""Events of the partner registry's agencies feature (payloads registered on import)."""

from __future__ import annotations
