"""Prometheus exposition: several registries (sources) rendered as one page, and a minimal ASGI
app that serves it on a port of its own (the control plane's --metrics-port)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector


class MetricsSource(Protocol):
    """A registry to expose, refreshed (gauges computed by queries) just before a scrape."""

    registry: CollectorRegistry

    async def refresh(self) -> None: ...


class StaticSource:
    """A registry whose collectors need no refresh."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    async def refresh(self) -> None:
        return None


def process_source() -> StaticSource:
    """The process's own series (CPU, memory, file descriptors, GC, Python version): one per
    process, added to each page the process serves (never twice to one page)."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return StaticSource(registry)


async def render(sources: Sequence[MetricsSource]) -> bytes:
    """The text exposition of every source (their metric names are distinct)."""
    await asyncio.gather(*(source.refresh() for source in sources), return_exceptions=True)
    return b"".join(generate_latest(source.registry) for source in sources)


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def metrics_app(sources: Sequence[MetricsSource]) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """GET /metrics answers the page; anything else 404."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["path"] == "/metrics" and scope["method"] in ("GET", "HEAD"):
            status, content_type, body = 200, CONTENT_TYPE_LATEST, await render(sources)
        else:
            status, content_type, body = 404, "text/plain; charset=utf-8", b"not found: try /metrics\n"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""})

    return app
