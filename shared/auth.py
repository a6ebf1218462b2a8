"""Bearer-token authentication. Tokens are random, shown once, and stored only as hashes.

A principal is the platform operator (the admin token from settings), a registered client
system, which belongs to one partnership and may post only its allowed event types, or a
national body's client system, which belongs to no partnership and may only read what is
notified to that body.

A national body's system is stored in the shared ``client_system`` / ``client_credential``
tables with ``partnership_id = "national:<code>"`` (e.g. ``national:panel``): partnership ids
are UUIDs, so the sentinel never names a partnership, and no column or migration is needed.

A person of a partnership (issue 4: e.g. a council safeguarding officer) is kept the same way:
a ``client_system`` row whose ``client_id`` starts with ``person-``, whose roles ride in
``allowed_event_types`` as ``role:<name>`` entries beside the event types they grant (no event
type starts with ``role:``), so again no column or migration is needed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Literal, get_args

from fastapi import Request
from sqlalchemy import bindparam, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.problems import Forbidden, NotFound, Unauthorized
from shared.tables import ClientCredential, ClientSystem, table_of

TOKEN_PREFIX = "masa_"

# The national bodies of domain.md section 1 that receive notifications or reports.
NationalBody = Literal["panel", "dfe", "ofsted", "foundations", "yjb"]
NATIONAL_BODIES: tuple[str, ...] = get_args(NationalBody)
NATIONAL_PARTNERSHIP_PREFIX = "national:"


def national_partnership_id(code: str) -> str:
    """The ``partnership_id`` a national body's client system is stored under."""
    return NATIONAL_PARTNERSHIP_PREFIX + code


def national_body_of(partnership_id: str) -> str | None:
    """The national body a stored ``partnership_id`` stands for, or None for a partnership."""
    code = partnership_id.removeprefix(NATIONAL_PARTNERSHIP_PREFIX)
    if code != partnership_id and code in NATIONAL_BODIES:
        return code
    return None


PERSON_ID_PREFIX = "person-"
ROLE_PREFIX = "role:"


def is_person_id(client_id: str) -> bool:
    """Whether a stored ``client_id`` is a person's rather than a system's."""
    return client_id.startswith(PERSON_ID_PREFIX)


def stored_grants(event_types: list[str], roles: list[str]) -> list[str]:
    """What ``allowed_event_types`` holds: the event types, then the roles (``role:<name>``)."""
    return [*event_types, *(ROLE_PREFIX + r for r in roles)]


def split_grants(stored: list[str]) -> tuple[list[str], list[str]]:
    """The event types and the roles held in a stored ``allowed_event_types``."""
    roles = [g.removeprefix(ROLE_PREFIX) for g in stored if g.startswith(ROLE_PREFIX)]
    return [g for g in stored if not g.startswith(ROLE_PREFIX)], roles


def generate_token() -> tuple[str, str]:
    """A new token and its hash; the token is returned to the caller once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    """SHA-256 suffices: tokens carry 256 bits of randomness, so no slow hash is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    kind: str  # "admin", "client", "person" or "national_body"
    id: str
    partnership_ids: frozenset[str] = field(default_factory=frozenset)
    allowed_event_types: frozenset[str] = field(default_factory=frozenset)
    national_body: str | None = None  # set only for kind "national_body"
    roles: frozenset[str] = field(default_factory=frozenset)  # set only for kind "person"

    @property
    def is_admin(self) -> bool:
        return self.kind == "admin"

    @property
    def is_national_body(self) -> bool:
        return self.kind == "national_body"

    def can_see(self, partnership_id: str) -> bool:
        return self.is_admin or partnership_id in self.partnership_ids

    def require_partnership(self, partnership_id: str, what: str = "Partnership") -> None:
        """Another partnership's object answers 404, so its existence is not disclosed."""
        if not self.can_see(partnership_id):
            raise NotFound(f"{what} not found.")

    def require_writer(self) -> None:
        """A national body only reads; any write it attempts is refused (403)."""
        if self.is_national_body:
            raise Forbidden("A national body's client system may only read.")

    def require_event_type(self, event_type: str) -> None:
        self.require_writer()
        if not self.is_admin and event_type not in self.allowed_event_types:
            if self.kind == "person":
                raise Forbidden(f"Your roles do not allow posting '{event_type}'.")
            raise Forbidden(f"This client system may not post '{event_type}'.")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("Only the platform operator may do this.")


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    return token.strip()


_CREDENTIALS = table_of(ClientCredential)
_SYSTEMS = table_of(ClientSystem)
# Every authenticated request runs this: one statement (the credential and what its system
# may post), built once.
_CREDENTIAL_AND_GRANTS = (
    select(
        _CREDENTIALS.c.client_id,
        _CREDENTIALS.c.partnership_id,
        _CREDENTIALS.c.revoked_at,
        _SYSTEMS.c.allowed_event_types,
    )
    .select_from(_CREDENTIALS.outerjoin(_SYSTEMS, _SYSTEMS.c.client_id == _CREDENTIALS.c.client_id))
    .where(_CREDENTIALS.c.token_hash == bindparam("token_hash"))
)


async def authenticate(session: AsyncSession, token: str, admin_token: str) -> Principal:
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal(kind="admin", id="platform-admin")
    conn = await session.connection()
    row = (await conn.execute(_CREDENTIAL_AND_GRANTS, {"token_hash": hash_token(token)})).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("The bearer token is not valid or has been revoked.")
    body = national_body_of(row.partnership_id)
    if body is not None:
        return Principal(kind="national_body", id=row.client_id, national_body=body)
    event_types, roles = split_grants(list(row.allowed_event_types or []))
    return Principal(
        kind="person" if is_person_id(row.client_id) else "client",
        id=row.client_id,
        partnership_ids=frozenset({row.partnership_id}),
        allowed_event_types=frozenset(event_types),
        roles=frozenset(roles) if is_person_id(row.client_id) else frozenset(),
    )
