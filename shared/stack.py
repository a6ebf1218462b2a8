"""The whole platform as real local processes: the embedded broker plus the four services.

Used by ``make run`` (``python -m shared.stack run``) and by the end-to-end tests::

    with Stack(data_dir=tmp_path, ports=free_service_ports()) as stack:
        httpx.get(stack.urls["partners"] + "/healthz")
        stack.kill_all()     # crash everything (SIGKILL), then
        stack.start()        # come back on the same ports and data dir

Each service runs as ``python -m services.<name>`` in its own process group (session), with
its own environment: ``<PREFIX>_PORT``, ``<PREFIX>_HOST``, ``MASA_DATA_DIR`` and
``KAFKA_BOOTSTRAP_SERVERS`` are computed by :func:`service_env`; everything else is passed
through from ``os.environ``. Each process's output is appended to
``<data_dir>/logs/<name>.log`` (the broker's to ``broker.log``).

The broker is the embedded Tansu broker (:class:`shared.processes.EmbeddedBroker`) unless
``KAFKA_BOOTSTRAP_SERVERS`` is set in the environment (or ``bootstrap_servers=`` is given):
then that external Kafka is used and no broker is started.

Processes still running when the interpreter exits are stopped by an ``atexit`` hook, and
children started from the main thread get ``SIGTERM`` from the kernel if this process dies
without running it (Linux ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import ctypes.util
import io
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Self, TextIO

from shared.processes import LOCALHOST, EmbeddedBroker, free_port, pid_listens_on, port_accepts

__all__ = [
    "DEFAULT_PORTS",
    "SERVICES",
    "Stack",
    "StackError",
    "default_ports",
    "env_prefix",
    "free_service_ports",
    "main",
    "service_env",
]

SERVICES: tuple[str, ...] = ("partners", "reviews", "notifications", "reporting")
DEFAULT_PORTS: dict[str, int] = {
    "partners": 8001,
    "reviews": 8002,
    "notifications": 8003,
    "reporting": 8004,
}
DEFAULT_DATA_DIR = "data"
REPO_ROOT = Path(__file__).resolve().parent.parent

CommandFactory = Callable[[str, int], Sequence[str]]


class StackError(RuntimeError):
    """A service (or the broker) did not start, or exited."""


# --------------------------------------------------------------------------- pure helpers


def env_prefix(name: str) -> str:
    """``"partners"`` -> ``"PARTNERS_"``: the prefix of the service's own settings."""
    if name not in SERVICES:
        raise ValueError(f"unknown service {name!r}; expected one of {', '.join(SERVICES)}")
    return name.upper() + "_"


