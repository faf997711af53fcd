"""Typed FastAPI dependencies: the components built in the lifespan, and the caller's user.

Every ``Annotated[..., Depends(...)]`` alias the routes use is defined here, so route modules
hold routes only.

The caller's user comes from the bearer token, and each token draws from its own token bucket:
a client that floods the service gets 429 with Retry-After instead of slowing everyone down.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.extraction import Extractor
from agent.gallery import Gallery
from api.errors import ApiError, TooManyRequests, Unavailable
from api.onboarding import Onboarding
from api.settings import Settings
from api.taste import TasteService
from jobs.queue import JobQueue
from preference_store.accounts import Accounts
from preference_store.blobs import BlobStore
from preference_store.profiles import DEFAULT_PROFILE, PROFILE_NAME_PATTERN
from preference_store.store import PreferenceStore
from preference_store.styles import StyleStore

_bearer = HTTPBearer(auto_error=False, description="A user's API token: `Bearer tm_…`.")


class Unauthorized(ApiError):
    status = 401

    def __init__(self) -> None:
        super().__init__(
            "a valid 'Authorization: Bearer <token>' header is required",
            headers={"WWW-Authenticate": "Bearer"},
        )


def secrets_match(given: str, expected: str) -> bool:
    """Constant-time comparison of a secret from a request header with a configured one, as
    bytes: ``compare_digest`` refuses non-ASCII ``str`` (a 500 for any client that sent one).
    A header arrives decoded as Latin-1, so that gives back the bytes the client sent; the
    configured secret is compared as its UTF-8 bytes."""
    sent = given.encode("latin-1", errors="replace")
    return secrets.compare_digest(sent, expected.encode())


class RateLimiter:
    """Token buckets per key: ``burst`` requests at once, refilled at ``per_minute``."""

    def __init__(self, per_minute: int, burst: int) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) * self._rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = int((1.0 - tokens) / self._rate) + 1
                raise TooManyRequests(
                    f"too many requests; this token may make {round(self._rate * 60)} per "
                    f"minute. Try again in {wait} s",
                    retry_after_s=wait,
                )
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > 100_000:  # forget idle clients rather than grow forever
                self._buckets.clear()


class TokenCache:
    """Token → user for a few seconds, so a burst of requests reads the accounts table once."""

    def __init__(self, accounts: Accounts, ttl_s: float = 30.0) -> None:
        self._accounts = accounts
        self._ttl = ttl_s
        self._entries: dict[str, tuple[str, float]] = {}

    def cached(self, token: str) -> str | None:
        hit = self._entries.get(token)
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

    def user_for(self, token: str) -> str | None:
        now = time.monotonic()
        hit = self._entries.get(token)
        if hit is not None and hit[1] > now:
            return hit[0]
        user = self._accounts.user_for_token(token)
        if user is not None:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[token] = (user, now + self._ttl)
        return user


def _state(request: Request, name: str) -> Any:
    value = getattr(request.app.state, name, None)
    if value is None:
        raise Unavailable(f"the service is starting or has no {name.replace('_', ' ')}")
    return value


async def get_settings(request: Request) -> Settings:
    settings: Settings = _state(request, "settings")
    return settings


async def get_store(request: Request) -> PreferenceStore:
    store: PreferenceStore = _state(request, "store")
    return store


async def get_styles(request: Request) -> StyleStore:
    styles: StyleStore = _state(request, "styles")
    return styles


async def get_accounts(request: Request) -> Accounts:
    accounts: Accounts = _state(request, "accounts")
    return accounts


async def get_jobs(request: Request) -> JobQueue:
    jobs: JobQueue = _state(request, "jobs")
    return jobs


async def get_blobs(request: Request) -> BlobStore:
    blobs: BlobStore = _state(request, "blobs")
    return blobs


async def get_slow_lane(request: Request) -> anyio.CapacityLimiter:
    lane: anyio.CapacityLimiter = _state(request, "slow_lane")
    return lane


async def get_gallery(request: Request) -> Gallery:
    gallery: Gallery | None = getattr(request.app.state, "gallery", None)
    if gallery is None:
        raise Unavailable("the gallery is not loaded yet")
    return gallery


async def get_onboarding(request: Request) -> Onboarding:
    onboarding: Onboarding | None = getattr(request.app.state, "onboarding", None)
    if onboarding is None:
        raise Unavailable("onboarding is not available yet")
    return onboarding


async def get_taste(request: Request) -> TasteService:
    taste: TasteService = _state(request, "taste")
    return taste


async def get_extractor(request: Request) -> Extractor:
    extractor: Extractor = _state(request, "extractor")
    return extractor


T = TypeVar("T")


async def in_lane(lane: anyio.CapacityLimiter, work: Callable[[], T]) -> T:
    """Run blocking work that may wait on a language model (seconds, retries) in its own
    bounded set of threads, so slow LLM calls never take the threads quick reads need."""
    return await anyio.to_thread.run_sync(work, limiter=lane)


SettingsDep = Annotated[Settings, Depends(get_settings)]
SlowLaneDep = Annotated[anyio.CapacityLimiter, Depends(get_slow_lane)]
StoreDep = Annotated[PreferenceStore, Depends(get_store)]
StylesDep = Annotated[StyleStore, Depends(get_styles)]
AccountsDep = Annotated[Accounts, Depends(get_accounts)]
JobsDep = Annotated[JobQueue, Depends(get_jobs)]
BlobsDep = Annotated[BlobStore, Depends(get_blobs)]
GalleryDep = Annotated[Gallery, Depends(get_gallery)]
OnboardingDep = Annotated[Onboarding, Depends(get_onboarding)]
TasteDep = Annotated[TasteService, Depends(get_taste)]
ExtractorDep = Annotated[Extractor, Depends(get_extractor)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


AUTH_COOKIE = "tm_auth"  # the page's token: HttpOnly, so no script can read it
CSRF_COOKIE = "tm_csrf"  # readable by the page, which echoes it in CSRF_HEADER
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class CsrfRefused(ApiError):
    status = 403


def _cookie_token(request: Request) -> str | None:
    """The page's token from its cookie; a request that changes something must also carry
    the CSRF cookie's value in a header (double submit), which another site cannot read."""
    token = request.cookies.get(AUTH_COOKIE)
    if not token:
        return None
    if request.method not in SAFE_METHODS:
        expected = request.cookies.get(CSRF_COOKIE, "")
        given = request.headers.get(CSRF_HEADER, "")
        if not expected or not secrets_match(given, expected):
            raise CsrfRefused(f"a signed-in page must send the {CSRF_HEADER} header")
    return token


