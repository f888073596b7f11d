"""The edge's metrics, access log and tracing hooks, installed on an app by `install(app)`.

- Every WOPI request (under /wopi/) counts in wopi_proxy_wopi_requests{operation,status} and its
  duration (request to response headers) in wopi_proxy_wopi_request_duration_seconds; body bytes
  are counted as they cross the ASGI boundary (an aborted download counts what was sent).
- One access-log line per request: the path only (the query string carries the access token;
  a launch code in /host/<code> is blanked), with request_id, tenant (once the token resolved),
  operation, status and duration_ms as fields.
- GET /metrics: the app's registry and any other source added (in `serve`, the control plane's).
"""

from __future__ import annotations

import contextvars
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from quart import Quart, Response, g, request

from edge.metrics import EdgeMetrics, proof_reason_label, protocol_label
from edge.request_headers import header
from edge.tenant_fairness import FairSlots
from edge.wopi import operations
from shared import errors, logs, tracing
from shared.metrics_http import MetricsSource, StaticSource, render

access_log = logging.getLogger("wopi_proxy.access")
log = logging.getLogger(__name__)

EXTENSION = "wopi_proxy_observability"
MAX_REQUEST_ID_LENGTH = 128
_REQUEST_ID = re.compile(r"[^A-Za-z0-9._:@/+=-]")
_HOST_PAGE = re.compile(r"^/host/[^/]+")

# The storage protocol a request reached, noted by the storage pool (for storage error counts).
_storage_protocol: contextvars.ContextVar[str] = contextvars.ContextVar("wopi_proxy_storage_protocol", default="")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Observability:
    def __init__(self) -> None:
        self.metrics = EdgeMetrics()
        self.sources: list[MetricsSource] = [StaticSource(self.metrics.registry)]


def of(app: Quart) -> Observability:
    return app.extensions[EXTENSION]  # type: ignore[no-any-return]


def add_metrics_source(app: Quart, source: MetricsSource) -> None:
    """Another registry for /metrics (in `serve`, the control plane's and the process's)."""
    of(app).sources.append(source)


def note_storage(protocol: str) -> None:
    """Called when a request reaches a storage: its failures then count as storage errors."""
    _storage_protocol.set(protocol)


def note_error(error: BaseException) -> None:
    """Called by the error boundary (edge.wopi.errors) with the exception a request ended with."""
    try:
        g.wopi_error = error
    except RuntimeError:  # outside a request (nothing to attribute it to)
        pass


def request_id() -> str:
    """The request's correlation id (X-WOPI-CorrelationId, X-Request-Id, or made up), sanitised."""
    found = g.get("request_id")
    if found:
        return str(found)
    given = header("X-WOPI-CorrelationId") or header("X-Request-Id")
    value = _REQUEST_ID.sub("", given)[:MAX_REQUEST_ID_LENGTH] or secrets.token_hex(8)
    g.request_id = value
    return value


def public_path(path: str) -> str:
    """The path as logs and traces may show it: a host page's launch code is a credential."""
    return _HOST_PAGE.sub("/host/{code}", path)


def _operation(method: str, path: str) -> str:
    return operations.operation_of(method, path, header("X-WOPI-Override"), old_lock=bool(header("X-WOPI-OldLock")))


def _scope_header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


