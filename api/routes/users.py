"""Users: create one (admin token, or open sign-up for the local web page) and ``/v1/me``."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Body, Request, status

from api.deps import (
    AccountsDep,
    Credentials,
    CurrentUser,
    RateLimiter,
    SettingsDep,
    StoreDep,
    secrets_match,
)
from api.errors import ApiError
from api.schemas import MeOut, Problem, UserCreate, UserCreated

router = APIRouter(prefix="/v1", tags=["users"], responses={422: {"model": Problem}})


class Forbidden(ApiError):
    status = 403


def _check_may_create(settings: SettingsDep, credentials: Credentials) -> None:
    if settings.admin_token is not None:
        given = credentials.credentials if credentials else ""
        if not secrets_match(given, settings.admin_token.get_secret_value()):
            raise Forbidden("creating users needs the admin token: 'Authorization: Bearer <admin>'")
    elif not settings.open_signup:
        raise Forbidden(
            "creating users is switched off here; ask the operator for a token "
            "(`tastemaker users create NAME`)"
        )


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    responses={403: {"model": Problem}, 409: {"model": Problem}, 429: {"model": Problem}},
)
def create_user(
    request: Request,
    settings: SettingsDep,
    accounts: AccountsDep,
    credentials: Credentials,
    body: Annotated[UserCreate | None, Body()] = None,
) -> UserCreated:
    """Create a user and return its bearer token (shown once).

    With `TASTEMAKER_ADMIN_TOKEN` set, only the admin token may do this. Without it, and with
    `TASTEMAKER_OPEN_SIGNUP` left on (the local default), anyone who reaches the service may: that
    is how the web page makes a user for the browser.
    """
    _check_may_create(settings, credentials)
    limiter: RateLimiter = request.app.state.limiter
    limiter.check(f"signup:{request.client.host if request.client else 'unknown'}")
    user_id = (body.id if body else None) or f"user-{secrets.token_hex(6)}"
    accounts.create(user_id)
    return UserCreated(id=user_id, token=accounts.issue_token(user_id))


@router.get("/me", responses={401: {"model": Problem}})
def me(user: CurrentUser, store: StoreDep) -> MeOut:
    """Who the token belongs to, and the size of their profile."""
    versions = store.versions(user)
    return MeOut(
        id=user,
        profile_version=versions[-1].version if versions else 0,
        attribute_count=versions[-1].attribute_count if versions else 0,
    )
