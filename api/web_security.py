"""Security headers: the page may run only its own script and style, may not be framed, and
sends no referrer; every answer says "nosniff".

The API docs (swagger-ui, redoc, served from the ``fastapi-offline`` package, never a CDN)
need the small inline script FastAPI writes into their page, so they get a policy of their
own that still allows nothing from other origins.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc", "/static-offline-docs")
ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _encoded(headers: dict[str, str]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())


# Encoded once: every response gets these unless the route set its own.
_PAGE_HEADERS = _encoded({**ALWAYS, "Content-Security-Policy": PAGE_POLICY})
_DOCS_HEADERS = _encoded({**ALWAYS, "Content-Security-Policy": DOCS_POLICY})


class SecurityHeaders:
    """Pure ASGI, so server-sent events stream through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        defaults = _DOCS_HEADERS if path.startswith(DOCS_PATHS) else _PAGE_HEADERS

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # As MutableHeaders.setdefault, in one pass over the response's headers.
                headers = message["headers"] = list(message.get("headers", ()))
                present = {name for name, _value in headers}
                headers.extend(pair for pair in defaults if pair[0] not in present)
            await send(message)

        await self.app(scope, receive, with_headers)