class _ByteCounter:
    """ASGI middleware: WOPI request and response body bytes, counted as they pass."""

    def __init__(self, app: AsgiApp, metrics: EdgeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope.get("type") != "http" or not operations.is_wopi(path):
            await self.app(scope, receive, send)
            return
        operation = operations.operation_of(scope.get("method", ""), path, _scope_header(scope, b"x-wopi-override"),
                                            old_lock=bool(_scope_header(scope, b"x-wopi-oldlock")))
        received = self.metrics.bytes_received.labels(operation)
        sent = self.metrics.bytes_sent.labels(operation)

        async def counting_receive() -> Message:
            message = await receive()
            if message.get("type") == "http.request":
                received.inc(len(message.get("body", b"")))
            return message

        async def counting_send(message: Message) -> None:
            if message.get("type") == "http.response.body":
                sent.inc(len(message.get("body", b"")))
            await send(message)

        await self.app(scope, counting_receive, counting_send)


class _HideFromTracing:
    """Around OpenTelemetry's ASGI middleware: it sees the path without a launch code and no query
    string (the access token); the app inside gets the original scope back."""

    KEY = "wopi_proxy.original_scope"

    def __init__(self, app: AsgiApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        shown = public_path(scope.get("path", ""))
        await self.app({**scope, "path": shown, "raw_path": shown.encode(), "query_string": b"", self.KEY: scope},
                       receive, send)

    @classmethod
    def restore(cls, app: AsgiApp) -> AsgiApp:
        async def restored(scope: Scope, receive: Receive, send: Send) -> None:
            await app(scope.get(cls.KEY, scope), receive, send)

        return restored


def _span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
    path, method = scope.get("path", ""), scope.get("method", "")
    if operations.is_wopi(path):
        operation = operations.operation_of(method, path, _scope_header(scope, b"x-wopi-override"),
                                            old_lock=bool(_scope_header(scope, b"x-wopi-oldlock")))
        return f"WOPI {operation}", {"wopi.operation": operation}
    return f"{method} {path}".strip(), {}


def _wrap_asgi(app: Quart, metrics: EdgeMetrics) -> None:
    inner: AsgiApp = _ByteCounter(app.asgi_app, metrics)  # type: ignore[arg-type]
    if tracing.enabled():
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        traced = OpenTelemetryMiddleware(_HideFromTracing.restore(inner), default_span_details=_span_details,
                                         exclude_spans=["receive", "send"])
        inner = _HideFromTracing(traced)
    app.asgi_app = inner  # type: ignore[method-assign,assignment]


def _count(metrics: EdgeMetrics, operation: str, response: Response, elapsed_s: float) -> None:
    metrics.requests.labels(operation, str(response.status_code)).inc()
    metrics.duration.labels(operation).observe(elapsed_s)
    if response.status_code == 409 and "X-WOPI-LockFailureReason" in response.headers:
        metrics.lock_conflicts.labels(operation).inc()
    error = g.get("wopi_error")
    if isinstance(error, errors.ProofInvalid):
        metrics.proof_failures.labels(proof_reason_label(error.metadata.get("detail", ""))).inc()
    protocol = _storage_protocol.get()
    if protocol and response.status_code >= 500 and not isinstance(
            error, (errors.ProofInvalid, errors.ControlPlaneUnavailable, errors.UploadCapacityReached)):
        kind = error.reason.lower() if isinstance(error, errors.WopiProxyError) else "internal"
        metrics.storage_errors.labels(protocol_label(protocol), kind).inc()


def install(app: Quart) -> Observability:
    """Metrics, access log, request context for logs, /metrics, and (when on) tracing."""
    observability = Observability()
    app.extensions[EXTENSION] = observability
    metrics = observability.metrics
    _wrap_asgi(app, metrics)

    @app.before_request
    async def _begin() -> None:
        g.started = time.perf_counter()
        _storage_protocol.set("")
        fields: dict[str, Any] = {"request_id": request_id()}
        if operations.is_wopi(request.path):
            g.operation = fields["operation"] = _operation(request.method, request.path)
        logs.begin(**fields, **tracing.current_ids())

    @app.after_request
    async def _end(response: Response) -> Response:
        elapsed_s = time.perf_counter() - g.get("started", time.perf_counter())
        operation = g.get("operation")
        if operation:
            _count(metrics, operation, response, elapsed_s)
        # The path only: the query string carries the access token.
        access_log.info("%s %s %s %d %.1fms", request.remote_addr, request.method, public_path(request.path),
                        response.status_code, elapsed_s * 1000,
                        extra={"status": response.status_code, "duration_ms": round(elapsed_s * 1000, 1),
                               "method": request.method, "path": public_path(request.path),
                               "client": request.remote_addr or ""})
        return response

    @app.get("/metrics")
    async def _metrics() -> Response:
        return Response(await render(observability.sources), status=200, content_type=CONTENT_TYPE_LATEST)

    return observability


def client_interceptors(app: Quart) -> list[Any]:
    """Interceptors for the edge's channel to the control plane: tracing, when on (metrics are
    taken by ControlClient itself, through control_rpc_observer: an aio client interceptor runs
    each call through an extra task, a cost the hot path pays on every request)."""
    return tracing.grpc_client_interceptors()


def watch_grant_slots(app: Quart, slots: FairSlots | None) -> None:
    """The fair-share gauges read the slots at scrape time (nothing to update per request)."""
    if slots is not None:
        metrics = of(app).metrics
        metrics.grant_slots_taken.set_function(lambda: slots.taken)
        metrics.grants_waiting.set_function(lambda: slots.waiting)


def control_rpc_observer(app: Quart) -> ControlRpcMetrics:
    return ControlRpcMetrics(of(app).metrics)


class ControlRpcMetrics:
    """Latency and failures of each control-plane call, by method (ControlClient's observer)."""

    def __init__(self, metrics: EdgeMetrics) -> None:
        self._metrics = metrics

    def observe(self, method: str, seconds: float, error_code: str | None) -> None:
        name = _method_name(method)
        if error_code is not None:
            self._metrics.control_rpc_errors.labels(name, error_code).inc()
        self._metrics.control_rpc_duration.labels(name).observe(seconds)


def _method_name(method: str | bytes) -> str:
    name = method.decode() if isinstance(method, bytes) else method
    return name.rsplit("/", 1)[-1][:64] or "unknown"
