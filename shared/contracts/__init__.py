"""Event payload contracts, one module per producing service. Importing this package
registers every payload type, so any consumer can parse any event."""

from shared.contracts import notifications, partners, reviews

__all__ = ["notifications", "partners", "reviews"]
