"""gateway/status.py: only the control plane's own status reaches the caller in words; a status
the gRPC library made (its text names internal addresses) becomes a fixed text for its code."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from gateway.status import LIBRARY_MESSAGES, RETRY_AFTER_S, STATUS_DETAILS_KEY, from_rpc_error

LEAK = "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.255.255.1:50051: Connection refused"


def _error(code: grpc.StatusCode, details: str, status: status_pb2.Status | None = None) -> grpc.aio.AioRpcError:
    trailer = grpc.aio.Metadata((STATUS_DETAILS_KEY, status.SerializeToString())) if status else grpc.aio.Metadata()
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailer, details, debug_error_string=LEAK)


def _control_plane_status(code: grpc.StatusCode, message: str) -> status_pb2.Status:
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason="TENANT_NOT_FOUND", domain="wopi-proxy"))
    return status_pb2.Status(code=code.value[0], message=message, details=[info])


@pytest.mark.parametrize("code", [*LIBRARY_MESSAGES, grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL],
                         ids=lambda code: code.name)
def test_a_status_the_grpc_library_made_never_shows_its_text(code: grpc.StatusCode) -> None:
    error = from_rpc_error(_error(code, LEAK))
    assert "10.255.255.1" not in str(error.document()) and "50051" not in str(error.document())
    assert error.status == code.name and error.message.startswith(LIBRARY_MESSAGES.get(code, "the call"))
    assert error.details == []


def test_an_unavailable_control_plane_says_when_to_retry() -> None:
    error = from_rpc_error(_error(grpc.StatusCode.UNAVAILABLE, LEAK))
    assert (error.http_status, error.headers) == (503, {"Retry-After": str(RETRY_AFTER_S)})


def test_the_control_plane_own_status_passes_its_message_and_details_on() -> None:
    code = grpc.StatusCode.NOT_FOUND
    error = from_rpc_error(_error(code, "tenant t-1 not found", _control_plane_status(code, "tenant t-1 not found")))
    assert (error.http_status, error.message) == (404, "tenant t-1 not found")
    assert error.details[0]["reason"] == "TENANT_NOT_FOUND"


def test_a_status_of_another_code_is_not_trusted_for_its_text() -> None:
    """A trailer whose code differs from the call's is not the control plane's answer to this call."""
    other = _control_plane_status(grpc.StatusCode.NOT_FOUND, "tenant t-1 not found")
    error = from_rpc_error(_error(grpc.StatusCode.UNAVAILABLE, LEAK, other))
    assert "50051" not in error.message and error.details == []
