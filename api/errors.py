"""Every error the service answers with, mapped to HTTP in one place, as ``{"detail": "..."}``.

Domain errors of the layers below keep their own types; the table here decides the status.
Validation errors become one line a person can read, without pydantic's URLs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.extraction import ExtractionError, InvalidComment
from agent.gallery import GalleryError
from agent.onboarding import OnboardingError, SessionFinished, UnknownMessage, UnknownSession
from generation.errors import (
    AestheticEmbeddingError,
    GenerationError,
    InvalidGenerationRequest,
)
from preference_store.errors import (
    AttributeConflict,
    AttributeNotFound,
    InvalidImport,
    PairAnswered,
    PairNotFound,
    PreferenceError,
    ProfileFull,
    StoreMismatch,
    StyleNotFound,
    UserExists,
    UserNotFound,
    VersionNotFound,
)
from preference_store.profiles import ProfileExists, ProfileNotFound, ProfileRefused

log = logging.getLogger("tastemaker.api")
# FastAPI's 400 for a body it cannot decode (not UTF-8, say): answered as the 422 every
# unreadable body gets, as the schema says.
UNDECODABLE_BODY = "There was an error parsing the body"


class ApiError(Exception):
    """An answer the API decides itself (not found, limits, queue full)."""

    status = 400

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class Unprocessable(ApiError):
    status = 422


class PayloadTooLarge(ApiError):
    status = 413


class TooManyRequests(ApiError):
    status = 429

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after_s))})


class Unavailable(ApiError):
    status = 503


STATUS_BY_ERROR: dict[type[Exception], int] = {
    UserNotFound: 404,
    StyleNotFound: 404,
    ProfileNotFound: 404,
    ProfileExists: 409,
    ProfileRefused: 422,
    PairNotFound: 422,  # the contract of issue 22: a pair not shown to you is bad input
    PairAnswered: 409,
    AttributeNotFound: 404,
    VersionNotFound: 404,
    UserExists: 409,
    AttributeConflict: 409,
    InvalidImport: 422,
    ProfileFull: 422,
    StoreMismatch: 500,
    InvalidGenerationRequest: 422,
    AestheticEmbeddingError: 422,
    GenerationError: 503,
    InvalidComment: 422,
    GalleryError: 404,
    ExtractionError: 502,
    UnknownSession: 404,
    UnknownMessage: 404,
    SessionFinished: 409,
    OnboardingError: 422,
}


def describe_validation_error(error: ValidationError | RequestValidationError) -> str:
    """One clause per problem, 'field: what is wrong'."""
    parts = []
    for problem in error.errors():
        location = [str(p) for p in problem.get("loc", ()) if p not in ("body", "query", "path")]
        where = ".".join(location) or "request body"
        message = str(problem.get("msg", "is invalid")).removeprefix("Value error, ")
        if problem.get("type") == "json_invalid":
            where, message = "request body", "is not valid JSON"
        parts.append(f"{where}: {message}")
    return "; ".join(parts) or "the request is invalid"


def status_for(error: Exception) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[kind]
    return 400


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, error: ApiError) -> JSONResponse:
        return problem(error.status, error.detail, error.headers)

    async def _domain_error(_request: Request, error: Exception) -> JSONResponse:
        status = status_for(error)
        if status >= 500:
            log.error("request failed: %s", error)
        return problem(status, str(error))

    handled = (PreferenceError, GenerationError, InvalidComment, GalleryError, ExtractionError)
    for kind in (*handled, OnboardingError):
        app.add_exception_handler(kind, _domain_error)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        return problem(422, describe_validation_error(error))

    @app.exception_handler(ValidationError)
    async def _validation_error(_request: Request, error: ValidationError) -> JSONResponse:
        return problem(422, describe_validation_error(error))

    install_http_error_handler(app)


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> set[str]:
    """Every method some route serves at this path (Starlette's 405 names only the first
    route's, though GET and POST of one path are two routes); the routers are included
    without a prefix of their own, so their routes' paths are whole."""
    methods: set[str] = set()
    for route in routes:
        included = getattr(getattr(route, "original_router", None), "routes", None)
        if included is not None:
            methods |= allowed_methods(included, scope)
        elif route.matches(scope)[0] is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return methods


def install_http_error_handler(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
        if error.status_code == 400 and error.detail == UNDECODABLE_BODY:
            return problem(422, "request body: is not valid JSON (UTF-8)")
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = ", ".join(sorted(allowed_methods(app.router.routes, request.scope)))
        return problem(error.status_code, str(error.detail), headers)


class ServerErrorsAsProblems:
    """An unexpected exception answers a JSON problem (500) on a connection that stays open.

    Starlette's last resort answers text/plain and raises on, and uvicorn then closes the
    connection; this catches it first (logged with its traceback) unless the answer had begun.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if started:
                raise
            detail = "the server failed to answer this request; the error is in its log"
            await problem(500, detail)(scope, receive, send)
