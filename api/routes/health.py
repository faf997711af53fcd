"""Liveness and readiness. Async and store-free, so they answer at once even while the worker
thread is busy with a generation (metrics: ``api/routes/metrics.py``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Still loading, or a model failed."}})
async def readyz(request: Request) -> JSONResponse:
    """The stores are open and the generation models loaded."""
    state = request.app.state
    jobs = getattr(state, "jobs", None)
    if getattr(state, "store", None) is None or jobs is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    if jobs.load_error is not None:
        return JSONResponse(
            {"status": "failed", "detail": f"the model failed to load: {jobs.load_error}"},
            status_code=503,
        )
    if not jobs.ready:
        return JSONResponse({"status": "loading models"}, status_code=503)
    return JSONResponse({"status": "ready"})
