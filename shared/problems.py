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
from starlette.exceptions import HTTPException as StarletteHTTPException

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
            extra.setdefault("errors", [{"field": field, "pointer": pointer(field),
                                         "detail": detail}])
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
            {"field": field, "pointer": pointer(field) if where == "body" else None,
             "in": where, "detail": err.get("msg", "invalid"), "type": err.get("type")}
        )
    if malformed:
        p: Problem = Problem("The request body is not valid JSON.", errors=errors)
        p.slug, p.title = "malformed-json", "Malformed JSON"
        return p
    names = ", ".join(e["field"] for e in errors)
    return Unprocessable(f"Check these fields: {names}.", errors=errors)


def install_problem_handlers(app: FastAPI) -> None:
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
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        p = Problem("An unexpected error occurred; it has been logged.")
        p.status, p.title, p.slug = 500, "Internal error", "internal-error"
        return problem_response(p, request)
