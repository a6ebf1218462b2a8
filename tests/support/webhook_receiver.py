"""A real webhook receiver, run as its own process, for testing notification delivery.

    python -m tests.support.webhook_receiver --port 8765 --secret-file secrets.json \\
        [--fail-first N] [--log deliveries.jsonl] [--port-file port.txt]

Every option can come from the environment instead: ``WEBHOOK_RECEIVER_PORT``,
``WEBHOOK_RECEIVER_SECRET_FILE``, ``WEBHOOK_RECEIVER_FAIL_FIRST``, ``WEBHOOK_RECEIVER_LOG``,
``WEBHOOK_RECEIVER_PORT_FILE``, ``WEBHOOK_RECEIVER_HOST``, ``WEBHOOK_RECEIVER_TOLERANCE``.

The secret file is either a JSON object mapping recipient to secret (the key ``"*"`` serves any
other recipient) or a text file holding one secret for every recipient. Secrets are not taken
on the command line, where other local users could read them.

``--port 0`` binds a free port; ``--port-file`` then tells the parent which one (written once
the socket is bound, before serving starts).

HTTP interface:

``POST /hooks/{recipient}``
    Verifies the Standard Webhooks signature with the recipient's secret
    (:func:`services.notifications.signing.verify`). Unknown recipient: 404; bad or missing
    signature, stale timestamp: 401, and the request is *not* recorded (it is listed under
    ``/rejections``). Otherwise the delivery is recorded and answered according to the
    recipient's controls: first the pending failures (``fail_next``, then ``--fail-first``),
    then ``redirect``, else 200 ``{"ok": true}``. Failed and redirected attempts are recorded
    too, with the status they got, so tests can count retries.
``POST /control/{recipient}``
    JSON, all fields optional: ``fail_next`` (int: answer the next N verified deliveries with
    ``status``), ``status`` (int, default 503), ``retry_after`` (str: a Retry-After header for
    those failures), ``redirect`` (bool: answer 307 until turned off), ``redirect_to`` (URL
    for the Location header; default ``/hooks/{recipient}-moved``), ``delay_seconds`` (float:
    sleep this long before every answer until set back to 0), ``reset`` (bool: clear all the
    recipient's controls first). Answers the resulting controls.
``GET /deliveries``, ``GET /deliveries/{recipient}``
    The records, oldest first. ``DELETE /deliveries`` forgets them (not the JSONL log).
``GET /rejections``
    Requests refused with 401/404, with the reason.
``GET /healthz``

A record: ``recipient``, ``webhook_id``, ``webhook_timestamp`` (int), ``body`` (parsed JSON, or
``None`` with ``body_text`` when not JSON), ``headers`` (lower-cased), ``received_at`` (ISO
8601, UTC), ``status`` (what was answered), ``outcome`` (``accepted``, ``failed`` or
``redirected``), ``attempt`` (how many times this recipient has now seen this webhook-id) and
``duplicate`` (this webhook-id had already been accepted for this recipient). With ``--log``
each record is also appended to a JSONL file as it arrives, before any delay, so a test can
read it after killing the process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from services.notifications.signing import (
    DEFAULT_TOLERANCE_SECONDS,
    HEADER_ID,
    HEADER_TIMESTAMP,
    InvalidSignature,
    verify,
)

ANY_RECIPIENT = "*"
ENV_PREFIX = "WEBHOOK_RECEIVER_"


class ControlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reset: bool = False
    fail_next: int | None = Field(None, ge=0)
    status: int | None = Field(None, ge=100, le=599)
    retry_after: str | None = None
    redirect: bool | None = None
    redirect_to: str | None = None
    delay_seconds: float | None = Field(None, ge=0, le=3600)


@dataclass
class Controls:
    fail_next: int = 0
    status: int = 503
    retry_after: str | None = None
    redirect: bool = False
    redirect_to: str | None = None
    delay_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "fail_next": self.fail_next,
            "status": self.status,
            "retry_after": self.retry_after,
            "redirect": self.redirect,
            "redirect_to": self.redirect_to,
            "delay_seconds": self.delay_seconds,
        }


@dataclass
class ReceiverState:
    secrets: Mapping[str, str]
    fail_first: int = 0
    log_path: Path | None = None
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    controls: dict[str, Controls] = field(default_factory=dict)
    seen: dict[tuple[str, str], int] = field(default_factory=dict)
    accepted_ids: set[tuple[str, str]] = field(default_factory=set)

    def controls_for(self, recipient: str) -> Controls:
        if recipient not in self.controls:
            self.controls[recipient] = Controls(fail_next=self.fail_first)
        return self.controls[recipient]

    def secret_for(self, recipient: str) -> str | None:
        return self.secrets.get(recipient, self.secrets.get(ANY_RECIPIENT))

    def append_log(self, record: Mapping[str, Any]) -> None:
        if self.log_path is None:
            return
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(record, sort_keys=True) + "\n")
            log.flush()


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def create_app(state: ReceiverState) -> FastAPI:
    app = FastAPI(title="test webhook receiver", docs_url=None, redoc_url=None)
    app.state.receiver = state

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "pid": os.getpid()}

    @app.post("/hooks/{recipient}")
    async def receive(recipient: str, request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        secret = state.secret_for(recipient)
        if secret is None:
            return _reject(state, recipient, headers, 404, "unknown recipient")
        try:
            verify(secret, headers, body, tolerance_seconds=state.tolerance_seconds)
        except InvalidSignature as exc:
            return _reject(state, recipient, headers, 401, exc.reason)

        # Decide the answer and record it in one synchronous step (no await in between), so
        # concurrent deliveries cannot both consume the same pending failure.
        controls = state.controls_for(recipient)
        response_headers: dict[str, str] = {}
        if controls.fail_next > 0:
            controls.fail_next -= 1
            status, outcome = controls.status, "failed"
            if controls.retry_after is not None:
                response_headers["retry-after"] = controls.retry_after
        elif controls.redirect:
            status, outcome = 307, "redirected"
            response_headers["location"] = controls.redirect_to or f"/hooks/{recipient}-moved"
        else:
            status, outcome = 200, "accepted"

        msg_id = headers[HEADER_ID]
        key = (recipient, msg_id)
        state.seen[key] = state.seen.get(key, 0) + 1
        record: dict[str, Any] = {
            "recipient": recipient,
            "webhook_id": msg_id,
            "webhook_timestamp": int(headers[HEADER_TIMESTAMP]),
            "received_at": _now_iso(),
            "status": status,
            "outcome": outcome,
            "attempt": state.seen[key],
            "duplicate": key in state.accepted_ids,
            "headers": headers,
        }
        try:
            record["body"] = json.loads(body)
        except ValueError:
            record["body"] = None
            record["body_text"] = body.decode("utf-8", errors="replace")
        if outcome == "accepted":
            state.accepted_ids.add(key)
        state.deliveries.append(record)
        state.append_log(record)

        if controls.delay_seconds > 0:
            await asyncio.sleep(controls.delay_seconds)
        if outcome == "accepted":
            return JSONResponse({"ok": True}, status_code=status)
        return JSONResponse({"ok": False, "outcome": outcome}, status, response_headers)

    @app.post("/control/{recipient}")
    async def control(recipient: str, change: ControlRequest) -> dict[str, Any]:
        if change.reset:
            state.controls[recipient] = Controls()
        controls = state.controls_for(recipient)
        for name, value in change.model_dump(exclude={"reset"}, exclude_none=True).items():
            setattr(controls, name, value)
        return controls.as_dict()

    @app.get("/deliveries")
    async def all_deliveries() -> list[dict[str, Any]]:
        return state.deliveries

    @app.delete("/deliveries")
    async def clear_deliveries() -> dict[str, Any]:
        cleared = len(state.deliveries)
        state.deliveries.clear()
        state.rejections.clear()
        state.seen.clear()
        state.accepted_ids.clear()
        return {"cleared": cleared}

    @app.get("/deliveries/{recipient}")
    async def recipient_deliveries(recipient: str) -> list[dict[str, Any]]:
        return [d for d in state.deliveries if d["recipient"] == recipient]

    @app.get("/rejections")
    async def rejections() -> list[dict[str, Any]]:
        return state.rejections

    return app


def _reject(
    state: ReceiverState, recipient: str, headers: Mapping[str, str], status: int, reason: str
) -> Response:
    state.rejections.append(
        {
            "recipient": recipient,
            "webhook_id": headers.get(HEADER_ID),
            "status": status,
            "reason": reason,
            "received_at": _now_iso(),
        }
    )
    return JSONResponse({"ok": False, "error": reason}, status_code=status)


def load_secrets(path: Path) -> dict[str, str]:
    """Recipient -> secret from a JSON object, or ``{"*": secret}`` from a plain-text file."""
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("{"):
        data = json.loads(text)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise ValueError(f"{path}: expected a JSON object of recipient -> secret strings")
        return dict(data)
    if not text:
        raise ValueError(f"{path}: no secret in file")
    return {ANY_RECIPIENT: text}


def _env(name: str) -> str | None:
    return os.environ.get(ENV_PREFIX + name) or None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.webhook_receiver", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default=_env("HOST") or "127.0.0.1")
    parser.add_argument("--port", type=int, default=_env("PORT"), help="0 picks a free port")
    parser.add_argument("--secret-file", type=Path, default=_env("SECRET_FILE"))
    parser.add_argument(
        "--fail-first",
        type=int,
        default=int(_env("FAIL_FIRST") or 0),
        help="answer each recipient's first N verified deliveries with 503",
    )
    parser.add_argument("--log", type=Path, default=_env("LOG"), help="append records (JSONL)")
    parser.add_argument("--port-file", type=Path, default=_env("PORT_FILE"))
    parser.add_argument(
        "--tolerance",
        type=float,
        default=float(_env("TOLERANCE") or DEFAULT_TOLERANCE_SECONDS),
        help="webhook-timestamp tolerance in seconds",
    )
    args = parser.parse_args(argv)
    if args.port is None:
        parser.error("--port (or WEBHOOK_RECEIVER_PORT) is required")
    if args.secret_file is None:
        parser.error("--secret-file (or WEBHOOK_RECEIVER_SECRET_FILE) is required")
    args.port = int(args.port)
    args.secret_file = Path(args.secret_file)
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    state = ReceiverState(
        secrets=load_secrets(args.secret_file),
        fail_first=args.fail_first,
        log_path=Path(args.log) if args.log else None,
        tolerance_seconds=args.tolerance,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.set_inheritable(True)
    port = sock.getsockname()[1]
    if args.port_file:
        port_file = Path(args.port_file)
        partial = port_file.with_name(port_file.name + ".partial")
        partial.write_text(str(port), encoding="utf-8")
        partial.replace(port_file)  # atomic: the parent never reads half a number
    config = uvicorn.Config(
        create_app(state),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    print(f"webhook receiver listening on http://{args.host}:{port}", file=sys.stderr, flush=True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
