"""CloudEvents 1.0 envelope (structured JSON mode) and the registry of versioned payloads.

An event type reads ``masa.<noun>.<past_tense>.v<N>``; payload models subclass
:class:`EventPayload` and register themselves. Consumers ignore unknown fields; a payload that
fails validation is malformed and goes to the dead-letter topic.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

TYPE_PREFIX = "masa."
REGISTRY: dict[str, type[EventPayload]] = {}


class MalformedEvent(ValueError):
    """The bytes on the wire are not an event we can read; carries the reason."""


class EventPayload(BaseModel):
    """Base of every event payload. Subclasses set ``event_name`` and ``version``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_name: ClassVar[str] = ""
    version: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.event_name:
            REGISTRY[cls.type_name()] = cls

    @classmethod
    def type_name(cls) -> str:
        return f"{TYPE_PREFIX}{cls.event_name}.v{cls.version}"


class CloudEvent(BaseModel):
    """The CloudEvents 1.0 envelope with the ``partnershipid`` and ``traceparent`` extensions."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    partnershipid: str = Field(min_length=1)
    traceparent: str | None = None
    data: dict[str, Any]

    def payload(self) -> EventPayload:
        """Parse ``data`` with the registered model for ``type``."""
        model = REGISTRY.get(self.type)
        if model is None:
            raise KeyError(self.type)
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            raise MalformedEvent(f"invalid {self.type} payload: {exc}") from exc

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> CloudEvent:
        if not raw:
            raise MalformedEvent("empty record value")
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalformedEvent(f"not JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise MalformedEvent("envelope is not a JSON object")
        try:
            return cls.model_validate(doc)
        except ValidationError as exc:
            raise MalformedEvent(f"invalid CloudEvents envelope: {exc}") from exc


def make_event(
    payload: EventPayload,
    *,
    source: str,
    partnership_id: str,
    subject: str | None = None,
    traceparent: str | None = None,
    event_id: str | None = None,
) -> CloudEvent:
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source=f"/masa/{source}",
        type=payload.type_name(),
        subject=subject,
        partnershipid=partnership_id,
        traceparent=traceparent,
        data=payload.model_dump(mode="json"),
    )
