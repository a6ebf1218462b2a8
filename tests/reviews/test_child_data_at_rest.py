"""What could identify a child is encrypted at rest: the database holds ciphertext, the API
answers plain values to those allowed to see them; keys rotate; tampering is detected."""

from __future__ import annotations

import base64
import os
from datetime import date

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from pydantic import ValidationError

from services.reviews.app import create_app
from shared.crypto import DEV_FIELD_KEY, FieldCipher
from shared.db import sync_url
from shared.processes import EmbeddedBroker
from shared.settings import ServiceSettings
from tests.reviews.reviews_support import (
    LEEDS,
    SettableClock,
    at_noon,
    incident_body,
    reviews_settings,
    seed_client,
    seed_partnership,
)
from tests.support.apps import running_app

pytestmark = pytest.mark.timeout(90)


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


async def test_the_database_holds_only_ciphertext(
    database_url: str, broker: EmbeddedBroker
) -> None:
    clock = SettableClock(at_noon(date(2026, 12, 21)))
    app = create_app(reviews_settings(database_url, broker), clock=clock)
    async with running_app(app) as http:
        partnership = await seed_partnership(app, LEEDS)
        client = await seed_client(app, partnership)
        body = incident_body(location="14 Example Street, LS9")
        created = await http.post("/incidents", json=body, headers=client.headers)
        assert created.status_code == 201, created.text
        case = (
            await http.get(f"/cases/{created.json()['case_id']}", headers=client.headers)
        ).json()
        assert case["location"] == "14 Example Street, LS9"
        assert case["children"][0]["reference"] == "LCC-C-0042"

    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            children, location = conn.execute(
                sa.text('SELECT children, location FROM "case" WHERE id = :id'),
                {"id": case["case_id"]},
            ).one()
    finally:
        engine.dispose()
    for stored in (children, location):
        assert isinstance(stored, str) and stored.startswith("enc1:")
    assert "LCC-C-0042" not in children and "Example Street" not in location


def test_keys_rotate_and_tampering_is_detected() -> None:
    old, new = new_key(), new_key()
    sealed_by_old = FieldCipher([old]).encrypt("LCC-C-0042")
    rotated = FieldCipher([new, old])
    assert rotated.decrypt(sealed_by_old) == "LCC-C-0042"
    assert rotated.encrypt("x").split(":")[1] != sealed_by_old.split(":")[1]  # new key id
    with pytest.raises(ValueError, match="no field key"):
        FieldCipher([new]).decrypt(sealed_by_old)
    prefix, key_id, token = sealed_by_old.split(":")
    blob = bytearray(base64.urlsafe_b64decode(token))
    blob[-1] ^= 1
    tampered = f"{prefix}:{key_id}:{base64.urlsafe_b64encode(bytes(blob)).decode()}"
    with pytest.raises(InvalidTag):
        FieldCipher([old]).decrypt(tampered)
    assert FieldCipher([old]).decrypt("written before encryption") == "written before encryption"
    with pytest.raises(ValueError, match="32 bytes"):
        FieldCipher([base64.urlsafe_b64encode(b"short").decode()])


def test_production_refuses_the_development_key() -> None:
    with pytest.raises(ValidationError, match="MASA_FIELD_KEYS"):
        ServiceSettings(environment="production", admin_token="s3cret", field_keys=DEV_FIELD_KEY)
    settings = ServiceSettings(environment="production", admin_token="s3cret", field_keys=new_key())
    assert len(settings.field_key_list()) == 1
