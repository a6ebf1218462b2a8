"""The launcher (shared/stack.py), cheaply: environment computation, the command line, and
process handling with stand-in services (``python -m http.server``) instead of the real four.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from shared.processes import port_accepts
from shared.stack import (
    DEFAULT_PORTS,
    SERVICES,
    Stack,
    StackError,
    default_ports,
    env_prefix,
    free_service_ports,
    service_env,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

REPO_ROOT = Path(__file__).resolve().parents[2]
NO_KAFKA = "127.0.0.1:9"  # an "external" Kafka: no broker is started, nothing connects


# --------------------------------------------------------------------------- pure helpers


def test_service_env_sets_port_host_data_dir_and_broker() -> None:
    ports = {"partners": 9101, "reviews": 9102, "notifications": 9103, "reporting": 9104}
    env = service_env("reviews", ports, "/srv/masa", "127.0.0.1:19092")
    assert env["REVIEWS_PORT"] == "9102"
    assert env["REVIEWS_HOST"] == "127.0.0.1"
    assert env["MASA_DATA_DIR"] == "/srv/masa"
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:19092"
    assert "PARTNERS_PORT" not in env  # only the service's own settings


def test_service_env_layers_base_then_computed_then_extra() -> None:
    base = {"PATH": "/usr/bin", "REPORTING_PORT": "1", "KAFKA_BOOTSTRAP_SERVERS": "old:1"}
    extra = {"REPORTING_HOST": "0.0.0.0", "REPORTING_DATABASE_URL": "sqlite:///x.db"}
    env = service_env("reporting", DEFAULT_PORTS, Path("/d"), "new:2", base=base, extra=extra)
    assert env["PATH"] == "/usr/bin"  # passed through
    assert env["REPORTING_PORT"] == "8004"  # computed beats base
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "new:2"
    assert env["REPORTING_HOST"] == "0.0.0.0"  # extra beats computed
    assert env["REPORTING_DATABASE_URL"] == "sqlite:///x.db"
    assert base["REPORTING_PORT"] == "1"  # inputs untouched


def test_service_env_rejects_unknown_service_and_missing_port() -> None:
    with pytest.raises(ValueError, match="unknown service"):
        service_env("billing", DEFAULT_PORTS, "/d", "k:1")
    with pytest.raises(ValueError, match="no port"):
        service_env("partners", {"reviews": 1}, "/d", "k:1")


def test_env_prefix() -> None:
    assert [env_prefix(n) for n in SERVICES] == [
        "PARTNERS_",
        "REVIEWS_",
        "NOTIFICATIONS_",
        "REPORTING_",
    ]


def test_default_ports_and_environment_overrides() -> None:
    assert default_ports({}) == {
        "partners": 8001,
        "reviews": 8002,
        "notifications": 8003,
        "reporting": 8004,
    }
    assert default_ports({"REVIEWS_PORT": "9002"})["reviews"] == 9002
    with pytest.raises(ValueError, match="REVIEWS_PORT"):
        default_ports({"REVIEWS_PORT": "abc"})


def test_free_service_ports_are_distinct() -> None:
    ports = free_service_ports()
    assert set(ports) == set(SERVICES)
    assert len(set(ports.values())) == len(SERVICES)


def test_stack_configuration_without_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9092")
    monkeypatch.setenv("PARTNERS_PORT", "18001")
    stack = Stack(
        tmp_path / "data",
        ports={"reporting": 18004},
        env={"LOG_LEVEL": "DEBUG"},
        service_env={"notifications": {"NOTIFICATIONS_RECIPIENTS": "[]", "LOG_LEVEL": "INFO"}},
    )
    assert stack.broker is None  # external Kafka from the environment
    assert stack.bootstrap_servers == "kafka.example:9092"
    assert stack.urls == {
        "partners": "http://127.0.0.1:18001",
        "reviews": "http://127.0.0.1:8002",
        "notifications": "http://127.0.0.1:8003",
        "reporting": "http://127.0.0.1:18004",
    }
    assert stack.dashboard_url == "http://127.0.0.1:18004/"
    assert stack.log_path("reviews") == (tmp_path / "data" / "logs" / "reviews.log").resolve()
    env = stack.env_for("notifications")
    assert env["NOTIFICATIONS_PORT"] == "8003"
    assert env["NOTIFICATIONS_RECIPIENTS"] == "[]"
    assert env["LOG_LEVEL"] == "INFO"  # per-service beats common
    assert env["MASA_DATA_DIR"] == str((tmp_path / "data").resolve())
    assert stack.env_for("partners")["LOG_LEVEL"] == "DEBUG"
    assert stack.command_for("reviews") == [sys.executable, "-m", "services.reviews"]
    assert stack.pids == {}
    assert not (tmp_path / "data").exists()  # nothing happens before start()


def test_embedded_broker_when_no_kafka_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    stack = Stack(tmp_path, broker_port=19999)
    assert stack.broker is not None
    assert stack.bootstrap_servers == "127.0.0.1:19999"
    assert stack.env_for("partners")["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:19999"


def test_command_line_help() -> None:
    for argv in (["--help"], ["run", "--help"]):
        result = subprocess.run(
            [sys.executable, "-m", "shared.stack", *argv],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "usage:" in result.stdout
    assert "--data-dir" in result.stdout
    assert "--demo" in result.stdout


# --------------------------------------------------------------------------- processes


def _alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_dead(pids: Sequence[int], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as resp:
        status: int = resp.status
        return status


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    """A folder a static file server answers /healthz and /readyz from."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "healthz").write_text('{"status": "ok"}')
    (root / "readyz").write_text('{"status": "ready"}')
    return root


