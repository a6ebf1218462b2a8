"""Settings of the reviews service (env prefix ``REVIEWS_``).

The statutory periods domain.md marks (verify) are data, overridable here without a release
(``REVIEWS_RULE_OVERRIDES='{"CARE-LEAVER-DEATH": 5}'``); so are holidays proclaimed after the
``holidays`` package was released (``REVIEWS_EXTRA_BANK_HOLIDAYS='["2027-06-04"]'``).
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.reviews.rules import DEFAULT_RULEBOOK, UnknownRule
from shared.settings import ServiceSettings


class ReviewsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REVIEWS_", extra="ignore", populate_by_name=True)

    service_name: str = "reviews"
    port: int = 8002
    # It consumes only the partner registry (partnerships, client systems), never on an
    # incident's path: polling an idle topic less often saves CPU for the services that are.
    consumer_fetch_wait_ms: int | None = 100
    rule_overrides: dict[str, int] = {}
    """Periods of the rules domain.md marks (verify), by rule id; confirmed rules are fixed."""
    extra_bank_holidays: list[date] = []
    """Holidays proclaimed by the Crown that the ``holidays`` package does not know yet."""
    timezone: str = "Europe/London"
    """Turns the moment a notification is accepted into the notification date (RR-15WD)."""
    deadline_check_interval_seconds: float = Field(default=300.0, gt=0)
    """How often the deadline scheduler evaluates every open deadline (it also runs at start)."""
    deadline_lead_working_days: int = Field(default=2, ge=0, le=60)
    """A deadline is "approaching" (due soon) this many working days or fewer before it."""
    deadline_lead_times: dict[str, int] = {}
    """Lead time in working days by rule id, e.g. ``{"LCSPR-6M": 20}``; others use the default."""

    @field_validator("rule_overrides")
    @classmethod
    def _only_unconfirmed_periods(cls, overrides: dict[str, int]) -> dict[str, int]:
        # A typo, or an attempt to change a confirmed statutory period, must stop start-up.
        for rule_id, period in overrides.items():
            try:
                editions = DEFAULT_RULEBOOK.editions(rule_id)
            except UnknownRule as exc:
                raise ValueError(str(exc)) from None
            if not any(e.verify for e in editions):
                raise ValueError(
                    f"{rule_id} is a confirmed rule (domain.md); only periods marked "
                    "(verify) can be overridden"
                )
            if isinstance(period, bool) or period < 1:
                raise ValueError(f"{rule_id}: period must be an integer >= 1")
        return overrides

    @field_validator("deadline_lead_times")
    @classmethod
    def _known_lead_rules(cls, leads: dict[str, int]) -> dict[str, int]:
        # A typo in a rule id would silently fall back to the default: refuse it at start-up.
        for rule_id, days in leads.items():
            if rule_id not in DEFAULT_RULEBOOK:
                raise ValueError(f"unknown deadline rule {rule_id!r}")
            if isinstance(days, bool) or not 0 <= days <= 60:
                raise ValueError(f"{rule_id}: lead time must be 0 to 60 working days")
        return leads

    def lead_working_days(self, rule_id: str) -> int:
        """The approaching-alert lead time of a rule (working days)."""
        return self.deadline_lead_times.get(rule_id, self.deadline_lead_working_days)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
        return name
