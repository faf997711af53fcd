"""Domain errors mapped to HTTP in one place, and validation errors turned into plain words."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from preference_store.errors import (
    AttributeConflict,
    AttributeNotFound,
    InvalidImport,
    PreferenceError,
    StoreMismatch,
    UserExists,
    UserNotFound,
    VersionNotFound,
)

STATUS_BY_ERROR: dict[type[PreferenceError], int] = {
    UserNotFound: 404,
    AttributeNotFound: 404,
    VersionNotFound: 404,
    UserExists: 409,
    AttributeConflict: 409,
    InvalidImport: 422,
    StoreMismatch: 500,
}


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, 'field: what is wrong', without pydantic's URLs."""
    parts = []
    for problem in error.errors(include_url=False):
        where = ".".join(str(p) for p in problem["loc"]) or "input"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)


def _status_for(error: PreferenceError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[kind]
    return 400


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PreferenceError)
    async def _preference_error(_request: Request, error: PreferenceError) -> JSONResponse:
        return JSONResponse(status_code=_status_for(error), content={"detail": str(error)})

    @app.exception_handler(ValidationError)
    async def _validation_error(_request: Request, error: ValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": describe_validation_error(error)})
