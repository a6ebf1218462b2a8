"""NotificationsSettings: recipients from one JSON variable, secrets kept out of sight."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from services.notifications.settings import NotificationsSettings
from services.notifications.signing import generate_secret


def test_recipients_come_from_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = generate_secret()
    monkeypatch.setenv(
        "NOTIFICATIONS_RECIPIENTS",
        json.dumps(
            {
                "panel": {
                    "name": "Child Safeguarding Practice Review Panel",
                    "webhook_url": "https://panel.example/hooks",
                    "secret": secret,
                },
                "ofsted": {"name": "Ofsted"},
            }
        ),
    )
    monkeypatch.setenv("NOTIFICATIONS_ATTEMPT_TIMEOUT_SECONDS", "4")
    settings = NotificationsSettings()
    assert settings.port == 8003
    assert settings.recipients["panel"].channel == "webhook"
    assert settings.recipients["ofsted"].channel == "manual"
    assert settings.attempt_timeout_seconds == 4
    assert settings.retry_policy().max_attempts == settings.retry_max_attempts
    for text in (
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        repr(settings.recipients["panel"]),
    ):
        assert secret not in text


@pytest.mark.parametrize(
    ("recipients", "knobs", "message"),
    [
        ({"panel": {"name": "Panel", "webhook_url": "https://x.example/h"}}, {}, "needs a secret"),
        (
            {
                "panel": {
                    "name": "Panel",
                    "webhook_url": "https://x.example/h",
                    "secret": "whsec_not base64!",
                }
            },
            {},
            "not a valid",
        ),
        ({"Panel Body": {"name": "Panel"}}, {}, "must match"),
        (
            {
                "panel": {
                    "name": "Panel",
                    "webhook_url": "ftp://x.example/h",
                    "secret": generate_secret(),
                }
            },
            {},
            "URL scheme",
        ),
        ({}, {"retry_base_seconds": 10, "retry_max_delay_seconds": 1}, "max_delay_seconds"),
        ({}, {"attempt_timeout_seconds": 0}, "greater than 0"),
        ({}, {"delivery_concurrency": 0}, "greater than or equal to 1"),
    ],
)
def test_bad_settings_are_refused_at_start_up(
    recipients: dict[str, object], knobs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        NotificationsSettings(recipients=recipients, **knobs)  # type: ignore[arg-type]
    assert message in str(caught.value)
    assert "not base64!" not in str(caught.value)  # a secret, even a bad one, is not echoed


def test_production_webhooks_must_use_https() -> None:
    plain = {
        "panel": {
            "name": "Panel",
            "webhook_url": "http://panel.example/h",
            "secret": generate_secret(),
        }
    }
    with pytest.raises(ValidationError, match="https"):
        NotificationsSettings(
            environment="production", admin_token="a-real-secret", recipients=plain
        )  # type: ignore[arg-type]
    assert NotificationsSettings(environment="test", recipients=plain)  # type: ignore[arg-type]
