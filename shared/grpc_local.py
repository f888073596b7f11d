"""An in-process grpc.aio channel: `serve`'s edge calls its own control plane without the network.

In `serve` the edge and the control plane share one process and one event loop. Over loopback
gRPC every WOPI request paid both ends of a call (serialisation, HTTP/2 framing, the completion
queues and their wake-ups of the loop), about a third of the process's CPU under load. A
`LocalChannel` runs the very handlers the server registered, behind the same server interceptors
(authentication by the edge key, the RPC metrics and log), with the same deadline and
cancellation semantics, and answers errors as `grpc.aio.AioRpcError` with the same status and
trailing details: a stub built on it cannot tell the difference, so the edge's code is the same
in both shapes.

What differs from the wire: messages are handed over as objects, not bytes. Neither side changes
a message once it has handed it over (a request is read-only to a servicer, a reply to its
caller). Only unary-unary methods are served (the edge calls nothing else).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import grpc

log = logging.getLogger("grpc._cython.cygrpc")  # where grpc.aio's server logs a handler's exception
Handler: TypeAlias = grpc.RpcMethodHandler
Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]]


@dataclass(frozen=True)
class _CallDetails(grpc.HandlerCallDetails):  # type: ignore[misc]
    method: str
    invocation_metadata: tuple[tuple[str, str | bytes], ...]


class HandlerRecorder:
    """Stands for the grpc.aio server while the generated `add_*_to_server` functions register
    their handlers: forwards each registration to the server and keeps it for local calls."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server
        self.generic: list[grpc.GenericRpcHandler] = []

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(handlers)
        self.generic.extend(handlers)

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Handler]) -> None:
        self._server.add_registered_method_handlers(service, handlers)  # type: ignore[attr-defined]

    def lookup(self, details: grpc.HandlerCallDetails) -> Handler | None:
        for generic in self.generic:
            handler = generic.service(details)
            if handler is not None:
                return handler
        return None


class _LocalContext:
    """The part of grpc.aio.ServicerContext our servicers and interceptors use."""

    def __init__(self, metadata: tuple[tuple[str, str | bytes], ...], deadline: float | None) -> None:
        self._metadata = metadata
        self._deadline = deadline
        self._code: grpc.StatusCode | None = None
        self._details = ""
        self._trailing: tuple[tuple[str, str | bytes], ...] = ()

    def invocation_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return self._metadata

    def time_remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def peer(self) -> str:
        return "local:serve"

    async def abort(self, code: grpc.StatusCode, details: str = "",
                    trailing_metadata: Sequence[tuple[str, str | bytes]] = ()) -> None:
        self._code, self._details, self._trailing = code, details, tuple(trailing_metadata)
        raise grpc.aio.AbortError(f"aborted: {code.name}")

    async def abort_with_status(self, status: grpc.Status) -> None:
        await self.abort(status.code, status.details, status.trailing_metadata)

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        self._details = details

    def set_trailing_metadata(self, metadata: Sequence[tuple[str, str | bytes]]) -> None:
        self._trailing = tuple(metadata)

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def details(self) -> str:
        return self._details

    def error(self) -> grpc.aio.AioRpcError:
        """The caller's view of an aborted call."""
        return _rpc_error(self._code or grpc.StatusCode.UNKNOWN, self._details, self._trailing)


def _rpc_error(code: grpc.StatusCode, details: str,
               trailing: Sequence[tuple[str, str | bytes]] = ()) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailing), details=details,
                                debug_error_string="in-process call")


class _UnaryUnary:
    """A multicallable: `await stub.Method(request, metadata=..., timeout=...)`."""

    def __init__(self, channel: LocalChannel, method: str) -> None:
        self._channel = channel
        self._method = method.encode()  # as grpc.aio's multicallables name themselves (metrics)
        self._path = method

    async def __call__(self, request: Any, *, timeout: float | None = None,
                       metadata: Sequence[tuple[str, str | bytes]] | None = None,
                       wait_for_ready: bool | None = None, **_: Any) -> Any:
        if self._channel.closed:
            raise _rpc_error(grpc.StatusCode.UNAVAILABLE, "the in-process channel is closed")
        pairs = tuple(metadata or ())
        handler = await self._channel.resolve(_CallDetails(self._path, pairs))
        if handler is None or handler.unary_unary is None:
            raise _rpc_error(grpc.StatusCode.UNIMPLEMENTED, f"no unary method {self._path}")
        deadline = None if timeout is None else time.monotonic() + timeout
        context = _LocalContext(pairs, deadline)
        # Its own task, as on a server: the handler's context variables (principal, log fields,
        # budget) stay its own. A caller that leaves (cancelled, or past its deadline) cancels the
        # handler and returns at once, as a gRPC client does: it never waits for the cancellation.
        work = asyncio.ensure_future(handler.unary_unary(request, context))
        try:
            done, _pending = await asyncio.wait({work}, timeout=timeout)
        except asyncio.CancelledError:
            _abandon(work)
            raise
        if not done:
            _abandon(work)
            raise _rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
        try:
            return work.result()
        except grpc.aio.AbortError:
            raise context.error() from None
        except grpc.aio.AioRpcError:
            raise
        except Exception as error:  # what the server answers UNKNOWN, logging it with its traceback
            log.error("Exception calling application: %s (in process: %s)", error, self._path, exc_info=error)
            raise _rpc_error(grpc.StatusCode.UNKNOWN, f"Unexpected {type(error)}: {error}") from None


def _abandon(work: asyncio.Future[Any]) -> None:
    """Cancels a handler its caller left; its outcome is consumed (never 'exception was never retrieved')."""
    work.cancel()
    work.add_done_callback(lambda done: done.cancelled() or done.exception())


class LocalChannel:
    """A channel whose calls run the recorded handlers behind `interceptors` (the server's, in
    the server's order: the first is outermost)."""

    def __init__(self, handlers: HandlerRecorder, interceptors: Sequence[grpc.aio.ServerInterceptor]) -> None:
        self._handlers = handlers
        self._interceptors = tuple(interceptors)
        self.closed = False

    async def resolve(self, details: grpc.HandlerCallDetails) -> Handler | None:
        """The handler as the server would run it: through every interceptor, outermost first."""

        def step(index: int) -> Continuation:
            async def continuation(call_details: grpc.HandlerCallDetails) -> Handler | None:
                if index == len(self._interceptors):
                    return self._handlers.lookup(call_details)
                return await self._interceptors[index].intercept_service(step(index + 1), call_details)

            return continuation

        return await step(0)(details)

    def unary_unary(self, method: str, request_serializer: Any = None, response_deserializer: Any = None,
                    **_: Any) -> _UnaryUnary:
        return _UnaryUnary(self, method)

    def unary_stream(self, method: str, *_: Any, **__: Any) -> Callable[..., Any]:
        """Stubs make every method's multicallable up front; a streaming one fails when called."""

        def refuse(*_: Any, **__: Any) -> Any:
            raise _rpc_error(grpc.StatusCode.UNIMPLEMENTED, f"streaming calls are not served in process: {method}")

        return refuse

    stream_unary = stream_stream = unary_stream

    async def close(self, grace: float | None = None) -> None:
        self.closed = True

    async def __aenter__(self) -> LocalChannel:
        return self

    async def __aexit__(self, *_: Any) -> None:
        await self.close()
