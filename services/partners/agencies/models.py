"""Tables of this feature, on the service's own metadata (PartnersTable)."""

from __future__ import annotations
