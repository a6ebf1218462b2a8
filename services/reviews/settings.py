"""Settings of the reviews service (env prefix ``REVIEWS_``).

The statutory periods domain.md marks (verify) are data, overridable here without a release
(``REVIEWS_RULE_OVERRIDES='{"CARE-LEAVER-DEATH": 5}'``); so are holidays proclaimed after the
``holidays`` package was released (``REVIEWS_EXTRA_BANK_HOLIDAYS='["2027-06-04"]'``).
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator
from pydantic_settings import SettingsConfigDict

from services.reviews.rules import DEFAULT_RULEBOOK, UnknownRule
from shared.settings import ServiceSettings


class ReviewsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REVIEWS_", extra="ignore", populate_by_name=True)

    service_name: str = "reviews"
    port: int = 8002
    rule_overrides: dict[str, int] = {}
    """Periods of the rules domain.md marks (verify), by rule id; confirmed rules are fixed."""
    extra_bank_holidays: list[date] = []
    """Holidays proclaimed by the Crown that the ``holidays`` package does not know yet."""
    timezone: str = "Europe/London"
    """Turns the moment a notification is accepted into the notification date (RR-15WD)."""

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

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
        return name
