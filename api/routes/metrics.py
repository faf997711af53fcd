"""Prometheus metrics of one app instance (its own registry: no process-global state).

Requests are counted by route template, not raw path, so ids do not explode the label set.
"""

from __future__ import annotations

import threading
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


CorrectionCounts = tuple[dict[str, int], dict[tuple[str, str], int]]
CORRECTION_ACTIONS = ("flip", "drop", "edit")


class _CorrectionCollector(Collector):
    """How often people correct each extractor: corrections per extracted attribute.

    Counted in the database (so the figures survive restarts and cover every process), at most
    every ``max_age_s`` and in a background thread: a scrape never waits on the database."""

    def __init__(self, counts: Callable[[], CorrectionCounts], max_age_s: float = 5.0) -> None:
        self._counts = counts
        self._max_age_s = max_age_s
        self._snapshot = counts()
        self._taken = time.monotonic()
        self._refreshing = threading.Lock()

    def _refresh_if_old(self) -> None:
        if time.monotonic() - self._taken < self._max_age_s:
            return
        if not self._refreshing.acquire(blocking=False):
            return

        def refresh() -> None:
            try:
                self._snapshot = self._counts()
                self._taken = time.monotonic()
            finally:
                self._refreshing.release()

        threading.Thread(target=refresh, name="correction-metrics", daemon=True).start()

    def collect(self) -> Iterator[Metric]:
        self._refresh_if_old()
        attributes, corrections = self._snapshot
        extracted = CounterMetricFamily(
            "tastemaker_extracted_attributes",
            "Attributes extracted from onboarding comments",
            labels=["extractor"],
        )
        corrected = CounterMetricFamily(
            "tastemaker_attribute_corrections",
            "Corrections people made to extracted attributes",
            labels=["extractor", "action"],
        )
        rate = GaugeMetricFamily(
            "tastemaker_corrections_per_extracted_attribute",
            "Corrections per extracted attribute, by extractor and action (flip/drop/edit)",
            labels=["extractor", "action"],
        )
        for extractor in sorted(set(attributes) | {e for e, _ in corrections}):
            total = attributes.get(extractor, 0)
            extracted.add_metric([extractor], total)
            for action in CORRECTION_ACTIONS:
                count = corrections.get((extractor, action), 0)
                corrected.add_metric([extractor, action], count)
                rate.add_metric([extractor, action], count / total if total else 0.0)
        yield extracted
        yield corrected
        yield rate


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

    def watch_corrections(self, counts: Callable[[], CorrectionCounts]) -> None:
        self.registry.register(_CorrectionCollector(counts))

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
