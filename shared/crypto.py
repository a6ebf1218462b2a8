"""Encryption at rest of the columns that could identify a child.

Children's data is sensitive (design: least data needed, and what could identify a child is
encrypted at rest). Columns typed :class:`EncryptedJSON` or :class:`EncryptedText` are
encrypted with AES-256-GCM before they reach the database and decrypted when read, so a copy of
the database file or a backup shows only ciphertext.

Keys come from ``MASA_FIELD_KEYS``: comma-separated base64url 32-byte keys, the first encrypts,
all decrypt (rotation: put the new key first, re-save rows, then drop the old one). Each value
records the id of the key that encrypted it. Development and tests use a fixed key; production
refuses to start with it (``shared.settings``).

Values stored before a column was encrypted (plain JSON or text) are still read, so the
migration that turns encryption on needs no data rewrite.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.types import Text, TypeDecorator

PREFIX = "enc1:"
# The development key: 32 bytes, public. Never for real data.
DEV_FIELD_KEY = base64.urlsafe_b64encode(b"masa-development-field-key-32by!").decode()


class FieldCipher:
    """AES-256-GCM with a random 96-bit nonce per value; the key id travels with the value."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one field key is needed")
        self._keys: dict[str, AESGCM] = {}
        self._current = ""
        for i, encoded in enumerate(keys):
            raw = base64.urlsafe_b64decode(encoded.strip() + "=" * (-len(encoded.strip()) % 4))
            if len(raw) != 32:
                raise ValueError("a field key is 32 bytes, base64url-encoded")
            key_id = hashlib.sha256(raw).hexdigest()[:8]
            self._keys[key_id] = AESGCM(raw)
            if i == 0:
                self._current = key_id

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self._current].encrypt(nonce, plaintext.encode(), None)
        token = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{PREFIX}{self._current}:{token}"

    def decrypt(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # written before encryption was turned on
        key_id, _, token = stored[len(PREFIX) :].partition(":")
        cipher = self._keys.get(key_id)
        if cipher is None:
            raise ValueError(f"no field key with id {key_id} is configured (MASA_FIELD_KEYS)")
        blob = base64.urlsafe_b64decode(token)
        return cipher.decrypt(blob[:12], blob[12:], None).decode()


_cipher = FieldCipher([DEV_FIELD_KEY])


def configure_field_keys(keys: list[str]) -> None:
    """Called once at start-up from the service's settings."""
    global _cipher
    _cipher = FieldCipher(keys)


def field_cipher() -> FieldCipher:
    return _cipher


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else _cipher.encrypt(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else _cipher.decrypt(value)


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON document stored encrypted (as text)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else _cipher.encrypt(json.dumps(value, separators=(",", ":")))

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):  # a JSON column read before the type changed
            return value
        return json.loads(_cipher.decrypt(value))
