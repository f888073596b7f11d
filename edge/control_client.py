"""The edge's one long-lived gRPC channel to the control plane, and the domain view of its answers."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2, status_pb2

from shared import errors
from wopiproxy.control.v1 import edge_service_pb2 as edge_pb
from wopiproxy.control.v1 import edge_service_pb2_grpc as edge_grpc

log = logging.getLogger(__name__)

_DENIALS = {"ACCESS_TOKEN_INVALID", "TENANT_DISABLED", "OPERATION_NOT_PERMITTED"}


@dataclass(frozen=True)
class WopiCaller:
    access_token: str
    file_id: str
    client_address: str
    correlation_id: str


def _error_reason(error: grpc.aio.AioRpcError) -> str:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason
    return ""


def _domain_error(error: grpc.aio.AioRpcError) -> errors.WopiProxyError:
    reason = _error_reason(error)
    if reason in _DENIALS:
        return errors.AccessTokenInvalid(error.details() or reason)
    if reason == "FILE_NOT_FOUND":
        return errors.FileNotFound(error.details() or "")
    if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return errors.ControlPlaneUnavailable(error.code().name)
    # UNAUTHENTICATED here means the edge's own API key is wrong: an operator's problem.
    log.error("control plane refused the edge: %s %s", error.code().name, error.details())
    return errors.ControlPlaneUnavailable(f"{error.code().name}: {error.details()}")


class ControlClient:
    def __init__(self, address: str, api_key: str, *, timeout_s: float) -> None:
        self._channel = grpc.aio.insecure_channel(address, options=[
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.max_receive_message_length", 16 << 20),
        ])
        self._stub = edge_grpc.EdgeServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self._timeout = timeout_s

    async def close(self) -> None:
        await self._channel.close()

    async def authorize(self, caller: WopiCaller, operation: str) -> edge_pb.AuthorizeWopiRequestResponse:
        request = edge_pb.AuthorizeWopiRequestRequest(
            access_token=caller.access_token, file_id=caller.file_id, operation=operation,
            client_address=caller.client_address, correlation_id=caller.correlation_id,
        )
        try:
            return await self._stub.AuthorizeWopiRequest(request, metadata=self._metadata, timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            raise _domain_error(error) from None

    async def record_write(self, caller: WopiCaller, *, size: int, sha256: str) -> int:
        request = edge_pb.RecordWriteRequest(
            access_token=caller.access_token, file_id=caller.file_id, size=size, sha256=sha256,
            client_address=caller.client_address, correlation_id=caller.correlation_id,
        )
        try:
            reply = await self._stub.RecordWrite(request, metadata=self._metadata, timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            raise _domain_error(error) from None
        return reply.version
