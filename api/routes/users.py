"""Users: create one (admin token, or open sign-up for the local web page) and ``/v1/me``."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Body, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from api.deps import (
    AUTH_COOKIE,
    CSRF_COOKIE,
    AccountsDep,
    Credentials,
    CurrentUser,
    RateLimiter,
    SettingsDep,
    StoreDep,
    TokenCache,
    Unauthorized,
    secrets_match,
)
from api.errors import ApiError
from api.schemas import MeOut, Problem, SignedIn, SignIn, UserCreate, UserCreated

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


@router.post("/session", responses={401: {"model": Problem}, 429: {"model": Problem}})
async def sign_in(request: Request, response: Response, body: SignIn) -> SignedIn:
    """For the web page: keep a token in an HttpOnly cookie instead of in page storage, with
    a CSRF cookie the page echoes in `X-CSRF-Token` on every change. API clients keep using
    `Authorization: Bearer`."""
    limiter: RateLimiter = request.app.state.limiter
    limiter.check(f"signin:{request.client.host if request.client else 'unknown'}")
    tokens: TokenCache = request.app.state.tokens
    user = await run_in_threadpool(tokens.user_for, body.token)
    if user is None:
        raise Unauthorized()
    secure = request.url.scheme == "https"
    for name, value, httponly in (
        (AUTH_COOKIE, body.token, True),
        (CSRF_COOKIE, secrets.token_urlsafe(24), False),
    ):
        response.set_cookie(
            name, value, path="/", samesite="strict", secure=secure, httponly=httponly
        )
    return SignedIn(id=user)


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out() -> Response:
    """Forget the page's cookies."""
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    for name in (AUTH_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/")
    return response


@router.get("/me", responses={401: {"model": Problem}})
def me(user: CurrentUser, store: StoreDep) -> MeOut:
    """Who the token belongs to, and the size of their profile."""
    versions = store.versions(user)
    return MeOut(
        id=user,
        profile_version=versions[-1].version if versions else 0,
        attribute_count=versions[-1].attribute_count if versions else 0,
    )