async def get_current_user(request: Request, credentials: Credentials) -> str:
    """The user the bearer token (or the page's cookie) belongs to; 401 without a valid
    token, 429 when flooding.

    Async, so the common case (a token seen in the last seconds) costs no thread hop; a cache
    miss reads the accounts table in the threadpool."""
    if credentials is not None and credentials.credentials:
        token = credentials.credentials
    else:
        token = _cookie_token(request) or ""
    if not token:
        raise Unauthorized()
    tokens: TokenCache = _state(request, "tokens")
    user = tokens.cached(token) or await run_in_threadpool(tokens.user_for, token)
    if user is None:
        raise Unauthorized()
    limiter: RateLimiter = _state(request, "limiter")
    limiter.check(token)
    return user


CurrentUser = Annotated[str, Depends(get_current_user)]


ProfileName = Annotated[
    str,
    Query(
        min_length=1,
        max_length=32,
        pattern=PROFILE_NAME_PATTERN,
        description="Which of your profiles (GET /v1/profiles); the default when left out.",
    ),
]


async def get_owner(
    request: Request, user: CurrentUser, profile: ProfileName = DEFAULT_PROFILE
) -> str:
    """The owner key of the caller's profile ``profile``: the one place a request's profile is
    resolved, always within the caller's own account, so another person's profile name is a
    404 like a name nobody has (docs/design.md, "Named profiles")."""
    if profile == DEFAULT_PROFILE:
        return user
    store: PreferenceStore = _state(request, "store")
    owner: str = await run_in_threadpool(store.profiles.owner, user, profile)
    return owner


CurrentOwner = Annotated[str, Depends(get_owner)]
"""Whose preferences a route reads and writes: the caller's chosen profile."""
