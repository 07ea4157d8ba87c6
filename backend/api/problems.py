"""One error shape for every error: RFC 9457 problem details (`application/problem+json`).

Every handler below answers with a `Problem`; routes raise `HTTPException` as usual. Client input is never
echoed back whole (a 10 MiB string stays on the client's side) and an error body stays small, whatever was
sent. `PROBLEMS` documents the shape on every operation of the OpenAPI.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
MAX_DETAIL = 1000  # characters of a detail message
MAX_ERRORS = 20  # validation errors listed


class FieldError(BaseModel):
    field: str = Field(description="where the problem is: body.steps, path.job_id, query.limit, ...")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field("about:blank", description="always about:blank: the status says what kind of problem")
    title: str = Field(description="the status' phrase")
    status: int
    detail: str = Field(description="what is wrong, and what to do about it")
    errors: list[FieldError] | None = Field(None, description="422: each invalid field (at most 20)")


def _clip(text: str, limit: int = MAX_DETAIL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def problem(status: int, detail: str, headers: dict[str, str] | None = None,
            errors: list[FieldError] | None = None) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=_clip(detail), errors=errors)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers,
                        media_type=MEDIA_TYPE)


def _field_errors(exc: RequestValidationError) -> list[FieldError]:
    out = []
    for error in exc.errors()[:MAX_ERRORS]:
        field = ".".join(_clip(str(part), 60) for part in error.get("loc", ())) or "(request)"
        out.append(FieldError(field=_clip(field, 200), message=_clip(str(error.get("msg", "invalid")), 300)))
    return out


def _allowed_methods(request: Request) -> list[str]:
    """Every method some operation serves at this path, from the OpenAPI document (Starlette names only the
    first matching route's)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)), request.url.path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Answer every error of `app` with a Problem."""

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).description
        return problem(exc.status_code, detail, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        summary = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        more = len(exc.errors()) - 5
        return problem(422, f"invalid request: {summary}" + (f" (and {more} more)" if more > 0 else ""),
                       errors=errors)

    @app.exception_handler(SQLAlchemyTimeout)
    @app.exception_handler(OperationalError)
    async def busy_problem(request: Request, exc: Exception) -> JSONResponse:
        log.warning("%s %s: database busy or unreachable: %s", request.method, request.url.path, exc)
        return problem(503, "the coordinator's database is busy or unreachable: retry shortly", {"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def server_problem(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return problem(500, "the coordinator failed on this request; it is logged. Try again, or report it.")


def responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI `responses` for a route: each status documented with the Problem shape."""
    return {status: {"model": Problem, "description": HTTPStatus(status).phrase,
                     "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for status in statuses}
