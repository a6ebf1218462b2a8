"""A throwaway PostgreSQL cluster: initdb in a temp directory, start, use, stop, delete.

Used by the test fixtures and usable by developers::

    with ThrowawayPostgres() as pg:
        pg.create_database("reviews")
        engine = create_engine(pg.url("reviews"))

The cluster trades durability for speed (``fsync=off``, ``synchronous_commit=off``,
``full_page_writes=off``), trusts every local connection, and listens only on
127.0.0.1 plus a unix socket inside its data directory.

PostgreSQL refuses to run as root, and CI runs as root. When the effective uid is 0
the directory is handed to the ``postgres`` system user and ``initdb`` / ``pg_ctl`` run
through ``runuser -u postgres --``; otherwise they run as the current user.

Foreground use (prints one SQLAlchemy URL per database, stops and deletes on Ctrl-C)::

    python -m shared.pgcluster --port 55432 --database partners --database reviews
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import glob
import logging
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from shared.processes import LOCALHOST, free_port, wait_for_shutdown_signal

__all__ = ["PostgresError", "ThrowawayPostgres", "main", "postgres_bindir"]

log = logging.getLogger(__name__)

SYSTEM_USER = "postgres"
SUPERUSER = "postgres"

DEFAULT_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


class PostgresError(RuntimeError):
    """initdb, pg_ctl or the server failed."""


def postgres_bindir() -> Path:
    """Directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    ``pg_config --bindir`` when that directory has ``initdb`` (Debian's ``pg_config``
    may belong to libpq-dev and point at /usr/bin), else the newest
    ``/usr/lib/postgresql/<major>/bin``, else wherever ``initdb`` is on PATH.
    """
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
            if out:
                candidates.append(Path(out))

    def major(path: str) -> float:
        match = re.search(r"/postgresql/(\d+(?:\.\d+)?)/bin$", path)
        return float(match.group(1)) if match else -1.0

    candidates += [
        Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=major, reverse=True)
    ]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise PostgresError(
        "PostgreSQL server binaries not found (looked at `pg_config --bindir`, "
        "/usr/lib/postgresql/*/bin and PATH); install Debian's postgresql-15 package"
    )


_live_clusters: set[ThrowawayPostgres] = set()


@atexit.register
def _stop_leftover_clusters() -> None:
    for cluster in list(_live_clusters):
        with contextlib.suppress(Exception):
            cluster.stop()


class ThrowawayPostgres:
    """A private PostgreSQL cluster in a temporary directory, removed on :meth:`stop`.

    :param port: TCP port; a free one is picked when None (and re-picked if it is lost
        to another process before the server binds it).
    :param bindir: PostgreSQL ``bin`` directory; :func:`postgres_bindir` when None.
    :param base_dir: parent of the temporary directory (default: the system temp dir).
        When running as root it must be traversable by the ``postgres`` user.
    :param settings: extra or overriding ``postgresql.conf`` settings.
    :param start_timeout: seconds ``pg_ctl start`` waits for the server.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        bindir: str | os.PathLike[str] | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        settings: Mapping[str, str | int] | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.host = LOCALHOST
        self._fixed_port = port is not None
        self.port = port if port is not None else 0
        self.bindir = Path(bindir) if bindir is not None else None
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.settings: dict[str, str] = {**DEFAULT_SETTINGS}
        self.settings.update({k: str(v) for k, v in (settings or {}).items()})
        self.start_timeout = start_timeout
        self.as_postgres_user = os.geteuid() == 0
        self.root_dir: Path | None = None
        self.startup_seconds: float | None = None
        self._running = False

    # -- paths and addresses

    @property
    def data_dir(self) -> Path:
        if self.root_dir is None:
            raise RuntimeError("cluster is not started")
        return self.root_dir / "data"

    @property
    def socket_dir(self) -> Path:
        """Directory of the server's unix socket (the data directory)."""
        return self.data_dir

    @property
    def log_path(self) -> Path:
        if self.root_dir is None:
            raise RuntimeError("cluster is not started")
        return self.root_dir / "server.log"

    @property
    def running(self) -> bool:
        return self._running

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL: ``postgresql+psycopg://postgres@127.0.0.1:PORT/dbname``."""
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def async_url(self, dbname: str = "postgres") -> str:
        """Same as :meth:`url`; psycopg 3 serves both sync and asyncio SQLAlchemy engines."""
        return self.url(dbname)

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq connection string for ``psycopg.connect``."""
        return f"host={self.host} port={self.port} user={SUPERUSER} dbname={dbname}"

    # -- database helpers

    def create_database(self, name: str) -> str:
        """``CREATE DATABASE name``; returns :meth:`url` for it."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """``DROP DATABASE IF EXISTS name WITH (FORCE)`` (disconnects its sessions)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    # -- process helpers

    def _cmd(self, *args: str | os.PathLike[str]) -> list[str]:
        cmd = [str(a) for a in args]
        if self.as_postgres_user:
            return ["runuser", "-u", SYSTEM_USER, "--", *cmd]
        return cmd

    def _run(self, *args: str | os.PathLike[str], timeout: float = 120.0) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.setdefault("LC_ALL", "C.UTF-8")
        try:
            proc = subprocess.run(
                self._cmd(*args),
                cwd=self.root_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                start_new_session=True,  # the server must not get the terminal's Ctrl-C
            )
        except subprocess.TimeoutExpired as exc:
            raise PostgresError(f"{Path(str(args[0])).name} timed out after {timeout}s") from exc
        if proc.returncode != 0:
            raise PostgresError(
                f"{' '.join(self._cmd(*args))} failed with status {proc.returncode}:\n"
                f"{proc.stdout}{proc.stderr}{self._server_log_tail()}"
            )
        return proc.stdout

    def _server_log_tail(self, limit: int = 3000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")[-limit:]
        except (OSError, RuntimeError):
            return ""
        return f"\n--- server log ---\n{text}" if text.strip() else ""

    # -- lifecycle

    def start(self) -> Self:
        """initdb a fresh cluster and start it; returns once it accepts connections."""
        if self._running:
            raise RuntimeError("cluster already running")
        started = time.monotonic()
        bindir = self.bindir or postgres_bindir()
        self.bindir = bindir
        self.root_dir = Path(tempfile.mkdtemp(prefix="masa-pg-", dir=self.base_dir))
        _live_clusters.add(self)
        try:
            if self.as_postgres_user:
                try:
                    pw = pwd.getpwnam(SYSTEM_USER)
                except KeyError as exc:
                    raise PostgresError(
                        f"running as root, but there is no {SYSTEM_USER!r} system user to run "
                        "the server as (install Debian's postgresql-15 package)"
                    ) from exc
                os.chown(self.root_dir, pw.pw_uid, pw.pw_gid)
            self._run(
                bindir / "initdb",
                "-D", self.data_dir,
                "-A", "trust",
                "-U", SUPERUSER,
                "-E", "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            )  # fmt: skip
            self._start_server(bindir)
        except BaseException:
            self._cleanup()
            raise
        self._running = True
        self.startup_seconds = time.monotonic() - started
        log.info(
            "throwaway postgres ready on %s:%s (%s) in %.2fs",
            self.host,
            self.port,
            self.root_dir,
            self.startup_seconds,
        )
        return self

    def _write_settings(self) -> None:
        settings = {
            **self.settings,
            "port": str(self.port),
            "listen_addresses": f"'{self.host}'",
            "unix_socket_directories": f"'{self.socket_dir}'",
        }
        lines = "\n".join(f"{key} = {_conf_value(value)}" for key, value in settings.items())
        # postgresql.auto.conf is read last, so these win over postgresql.conf; it is
        # rewritten in full each time, so a retry on a new port replaces the old values.
        (self.data_dir / "postgresql.auto.conf").write_text(
            f"# written by shared.pgcluster.ThrowawayPostgres\n{lines}\n"
        )
        if self.as_postgres_user:
            pw = pwd.getpwnam(SYSTEM_USER)
            os.chown(self.data_dir / "postgresql.auto.conf", pw.pw_uid, pw.pw_gid)

    def _start_server(self, bindir: Path) -> None:
        attempts = 1 if self._fixed_port else 5
        for attempt in range(1, attempts + 1):
            if not self._fixed_port:
                self.port = free_port(self.host)
            self._write_settings()
            try:
                self._run(
                    bindir / "pg_ctl",
                    "-D", self.data_dir,
                    "-l", self.log_path,
                    "-w",
                    "-t", str(int(max(1, self.start_timeout))),
                    "start",
                    timeout=self.start_timeout + 30,
                )  # fmt: skip
                return
            except PostgresError as exc:
                port_lost = "could not bind" in str(exc) or "Address already in use" in str(exc)
                if attempt == attempts or not port_lost:
                    raise
                log.warning("port %s was taken before postgres bound it; retrying", self.port)

    def stop(self) -> None:
        """``pg_ctl stop -m immediate``, then delete the directory. Safe to call twice."""
        self._running = False
        self._cleanup()

    def _cleanup(self) -> None:
        _live_clusters.discard(self)
        root = self.root_dir
        if root is None:
            return
        data = root / "data"
        if (data / "postmaster.pid").exists() and self.bindir is not None:
            try:
                self._run(
                    self.bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop", timeout=60
                )
            except PostgresError as exc:
                log.warning("pg_ctl stop failed (%s); killing the postmaster", exc)
                self._kill_postmaster(data)
        shutil.rmtree(root, ignore_errors=True)
        self.root_dir = None

    @staticmethod
    def _kill_postmaster(data: Path) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((data / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)

    # -- context manager

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"{self.host}:{self.port} {self.root_dir}" if self._running else "stopped"
        return f"<ThrowawayPostgres {state}>"


def _conf_value(value: str) -> str:
    """Quote a postgresql.conf value unless it is already quoted or a plain word/number."""
    if value.startswith("'") or re.fullmatch(r"[A-Za-z0-9_.\-]+", value):
        return value
    return "'" + value.replace("'", "''") + "'"


def main(argv: list[str] | None = None) -> int:
    """Run a throwaway cluster in the foreground until Ctrl-C or SIGTERM, then delete it."""
    parser = argparse.ArgumentParser(
        prog="python -m shared.pgcluster",
        description="Run a throwaway PostgreSQL cluster; it is deleted on Ctrl-C or SIGTERM.",
    )
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument(
        "--database", action="append", default=[], help="create this database (repeatable)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with ThrowawayPostgres(port=args.port) as pg:
        for name in args.database:
            print(f"{name}: {pg.create_database(name)}", flush=True)
        print(f"postgres: {pg.url()}", flush=True)
        wait_for_shutdown_signal()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
