"""The control plane's per-RPC observation: a server interceptor (outermost, so refusals of the
authentication count too) that times each RPC, counts it by gRPC code, opens the log context
of its lines (request id, rpc) and logs it (DEBUG when OK, INFO when refused, WARNING when
INTERNAL/UNKNOWN)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from control.metrics import ControlMetrics
from shared import logs, tracing

rpc_log = logging.getLogger("wopi_proxy.rpc")

_FAILURES = frozenset({"INTERNAL", "UNKNOWN", "DATA_LOSS"})
MAX_REQUEST_ID_LENGTH = 128


def _names(method: str) -> tuple[str, str]:
    """'/wopiproxy.control.v1.TenantService/GetTenant' -> ('TenantService', 'GetTenant')."""
    service, _, name = method.lstrip("/").rpartition("/")
    return service.rsplit(".", 1)[-1], name


def _request_id(request: Any, context: grpc.aio.ServicerContext) -> str:
    """The edge's correlation id (EdgeService requests carry it in their WopiCall), else x-request-id
    metadata."""
    call = getattr(request, "call", None)
    value = getattr(call, "correlation_id", "") or getattr(request, "correlation_id", "") or ""
    if not value:
        for key, item in context.invocation_metadata() or ():
            if key == "x-request-id":
                value = item if isinstance(item, str) else item.decode(errors="replace")
    return "".join(c for c in value if c.isprintable())[:MAX_REQUEST_ID_LENGTH]


def _code_of(error: BaseException, context: grpc.aio.ServicerContext) -> str:
    if isinstance(error, grpc.aio.AbortError):
        code = context.code()
        if isinstance(code, grpc.StatusCode):
            return code.name
        return "UNKNOWN"
    if isinstance(error, grpc.aio.AioRpcError):
        return error.code().name
    return "CANCELLED" if isinstance(error, asyncio.CancelledError) else "UNKNOWN"


class RpcObserver(grpc.aio.ServerInterceptor):
    def __init__(self, metrics: ControlMetrics) -> None:
        self._metrics = metrics
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:  # not a method of ours: no label from a name a client made up
            return handler
        # The wrapped handler is made once per method (the registered handler does not change).
        cached = self._wrapped.get(handler_call_details.method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(handler, handler_call_details)
        self._wrapped[handler_call_details.method] = (handler, wrapped)
        return wrapped

    def _wrap(self, handler: grpc.RpcMethodHandler, handler_call_details: grpc.HandlerCallDetails
              ) -> grpc.RpcMethodHandler:
        service, method = _names(handler_call_details.method)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(handler.unary_unary, service, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, service, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _begin(self, request: Any, context: grpc.aio.ServicerContext, service: str, method: str) -> None:
        logs.begin(request_id=_request_id(request, context), rpc=f"{service}/{method}", **tracing.current_ids())

    def _end(self, service: str, method: str, code: str, started: float, *, timed: bool) -> None:
        elapsed = time.perf_counter() - started
        self._metrics.rpcs.labels(service, method, code).inc()
        if timed:
            self._metrics.rpc_duration.labels(service, method).observe(elapsed)
        level = logging.DEBUG if code == "OK" else logging.WARNING if code in _FAILURES else logging.INFO
        rpc_log.log(level, "%s/%s %s %.1fms", service, method, code, elapsed * 1000,
                    extra={"code": code, "duration_ms": round(elapsed * 1000, 1)})

    def _wrap_unary(self, behavior: Callable[..., Awaitable[Any]], service: str,
                    method: str) -> Callable[..., Awaitable[Any]]:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            self._begin(request, context, service, method)
            started = time.perf_counter()
            code = "OK"
            try:
                return await behavior(request, context)
            except BaseException as error:
                code = _code_of(error, context)
                raise
            finally:
                self._end(service, method, code, started, timed=True)

        return wrapped

    def _wrap_stream(self, behavior: Callable[..., Any], service: str, method: str) -> Callable[..., Any]:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            self._begin(request, context, service, method)
            started = time.perf_counter()
            code = "OK"
            try:
                async for item in behavior(request, context):
                    yield item
            except BaseException as error:
                code = _code_of(error, context)
                raise
            finally:
                # A stream lives as long as its watcher: counted, not timed.
                self._end(service, method, code, started, timed=False)

        return wrapped