def _http_server(root: Path) -> Callable[[str, int], list[str]]:
    def command(name: str, port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(root),
        ]

    return command


def test_lifecycle_with_stand_in_services(tmp_path: Path, fake_root: Path) -> None:
    stack = Stack(
        tmp_path / "data",
        ports=free_service_ports(),
        bootstrap_servers=NO_KAFKA,
        wait_ready=True,
        start_timeout=30,
        command=_http_server(fake_root),
    )
    with stack:
        pids = stack.pids
        assert set(pids) == set(SERVICES)
        for name, pid in pids.items():
            assert os.getpgid(pid) == pid, f"{name} is not in its own process group"
            assert _get(stack.urls[name] + "/healthz") == 200
            assert stack.log_path(name).exists()
        assert stack.running

        # a crash of one service, then a restart of just that one
        stack.kill_service("reviews")
        assert _wait_dead([pids["reviews"]])
        assert "reviews" not in stack.pids
        stack.restart("reviews")
        assert stack.pids["reviews"] != pids["reviews"]
        assert stack.pids["partners"] == pids["partners"]

        # everything crashes; start() brings it back on the same ports
        before = list(stack.pids.values())
        stack.kill_all()
        assert _wait_dead(before)
        assert stack.pids == {}
        stack.start()
        assert set(stack.pids) == set(SERVICES)
        for name in SERVICES:
            assert _get(stack.urls[name] + "/readyz") == 200

        stack.restart()
        last = list(stack.pids.values())
        assert set(last).isdisjoint(before)
    assert _wait_dead(last)
    assert stack.pids == {}
    for name in SERVICES:
        assert not port_accepts("127.0.0.1", stack.ports[name])
    stack.stop()  # idempotent


def test_start_failure_names_the_log_and_cleans_up(tmp_path: Path, fake_root: Path) -> None:
    serve = _http_server(fake_root)

    def command(name: str, port: int) -> list[str]:
        if name == "notifications":
            return [sys.executable, "-c", "import sys; print('boom: bad settings'); sys.exit(3)"]
        return serve(name, port)

    stack = Stack(
        tmp_path / "data",
        ports=free_service_ports(),
        bootstrap_servers=NO_KAFKA,
        start_timeout=30,
        command=command,
    )
    with pytest.raises(StackError) as info:
        stack.start()
    message = str(info.value)
    assert "notifications exited with status 3" in message
    assert str(stack.log_path("notifications")) in message
    assert "boom: bad settings" in message
    assert stack.pids == {}
    for name in SERVICES:
        assert not port_accepts("127.0.0.1", stack.ports[name])


