"""Every domain error has a deliberate answer at both process edges (gRPC status, WOPI status)."""

from __future__ import annotations

import inspect

import pytest
from google.rpc import code_pb2

from control.api.errors import to_status
from shared.wopi_status import WOPI_STATUS as EDGE_STATUS
from shared import errors

ALL_ERRORS = [cls for _, cls in inspect.getmembers(errors, inspect.isclass)
              if issubclass(cls, errors.WopiProxyError) and cls is not errors.WopiProxyError]
# Raised only inside the edge, never by the control plane.
EDGE_ONLY = {errors.RelativeTargetRefused, errors.UploadStalled,
             errors.ControlPlaneUnavailable, errors.FileTooLarge, errors.UnsupportedOperation,
             errors.TooManyUploads, errors.UploadCapacityReached, errors.TooManyDownloads,
             errors.DownloadCapacityReached}
# Answered by dedicated response builders in edge/wopi/errors.py.
EDGE_SPECIAL = {errors.LockConflict, errors.TimestampConflict, errors.RelativeTargetRefused}
# Raised only by the control plane's public API, never on a WOPI request.
CONTROL_ONLY = {errors.ApiKeyInvalid, errors.PermissionDenied, errors.AlreadyExists, errors.TenantAlreadyExists,
                errors.StorageAlreadyExists, errors.StorageUnreachable, errors.FileLocked,
                errors.FailedPrecondition, errors.ApiKeyNotFound, errors.EditorAlreadyExists,
                errors.LaunchCodeInvalid, errors.StoragePolicyDenied, errors.TenantLimitExceeded,
                # The edge sees a passed deadline as the gRPC code, i.e. ControlPlaneUnavailable.
                errors.DeadlineExceeded,
                # Internal bridge RPCs: the edge's worker handles them, no WOPI request sees them.
                errors.BridgeLeaseLost}


def _instance(cls: type[errors.WopiProxyError]) -> errors.WopiProxyError:
    params = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.name != "self" and p.default is inspect.Parameter.empty]
    values = {p.name: (409 if p.annotation in ("int", int) else "x") for p in params}
    return cls(**values)


@pytest.mark.parametrize("cls", [c for c in ALL_ERRORS if c not in EDGE_ONLY], ids=lambda c: c.__name__)
def test_control_plane_maps_every_domain_error_to_a_grpc_code(cls: type[errors.WopiProxyError]) -> None:
    status = to_status(_instance(cls))
    assert status.code not in (code_pb2.OK, code_pb2.INTERNAL, code_pb2.UNKNOWN)


@pytest.mark.parametrize("cls", [c for c in ALL_ERRORS if c not in CONTROL_ONLY | EDGE_SPECIAL
                                 | {errors.ControlPlaneUnavailable}], ids=lambda c: c.__name__)
def test_edge_maps_every_domain_error_to_a_wopi_status(cls: type[errors.WopiProxyError]) -> None:
    assert any(issubclass(cls, mapped) for mapped, _ in EDGE_STATUS)
