"""The control plane's one error boundary: domain errors become gRPC status with details."""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from control.db import availability
from control.services import deadlines
from shared import errors

log = logging.getLogger(__name__)

DOMAIN = "wopi-proxy.control"

# Most specific class first.
_CODES: list[tuple[type[errors.WopiProxyError], int]] = [
    (errors.InvalidArgument, code_pb2.INVALID_ARGUMENT),
    (errors.NotFound, code_pb2.NOT_FOUND),
    (errors.AlreadyExists, code_pb2.ALREADY_EXISTS),
    (errors.StorageUnreachable, code_pb2.FAILED_PRECONDITION),
    (errors.StorageBlocked, code_pb2.FAILED_PRECONDITION),
    (errors.FailedPrecondition, code_pb2.FAILED_PRECONDITION),
    (errors.ApiKeyInvalid, code_pb2.UNAUTHENTICATED),
    (errors.PermissionDenied, code_pb2.PERMISSION_DENIED),
    (errors.AccessTokenInvalid, code_pb2.PERMISSION_DENIED),
    (errors.TenantDisabled, code_pb2.PERMISSION_DENIED),
    (errors.OperationNotPermitted, code_pb2.PERMISSION_DENIED),
    (errors.PayloadTooLarge, code_pb2.RESOURCE_EXHAUSTED),
    (errors.LockConflict, code_pb2.FAILED_PRECONDITION),
    (errors.FileLocked, code_pb2.FAILED_PRECONDITION),
    (errors.FileAlreadyExists, code_pb2.ALREADY_EXISTS),
    (errors.InvalidFileName, code_pb2.INVALID_ARGUMENT),
    (errors.ProofInvalid, code_pb2.PERMISSION_DENIED),
    (errors.TooManyInvalidTokens, code_pb2.RESOURCE_EXHAUSTED),
    (errors.ConflictCopyQuotaExceeded, code_pb2.RESOURCE_EXHAUSTED),
    (errors.TenantLimitExceeded, code_pb2.RESOURCE_EXHAUSTED),
    (errors.StorageFull, code_pb2.RESOURCE_EXHAUSTED),
    (errors.StorageReadOnly, code_pb2.FAILED_PRECONDITION),
    (errors.EgressRefused, code_pb2.FAILED_PRECONDITION),  # depends on DNS and the operator's --egress-allow
    (errors.TimestampConflict, code_pb2.FAILED_PRECONDITION),
    (errors.WriteInProgress, code_pb2.FAILED_PRECONDITION),
    (errors.FileMoved, code_pb2.FAILED_PRECONDITION),
    (errors.DeadlineExceeded, code_pb2.DEADLINE_EXCEEDED),
    (errors.ControlPlaneUnavailable, code_pb2.UNAVAILABLE),  # its database cannot be reached
    (errors.BridgeSignatureInvalid, code_pb2.UNAUTHENTICATED),
]


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def to_status(error: errors.WopiProxyError) -> status_pb2.Status:
    code = next((c for cls, c in _CODES if isinstance(error, cls)), None)
    if code is None:
        log.error("no gRPC status for %s: %s", type(error).__name__, error.message)
        code = code_pb2.INTERNAL
    details = [_pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=DOMAIN, metadata=error.metadata))]
    if isinstance(error, errors.InvalidArgument):
        violation = error_details_pb2.BadRequest.FieldViolation(field=error.field, description=error.description)
        details.append(_pack(error_details_pb2.BadRequest(field_violations=[violation])))
    return status_pb2.Status(code=code, message=error.message, details=details)


def item_status(error: BaseException, where: str) -> status_pb2.Status:
    """The status of one item of a batch call: what the call would have returned alone."""
    known = known_error(error, where)
    if known is not None:
        return to_status(known)
    return status_pb2.Status(code=code_pb2.INTERNAL, message=_internal(where, error))


def known_error(error: BaseException, where: str) -> errors.WopiProxyError | None:
    """A domain error as it is; a database that cannot be reached as UNAVAILABLE (the caller may
    try again, or another replica; logged as one line now and then, not as an incident)."""
    if isinstance(error, errors.WopiProxyError):
        return error
    if availability.unreachable(error):
        availability.log_failure(log, where, error)
        return errors.ControlPlaneUnavailable(f"its database cannot be reached ({availability.describe(error)})")
    return None


def _internal(where: str, error: BaseException) -> str:
    """Logs an unexpected error with an incident id; the message for the caller names only the id."""
    incident = secrets.token_hex(4)
    log.error("internal error in %s (incident %s)", where, incident, exc_info=error)
    return f"internal error (incident {incident}, see the server log)"


T = TypeVar("T")


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Consumes the outcome of work whose caller left (no "exception was never retrieved")."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("work finished after its caller left: %r", task.exception())


def grpc_errors(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Wraps a servicer method: domain errors become their status, anything else INTERNAL."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> T:
        # A caller that goes away (an editor's dropped connection cancels the edge's call) must not
        # cancel a transaction half-way (a commit is all or nothing, and the storage steps of a
        # restore are followed by their record): the work is shielded, but it learns that its
        # caller left through its budget, and its next commit then rolls back instead.
        with deadlines.budget(context.time_remaining()) as budget:
            work = asyncio.ensure_future(method(self, request, context))
        work.add_done_callback(_retrieve)
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            budget.abandoned = True
            raise
        except (grpc.aio.AbortError, grpc.aio.UsageError):
            raise
        except Exception as error:
            known = known_error(error, method.__qualname__)
            if known is not None:
                await context.abort_with_status(rpc_status.to_status(to_status(known)))
            else:
                await context.abort(grpc.StatusCode.INTERNAL, _internal(method.__qualname__, error))
        raise AssertionError("unreachable")

    return wrapper