def test_start_refuses_a_port_already_in_use(tmp_path: Path, fake_root: Path) -> None:
    ports = free_service_ports()
    squatter = subprocess.Popen(_http_server(fake_root)("squatter", ports["reporting"]))
    try:
        deadline = time.monotonic() + 20
        while not port_accepts("127.0.0.1", ports["reporting"]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        stack = Stack(
            tmp_path,
            ports=ports,
            bootstrap_servers=NO_KAFKA,
            command=_http_server(fake_root),
        )
        with pytest.raises(StackError, match="already in use"):
            stack.start()
        assert stack.pids == {}
    finally:
        squatter.kill()
        squatter.wait()


def test_stop_kills_what_ignores_sigterm_and_sweeps_the_group(
    tmp_path: Path, fake_root: Path
) -> None:
    stubborn = tmp_path / "stubborn.py"
    stubborn.write_text(
        textwrap.dedent(
            """
            import functools, http.server, signal, sys
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            handler = functools.partial(
                http.server.SimpleHTTPRequestHandler, directory=sys.argv[2]
            )
            address = ("127.0.0.1", int(sys.argv[1]))
            http.server.ThreadingHTTPServer(address, handler).serve_forever()
            """
        )
    )
    helper_pid_file = tmp_path / "helper.pid"
    serve = _http_server(fake_root)

    def command(name: str, port: int) -> list[str]:
        if name == "reviews":
            return [sys.executable, str(stubborn), str(port), str(fake_root)]
        if name == "partners":
            # leaves a helper in the group that ignores SIGTERM and outlives the leader
            script = (
                f"(trap '' TERM; exec sleep 300) & echo $! > {helper_pid_file}; "
                f"exec {' '.join(serve(name, port))}"
            )
            return ["/bin/sh", "-c", script]
        return serve(name, port)

    stack = Stack(
        tmp_path / "data",
        ports=free_service_ports(),
        bootstrap_servers=NO_KAFKA,
        start_timeout=30,
        command=command,
    )
    stack.start()
    pids = list(stack.pids.values())
    helper = int(helper_pid_file.read_text())
    assert _alive(helper)
    started = time.monotonic()
    stack.stop(timeout=1.0)
    assert time.monotonic() - started < 10
    assert _wait_dead([*pids, helper])
    assert "ignored SIGTERM" in stack.log_path("reviews").read_text()


def test_echo_copies_log_lines(tmp_path: Path, fake_root: Path) -> None:
    import io

    out = io.StringIO()
    stack = Stack(
        tmp_path / "data",
        ports=free_service_ports(),
        bootstrap_servers=NO_KAFKA,
        services=["partners"],
        echo=out,
        command=_http_server(fake_root),
    )
    with stack:
        _get(stack.urls["partners"] + "/healthz")
        deadline = time.monotonic() + 10
        while "GET /healthz" not in out.getvalue():
            assert time.monotonic() < deadline, out.getvalue()
            time.sleep(0.05)
    assert any(line.startswith("partners ") for line in out.getvalue().splitlines())


def test_embedded_broker_is_started_killed_and_stopped_with_the_stack(
    tmp_path: Path, fake_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    stack = Stack(
        tmp_path / "data",
        ports=free_service_ports(),
        services=["partners"],
        command=_http_server(fake_root),
    )
    with stack:
        broker = stack.broker_pid
        assert broker is not None and _alive(broker)
        assert stack.env_for("partners")["KAFKA_BOOTSTRAP_SERVERS"] == stack.bootstrap_servers
        assert stack.log_path("broker").exists()
        stack.kill_all()
        assert _wait_dead([broker])
        assert stack.broker_pid is None
        stack.start()
        broker = stack.broker_pid
        assert broker is not None and _alive(broker)
    assert _wait_dead([broker])
    assert stack.broker_pid is None
