"""Events of the partner registry's arrangements feature (payloads registered on import)."""

from __future__ import annotations
