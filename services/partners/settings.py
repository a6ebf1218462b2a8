"""Settings of the partners service (env prefix ``PARTNERS_``)."""

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class PartnersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PARTNERS_", extra="ignore", populate_by_name=True)

    service_name: str = "partners"
    port: int = 8001