def default_ports(environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """The port of every service: ``<PREFIX>_PORT`` from *environ* if set, else the default."""
    environ = os.environ if environ is None else environ
    ports: dict[str, int] = {}
    for name in SERVICES:
        raw = environ.get(env_prefix(name) + "PORT", "").strip()
        if not raw:
            ports[name] = DEFAULT_PORTS[name]
            continue
        try:
            ports[name] = int(raw)
        except ValueError:
            raise ValueError(f"{env_prefix(name)}PORT must be a port number, not {raw!r}") from None
    return ports


def free_service_ports(host: str = LOCALHOST) -> dict[str, int]:
    """A free port for every service (for tests that run next to ``make run``)."""
    ports: set[int] = set()
    while len(ports) < len(SERVICES):
        ports.add(free_port(host))
    return dict(zip(SERVICES, sorted(ports), strict=True))


def service_env(
    name: str,
    ports: Mapping[str, int],
    data_dir: str | os.PathLike[str],
    bootstrap: str,
    *,
    host: str = LOCALHOST,
    base: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of service *name*: *base* (e.g. ``os.environ``), then the computed
    settings (port, host, data dir, broker), then *extra*, which wins over both.

    Pure: reads nothing but its arguments. *data_dir* is used as given (pass an absolute
    path: the services run with the repository root as working directory).
    """
    prefix = env_prefix(name)
    if name not in ports:
        raise ValueError(f"no port for service {name!r}")
    env = dict(base or {})
    env.update(
        {
            f"{prefix}PORT": str(int(ports[name])),
            f"{prefix}HOST": host,
            "MASA_DATA_DIR": os.fspath(data_dir),
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


# --------------------------------------------------------------------------- process helpers

_PR_SET_PDEATHSIG = 1
_prctl: Callable[..., int] | None = None
with contextlib.suppress(Exception):
    if sys.platform.startswith("linux"):
        _prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    """A ``preexec_fn``: SIGTERM this child when the thread that forked it dies."""

    def preexec() -> None:
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether *proc* has exited, *without* reaping it.

    While it is not reaped its pid (and so its process group id) cannot be reused, which
    keeps ``os.killpg`` on that id safe. :meth:`_Service.reap` reaps it.
    """
    if proc.returncode is not None:
        return True
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped elsewhere
        proc.poll()
        return True
    return info is not None and info.si_pid != 0


def _killpg(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        try:
            os.killpg(pid, sig)
        except PermissionError:
            os.kill(pid, sig)


def _log_tail(path: Path, limit: int = 3000) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - limit))
            return fh.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _http_status(url: str, timeout: float = 2.0) -> int | None:
    """HTTP status of a GET to *url*, or None if nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            status: int = resp.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


class _Service:
    """One service process, its log file and its echo thread."""

    def __init__(self, name: str, port: int, log_path: Path) -> None:
        self.name = name
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._echo_stop = threading.Event()
        self._echo_thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and not _exited(self.proc)

    def start(self, command: Sequence[str], env: Mapping[str, str], echo: TextIO | None) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in reap()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self._log.write(f"\n=== {stamp} starting {self.name}: {' '.join(command)}\n".encode())
        self._log.flush()
        offset = self._log.tell()
        preexec = (
            _die_with_parent(os.getpid())
            if threading.current_thread() is threading.main_thread()
            else None
        )
        self.proc = subprocess.Popen(
            list(command),
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=preexec,
        )
        _live_services.add(self)
        if echo is not None:
            self._echo_stop.clear()
            self._echo_thread = threading.Thread(
                target=self._follow, args=(offset, echo), name=f"echo-{self.name}", daemon=True
            )
            self._echo_thread.start()

    def _follow(self, offset: int, out: TextIO) -> None:
        """Copy new lines of the log file to *out*, prefixed with the service name."""
        prefix = f"{self.name:<13} | "
        with contextlib.suppress(OSError), open(self.log_path, "rb") as fh:
            fh.seek(offset)
            pending = b""
            while True:
                chunk = fh.read(65536)
                if chunk:
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        with contextlib.suppress(Exception):
                            out.write(prefix + line.decode("utf-8", "replace") + "\n")
                    with contextlib.suppress(Exception):
                        out.flush()
                elif self._echo_stop.is_set():
                    return
                else:
                    time.sleep(0.1)

    def signal(self, sig: signal.Signals) -> None:
        """Signal the service's whole process group (it leads its own session)."""
        if self.proc is not None and self.proc.returncode is None:
            _killpg(self.proc.pid, sig)

    def reap(self) -> int | None:
        """Kill what is left of the group, collect the exit status, close the log."""
        status: int | None = None
        if self.proc is not None:
            if self.proc.returncode is None:
                # The leader is dead (or about to be) but not reaped yet, so its pgid still
                # names this group only: sweep any helper process left in it.
                _killpg(self.proc.pid, signal.SIGKILL)
            status = self.proc.wait()
        _live_services.discard(self)
        self._echo_stop.set()
        if self._echo_thread is not None:
            self._echo_thread.join(2.0)
            self._echo_thread = None
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None
        return status


_live_services: set[_Service] = set()
_live_stacks: set[Stack] = set()


@atexit.register
def _stop_leftovers() -> None:
    for stack in list(_live_stacks):
        with contextlib.suppress(Exception):
            stack.stop(timeout=5.0)
    for service in list(_live_services):
        with contextlib.suppress(Exception):
            service.signal(signal.SIGKILL)
            service.reap()


# --------------------------------------------------------------------------- the stack


class Stack:
    """The broker (embedded unless an external one is configured) and the four services.

    :param data_dir: folder of the services' SQLite files and of ``logs/``; created if
        missing and kept between runs. Made absolute against the current directory.
    :param ports: service name -> port; missing names fall back to ``<PREFIX>_PORT`` from
        the environment, then to :data:`DEFAULT_PORTS`.
    :param broker_port: port of the embedded broker (a free one when None).
    :param bootstrap_servers: an external Kafka to use instead of the embedded broker;
        defaults to ``KAFKA_BOOTSTRAP_SERVERS`` from the environment.
    :param env: environment variables for every service (over ``os.environ``).
    :param service_env: per-service extra environment, e.g.
        ``{"notifications": {"NOTIFICATIONS_RECIPIENTS": "[...]"}}``; wins over *env*.
    :param services: which services to run (all four by default).
    :param wait_ready: after ``/healthz``, also wait for ``/readyz`` to answer 200.
    :param start_timeout: seconds the services get to answer (all together).
    :param echo: also copy every process's log lines to this stream (True: stdout).
    :param host: interface the services listen on.
    :param command: ``(name, port) -> argv``; ``[sys.executable, "-m", "services.<name>"]``
        by default (tests use it to stand in fake services).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] = DEFAULT_DATA_DIR,
        *,
        ports: Mapping[str, int] | None = None,
        broker_port: int | None = None,
        bootstrap_servers: str | None = None,
        env: Mapping[str, str] | None = None,
        service_env: Mapping[str, Mapping[str, str]] | None = None,
        services: Sequence[str] = SERVICES,
        wait_ready: bool = False,
        start_timeout: float = 90.0,
        echo: bool | TextIO = False,
        host: str = LOCALHOST,
        command: CommandFactory | None = None,
    ) -> None:
        for name in services:
            env_prefix(name)  # validates the name
        for name in service_env or {}:
            env_prefix(name)
        self.data_dir = Path(data_dir).resolve()
        self.log_dir = self.data_dir / "logs"
        self.host = host
        self.ports: dict[str, int] = {**default_ports(), **(ports or {})}
        self.services: tuple[str, ...] = tuple(services)
        self.common_env: dict[str, str] = dict(env or {})
        self.extra_env: dict[str, dict[str, str]] = {
            name: dict(values) for name, values in (service_env or {}).items()
        }
        self.wait_ready = wait_ready
        self.start_timeout = start_timeout
        self.echo: TextIO | None = None
        if echo is True:
            self.echo = sys.stdout
        elif echo is not False:
            self.echo = echo
        self._command = command
        external = bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
        self.external_bootstrap: str | None = external or None
        self.broker: EmbeddedBroker | None = (
            None
            if self.external_bootstrap
            else EmbeddedBroker(broker_port, log_path=self.log_dir / "broker.log")
        )
        self._procs: dict[str, _Service] = {}

    # -- read-only views

    @property
    def bootstrap_servers(self) -> str:
        """Where the services find Kafka (``host:port``)."""
        if self.external_bootstrap is not None:
            return self.external_bootstrap
        assert self.broker is not None
        return self.broker.bootstrap_servers

    @property
    def urls(self) -> dict[str, str]:
        """Service name -> base URL, e.g. ``{"partners": "http://127.0.0.1:8001", ...}``."""
        return {name: f"http://{self._client_host}:{self.ports[name]}" for name in self.services}

    @property
    def dashboard_url(self) -> str:
        return f"http://{self._client_host}:{self.ports['reporting']}/"

    @property
    def pids(self) -> dict[str, int]:
        """Service name -> pid, for the services whose process is running."""
        return {name: svc.proc.pid for name, svc in self._procs.items() if svc.alive and svc.proc}

    @property
    def broker_pid(self) -> int | None:
        """Pid of the embedded broker while it runs (None with an external Kafka)."""
        if self.broker is not None and self.broker.running:
            return self.broker.pid
        return None

    @property
    def running(self) -> bool:
        """True while every service process is alive."""
        return bool(self._procs) and all(svc.alive for svc in self._procs.values())

    def log_path(self, name: str) -> Path:
        """``<data_dir>/logs/<name>.log`` (``name`` may also be ``"broker"``)."""
        return self.log_dir / f"{name}.log"

    def env_for(self, name: str) -> dict[str, str]:
        """The full environment service *name* is started with."""
        extra = {**self.common_env, **self.extra_env.get(name, {})}
        return service_env(
            name,
            self.ports,
            self.data_dir,
            self.bootstrap_servers,
            host=self.host,
            base=os.environ,
            extra=extra,
        )

    def command_for(self, name: str) -> list[str]:
        if self._command is not None:
            return list(self._command(name, self.ports[name]))
        return [sys.executable, "-m", f"services.{name}"]

    @property
    def _client_host(self) -> str:
        return LOCALHOST if self.host in ("0.0.0.0", "") else self.host

    # -- lifecycle

    def start(self) -> Self:
        """Start the broker (if embedded and not running) and every service not running,
        then wait until each answers ``/healthz`` (and ``/readyz`` with ``wait_ready``).

        On failure everything started is stopped again and :class:`StackError` (or
        :class:`TimeoutError`) names the service and its log file.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        _live_stacks.add(self)
        try:
            if self.broker is not None and not self.broker.running:
                self.broker.start()
            to_start = [name for name in self.services if not self._alive(name)]
            for name in to_start:
                self._spawn(name)
            self._wait_healthy(to_start)
        except BaseException:
            self.stop()
            raise
        return self

    def start_service(self, name: str) -> None:
        """Start one service (if not running) and wait for it like :meth:`start` does."""
        if not self._alive(name):
            self._spawn(name)
        self._wait_healthy([name])

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every service (all at once), wait up to *timeout* seconds, SIGKILL what is
        left; then stop the embedded broker the same way. Safe to call more than once."""
        try:
            self._stop_services(list(self._procs), timeout)
        finally:
            if self.broker is not None:
                self.broker.stop(timeout=timeout)
            _live_stacks.discard(self)

    def stop_service(self, name: str, timeout: float = 15.0) -> int | None:
        """Stop one service as :meth:`stop` does; returns its exit status."""
        return self._stop_services([name], timeout).get(name)

    def kill_service(self, name: str) -> None:
        """SIGKILL one service at once (a crash)."""
        svc = self._procs.pop(name, None)
        if svc is not None:
            svc.signal(signal.SIGKILL)
            svc.reap()

    def kill_all(self) -> None:
        """SIGKILL every process, the embedded broker too (a crash: no graceful shutdown)."""
        try:
            procs = list(self._procs.values())
            self._procs.clear()
            for svc in procs:
                svc.signal(signal.SIGKILL)
            for svc in procs:
                svc.reap()
        finally:
            if self.broker is not None:
                self.broker.kill()
            _live_stacks.discard(self)

    def restart(self, *names: str, timeout: float = 15.0) -> Self:
        """Stop and start again on the same ports and data dir.

        Without *names*: everything, the embedded broker included (it comes back empty; the
        services re-seed it from their outboxes). With names: only those services.
        """
        if names:
            for name in names:
                env_prefix(name)
            self._stop_services(list(names), timeout)
            self._wait_free(list(names))
            for name in names:
                self._spawn(name)
            try:
                self._wait_healthy(list(names))
            except BaseException:
                self.stop()
                raise
            return self
        self.stop(timeout=timeout)
        self._wait_free(list(self.services))
        return self.start()

    # -- internals

    def _alive(self, name: str) -> bool:
        svc = self._procs.get(name)
        return svc is not None and svc.alive

    def _spawn(self, name: str) -> None:
        old = self._procs.pop(name, None)
        if old is not None:
            old.reap()
        port = self.ports[name]
        if port_accepts(self._client_host, port, timeout=0.2):
            raise StackError(
                f"cannot start {name}: port {port} is already in use "
                f"(another `make run` or test stack? set {env_prefix(name)}PORT to move it)"
            )
        svc = _Service(name, port, self.log_path(name))
        svc.start(self.command_for(name), self.env_for(name), self.echo)
        self._procs[name] = svc

    def _wait_healthy(self, names: Sequence[str]) -> None:
        deadline = time.monotonic() + self.start_timeout
        for name in names:
            self._wait_endpoint(name, "/healthz", deadline)
        if self.wait_ready:
            for name in names:
                self._wait_endpoint(name, "/readyz", deadline)

    def _wait_endpoint(self, name: str, path: str, deadline: float) -> None:
        svc = self._procs[name]
        assert svc.proc is not None
        url = self.urls[name] + path
        last: int | None = None
        while True:
            if not svc.alive:
                status = svc.reap()
                self._procs.pop(name, None)
                raise StackError(
                    f"{name} exited with status {status} while starting "
                    f"(waiting for {url}); see {svc.log_path}{self._tail(svc.log_path)}"
                )
            last = _http_status(url, timeout=min(2.0, max(0.2, deadline - time.monotonic())))
            # 200 from *our* process: a stale server on the port must not pass for it.
            if last == 200 and pid_listens_on(svc.proc.pid, svc.port) is not False:
                return
            if time.monotonic() >= deadline:
                got = "no answer" if last is None else f"last status {last}"
                raise StackError(
                    f"{name} (pid {svc.proc.pid}) did not answer {url} with 200 within "
                    f"{self.start_timeout:.0f}s ({got}); see {svc.log_path}"
                    f"{self._tail(svc.log_path)}"
                )
            time.sleep(0.1)

    def _stop_services(self, names: Sequence[str], timeout: float) -> dict[str, int | None]:
        procs = [self._procs.pop(name) for name in names if name in self._procs]
        for svc in procs:
            svc.signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while any(svc.alive for svc in procs) and time.monotonic() < deadline:
            time.sleep(0.05)
        statuses: dict[str, int | None] = {}
        for svc in procs:
            if svc.alive:
                note = f"=== {svc.name} ignored SIGTERM for {timeout}s: SIGKILL\n"
                with contextlib.suppress(OSError), open(svc.log_path, "ab") as fh:
                    fh.write(note.encode())
                svc.signal(signal.SIGKILL)
            statuses[svc.name] = svc.reap()
        return statuses

    def _wait_free(self, names: Sequence[str], timeout: float = 10.0) -> None:
        """Wait until the services' ports stop accepting (a stopped server is gone)."""
        deadline = time.monotonic() + timeout
        for name in names:
            while port_accepts(self._client_host, self.ports[name], timeout=0.2):
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.05)

    @staticmethod
    def _tail(path: Path) -> str:
        text = _log_tail(path)
        return f"\n--- end of {path} ---\n{text}" if text else ""

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
        running = ", ".join(f"{n}={p}" for n, p in self.pids.items()) or "stopped"
        return f"<Stack {self.data_dir} kafka={self.bootstrap_servers} {running}>"


