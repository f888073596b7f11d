"""The edge's one long-lived gRPC channel to the control plane, and the domain view of its answers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb
from wopiproxy.internal.v1 import edge_service_pb2_grpc as edge_grpc

from edge.call_batching import CallBatcher
from edge.tenant_fairness import DEFAULT_GRANT_SLOTS, DEFAULT_GRANT_SLOTS_LEAD, FairSlots, TenantHints
from shared import errors, logs
from shared.grpc_channel import MAX_MESSAGE_BYTES, PLAINTEXT, TlsSettings, secure_or_insecure_aio_channel
from shared.grpc_targets import control_target
from shared.storage import FileStat, StagedWrite
from shared.timefmt import iso_utc
from shared.wopi_operation import WopiOperation

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
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1_000),
    ("grpc.enable_retries", 0),  # a retried write could be recorded twice: see READ_OPERATIONS
]
# Authorizations that change nothing but the audit: when a replica dies under one, it is asked
# again of another replica (within the call's deadline). Writes are never sent twice.
READ_OPERATIONS = frozenset({WopiOperation.CHECK_FILE_INFO, WopiOperation.GET_FILE, WopiOperation.GET_LOCK})
RETRY_ATTEMPTS = 3
RETRY_BACKOFF_S = 0.05
# Grant calls (edge.call_batching): up to CALLS_IN_FLIGHT calls of each kind out at once; requests
# arriving beyond that go out together in the next call, at most --control-batch-size per call.
CALLS_IN_FLIGHT = 2
DEFAULT_BATCH_SIZE = 64
READINESS_TIMEOUT_S = 1.0
READINESS_CACHE_S = 1.0


@dataclass(frozen=True)
class WopiCaller:
    access_token: str
    file_id: str
    client_address: str
    correlation_id: str
    token_digest: str  # of access_token (edge.wopi.flood.token_digest): what the tenant hints key on
    editor: str = ""
    # The proof-key headers and the URL they sign, checked by the control plane.
    proof: str = ""
    proof_old: str = ""
    proof_timestamp: str = ""
    url: str = ""
    # X-COOL-/X-LOOL-WOPI-Timestamp (None when not sent), and whether the editor sends Collabora's
    # save headers at all: the control plane applies these staleness signals.
    editor_timestamp: str | None = None
    timestamp_editor: bool = False

    def call(self, operation: WopiOperation, *, lock_id: str = "", old_lock_id: str = "") -> edge_pb.WopiCall:
        """The request as the internal contract carries it."""
        call = edge_pb.WopiCall(
            access_token=self.access_token, file_id=self.file_id, operation=operation.number,  # type: ignore[arg-type]
            client_address=self.client_address, correlation_id=self.correlation_id, editor=self.editor,
            proof=self.proof, proof_old=self.proof_old, proof_timestamp=self.proof_timestamp, url=self.url,
            lock_id=lock_id, old_lock_id=old_lock_id, timestamp_editor=self.timestamp_editor,
        )
        if self.editor_timestamp is not None:
            call.editor_timestamp = self.editor_timestamp
        return call


def stored_object(stat: FileStat | None) -> edge_pb.StoredObject:
    if stat is None:
        return edge_pb.StoredObject(exists=False)
    return edge_pb.StoredObject(exists=True, size=stat.size, modified=iso_utc(stat.modified),
                                fingerprint=stat.fingerprint)


def staged_content(staged: StagedWrite | None) -> edge_pb.StagedContent:
    if staged is None:
        return edge_pb.StagedContent()
    return edge_pb.StagedContent(size=staged.result.size, sha256=staged.result.sha256,
                                 fingerprint=staged.fingerprint, staged_path=staged.temp_path or "")


_STATUS_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _error_info(status: status_pb2.Status) -> tuple[str, dict[str, str]]:
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason, dict(info.metadata)
    return "", {}


def _rpc_status(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            return status_pb2.Status.FromString(value)
    return status_pb2.Status(code=error.code().value[0], message=error.details() or "")


def _status_error(status: status_pb2.Status) -> errors.WopiProxyError:
    """One item's error of a batch call, as the domain error it was made from."""
    return _domain_error(_STATUS_CODES.get(status.code, grpc.StatusCode.UNKNOWN), status)


