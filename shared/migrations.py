"""Alembic, per service, applied at start-up.

Each service's ``migrations/env.py`` calls :func:`run_env` with its own metadata; the shared
tables are created by :func:`create_shared_tables` from each service's first revision.

Several processes may start at once against one database (replicas of a service; a restart
that overlaps the old process): the upgrade is serialised by a lock, so one migrates and the
others find the database at head, rather than racing to create the same tables.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData
from sqlmodel import SQLModel

from shared.db import is_sqlite, sync_url
from shared.tables import UtcDateTime

# Any constant: PostgreSQL advisory locks are per database, so services never contend.
MIGRATION_LOCK_KEY = 0x6D617361  # "masa"
# Alembic's ``context`` is process-global: one upgrade at a time per process.
_in_process = threading.Lock()


def alembic_config(database_url: str, migrations_dir: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return cfg


def upgrade_to_head(database_url: str, migrations_dir: Path) -> None:
    with _in_process, _sqlite_file_lock(database_url):
        command.upgrade(alembic_config(database_url, migrations_dir), "heads")


@contextlib.contextmanager
def _sqlite_file_lock(database_url: str) -> Iterator[None]:
    """SQLite DDL is not transactional under Alembic: hold a lock file beside the database."""
    if not is_sqlite(database_url):
        yield
        return
    from sqlalchemy.engine import make_url

    from shared.db import _ensure_sqlite_dir

    _ensure_sqlite_dir(database_url)
    database = make_url(database_url).database
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def run_env(service_metadata: MetaData) -> None:
    """Body of every service's ``env.py``: online migrations against the configured URL."""
    from alembic import context

    config = context.config
    url = config.get_main_option("sqlalchemy.url") or ""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=[SQLModel.metadata, service_metadata],
            render_as_batch=url.startswith("sqlite"),
            compare_type=True,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Held to the end of the migration transaction; the waiting process then
                # reads the version the first one committed and has nothing to do.
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            context.run_migrations()
    engine.dispose()


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def create_shared_tables() -> None:
    """Outbox, inbox, client credentials and audit trail, as of shared revision 1."""
    from alembic import op

    op.create_table(
        "outbox_event",
        sa.Column("seq", _big_id(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("traceparent", sa.String(64), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("published_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_outbox_event_published_at", "outbox_event", ["published_at"])
    op.create_table(
        "inbox_event",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("processed_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "client_system",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("partnership_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("organisation", sa.String(200), nullable=False),
        sa.Column("allowed_event_types", sa.JSON(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_client_system_partnership_id", "client_system", ["partnership_id"])
    op.create_table(
        "client_credential",
        sa.Column("credential_id", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("partnership_id", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(128), nullable=False, unique=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_client_credential_client_id", "client_credential", ["client_id"])
    op.create_index("ix_client_credential_partnership_id", "client_credential", ["partnership_id"])
    op.create_table(
        "audit_entry",
        sa.Column("id", _big_id(), primary_key=True, autoincrement=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("entity_type", sa.String(100), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("partnership_id", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
    )
    op.create_index("ix_audit_entry_entity_id", "audit_entry", ["entity_id"])
    op.create_index("ix_audit_entry_partnership_id", "audit_entry", ["partnership_id"])
