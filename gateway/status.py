"""The gateway's one error boundary: gRPC status -> HTTP status and a JSON error body.

The HTTP codes are those of google/rpc/code.proto. The body is Google's JSON error format:

    {"error": {"code": 404, "status": "NOT_FOUND", "message": "...",
               "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": ...}]}}

`details` are the control plane's google.rpc.Status details (ErrorInfo, BadRequest, ...) decoded
from the `grpc-status-details-bin` trailer.

Only a status the control plane made itself (that trailer) passes its message on. A status the gRPC
library made (the control plane unreachable, a deadline, a message too large) carries the library's
text, which names the control plane's internal address: any caller, even one without credentials,
gets a fixed text for its code instead, and the operator finds the library's text in the log under
the incident id the caller is given.
"""

from __future__ import annotations

import base64
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2, json_format
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

log = logging.getLogger(__name__)

GATEWAY_DOMAIN = "wopi-proxy.gateway"
STATUS_DETAILS_KEY = "grpc-status-details-bin"
RETRY_AFTER_S = 5  # a restarting control plane is usually back within seconds (edge/wopi/errors.py: the same)

# What a caller is told of a status the gRPC library made (never its own text: see the docstring).
LIBRARY_MESSAGES: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.UNAVAILABLE: "the control plane is unavailable; retry later",
    grpc.StatusCode.DEADLINE_EXCEEDED: "the control plane did not answer in time",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "the request or its reply is too large for the control plane",
    grpc.StatusCode.CANCELLED: "the call to the control plane was cancelled",
    grpc.StatusCode.UNIMPLEMENTED: "the control plane does not implement this method",
}

# google/rpc/code.proto, "HTTP Mapping" of each code.
HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}


@dataclass(frozen=True)
class HttpError:
    """An error reply: HTTP status, the google.rpc.Code name, message and details as JSON."""

    http_status: int
    status: str
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)
    retry_after_s: int | None = None

    def document(self) -> dict[str, Any]:
        return {"error": {"code": self.http_status, "status": self.status, "message": self.message,
                          "details": self.details}}

    @property
    def headers(self) -> dict[str, str]:
        headers = {}
        if self.http_status == 401:  # RFC 6750 section 3: a 401 names the scheme the client has to use.
            headers["WWW-Authenticate"] = "Bearer"
        if self.retry_after_s is not None:  # RFC 9110 section 10.2.3
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


def http_status(code: grpc.StatusCode) -> int:
    return HTTP_STATUS.get(code, 500)


def from_rpc_error(error: grpc.aio.AioRpcError) -> HttpError:
    """The HTTP form of a failed call: the control plane's own message and details, or, for a
    status the gRPC library made, a fixed text (the library's names internal addresses)."""
    code = error.code()
    own = _control_plane_status(error)
    message = own.message if own is not None else _library_message(error)
    return HttpError(http_status=http_status(code), status=code.name, message=message,
                     details=[_any_as_json(detail) for detail in own.details] if own is not None else [],
                     retry_after_s=RETRY_AFTER_S if code == grpc.StatusCode.UNAVAILABLE else None)


def _library_message(error: grpc.aio.AioRpcError) -> str:
    """The caller's text for a status without the control plane's Status; the original is logged."""
    incident = secrets.token_hex(4)
    code = error.code()
    log.warning("control plane call failed: %s: %s (incident %s)", code.name, error.details(), incident)
    fixed = LIBRARY_MESSAGES.get(code, f"the call to the control plane failed ({code.name})")
    return f"{fixed} (incident {incident}, see the gateway log)"


def invalid_argument(field_name: str, description: str) -> HttpError:
    """A request the gateway could not turn into a proto request (bad JSON, bad query value)."""
    violation = error_details_pb2.BadRequest.FieldViolation(field=field_name, description=description)
    where = f"{field_name}: " if field_name else ""
    return HttpError(
        http_status=400, status="INVALID_ARGUMENT", message=f"invalid request: {where}{description}",
        details=[
            _as_json(error_details_pb2.ErrorInfo(reason="INVALID_ARGUMENT", domain=GATEWAY_DOMAIN,
                                                 metadata={"field": field_name} if field_name else {})),
            _as_json(error_details_pb2.BadRequest(field_violations=[violation])),
        ],
    )


def no_credentials() -> HttpError:
    """A request with a body and no Authorization header: refused before its body is read, since
    the control plane would refuse it (the same reason, API_KEY_INVALID)."""
    return HttpError(http_status=401, status="UNAUTHENTICATED", message="an API key is required (Authorization: Bearer)",
                     details=[_as_json(error_details_pb2.ErrorInfo(reason="API_KEY_INVALID", domain=GATEWAY_DOMAIN))])


def not_found(method: str, path: str) -> HttpError:
    return HttpError(http_status=404, status="NOT_FOUND", message=f"no route for {method} {path}")


def method_not_allowed(method: str, path: str, allowed: list[str]) -> HttpError:
    return HttpError(http_status=405, status="UNIMPLEMENTED",
                     message=f"{method} is not allowed on {path}; use {', '.join(allowed)}")


def payload_too_large(limit: int) -> HttpError:
    return HttpError(http_status=413, status="RESOURCE_EXHAUSTED",
                     message=f"the request body exceeds {limit} bytes")


def body_timeout(seconds: float) -> HttpError:
    return HttpError(http_status=408, status="DEADLINE_EXCEEDED",
                     message=f"the request body did not arrive within {seconds:g} s")


def internal(incident: str) -> HttpError:
    return HttpError(http_status=500, status="INTERNAL",
                     message=f"internal error (incident {incident}, see the gateway log)")


def _control_plane_status(error: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    """The google.rpc.Status the control plane attached (control/api/errors.py), if any."""
    for key, value in error.trailing_metadata() or ():
        if key != STATUS_DETAILS_KEY or not isinstance(value, bytes):
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except DecodeError:  # a peer that is not ours: its text is not known to be safe
            log.warning("undecodable %s trailer (%d bytes)", STATUS_DETAILS_KEY, len(value))
            return None
        if status.code != error.code().value[0]:
            return None  # the Status of another code: trust the call's code, not that text
        return status
    return None


def _as_json(message: Any) -> dict[str, Any]:
    packed = any_pb2.Any()
    packed.Pack(message)
    return _any_as_json(packed)


def _any_as_json(packed: any_pb2.Any) -> dict[str, Any]:
    try:
        return json_format.MessageToDict(packed, preserving_proto_field_name=True)
    except TypeError:  # a detail type this process does not know: keep it, opaque
        return {"@type": packed.type_url, "value": base64.b64encode(packed.value).decode()}
