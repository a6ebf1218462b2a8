"""Settings of the partners service (env prefix ``PARTNERS_``)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.partners.seniority import DEFAULT_MAX_LEVELS
from shared.settings import ServiceSettings


class PartnersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PARTNERS_", extra="ignore", populate_by_name=True)

    service_name: str = "partners"
    port: int = 8001
    delegation_max_levels: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_MAX_LEVELS),
        description="Per partner kind, how many ranks below the lead a delegate may be before "
        'the delegation is flagged, e.g. {"police": 2} (JSON in PARTNERS_DELEGATION_MAX_LEVELS).',
    )