def _call_error(error: grpc.aio.AioRpcError) -> errors.WopiProxyError:
    return _domain_error(error.code(), _rpc_status(error))


def _domain_error(code: grpc.StatusCode, status: status_pb2.Status) -> errors.WopiProxyError:
    """The control plane's status back into the domain error it was made from."""
    reason, meta = _error_info(status)
    message = status.message or reason
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
    if reason == "TIMESTAMP_CONFLICT":
        return errors.TimestampConflict(meta.get("expected", ""), meta.get("actual", ""))
    if reason == "WRITE_IN_PROGRESS":
        return errors.WriteInProgress(meta.get("file_id", ""))
    if reason == "FILE_MOVED":
        return errors.FileMoved(meta.get("file_id", ""), meta.get("path", ""))
    if reason == "WRITE_INTENT_NOT_FOUND":
        return errors.WriteIntentNotFound(meta.get("intent_id", ""))
    if reason == "BRIDGE_SIGNATURE_INVALID":
        return errors.BridgeSignatureInvalid()
    if reason == "BRIDGE_LEASE_LOST":
        return errors.BridgeLeaseLost(meta.get("document_id", ""))
    if code == grpc.StatusCode.FAILED_PRECONDITION and reason:
        # e.g. BRIDGE_LEASE_LOST: a worker's outcome on a document another worker owns now
        return errors.FailedPrecondition(reason, message, **{k: v for k, v in meta.items() if k not in ("reason", "message")})
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return errors.InvalidArgument(meta.get("field", "request"), message)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return errors.ControlPlaneUnavailable(code.name)
    # UNAUTHENTICATED here means the edge's own API key is wrong: an operator's problem.
    log.error("control plane refused the edge: %s %s", code.name, status.message)
    return errors.ControlPlaneUnavailable(f"{code.name}: {status.message}")


class RpcObserver(Protocol):
    """Told of every call attempt: its method, its duration and, when it failed, its gRPC code."""

    def observe(self, method: str, seconds: float, error_code: str | None) -> None: ...


