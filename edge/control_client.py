"""The edge's one long-lived gRPC channel to the control plane, and the domain view of its answers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.rpc import error_details_pb2, status_pb2
from wopiproxy.control.v1 import edge_service_pb2 as edge_pb
from wopiproxy.control.v1 import edge_service_pb2_grpc as edge_grpc

from shared import errors

log = logging.getLogger(__name__)

_DENIALS = {"ACCESS_TOKEN_INVALID", "TENANT_DISABLED"}
Grant = edge_pb.AuthorizeWopiRequestResponse
T = TypeVar("T")


@dataclass(frozen=True)
class WopiCaller:
    access_token: str
    file_id: str
    client_address: str
    correlation_id: str
    editor: str = ""
    # The proof-key headers and the URL they sign, checked by the control plane.
    proof: str = ""
    proof_old: str = ""
    proof_timestamp: str = ""
    url: str = ""


def _error_info(error: grpc.aio.AioRpcError) -> tuple[str, dict[str, str]]:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason, dict(info.metadata)
    return "", {}


def _domain_error(error: grpc.aio.AioRpcError) -> errors.WopiProxyError:
    """The control plane's status back into the domain error it was made from."""
    reason, meta = _error_info(error)
    message = error.details() or reason
    if reason in _DENIALS:
        return errors.AccessTokenInvalid(message)
    if reason == "OPERATION_NOT_PERMITTED":
        return errors.OperationNotPermitted(meta.get("operation", ""))
    if reason == "LOCK_CONFLICT":
        return errors.LockConflict(meta.get("current_lock", ""), meta.get("failure_reason", message))
    if reason == "PROOF_INVALID":
        return errors.ProofInvalid(meta.get("detail", message))
    if reason == "LAUNCH_CODE_INVALID":
        return errors.LaunchCodeInvalid()
    if reason == "FILE_NOT_FOUND":
        return errors.FileNotFound(meta.get("path", ""))
    if reason == "FILE_ALREADY_EXISTS":
        return errors.FileAlreadyExists(meta.get("path", ""))
    if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
        return errors.InvalidArgument(meta.get("field", "request"), message)
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

    async def _call(self, method: Callable[..., Awaitable[T]], request: Any) -> T:
        try:
            return await method(request, metadata=self._metadata, timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            raise _domain_error(error) from None

    @staticmethod
    def _context(caller: WopiCaller) -> dict[str, Any]:
        return {"access_token": caller.access_token, "file_id": caller.file_id,
                "client_address": caller.client_address, "correlation_id": caller.correlation_id}

    async def authorize(self, caller: WopiCaller, operation: str, *, lock_id: str = "", old_lock_id: str = "",
                        user_info: str = "") -> Grant:
        request = edge_pb.AuthorizeWopiRequestRequest(
            **self._context(caller), operation=operation, lock_id=lock_id, old_lock_id=old_lock_id,
            user_info=user_info, editor=caller.editor, proof=caller.proof, proof_old=caller.proof_old,
            proof_timestamp=caller.proof_timestamp, url=caller.url,
        )
        return await self._call(self._stub.AuthorizeWopiRequest, request)

    async def record_write(self, caller: WopiCaller, **fields: Any) -> edge_pb.RecordWriteResponse:
        request = edge_pb.RecordWriteRequest(**self._context(caller), editor=caller.editor, **fields)
        return await self._call(self._stub.RecordWrite, request)

    async def record_conflict_copy(self, caller: WopiCaller, *, copy_path: str, size: int, reason: str) -> None:
        request = edge_pb.RecordConflictCopyRequest(**self._context(caller), copy_path=copy_path, size=size,
                                                    reason=reason)
        await self._call(self._stub.RecordConflictCopy, request)

    async def create_relative_file(self, caller: WopiCaller, **fields: Any) -> edge_pb.CreateRelativeFileResponse:
        request = edge_pb.CreateRelativeFileRequest(**self._context(caller), **fields)
        return await self._call(self._stub.CreateRelativeFile, request)

    async def record_rename(self, caller: WopiCaller, *, lock_id: str, new_path: str) -> None:
        request = edge_pb.RecordRenameRequest(**self._context(caller), lock_id=lock_id, new_path=new_path)
        await self._call(self._stub.RecordRename, request)

    async def record_delete(self, caller: WopiCaller, *, kept_version: int, kept_size: int) -> list[int]:
        request = edge_pb.RecordDeleteRequest(**self._context(caller), kept_version=kept_version,
                                              kept_size=kept_size)
        return list((await self._call(self._stub.RecordDelete, request)).expired_versions)

    async def redeem_launch_code(self, launch_code: str, client_address: str) -> edge_pb.RedeemLaunchCodeResponse:
        request = edge_pb.RedeemLaunchCodeRequest(launch_code=launch_code, client_address=client_address)
        return await self._call(self._stub.RedeemLaunchCode, request)
