"""The edge's one long-lived gRPC channel to the control plane, and the domain view of its answers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from shared import errors, logs
from shared.grpc_channel import PLAINTEXT, TlsSettings, secure_or_insecure_aio_channel
from shared.grpc_targets import control_target
from wopiproxy.control.v1 import edge_service_pb2 as edge_pb
from wopiproxy.control.v1 import edge_service_pb2_grpc as edge_grpc

log = logging.getLogger(__name__)

_DENIALS = {"ACCESS_TOKEN_INVALID", "TENANT_DISABLED"}
Grant = edge_pb.AuthorizeWopiRequestResponse
T = TypeVar("T")

# A control plane that is down must fail a WOPI request fast (503), not after the deadline:
# calls never wait for the channel to become ready, and a refused connection is retried in
# the background every second at most, so the edge notices the restart quickly. With several
# replicas (shared.grpc_targets), calls go round robin over those that are connected: a dead
# replica is left out at once, and only when all are down do calls fail.
CHANNEL_OPTIONS = [
    ("grpc.lb_policy_name", "round_robin"),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.max_receive_message_length", 16 << 20),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1_000),
    ("grpc.enable_retries", 0),  # a retried write could be recorded twice: see READ_OPERATIONS
]
# Authorizations that change nothing but the audit: when a replica dies under one, it is asked
# again of another replica (within the call's deadline). Writes are never sent twice.
READ_OPERATIONS = frozenset({"CheckFileInfo", "GetFile", "GetLock"})
RETRY_ATTEMPTS = 3
RETRY_BACKOFF_S = 0.05
READINESS_TIMEOUT_S = 1.0
READINESS_CACHE_S = 1.0


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
    if reason == "CONFLICT_COPY_QUOTA_EXCEEDED":
        return errors.ConflictCopyQuotaExceeded(meta.get("tenant_id", ""), int(meta.get("quota", "0") or 0))
    if reason == "STORAGE_BLOCKED":
        return errors.StorageBlocked(meta.get("storage", ""), meta.get("description", message))
    if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
        return errors.InvalidArgument(meta.get("field", "request"), message)
    if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return errors.ControlPlaneUnavailable(error.code().name)
    # UNAUTHENTICATED here means the edge's own API key is wrong: an operator's problem.
    log.error("control plane refused the edge: %s %s", error.code().name, error.details())
    return errors.ControlPlaneUnavailable(f"{error.code().name}: {error.details()}")


class ControlClient:
    def __init__(self, address: str, api_key: str, *, timeout_s: float, tls: TlsSettings = PLAINTEXT,
                 interceptors: Sequence[Any] = ()) -> None:
        # interceptors: metrics and tracing (edge.observability)
        # address: HOST:PORT, or several replicas (shared.grpc_targets)
        self._channel = secure_or_insecure_aio_channel(control_target(address), tls, options=CHANNEL_OPTIONS,
                                                       interceptors=interceptors)
        self._stub = edge_grpc.EdgeServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self._timeout = timeout_s
        self._ready: tuple[float, bool, str] = (0.0, False, "not checked yet")

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, method: Callable[..., Awaitable[T]], request: Any, *, idempotent: bool = False) -> T:
        """One call; an idempotent one is tried again (on another replica) when UNAVAILABLE."""
        deadline = time.monotonic() + self._timeout
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                return await method(request, metadata=self._metadata, timeout=max(0.001, deadline - time.monotonic()),
                                    wait_for_ready=False)
            except grpc.aio.AioRpcError as error:
                pause = RETRY_BACKOFF_S * attempt
                if (not idempotent or error.code() != grpc.StatusCode.UNAVAILABLE or attempt == RETRY_ATTEMPTS
                        or time.monotonic() + pause >= deadline):
                    raise _domain_error(error) from None
                log.info("control plane unavailable (%s); asking again", error.details())
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def readiness(self) -> tuple[bool, str]:
        """Whether the control plane answers and says it is SERVING (its database answers too);
        cached for a second so that a load balancer's probes cost at most one call a second."""
        checked, ready, detail = self._ready
        if time.monotonic() - checked < READINESS_CACHE_S:
            return ready, detail
        try:
            reply = await self._health.Check(health_pb2.HealthCheckRequest(service=""), timeout=READINESS_TIMEOUT_S,
                                             wait_for_ready=False)
            ready = reply.status == health_pb2.HealthCheckResponse.SERVING
            detail = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        except grpc.aio.AioRpcError as error:
            ready, detail = False, error.code().name
        self._ready = (time.monotonic(), ready, detail)
        return ready, detail

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
        grant = await self._call(self._stub.AuthorizeWopiRequest, request, idempotent=operation in READ_OPERATIONS)
        logs.annotate(tenant=grant.tenant_id)  # the request's log lines say whose it was
        return grant

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

    async def report_edge_refusals(self, counts: dict[str, Any]) -> None:
        """`counts`: address -> flood.RefusalCounts of requests the edge refused on its own."""
        request = edge_pb.ReportEdgeRefusalsRequest(counts=[
            edge_pb.EdgeRefusalCount(client_address=address, rate_limited=c.rate_limited,
                                     missing_token=c.missing_token)
            for address, c in counts.items()])
        await self._call(self._stub.ReportEdgeRefusals, request)
