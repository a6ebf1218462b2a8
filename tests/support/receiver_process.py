"""Start :mod:`tests.support.webhook_receiver` as a real subprocess, for tests.

Usage::

    with run_receiver(secrets={"cspr-panel": secret}) as receiver:
        url = receiver.hook_url("cspr-panel")
        ...
        assert receiver.deliveries("cspr-panel")[0]["body"] == {...}
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.notifications.signing import generate_secret

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODULE = "tests.support.webhook_receiver"
HOST = "127.0.0.1"


class ReceiverStartError(RuntimeError):
    """The receiver process exited or never became healthy; the message has its output."""


@dataclass
class ReceiverHandle:
    """A running receiver: where it listens, what it was given, how to query and stop it."""

    process: subprocess.Popen[bytes]
    port: int
    secrets: dict[str, str]
    log_path: Path | None = None
    output_path: Path | None = None
    host: str = HOST
    _client: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._client = httpx.Client(base_url=self.url, timeout=10.0)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234``."""
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def hook_url(self, recipient: str) -> str:
        """The endpoint URL to configure for ``recipient``."""
        return f"{self.url}/hooks/{recipient}"

    def secret_for(self, recipient: str) -> str:
        return self.secrets.get(recipient) or self.secrets["*"]

    def deliveries(self, recipient: str | None = None) -> list[dict[str, Any]]:
        """Recorded (signature-verified) deliveries, oldest first, failed attempts included."""
        path = "/deliveries" if recipient is None else f"/deliveries/{recipient}"
        response = self._client.get(path)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def accepted(self, recipient: str | None = None) -> list[dict[str, Any]]:
        """Only the deliveries that were answered 2xx."""
        return [d for d in self.deliveries(recipient) if d["outcome"] == "accepted"]

    def rejections(self) -> list[dict[str, Any]]:
        """Requests refused with 401 (bad signature) or 404 (unknown recipient)."""
        response = self._client.get("/rejections")
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def control(self, recipient: str, **changes: Any) -> dict[str, Any]:
        """Change how ``recipient``'s endpoint answers, e.g. ``control("x", fail_next=2)``.

        Keywords: ``fail_next``, ``status``, ``retry_after``, ``redirect``, ``redirect_to``,
        ``delay_seconds``, ``reset``. Returns the recipient's controls after the change.
        """
        response = self._client.post(f"/control/{recipient}", json=changes)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def clear(self) -> None:
        """Forget every recorded delivery and rejection (the JSONL log is kept)."""
        self._client.delete("/deliveries").raise_for_status()

    async def adeliveries(self, recipient: str | None = None) -> list[dict[str, Any]]:
        """:meth:`deliveries` without blocking the event loop."""
        path = "/deliveries" if recipient is None else f"/deliveries/{recipient}"
        async with httpx.AsyncClient(base_url=self.url, timeout=10.0) as client:
            response = await client.get(path)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    async def acontrol(self, recipient: str, **changes: Any) -> dict[str, Any]:
        """:meth:`control` without blocking the event loop."""
        async with httpx.AsyncClient(base_url=self.url, timeout=10.0) as client:
            response = await client.post(f"/control/{recipient}", json=changes)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def logged_deliveries(self) -> list[dict[str, Any]]:
        """The records in the ``--log`` JSONL file; readable after the process is gone."""
        if self.log_path is None or not self.log_path.exists():
            return []
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def output(self) -> str:
        """What the process wrote to stdout and stderr."""
        if self.output_path is None or not self.output_path.exists():
            return ""
        return self.output_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 5.0) -> int | None:
        """Terminate (SIGTERM), then kill if still alive after ``timeout``; idempotent."""
        self._client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        return self.process.returncode


def _wait_until_healthy(
    process: subprocess.Popen[bytes], port_file: Path, output_path: Path, timeout: float
) -> int:
    deadline = time.monotonic() + timeout
    port: int | None = None
    last_error = "no port file yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = output_path.read_text(encoding="utf-8", errors="replace")
            raise ReceiverStartError(
                f"webhook receiver exited with code {process.returncode}:\n{output}"
            )
        if port is None and port_file.exists():
            port = int(port_file.read_text(encoding="utf-8"))
        if port is not None:
            try:
                response = httpx.get(f"http://{HOST}:{port}/healthz", timeout=1.0)
                if response.status_code == 200 and response.json().get("pid") == process.pid:
                    return port
                last_error = f"/healthz answered {response.status_code}"
            except httpx.HTTPError as exc:
                last_error = repr(exc)
        time.sleep(0.05)
    output = output_path.read_text(encoding="utf-8", errors="replace")
    raise ReceiverStartError(
        f"webhook receiver not healthy after {timeout}s ({last_error}):\n{output}"
    )


@contextmanager
def run_receiver(
    port: int | None = None,
    secrets: Mapping[str, str] | None = None,
    *,
    fail_first: int = 0,
    log_path: Path | None = None,
    tolerance_seconds: float | None = None,
    startup_timeout: float = 20.0,
) -> Iterator[ReceiverHandle]:
    """Run the receiver in a subprocess for the duration of the ``with`` block.

    ``port=None`` lets the receiver bind a free port itself (no race with other tests).
    ``secrets`` maps recipient to ``whsec_`` secret; the key ``"*"`` serves any recipient.
    Without ``secrets`` one fresh secret serves every recipient (``handle.secrets["*"]``).
    ``log_path``: also append each record to this JSONL file. The process is stopped
    (terminate, then kill) on exit, also when the block raises.
    """
    secret_map = dict(secrets) if secrets is not None else {"*": generate_secret()}
    with tempfile.TemporaryDirectory(prefix="webhook-receiver-") as tmp:
        workdir = Path(tmp)
        secret_file = workdir / "secrets.json"
        secret_file.touch(mode=0o600)
        secret_file.write_text(json.dumps(secret_map), encoding="utf-8")
        port_file = workdir / "port"
        output_path = workdir / "output.log"
        command = [
            sys.executable,
            "-m",
            MODULE,
            "--host",
            HOST,
            "--port",
            str(port or 0),
            "--secret-file",
            str(secret_file),
            "--port-file",
            str(port_file),
            "--fail-first",
            str(fail_first),
        ]
        if log_path is not None:
            command += ["--log", str(log_path)]
        if tolerance_seconds is not None:
            command += ["--tolerance", str(tolerance_seconds)]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p
        )
        env["PYTHONUNBUFFERED"] = "1"
        with output_path.open("wb") as output:
            process = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        handle: ReceiverHandle | None = None
        try:
            bound_port = _wait_until_healthy(process, port_file, output_path, startup_timeout)
            handle = ReceiverHandle(
                process=process,
                port=bound_port,
                secrets=secret_map,
                log_path=log_path,
                output_path=output_path,
            )
            yield handle
        finally:
            if handle is not None:
                handle.stop()
            elif process.poll() is None:
                process.kill()
                process.wait(timeout=5)
