"""The HTTP status a WOPI request is answered with for each domain error.

The edge answers with it (edge/wopi/errors.py) and the control plane records it in the audit
trail for the refusals it decides (control/services/audit.py): one table, so both always agree.
"""

from __future__ import annotations

from shared import errors

# Most specific class first. A bad, expired or foreign token is 401, never 403 or 404
# (Collabora and OnlyOffice show "session expired" only for 401).
WOPI_STATUS: list[tuple[type[errors.WopiProxyError], int]] = [
    (errors.AccessTokenInvalid, 401),
    (errors.TenantDisabled, 401),
    (errors.OperationNotPermitted, 401),
    (errors.NotFound, 404),
    (errors.FileTooLarge, 412),
    (errors.PayloadTooLarge, 413),
    (errors.UploadStalled, 408),
    (errors.InvalidArgument, 400),
    (errors.InvalidFileName, 400),
    (errors.LockConflict, 409),  # with X-WOPI-Lock (edge/wopi/errors.py)
    (errors.TimestampConflict, 409),  # with {"COOLStatusCode": 1010}
    (errors.FileAlreadyExists, 409),
    (errors.UnsupportedOperation, 501),
    (errors.TooManyInvalidTokens, 429),  # with Retry-After (edge/wopi/errors.py)
    (errors.TooManyUploads, 429),  # with Retry-After: one token's uploads (edge/upload_slots.py)
    (errors.UploadCapacityReached, 503),  # with Retry-After: the edge's uploads, whoever sends them
    (errors.ConflictCopyQuotaExceeded, 507),  # Insufficient Storage: the content could not be kept
    (errors.StorageBlocked, 403),  # the operator's policy refuses the storage now: no retry will help
    (errors.ProofInvalid, 500),  # what Office and the WOPI validator expect of a failed proof
    # A dependency is down: 503 (with Retry-After) tells editors to retry, 500 would say we broke.
    (errors.ControlPlaneUnavailable, 503),
    (errors.StorageUnreachable, 503),
    (errors.StorageReadOnly, 503),  # the operator must remount it: retrying later is right
    (errors.StorageFull, 507),  # RFC 4918 Insufficient Storage
    (errors.EgressRefused, 500),  # a tenant's storage endpoint this edge's --egress-allow does not cover
    (errors.WriteInProgress, 423),  # "busy", not a conflict: Collabora reads any 409 as one
    (errors.FileMoved, 423),  # only when renamed again and again during one save: busy, retry
    (errors.BridgeSignatureInvalid, 401),
    (errors.BridgeLeaseLost, 409),  # a bridge worker's stale report (never a WOPI request's answer)
]


def wopi_status(error: errors.WopiProxyError) -> int:
    if isinstance(error, errors.RelativeTargetRefused):
        return error.status
    return status_for(type(error))


def status_for(error_class: type[errors.WopiProxyError]) -> int:
    return next((code for cls, code in WOPI_STATUS if issubclass(error_class, cls)), 500)
