"""The FastAPI application: components built once in the lifespan, one router per resource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.routes import health, preferences
from api.settings import Settings
from api.wiring import Components


def create_app(settings: Settings | None = None) -> FastAPI:
    components = Components(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = components.settings
        app.state.accounts = components.accounts
        app.state.store = components.store  # loads the embedder and opens chromadb once
        yield

    app = FastAPI(
        title="tastemaker",
        version="0.1.0",
        summary="Learns a person's visual taste and makes Stable Diffusion follow it.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(preferences.router)
    return app
