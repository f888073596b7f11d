"""The gateway's one error boundary: gRPC status -> HTTP status and a JSON error body.

The HTTP codes are those of google/rpc/code.proto. The body is Google's JSON error format:

    {"error": {"code": 404, "status": "NOT_FOUND", "message": "...",
               "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": ...}]}}

`details` are the control plane's google.rpc.Status details (ErrorInfo, BadRequest, ...) decoded
from the `grpc-status-details-bin` trailer.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2, json_format
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

log = logging.getLogger(__name__)

GATEWAY_DOMAIN = "wopi-proxy.gateway"
STATUS_DETAILS_KEY = "grpc-status-details-bin"

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

    def document(self) -> dict[str, Any]:
        return {"error": {"code": self.http_status, "status": self.status, "message": self.message,
                          "details": self.details}}

    @property
    def headers(self) -> dict[str, str]:
        # RFC 6750 section 3: a 401 names the scheme the client has to use.
        return {"WWW-Authenticate": "Bearer"} if self.http_status == 401 else {}


def http_status(code: grpc.StatusCode) -> int:
    return HTTP_STATUS.get(code, 500)


def from_rpc_error(error: grpc.aio.AioRpcError) -> HttpError:
    """The HTTP form of a failed call, with the details the control plane attached."""
    code = error.code()
    return HttpError(http_status=http_status(code), status=code.name, message=error.details() or "",
                     details=_details(error))


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


def _details(error: grpc.aio.AioRpcError) -> list[dict[str, Any]]:
    for key, value in error.trailing_metadata() or ():
        if key != STATUS_DETAILS_KEY or not isinstance(value, bytes):
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except DecodeError:  # a peer that is not ours; the code and message are still right
            log.warning("undecodable %s trailer (%d bytes)", STATUS_DETAILS_KEY, len(value))
            return []
        if status.code != error.code().value[0]:
            return []  # details of another status: trust the call's code, drop them
        return [_any_as_json(detail) for detail in status.details]
    return []


def _as_json(message: Any) -> dict[str, Any]:
    packed = any_pb2.Any()
    packed.Pack(message)
    return _any_as_json(packed)


def _any_as_json(packed: any_pb2.Any) -> dict[str, Any]:
    try:
        return json_format.MessageToDict(packed, preserving_proto_field_name=True)
    except TypeError:  # a detail type this process does not know: keep it, opaque
        return {"@type": packed.type_url, "value": base64.b64encode(packed.value).decode()}
