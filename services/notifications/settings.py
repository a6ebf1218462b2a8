"""Settings of the notifications service (env prefix ``NOTIFICATIONS_``).

Recipients come from one JSON variable, ``NOTIFICATIONS_RECIPIENTS``::

    {"panel": {"name": "Child Safeguarding Practice Review Panel",
               "webhook_url": "https://...", "secret": "whsec_..."},
     "ofsted": {"name": "Ofsted"}}

A recipient with a webhook is sent signed deliveries; one without (or a code not listed at
all) gets the manual channel: the platform records the duty and a named person submits it.

Who is told under each rule triggered after the incident comes from
``NOTIFICATIONS_RULE_RECIPIENTS`` (JSON, rule id -> recipient codes; defaults from domain.md
section 4), so a "verify" row can be corrected without a release.
Secrets are ``SecretStr``: they never appear in a repr, a log line or an error message.
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.notifications.domain import DEFAULT_RULE_RECIPIENTS
from services.notifications.retry import DEFAULT_POLICY, RetryPolicy
from services.notifications.signing import sign
from shared.settings import ServiceSettings

RECIPIENT_CODE = r"^[a-z0-9][a-z0-9_-]{0,39}$"


class RecipientConfig(BaseModel):
    """One statutory recipient and how it is reached."""

    # Errors never echo the input: it holds the secret.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=200)
    webhook_url: AnyHttpUrl | None = None
    secret: SecretStr | None = Field(
        default=None, description="Standard Webhooks signing secret, whsec_<base64>"
    )

    @model_validator(mode="after")
    def _webhook_needs_a_valid_secret(self) -> Self:
        if self.webhook_url is None:
            return self
        if self.secret is None:
            raise ValueError("a recipient with a webhook_url needs a secret (whsec_...)")
        try:  # fail at start-up, not on the first delivery
            sign(self.secret.get_secret_value(), "check", 0, b"")
        except ValueError:
            raise ValueError("secret is not a valid whsec_<base64> signing secret") from None
        return self

    @property
    def channel(self) -> str:
        return "webhook" if self.webhook_url is not None else "manual"


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="NOTIFICATIONS_",
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,
    )

    service_name: str = "notifications"
    port: int = 8003
    # Its events (queued, delivered: read models' input) are on no latency-critical path:
    # publish them in batches, which costs fewer relay transactions per incident.
    outbox_linger_seconds: float = 0.2

    recipients: dict[str, RecipientConfig] = Field(
        default_factory=dict,
        description="Recipient code -> name, webhook_url, secret (JSON in the environment).",
    )
    rule_recipients: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_RULE_RECIPIENTS.items()},
        description="Rule id -> recipient codes told under it, for the rules triggered after "
        "the incident (ARR-DFE, RR-15WD, LCSPR-PRE-PUB-7WD, LCSPR-6M). A rule left out keeps "
        "its default.",
    )
    retry_base_seconds: float = Field(DEFAULT_POLICY.base_seconds, gt=0)
    retry_max_delay_seconds: float = Field(DEFAULT_POLICY.max_delay_seconds, gt=0)
    retry_window_seconds: float = Field(DEFAULT_POLICY.total_window_seconds, gt=0)
    retry_max_attempts: int = Field(DEFAULT_POLICY.max_attempts, ge=1)
    attempt_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="Total deadline of one delivery attempt."
    )
    delivery_concurrency: int = Field(16, ge=1, le=1000)
    delivery_batch_size: int = Field(100, ge=1, le=10_000)
    delivery_poll_seconds: float = Field(
        1.0, gt=0, description="Fallback poll for retries that come due."
    )
    record_linger_seconds: float = Field(
        0.02,
        ge=0,
        le=1,
        description="How long finished attempts wait for others to be recorded in the same "
        "transaction (group commit); delays only the receipt, not the webhook.",
    )
    claim_margin_seconds: float = Field(
        30.0,
        ge=0,
        description="A claim lasts the attempt timeout plus this; then another instance "
        "(or this one after a crash) may take the notification over.",
    )

    @model_validator(mode="after")
    def _check_recipients_and_policy(self) -> Self:
        for code, recipient in self.recipients.items():
            if not re.fullmatch(RECIPIENT_CODE, code):
                raise ValueError(f"recipient code {code!r} must match {RECIPIENT_CODE}")
            if (
                self.environment == "production"
                and recipient.webhook_url is not None
                and recipient.webhook_url.scheme != "https"
            ):
                raise ValueError(f"recipient {code!r}: webhooks must use https in production")
        for rule_id, codes in self.rule_recipients.items():
            bad = [c for c in codes if not re.fullmatch(RECIPIENT_CODE, c)]
            if bad:
                raise ValueError(f"rule {rule_id!r}: recipient codes must match {RECIPIENT_CODE}")
        self.retry_policy()  # raises ValueError on inconsistent knobs
        return self

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            base_seconds=self.retry_base_seconds,
            max_delay_seconds=self.retry_max_delay_seconds,
            max_attempts=self.retry_max_attempts,
            total_window_seconds=self.retry_window_seconds,
        )

    def recipients_for(self, rule_id: str) -> list[str]:
        """Who is told under ``rule_id`` (the setting, else domain.md's default), each once."""
        codes = self.rule_recipients.get(rule_id, DEFAULT_RULE_RECIPIENTS.get(rule_id, ()))
        return list(dict.fromkeys(codes))

    @property
    def claim_seconds(self) -> float:
        return self.attempt_timeout_seconds + self.claim_margin_seconds
