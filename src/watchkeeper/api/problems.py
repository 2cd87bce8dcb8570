"""Errors as ``application/problem+json`` (RFC 9457), one shape for every failure.

Clients (the console, scripts, VMS integrations) read ``status``, ``title`` and ``detail``
the same way whatever went wrong. Our own exceptions already carry one-line actionable
messages, so they are mapped to a status here and their message becomes ``detail``; an
unexpected exception becomes a 500 whose detail says nothing about the inside (it is logged).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from watchkeeper.api.responses import SafeJSONResponse
from watchkeeper.enrolment import EnrolmentError
from watchkeeper.policy.accounts import AccountError
from watchkeeper.policy.roles import UnknownRole
from watchkeeper.store.crypto import CipherError
from watchkeeper.store.errors import NotFound, StoreError
from watchkeeper.vision import ModelError
from watchkeeper.vision.imageio import ImageError

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"


class ProblemError(Exception):
    """Raise from any endpoint or dependency to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.headers = headers
        self.extra = extra


def problem(
    status: int,
    title: str | None = None,
    detail: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """A problem response; ``title`` defaults to the status phrase (e.g. "Not Found")."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if extra:
        body.update(extra)
    return SafeJSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def image_error_status(exc: ImageError) -> int:
    """415 for what is not an image, 413 for an image too large to decode, 422 otherwise."""
    message = str(exc)
    if "is not an image" in message or "is empty" in message:
        return 415
    if "pixels" in message and ("more than" in message or "most allowed" in message):
        return 413
    return 422


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An error (RFC 9457): read status, title and detail.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "For 422: each invalid field, where it is and why.",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document say what error answers are: problem documents.

    FastAPI documents a 422 of its own shape as ``application/json``; clients (and the
    schema fuzzer) would then reject the real answers. Every 4xx/5xx response of every
    operation is documented as ``application/problem+json`` with :data:`PROBLEM_SCHEMA`.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    problem_content = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                if str(status)[:1] in ("4", "5"):
                    response["content"] = problem_content
    return schema


def install(app: FastAPI) -> None:
    """Register the handlers that turn our exceptions into problem documents."""

    async def on_problem(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem(exc.status, exc.title, exc.detail, headers=exc.headers, extra=exc.extra)

    async def on_http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = dict(exc.headers) if exc.headers else None
        return problem(exc.status_code, None, detail, headers=headers)

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "msg": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
            }
            for error in exc.errors()
        ]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)
        return problem(422, "Invalid request", detail, extra={"errors": errors})

    async def on_not_found(_request: Request, exc: Exception) -> JSONResponse:
        return problem(404, None, str(exc))

    async def on_store(_request: Request, exc: Exception) -> JSONResponse:
        message = str(exc)
        status = 409 if "already exists" in message or "last active admin" in message else 400
        return problem(status, None, message)

    async def on_enrolment(_request: Request, exc: Exception) -> JSONResponse:
        return problem(422, "Photo cannot be used", str(exc))

    async def on_image(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ImageError)
        return problem(image_error_status(exc), "Photo cannot be used", str(exc))

    async def on_invalid(_request: Request, exc: Exception) -> JSONResponse:
        return problem(422, "Invalid request", str(exc))

    async def on_cipher(request: Request, exc: Exception) -> JSONResponse:
        # stored data failed its check (swapped, altered, wrong key): the operator must act,
        # the client learns no path; one line, no traceback
        log.error("%s %s: %s", request.method, request.url.path, exc)
        detail = "stored data failed its integrity or key check; the server log says which"
        return problem(500, None, detail)

    async def on_model(_request: Request, exc: Exception) -> JSONResponse:
        log.error("face models unavailable: %s", exc)
        return problem(503, None, "the face models are not available; see the server log")

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem(500, None, "an internal error occurred; it has been logged")

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(NotFound, on_not_found)
    app.add_exception_handler(StoreError, on_store)
    app.add_exception_handler(CipherError, on_cipher)
    app.add_exception_handler(EnrolmentError, on_enrolment)
    app.add_exception_handler(ImageError, on_image)
    app.add_exception_handler(AccountError, on_invalid)
    app.add_exception_handler(UnknownRole, on_invalid)
    app.add_exception_handler(ModelError, on_model)
    app.add_exception_handler(Exception, on_unexpected)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
