"""The throwaway PostgreSQL cluster (shared/pgcluster.py)."""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text

from shared.pgcluster import PostgresError, ThrowawayPostgres, postgres_bindir

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def pg() -> Iterator[ThrowawayPostgres]:
    with ThrowawayPostgres() as cluster:
        yield cluster


def _alive(pid: int) -> bool:
    """True if *pid* runs; an exited process not yet reaped by init (zombie) counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_bindir_has_server_binaries() -> None:
    bindir = postgres_bindir()
    assert (bindir / "initdb").is_file()
    assert (bindir / "pg_ctl").is_file()


def test_create_database_and_query_with_psycopg(pg: ThrowawayPostgres) -> None:
    url = pg.create_database("reviews_test")
    assert url == f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/reviews_test"
    assert pg.url("reviews_test") == url
    with psycopg.connect(pg.conninfo("reviews_test")) as conn:
        row = conn.execute("SELECT current_database(), current_user, 6 * 7").fetchone()
        major = conn.execute("SHOW server_version_num").fetchone()
    assert row == ("reviews_test", "postgres", 42)
    assert major is not None and int(major[0]) >= 150000


def test_sqlalchemy_url_works(pg: ThrowawayPostgres) -> None:
    pg.create_database("sqlalchemy_test")
    engine = create_engine(pg.url("sqlalchemy_test"))
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id int primary key, name text)"))
            conn.execute(text("INSERT INTO t VALUES (1, 'x')"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM t WHERE id = 1")).scalar_one() == "x"
    finally:
        engine.dispose()


def test_speed_settings_and_addresses(pg: ThrowawayPostgres) -> None:
    with psycopg.connect(pg.conninfo()) as conn:
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                [
                    [
                        "fsync",
                        "synchronous_commit",
                        "full_page_writes",
                        "max_connections",
                        "listen_addresses",
                        "unix_socket_directories",
                        "port",
                    ]
                ],
            ).fetchall()
        )
    assert settings == {
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "200",
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": str(pg.data_dir),
        "port": str(pg.port),
    }
    # The unix socket lives in the data directory and accepts connections too.
    with psycopg.connect(host=str(pg.socket_dir), port=pg.port, user="postgres") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_create_database_twice_fails(pg: ThrowawayPostgres) -> None:
    pg.create_database("dup_test")
    with pytest.raises(psycopg.errors.DuplicateDatabase):
        pg.create_database("dup_test")
    pg.drop_database("dup_test")
    pg.create_database("dup_test")


def test_stop_removes_directory_and_server() -> None:
    cluster = ThrowawayPostgres().start()
    root = cluster.root_dir
    assert root is not None and cluster.data_dir.is_dir()
    if os.geteuid() == 0:
        assert cluster.as_postgres_user
        assert cluster.data_dir.stat().st_uid == pwd.getpwnam("postgres").pw_uid
    postmaster_pid = int((cluster.data_dir / "postmaster.pid").read_text().splitlines()[0])
    assert _alive(postmaster_pid)
    port = cluster.port
    cluster.stop()
    assert not root.exists()
    assert not _alive(postmaster_pid)
    assert not cluster.running
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"host=127.0.0.1 port={port} user=postgres connect_timeout=2")
    cluster.stop()  # idempotent


def test_taken_fixed_port_fails_and_cleans_up(pg: ThrowawayPostgres) -> None:
    cluster = ThrowawayPostgres(port=pg.port)
    with pytest.raises(PostgresError, match="pg_ctl"):
        cluster.start()
    assert cluster.root_dir is None
    assert not cluster.running
