"""Prometheus metrics of one app instance (its own registry: no process-global state).

Requests are counted by route template, not raw path, so ids do not explode the label set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _JobCollector(Collector):
    def __init__(self, stats: Callable[[], dict[str, int]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        yield GaugeMetricFamily(
            "tastemaker_jobs_waiting", "Generations queued", value=stats.get("waiting", 0)
        )
        yield GaugeMetricFamily(
            "tastemaker_jobs_running", "Generations running", value=stats.get("running", 0)
        )
        finished = CounterMetricFamily(
            "tastemaker_jobs_finished", "Generations finished", labels=["status"]
        )
        for status in ("done", "failed"):
            finished.add_metric([status], stats.get(f"finished_{status}", 0))
        yield finished


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tastemaker_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tastemaker_http_request_duration_seconds",
            "Time to the response's first byte",
            ["route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )

    def watch_jobs(self, stats: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_JobCollector(stats))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Pure ASGI (no buffering, so server-sent events stream through untouched)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                route = _route(scope)
                self.metrics.latency.labels(route).observe(time.perf_counter() - started)
                self.metrics.requests.labels(scope["method"], route, str(status["code"])).inc()
            await send(message)

        await self.app(scope, receive, send_wrapper)


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
