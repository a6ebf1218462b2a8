"""RFC 9457 problem details for every error a service returns.

Domain errors carry their HTTP status; one set of handlers renders them, FastAPI's validation
errors (naming each field by JSON pointer), HTTP errors and unexpected failures alike.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry import trace
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("masa.problems")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://masa-platform.org/problems/"


class Problem(Exception):
    """An error a client can act on. Subclasses fix the status and title."""

    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.headers = headers
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            doc["instance"] = instance
        doc.update(self.extra)
        return doc


class NotFound(Problem):
    status, title, slug = 404, "Not found", "not-found"


class Unauthorized(Problem):
    status, title, slug = 401, "Authentication required", "unauthorized"

    def __init__(self, detail: str = "A valid bearer token is required.", **extra: Any):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **extra)


class Forbidden(Problem):
    status, title, slug = 403, "Not allowed", "forbidden"


class Conflict(Problem):
    status, title, slug = 409, "Conflict with the current state", "conflict"


class Unprocessable(Problem):
    """The request is well-formed but breaks a rule; ``errors`` names the fields."""

    status, title, slug = 422, "Your request is not valid", "validation-error"

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        if field is not None:
            extra.setdefault(
                "errors", [{"field": field, "pointer": pointer(field), "detail": detail}]
            )
        super().__init__(detail, **extra)


def pointer(field: str) -> str:
    return "#/" + field.replace(".", "/")


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    instance = request.url.path if request is not None else None
    return JSONResponse(
        problem.body(instance),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def _validation_problem(exc: RequestValidationError) -> Problem:
    errors = []
    malformed = False
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        if err.get("type") == "json_invalid":
            malformed = True
        where = loc[0] if loc else "body"
        path = loc[1:] if where == "body" else loc
        field = ".".join(path) or where
        errors.append(
            {
                "field": field,
                "pointer": pointer(field) if where == "body" else None,
                "in": where,
                "detail": err.get("msg", "invalid"),
                "type": err.get("type"),
            }
        )
    if malformed:
        p: Problem = Problem("The request body is not valid JSON.", errors=errors)
        p.slug, p.title = "malformed-json", "Malformed JSON"
        return p
    names = ", ".join(e["field"] for e in errors)
    return Unprocessable(f"Check these fields: {names}.", errors=errors)


def unexpected_error_response(request: Request, exc: Exception) -> JSONResponse:
    """A 500 problem that names nothing internal; the exception goes to the log and the span."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    span = trace.get_current_span()
    if span.is_recording():
        span.record_exception(exc)
        span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
    p = Problem("An unexpected error occurred; it has been logged.")
    p.status, p.title, p.slug = 500, "Internal error", "internal-error"
    return problem_response(p, request)


class UnexpectedErrorMiddleware:
    """Turns an unexpected exception into the 500 problem *inside* the app's middleware.

    Starlette hands ``Exception`` handlers to its outermost ServerErrorMiddleware, which sends
    the response and then re-raises: the other middleware (request metrics) never see the 500,
    the server logs the error a second time, and an in-process test client raises instead of
    receiving the response. Installed innermost, this answers like any other handler.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            if started:  # too late for a problem response: let the server end the stream
                raise
            response = unexpected_error_response(Request(scope), exc)
            await response(scope, receive, send)


def install_problem_handlers(app: FastAPI) -> None:
    """Problem handlers, and the innermost middleware for unexpected errors (install this
    before any other middleware, so they all wrap it)."""
    app.add_middleware(UnexpectedErrorMiddleware)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(_validation_problem(exc), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        p = Problem(str(exc.detail), headers=getattr(exc, "headers", None))
        p.status = exc.status_code
        p.title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        p.slug = p.title.lower().replace(" ", "-")
        return problem_response(p, request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Only reached for errors raised outside UnexpectedErrorMiddleware (outer middleware).
        return unexpected_error_response(request, exc)
