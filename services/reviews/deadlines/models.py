"""Tables of this feature, on the service's own metadata (ReviewsTable)."""

from __future__ import annotations