# --------------------------------------------------------------------------- command line


class _Shutdown(Exception):
    """Raised by the signal handler to unwind ``run``."""


def _raise_shutdown(signum: int, frame: FrameType | None) -> None:
    raise _Shutdown(signal.Signals(signum).name)


def _display_path(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return os.fspath(path.relative_to(Path.cwd()))
    return os.fspath(path)


def _summary(stack: Stack) -> str:
    from shared.settings import DEV_ADMIN_TOKEN

    out = io.StringIO()
    out.write(f"\nMASA Platform is running (data: {_display_path(stack.data_dir)})\n\n")
    out.write(f"  {'':<14}{'API docs':<44}log\n")
    for name, url in stack.urls.items():
        log = _display_path(stack.log_path(name))
        out.write(f"  {name:<14}{url + '/docs':<44}{log}\n")
    if "reporting" in stack.services:
        out.write(f"  {'dashboard':<14}{stack.dashboard_url}\n")
    if stack.broker is not None:
        where = f"{stack.bootstrap_servers} (embedded, in memory)"
        out.write(f"  {'kafka':<14}{where:<44}{_display_path(stack.log_path('broker'))}\n")
    else:
        out.write(f"  {'kafka':<14}{stack.bootstrap_servers} (KAFKA_BOOTSTRAP_SERVERS)\n")
    token = os.environ.get("MASA_ADMIN_TOKEN")
    if token and token != DEV_ADMIN_TOKEN:
        out.write("\n  Admin token: the value of MASA_ADMIN_TOKEN\n")
    else:
        out.write(f"\n  Admin token (dev): {DEV_ADMIN_TOKEN}\n")
        out.write(f"  e.g. curl -H 'Authorization: Bearer {DEV_ADMIN_TOKEN}' ...\n")
    out.write("\nPress Ctrl-C to stop.\n")
    return out.getvalue()


def _run(args: argparse.Namespace) -> int:
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, _raise_shutdown) for sig in signals}
    stack = Stack(
        args.data_dir,
        services=args.services,
        broker_port=args.broker_port,
        wait_ready=args.wait_ready,
        start_timeout=args.timeout,
        echo=args.echo,
    )
    status = 0
    try:
        try:
            print(
                f"Starting the MASA Platform (data: {_display_path(stack.data_dir)}) ...",
                flush=True,
            )
            stack.start()
            if args.demo:
                from demo.loader import describe, load  # the demo drives the services over HTTP

                print("Loading the demo data ...", flush=True)
                print(describe(load(stack.urls)), flush=True)
            print(_summary(stack), flush=True)
            while True:
                time.sleep(0.5)
                dead = [n for n in stack.services if n not in stack.pids]
                if dead:
                    for name in dead:
                        print(
                            f"{name} stopped unexpectedly; see "
                            f"{_display_path(stack.log_path(name))}",
                            file=sys.stderr,
                        )
                    status = 1
                    break
                if stack.broker is not None and not stack.broker.running:
                    print(
                        f"the broker stopped unexpectedly; see "
                        f"{_display_path(stack.log_path('broker'))}",
                        file=sys.stderr,
                    )
                    status = 1
                    break
        except (_Shutdown, KeyboardInterrupt):
            print("\nStopping ...", flush=True)
        except (StackError, TimeoutError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            status = 1
        try:
            stack.stop()
        except (_Shutdown, KeyboardInterrupt):
            print("Stopping at once (second signal).", file=sys.stderr, flush=True)
            stack.kill_all()
        if status == 0:
            print("Stopped.", flush=True)
        return status
    finally:
        with contextlib.suppress(Exception):
            stack.kill_all()  # no-op after a clean stop; never leave a process behind
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _service_list(value: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = [n for n in names if n not in SERVICES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of {', '.join(SERVICES)}; got {value!r}"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m shared.stack",
        description="Run the MASA Platform locally: a Kafka broker and the four services.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="start everything and wait (Ctrl-C stops)",
        description=(
            "Start the embedded Kafka broker (or use KAFKA_BOOTSTRAP_SERVERS) and the "
            "partners, reviews, notifications and reporting services, print where they "
            "are, and wait until Ctrl-C or SIGTERM. Ports: PARTNERS_PORT, REVIEWS_PORT, "
            "NOTIFICATIONS_PORT, REPORTING_PORT (default 8001-8004)."
        ),
    )
    run.add_argument(
        "--data-dir",
        default=os.environ.get("MASA_DATA_DIR", DEFAULT_DATA_DIR),
        help="SQLite files and logs/ (kept between runs; default: %(default)s)",
    )
    run.add_argument(
        "--demo",
        action="store_true",
        help="load the demo partnerships and cases (once; kept with the data)",
    )
    run.add_argument(
        "--services",
        type=_service_list,
        default=SERVICES,
        metavar="NAME,...",
        help="run only these services (default: all four)",
    )
    run.add_argument("--echo", action="store_true", help="also print every service's log")
    run.add_argument(
        "--broker-port",
        type=int,
        default=None,
        help="port of the embedded broker (default: a free one)",
    )
    run.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds the services get to start (default: %(default)s)",
    )
    run.add_argument(
        "--no-wait-ready",
        dest="wait_ready",
        action="store_false",
        help="do not wait for /readyz, only /healthz",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        return _run(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
