"""The Prometheus endpoint; what it counts is in ``api/metrics.py``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from api.deps import Credentials, SettingsDep, Unauthorized, secrets_match
from api.errors import ApiError
from api.metrics import Metrics

router = APIRouter(tags=["health"])


class Forbidden(ApiError):
    status = 403


LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={401: {"description": "A metrics token is set and was not given."}, 403: {}},
)
async def metrics(
    request: Request, settings: SettingsDep, credentials: Credentials
) -> PlainTextResponse:
    """Prometheus text format: requests by route and status, latency, the job queue.

    Limited by settings: `TASTEMAKER_METRICS_TOKEN` (a bearer token the scraper sends) and
    `TASTEMAKER_METRICS_LOOPBACK_ONLY` (only clients on this machine)."""
    client = request.client.host if request.client else ""
    if settings.metrics_loopback_only and client not in LOOPBACK:
        raise Forbidden("metrics are served only to clients on this machine")
    if settings.metrics_token is not None:
        given = credentials.credentials if credentials else ""
        if not secrets_match(given, settings.metrics_token.get_secret_value()):
            raise Unauthorized()
    registry: Metrics = request.app.state.metrics
    body, content_type = registry.render()
    return PlainTextResponse(body, media_type=content_type)