class ControlClient:
    """Reads get a short deadline, writes and lock changes a longer one (EdgeSettings): the control
    plane commits nothing once a deadline has passed, so an error here means nothing was done,
    except after BeginWrite, whose intent the control plane resolves from storage."""

    def __init__(self, address: str, api_key: str, *, read_timeout_s: float, write_timeout_s: float,
                 tls: TlsSettings = PLAINTEXT, interceptors: Sequence[Any] = (),
                 observer: RpcObserver | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                 grant_slots: int = DEFAULT_GRANT_SLOTS,
                 grant_slots_lead: int = DEFAULT_GRANT_SLOTS_LEAD, channel: Any = None) -> None:
        # interceptors: tracing; observer: metrics (edge.observability)
        # address: HOST:PORT, or several replicas (shared.grpc_targets); channel: serve's in-process
        # channel to its own control plane (shared.grpc_local), used instead of the address
        self._channel = channel if channel is not None else secure_or_insecure_aio_channel(
            control_target(address), tls, options=CHANNEL_OPTIONS, interceptors=interceptors)
        self._stub = edge_grpc.EdgeServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self._read_timeout = read_timeout_s
        self._write_timeout = write_timeout_s
        self._ready: tuple[float, bool, str] = (0.0, False, "not checked yet")
        self._observer = observer
        # Traced, every WOPI request keeps a call of its own, so that its trace reaches the control plane.
        batch_size = 1 if interceptors else batch_size
        self._read_grants = self._grant_batcher(write=False, batch_size=batch_size)
        self._write_grants = self._grant_batcher(write=True, batch_size=batch_size)
        # Shared fairly between tenants (edge/tenant_fairness.py); 0 slots: no limit, no queue.
        self._grant_slots = FairSlots(grant_slots, grant_slots_lead) if grant_slots else None
        self._tenant_hints = TenantHints()

    @property
    def grant_slots(self) -> FairSlots | None:
        return self._grant_slots

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, method: Callable[..., Awaitable[T]], request: Any, *, write: bool,
                    idempotent: bool = False, deadline: float | None = None) -> T:
        """One call; an idempotent one is tried again (on another replica) when UNAVAILABLE."""
        if deadline is None:
            deadline = time.monotonic() + (self._write_timeout if write else self._read_timeout)
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            started = time.perf_counter()
            try:
                reply = await method(request, metadata=self._metadata,
                                     timeout=max(0.001, deadline - time.monotonic()), wait_for_ready=False)
            except grpc.aio.AioRpcError as error:
                self._observe(method, started, error.code().name)
                pause = RETRY_BACKOFF_S * attempt
                if (not idempotent or error.code() != grpc.StatusCode.UNAVAILABLE or attempt == RETRY_ATTEMPTS
                        or time.monotonic() + pause >= deadline):
                    raise _call_error(error) from None
                log.info("control plane unavailable (%s); asking again", error.details())
                await asyncio.sleep(pause)
            except asyncio.CancelledError:  # the editor went away: its time counts, not as an error
                self._observe(method, started, None)
                raise
            except Exception:
                self._observe(method, started, "UNKNOWN")
                raise
            else:
                self._observe(method, started, None)
                return reply
        raise AssertionError("unreachable")

    def _observe(self, method: Any, started: float, error_code: str | None) -> None:
        if self._observer is not None:
            name = getattr(method, "_method", b"")  # the multicallable's path, /pkg.Service/Method
            self._observer.observe(name.decode() if isinstance(name, bytes) else str(name),
                                   time.perf_counter() - started, error_code)

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

    async def authorize(self, caller: WopiCaller, operation: WopiOperation, *, lock_id: str = "",
                        old_lock_id: str = "", user_info: str = "") -> Grant:
        request = edge_pb.AuthorizeWopiRequestRequest(
            call=caller.call(operation, lock_id=lock_id, old_lock_id=old_lock_id), user_info=user_info)
        batcher, timeout = ((self._read_grants, self._read_timeout) if operation in READ_OPERATIONS
                            else (self._write_grants, self._write_timeout))
        if self._grant_slots is None:
            grant = await batcher.call(request, timeout)
        else:
            async with self._grant_slots.slot(self._tenant_hints.share(caller.token_digest)):
                grant = await batcher.call(request, timeout)
            self._tenant_hints.learn(caller.token_digest, grant.tenant_id)
        logs.annotate(tenant=grant.tenant_id)  # the request's log lines say whose it was
        return grant

    def _grant_batcher(self, *, write: bool, batch_size: int) -> CallBatcher[edge_pb.AuthorizeWopiRequestRequest, Grant]:
        """Grants of one deadline class; reads are asked again of another replica, writes never."""

        async def send_one(request: edge_pb.AuthorizeWopiRequestRequest, deadline: float) -> Grant:
            return await self._call(self._stub.AuthorizeWopiRequest, request, write=write, idempotent=not write,
                                    deadline=deadline)

        async def send_many(requests: Sequence[edge_pb.AuthorizeWopiRequestRequest],
                            deadline: float) -> list[Grant | BaseException]:
            reply = await self._call(self._stub.AuthorizeWopiRequests,
                                     edge_pb.AuthorizeWopiRequestsRequest(requests=requests), write=write,
                                     idempotent=not write, deadline=deadline)
            return [result.grant if result.HasField("grant") else _status_error(result.error)
                    for result in reply.results]

        return CallBatcher(send_one, send_many, max_in_flight=CALLS_IN_FLIGHT, max_batch=batch_size)

    async def begin_write(self, caller: WopiCaller, operation: WopiOperation, *, lock_id: str = "",
                          current: FileStat | None = None, staged: StagedWrite | None = None,
                          target_path: str = "", overwrite: bool = False, editors: str = "",
                          save_flags: str = "") -> edge_pb.BeginWriteResponse:
        request = edge_pb.BeginWriteRequest(
            call=caller.call(operation, lock_id=lock_id), current=stored_object(current),
            staged=staged_content(staged), target_path=target_path, overwrite=overwrite, editors=editors,
            save_flags=save_flags)
        return await self._call(self._stub.BeginWrite, request, write=True)

    async def commit_write(self, caller: WopiCaller, operation: WopiOperation, *, intent_id: str,
                           fingerprint: str = "") -> edge_pb.CommitWriteResponse:
        """Shielded: storage already holds the change, so an editor that hangs up now must not cancel
        its confirmation (the resolver would confirm it later, but without the editor's status)."""
        request = edge_pb.CommitWriteRequest(call=caller.call(operation), intent_id=intent_id,
                                             fingerprint=fingerprint)
        # A repeated commit answers the confirmed version, so it is asked again on another replica;
        # not PutRelativeFile's, whose every commit mints a session for the new file (a repeat would
        # leave the first one's token open and unheld).
        repeatable = operation is not WopiOperation.PUT_RELATIVE_FILE
        return await asyncio.shield(self._call(self._stub.CommitWrite, request, write=True, idempotent=repeatable))

    async def abandon_write(self, caller: WopiCaller, operation: WopiOperation, *, intent_id: str,
                            reason: str) -> None:
        """Best effort: when the control plane cannot be told, its resolver finds out from storage."""
        request = edge_pb.AbandonWriteRequest(call=caller.call(operation), intent_id=intent_id, reason=reason[:300])
        try:
            await self._call(self._stub.AbandonWrite, request, write=True)
        except errors.WopiProxyError as error:
            log.warning("could not abandon write intent %s: %s", intent_id, error.message)

    async def record_conflict_copy(self, caller: WopiCaller, *, copy_path: str, size: int, reason: str,
                                   status: int = 409) -> None:
        request = edge_pb.RecordConflictCopyRequest(call=caller.call(WopiOperation.PUT_FILE), copy_path=copy_path,
                                                    size=size, reason=reason, status=status)
        await self._call(self._stub.RecordConflictCopy, request, write=True)

    async def redeem_launch_code(self, launch_code: str, client_address: str) -> edge_pb.RedeemLaunchCodeResponse:
        request = edge_pb.RedeemLaunchCodeRequest(launch_code=launch_code, client_address=client_address)
        return await self._call(self._stub.RedeemLaunchCode, request, write=True)

    async def report_edge_refusals(self, counts: dict[str, Any]) -> None:
        """`counts`: address -> flood.RefusalCounts of requests the edge refused on its own."""
        request = edge_pb.ReportEdgeRefusalsRequest(counts=[
            edge_pb.EdgeRefusalCount(client_address=address, rate_limited=c.rate_limited,
                                     missing_token=c.missing_token)
            for address, c in counts.items()])
        await self._call(self._stub.ReportEdgeRefusals, request, write=True)

    # -- the bridge (docs/BRIDGE.md) --

    async def open_bridged(self, access_token: str, client_address: str) -> edge_pb.OpenBridgedResponse:
        request = edge_pb.OpenBridgedRequest(access_token=access_token, client_address=client_address)
        return await self._call(self._stub.OpenBridged, request, write=True)

    async def register_bridge_entry(self, access_token: str, *, document_id: str, app_author_id: str,
                                    app_session_id: str, app_target: str) -> edge_pb.RegisterBridgeEntryResponse:
        request = edge_pb.RegisterBridgeEntryRequest(access_token=access_token, document_id=document_id,
                                                     app_author_id=app_author_id, app_session_id=app_session_id,
                                                     app_target=app_target)
        return await self._call(self._stub.RegisterBridgeEntry, request, write=True)

    async def note_bridge_event(self, source: int, body: bytes, signature: str,
                                client_address: str) -> edge_pb.NoteBridgeEventResponse:
        """An app's notification: short (read) deadline, the app gets its answer at once; a lost one is
        found again by the worker's reconcile polling."""
        request = edge_pb.NoteBridgeEventRequest(source=source, body=body,  # type: ignore[arg-type]
                                                 signature=signature, client_address=client_address)
        return await self._call(self._stub.NoteBridgeEvent, request, write=False)

    async def claim_bridge_work(self, worker_id: str, max_items: int, *, first_claim: bool = False
                                ) -> edge_pb.ClaimBridgeWorkResponse:
        request = edge_pb.ClaimBridgeWorkRequest(worker_id=worker_id, max_items=max_items, first_claim=first_claim)
        return await self._call(self._stub.ClaimBridgeWork, request, write=True)

    async def complete_bridge_work(self, request: edge_pb.CompleteBridgeWorkRequest
                                   ) -> edge_pb.CompleteBridgeWorkResponse:
        """FailedPrecondition when the lease was lost (another worker owns the document now)."""
        return await self._call(self._stub.CompleteBridgeWork, request, write=True)
