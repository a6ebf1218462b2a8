"""Settings shared by every service, read from the environment by pydantic-settings.

Each service subclasses :class:`ServiceSettings` with its own ``env_prefix`` (``PARTNERS_``,
``REVIEWS_`` ...). A few settings are platform-wide and read without a prefix as well, so one
``KAFKA_BOOTSTRAP_SERVERS`` points every service at the same broker.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.crypto import DEV_FIELD_KEY

DEV_ADMIN_TOKEN = "masa-dev-admin-token"

TOPICS = {
    "partners": "partners.events",
    "reviews": "reviews.events",
    "notifications": "notifications.events",
    "reporting": "reporting.events",
}
DEAD_LETTER_SUFFIX = ".dlq"


class ServiceSettings(BaseSettings):
    """Base settings; subclasses set ``service_name`` and ``model_config`` env_prefix."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: str = "service"
    environment: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: str = Field("data", validation_alias=AliasChoices("data_dir", "MASA_DATA_DIR"))
    database_url: str = ""
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092",
        validation_alias=AliasChoices("kafka_bootstrap_servers", "KAFKA_BOOTSTRAP_SERVERS"),
    )
    kafka_idempotent_producer: bool = Field(
        False,
        validation_alias=AliasChoices("kafka_idempotent_producer", "KAFKA_IDEMPOTENT_PRODUCER"),
        description="Turn on for Apache Kafka; the embedded broker does not support it.",
    )
    kafka_topic_partitions: int = Field(
        6, validation_alias=AliasChoices("kafka_topic_partitions", "KAFKA_TOPIC_PARTITIONS")
    )
    kafka_replication_factor: int = Field(
        1, validation_alias=AliasChoices("kafka_replication_factor", "KAFKA_REPLICATION_FACTOR")
    )
    kafka_session_timeout_ms: int = Field(
        10000,
        validation_alias=AliasChoices("kafka_session_timeout_ms", "KAFKA_SESSION_TIMEOUT_MS"),
        description="Consumer-group session timeout; the embedded broker joins faster when low.",
    )
    kafka_heartbeat_interval_ms: int = Field(
        3000,
        validation_alias=AliasChoices("kafka_heartbeat_interval_ms", "KAFKA_HEARTBEAT_INTERVAL_MS"),
    )
    kafka_fetch_max_wait_ms: int = Field(
        20,
        validation_alias=AliasChoices("kafka_fetch_max_wait_ms", "KAFKA_FETCH_MAX_WAIT_MS"),
        description=(
            "Longest a consumer's fetch waits for records. The embedded broker holds a fetch "
            "for a large part of this even when records arrive (measured: 500 ms gives a "
            "150 ms p50 hop, 20 ms an 8 ms one), so it bounds every hop's latency."
        ),
    )
    consumer_fetch_wait_ms: int | None = Field(
        None,
        ge=0,
        le=5000,
        description="This service's own consumer fetch wait, instead of "
        "KAFKA_FETCH_MAX_WAIT_MS: a read model off the latency-critical path sets it longer, "
        "so it applies its events in bigger batches (one transaction per fetch) and polls "
        "less when idle.",
    )
    nice: int = Field(
        0,
        ge=0,
        le=19,
        description="Scheduling niceness the service process takes at start (Unix). On a "
        "machine the services share, a read model off the statutory path sets it higher so "
        "that intake and notification delivery get the CPU first when it is scarce.",
    )
    outbox_poll_seconds: float = 1.0
    outbox_linger_seconds: float = Field(
        0.0,
        ge=0,
        le=1,
        description="After a commit wakes the relay, wait this long so that events of "
        "transactions committing close together are published in one batch (fewer relay "
        "transactions); 0 for services whose events are on a latency-critical path.",
    )
    topic: str = Field(
        "", description="Topic this service publishes to; default from TOPICS. Tests set their own."
    )
    consumer_group: str = Field(
        "", description="Kafka consumer group; default masa-<service>. Tests set their own."
    )
    admin_token: str = Field(
        DEV_ADMIN_TOKEN, validation_alias=AliasChoices("admin_token", "MASA_ADMIN_TOKEN")
    )
    field_keys: str = Field(
        DEV_FIELD_KEY,
        validation_alias=AliasChoices("field_keys", "MASA_FIELD_KEYS"),
        description="Comma-separated base64url 32-byte keys for columns encrypted at rest "
        "(shared.crypto); the first encrypts, all decrypt.",
    )
    otel_exporter: Literal["none", "console", "otlp"] = Field(
        "none", validation_alias=AliasChoices("otel_exporter", "OTEL_EXPORTER")
    )
    log_level: str = Field("INFO", validation_alias=AliasChoices("log_level", "LOG_LEVEL"))
    log_json: bool = True

    def field_key_list(self) -> list[str]:
        return [k.strip() for k in self.field_keys.split(",") if k.strip()]

    @model_validator(mode="after")
    def _defaults_and_secrets(self) -> ServiceSettings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir}/{self.service_name}.db"
        if not self.topic:
            self.topic = TOPICS.get(self.service_name, f"{self.service_name}.events")
        if self.environment == "production" and self.admin_token == DEV_ADMIN_TOKEN:
            raise ValueError("MASA_ADMIN_TOKEN must be set to a secret in production")
        if self.environment == "production" and DEV_FIELD_KEY in self.field_key_list():
            raise ValueError("MASA_FIELD_KEYS must hold secret keys in production")
        return self
