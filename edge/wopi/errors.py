"""The edge's one error boundary: domain errors become the status codes and headers the WOPI
spec names. Every lock mismatch goes through lock_conflict_response."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import quote

from quart import Response, jsonify
from werkzeug.exceptions import HTTPException

from edge.observability import note_error
from edge.wopi.headers import utf7
from shared import errors
from shared.wopi_status import wopi_status

log = logging.getLogger(__name__)

# Seconds an editor should wait before retrying when a dependency (control plane, storage) is
# down: short, since these outages are usually a restart.
RETRY_AFTER_S = 5

CONFLICT_COPY_HEADER = "X-WopiProxy-Conflict-Copy"


def lock_conflict_response(current_lock: str, reason: str, copy_path: str = "") -> Response:
    """409 with the current lock ("" when unlocked) and a reason for the editor's logs; after a
    refused PutFile, where its body was kept (a path in the writer's own storage)."""
    response = jsonify({"error": "LOCK_CONFLICT", "message": reason})
    response.status_code = 409
    response.headers["X-WOPI-Lock"] = current_lock
    response.headers["X-WOPI-LockFailureReason"] = reason
    if copy_path:
        response.headers[CONFLICT_COPY_HEADER] = quote(copy_path, safe="/")
    return response


def _timestamp_conflict_response() -> Response:
    # Collabora's contract (and OnlyOffice's, which reads the old LOOL name).
    response = jsonify({"COOLStatusCode": 1010, "LOOLStatusCode": 1010})
    response.status_code = 409
    return response


def _relative_target_response(error: errors.RelativeTargetRefused) -> Response:
    response = jsonify({"error": error.reason, "message": error.message})
    response.status_code = error.status
    if error.valid_target:
        response.headers["X-WOPI-ValidRelativeTarget"] = utf7(error.valid_target)
    if error.current_lock is not None:
        response.headers["X-WOPI-Lock"] = error.current_lock
    return response


async def domain_error_response(error: errors.WopiProxyError) -> Response:
    note_error(error)  # metrics: proof failures, storage errors
    if isinstance(error, errors.LockConflict):
        return lock_conflict_response(error.current_lock, error.failure_reason, error.copy_path)
    if isinstance(error, errors.TimestampConflict):
        return _timestamp_conflict_response()
    if isinstance(error, errors.RelativeTargetRefused):
        return _relative_target_response(error)
    status = wopi_status(error)
    message = error.message
    if error.editor_message is not None:
        incident = secrets.token_hex(4)
        message = f"{error.editor_message} (incident {incident})"
        log.log(logging.ERROR if status >= 500 else logging.WARNING, "WOPI request failed: %s (%s, incident %s)",
                error.message, error.reason, incident)
    elif isinstance(error, errors.ProofInvalid):
        # The validator and Office expect 500 for a failed proof; the audit has the reason.
        log.warning("WOPI request refused: %s", error.message)
    elif status >= 500 and not isinstance(error, errors.UploadCapacityReached):  # logged, rate-limited, where refused
        log.error("WOPI request failed: %s (%s)", error.message, error.reason)
    if isinstance(error, errors.BridgeSignatureInvalid):
        # docs/BRIDGE.md: bad, replayed or unknown, alike; nothing more for the sender to learn.
        response = jsonify({"error": "unauthorized"})
    else:
        response = jsonify({"error": error.reason, "message": message})
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    if isinstance(error, errors.InvalidFileName):
        response.headers["X-WOPI-InvalidFileNameError"] = error.description
    if isinstance(error, (errors.TooManyInvalidTokens, errors.TooManyUploads, errors.UploadCapacityReached)):
        response.headers["Retry-After"] = str(error.retry_after_s)
    return response


async def http_error_response(error: HTTPException) -> Response:
    response = jsonify({"error": (error.name or "HTTP error").upper().replace(" ", "_"),
                        "message": error.description or ""})
    response.status_code = error.code or 500
    return response


async def unexpected_error_response(error: Exception) -> Response:
    note_error(error)
    incident = secrets.token_hex(4)
    log.exception("unexpected error in a WOPI request (incident %s)", incident, exc_info=error)
    response = jsonify({"error": "INTERNAL", "message": f"internal error (incident {incident})"})
    response.status_code = 500
    return response
