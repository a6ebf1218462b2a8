"""Settings of the reporting service (env prefix ``REPORTING_``).

Holidays proclaimed after the ``holidays`` package was released stop the working-day count of
"days left" (``REPORTING_EXTRA_BANK_HOLIDAYS='["2027-06-04"]'``); keep the list the same as
the reviews service's, which computed the deadlines.
"""

from __future__ import annotations

from datetime import date

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="REPORTING_", extra="ignore", populate_by_name=True
    )

    service_name: str = "reporting"
    port: int = 8004
    # Its events (delivery receipts, figures) are not on a latency-critical path: batch them.
    outbox_linger_seconds: float = 0.02
    # A read model a few hundred milliseconds behind is fine; batches of events are far
    # cheaper to apply than single ones (measured with make bench).
    consumer_fetch_wait_ms: int | None = 250
    # On a shared machine the read models yield the CPU to intake and delivery (statutory
    # deadlines) when it is scarce; they catch up when it is not.
    nice: int = 10
    extra_bank_holidays: list[date] = []
    """Holidays proclaimed by the Crown that the ``holidays`` package does not know yet."""
