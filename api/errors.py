"""Every error the service answers with, mapped to HTTP in one place, as ``{"detail": "..."}``.

Domain errors of the layers below keep their own types; the table here decides the status.
Validation errors become one line a person can read, without pydantic's URLs.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

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
    PreferenceError,
    ProfileFull,
    StoreMismatch,
    StyleNotFound,
    UserExists,
    UserNotFound,
    VersionNotFound,
)

log = logging.getLogger("tastemaker.api")


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


class TooManyRequests(ApiError):
    status = 429

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after_s))})


class Unavailable(ApiError):
    status = 503


STATUS_BY_ERROR: dict[type[Exception], int] = {
    UserNotFound: 404,
    StyleNotFound: 404,
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
