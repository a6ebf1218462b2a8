"""Fixtures: a real broker process, a throwaway PostgreSQL cluster, database URLs."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.pgcluster import ThrowawayPostgres
from shared.processes import EmbeddedBroker

_db_counter = itertools.count()

# The embedded broker holds a JoinGroup for half the session timeout: keep groups quick in tests
# (Apache Kafka would refuse values under its group.min.session.timeout.ms; tests never use it).
os.environ.setdefault("KAFKA_SESSION_TIMEOUT_MS", "1500")
os.environ.setdefault("KAFKA_HEARTBEAT_INTERVAL_MS", "300")


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """One real Kafka-protocol broker (tansu) for the session."""
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    with EmbeddedBroker(log_path=log) as b:
        yield b


@pytest.fixture(scope="session")
def postgres() -> Iterator[ThrowawayPostgres]:
    """A throwaway PostgreSQL 15 cluster for the session (started only when asked for)."""
    with ThrowawayPostgres() as pg:
        yield pg


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: SQLite file and PostgreSQL database in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/service.db"
    pg: ThrowawayPostgres = request.getfixturevalue("postgres")
    name = f"t{next(_db_counter)}"
    pg.create_database(name)
    return pg.url(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/service.db"
