"""Authentication of every RPC (but health and reflection) by `authorization: Bearer <key>`."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc_status import rpc_status

from control.api.errors import known_error, to_status
from control.api.protos import edge_pb
from control.services.context import Principal
from control.services.keys import Authenticator
from shared.errors import PermissionDenied

_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal")

OPEN_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
EDGE_SERVICE = f"/{edge_pb.DESCRIPTOR.services_by_name['EdgeService'].full_name}/"


def check_role(principal: Principal, method: str) -> None:
    """Edge keys call the EdgeService and nothing else; no other key calls it (it hands out
    storage credentials for any tenant's token)."""
    if method.startswith(EDGE_SERVICE) != principal.is_edge:
        raise PermissionDenied("this service needs an edge key (role edge)" if method.startswith(EDGE_SERVICE)
                               else "an edge key may call only the EdgeService")


def current_principal() -> Principal:
    return _principal.get()


def _metadata_value(context: grpc.aio.ServicerContext, name: str) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == name:
            return value if isinstance(value, str) else value.decode()
    return None


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_SERVICES):
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
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(handler.unary_unary, handler_call_details.method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, handler_call_details.method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        raise NotImplementedError(f"streaming requests are not authenticated: {handler_call_details.method}")

    async def _authenticate(self, context: grpc.aio.ServicerContext, method: str) -> None:
        try:
            principal = await self._authenticator.authenticate(_metadata_value(context, "authorization"))
            check_role(principal, method)
        except Exception as error:  # ApiKeyInvalid, TenantDisabled, PermissionDenied; the database away
            known = known_error(error, "authentication")
            if known is None:
                raise
            await context.abort_with_status(rpc_status.to_status(to_status(known)))
        _principal.set(principal)

    def _wrap_unary(self, behavior: Callable[..., Awaitable[Any]], method: str) -> Callable[..., Awaitable[Any]]:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await self._authenticate(context, method)
            return await behavior(request, context)

        return wrapped

    def _wrap_stream(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await self._authenticate(context, method)
            async for item in behavior(request, context):
                yield item

        return wrapped
