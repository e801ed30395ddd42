"""Prometheus metrics in the text exposition format, written by hand (no client library): request
counts by route and status, a latency histogram by route, answers, abstentions, verification
failures, and index gauges."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _labels(**kv: str) -> str:
    def esc(v: str) -> str:
        return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in kv.items()) + "}"


class Metrics:
    """Counters and histograms of one app instance (no global registry: every app has its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, str]] = Counter()  # (method, route, status)
        self.latency: dict[str, list[float]] = {}  # route -> bucket counts + [sum, count]
        self.answers: Counter[str] = Counter()
        self.abstentions: Counter[str] = Counter()
        self.verification_failures: Counter[str] = Counter()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, str(status))] += 1
            h = self.latency.setdefault(route, [0.0] * (len(BUCKETS) + 2))
            for i, b in enumerate(BUCKETS):
                if seconds <= b:
                    h[i] += 1
            h[-2] += seconds
            h[-1] += 1

    def observe_answer(self, reply: dict[str, Any]) -> None:
        backend = str(reply.get("backend", "unknown"))
        with self._lock:
            self.answers[backend] += 1
            if reply.get("abstained"):
                self.abstentions[backend] += 1
            if not reply.get("verified", True) or reply.get("repair"):
                self.verification_failures[backend] += 1

    def render(self, state: Any | None = None) -> str:
        out: list[str] = []

        def family(name: str, kind: str, help_: str) -> None:
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} {kind}")

        with self._lock:
            family("rag_http_requests_total", "counter", "HTTP requests by method, route and status.")
            for (method, route, status), n in sorted(self.requests.items()):
                out.append(f"rag_http_requests_total{_labels(method=method, route=route, status=status)} {n}")
            family("rag_http_request_duration_seconds", "histogram", "HTTP request latency (to the last byte).")
            for route, h in sorted(self.latency.items()):
                for b, n in zip(BUCKETS, h):
                    out.append(f"rag_http_request_duration_seconds_bucket{_labels(route=route, le=repr(b))} {int(n)}")
                out.append(f"rag_http_request_duration_seconds_bucket{_labels(route=route, le='+Inf')} {int(h[-1])}")
                out.append(f"rag_http_request_duration_seconds_sum{_labels(route=route)} {h[-2]:.6f}")
                out.append(f"rag_http_request_duration_seconds_count{_labels(route=route)} {int(h[-1])}")
            for name, counter, help_ in (
                ("rag_answers_total", self.answers, "Answers given, by backend."),
                ("rag_abstentions_total", self.abstentions, "Answers that abstained (the transcripts don't say)."),
                ("rag_verification_failures_total", self.verification_failures,
                 "Answers with a number not found in the cited passage (verified false) or repaired."),
            ):
                family(name, "counter", help_)
                for backend in sorted(set(counter) | {"extractive"}):
                    out.append(f"{name}{_labels(backend=backend)} {counter[backend]}")
        if state is not None:
            h = state.health()
            gauges = (
                ("rag_index_loaded", "gauge", "1 when an index is loaded and served.", int(h["index"]["loaded"])),
                ("rag_index_documents", "gauge", "Transcripts in the served index.", h["index"]["documents"]),
                ("rag_index_chunks", "gauge", "Chunks in the served index.", h["index"]["chunks"]),
                ("rag_index_reloads_total", "counter", "Index versions swapped in after start-up.", state.reloads),
                ("rag_index_reload_failures_total", "counter", "Index versions that failed to load.",
                 state.reload_failures),
                ("rag_reindex_runs_total", "counter", "Reindex runs started through the admin API.",
                 state.reindex_runs),
            )
            for name, kind, help_, value in gauges:
                family(name, kind, help_)
                out.append(f"{name} {value}")
            family("rag_index_info", "gauge", "The served index version.")
            out.append(f"rag_index_info{_labels(version=h['index']['version'] or '')} 1")
        return "\n".join(out) + "\n"


class MetricsMiddleware:
    """Pure ASGI (streams pass through untouched); times each request to its last body byte and
    labels it with the route template, not the raw path, so labels stay few."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe_request(scope.get("method", "GET"), route, status, time.perf_counter() - start)
