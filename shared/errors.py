"""Domain errors shared by the control plane and the edge.

They carry no transport: control/api/errors.py turns them into gRPC status codes and
edge/wopi/errors.py into WOPI status codes. `reason` is an ErrorReason name from
protos/wopiproxy/control/v1/error_reason.proto (without its prefix).

    WopiProxyError
    ├── InvalidArgument            (field, description)
    │   └── PathOutsideRoot        (path)
    ├── NotFound
    │   ├── TenantNotFound         (tenant_id)
    │   ├── StorageNotFound        (tenant_id, storage)
    │   ├── SessionNotFound        (session_id)
    │   ├── ApiKeyNotFound         (key_id)
    │   ├── EditorNotFound         (editor)
    │   └── FileNotFound           (path)
    ├── AlreadyExists
    │   ├── TenantAlreadyExists    (tenant_id)
    │   ├── StorageAlreadyExists   (tenant_id, storage)
    │   └── EditorAlreadyExists    (editor)
    ├── StorageUnreachable         (storage, detail)
    ├── StorageBlocked             (storage, description)           WOPI 403; stored storage fails the policy
    ├── FailedPrecondition         (reason given by the raiser; metadata)
    ├── ProofInvalid               (detail)                         WOPI 500 (the validator expects it)
    ├── LaunchCodeInvalid
    ├── ApiKeyInvalid
    ├── PermissionDenied
    │   └── StoragePolicyDenied    (field, description)             the operator's storage policy
    ├── AccessTokenInvalid
    ├── TenantDisabled             (tenant_id)
    ├── OperationNotPermitted      (operation)
    ├── PayloadTooLarge            (limit)
    ├── FileTooLarge               (size, limit)      GetFile over X-WOPI-MaxExpectedSize
    ├── UnsupportedOperation       (operation)
    ├── UploadStalled              (seconds)
    ├── ControlPlaneUnavailable    (detail)
    ├── LockConflict               (current_lock, failure_reason)   WOPI 409 + X-WOPI-Lock
    ├── TimestampConflict          (expected, actual)               Collabora 409 + COOLStatusCode 1010
    ├── FileAlreadyExists          (path)
    ├── FileLocked                 (file_id)
    ├── VersionNotFound            (file_id, version)
    ├── InvalidFileName            (name, description)              WOPI 400 + X-WOPI-InvalidFileNameError
    ├── RelativeTargetRefused      (status, valid_target, current_lock)  PutRelativeFile 400/409
    │   (abuse limits and quotas)
    ├── TooManyInvalidTokens       (retry_after_s)                  edge 429 + Retry-After
    ├── TooManyUploads             (limit, retry_after_s)           edge 429 + Retry-After: one token's bodies
    │   └── TooManyDownloads       (limit, retry_after_s)           edge 429 + Retry-After: one token's replies
    ├── UploadCapacityReached      (limit, retry_after_s)           edge 503 + Retry-After: the edge's bodies
    │   └── DownloadCapacityReached (limit, retry_after_s)          edge 503 + Retry-After: the edge's replies
    ├── ConflictCopyQuotaExceeded  (tenant_id, quota)               WOPI 507
    ├── TenantLimitExceeded        (tenant_id, limit, maximum, setting)  a tenant key over an operator's per-tenant cap
    ├── StorageFull                (storage)                        WOPI 507
    ├── StorageReadOnly            (storage, detail)                WOPI 503 + Retry-After
    ├── EgressRefused              (host, detail)                   a tenant's URL names an internal address
    │   -- the write protocol and deadlines (control/services/write_intents.py) --
    ├── WriteInProgress            (file_id)                        WOPI 423: another write is pending
    ├── FileMoved                  (file_id, path)                  PutFile: renamed meanwhile; the edge asks again
    ├── WriteIntentNotFound        (intent_id)                      (under NotFound)
    ├── DeadlineExceeded           (detail)                         the caller gave up: nothing committed
    │   -- the bridge (edge/bridge, control/services/bridge_*) --
    ├── BridgeSignatureInvalid                                      401: bad, replayed or unknown, alike
    ├── BridgeDocumentNotFound     (document_id)                    (under NotFound) or another tenant's
    └── BridgeLeaseLost            (document_id)                    (under FailedPrecondition) nothing recorded

A dependency that fails is told honestly: StorageUnreachable and ControlPlaneUnavailable are
WOPI 503 with Retry-After too (shared/wopi_status.py), never 500. What an editor is told of a
storage's failure is its kind (the reason) and an incident id, never the storage's root or what it
answered (editor_message): those are in the edge's log under that id.
"""

from __future__ import annotations


class StartupRefused(Exception):
    """A process will not start as configured (a key, the schema, tracing): the operator's to fix.
    Outside the domain tree: the CLI prints it as one line, no request ever sees it."""


class WopiProxyError(Exception):
    """Base of every domain error; `metadata` holds every value the message mentions."""

    reason: str = "UNSPECIFIED"
    # What a WOPI client (an editor's server, and through it its users) is told instead of the
    # message, when the message names what only the operator should see: a storage's root, its
    # endpoint, what the storage answered. The edge logs the message under an incident id.
    editor_message: str | None = None

    def __init__(self, message: str, **metadata: str) -> None:
        super().__init__(message)
        self.message = message
        self.metadata = {k: str(v) for k, v in metadata.items()}


class InvalidArgument(WopiProxyError):
    reason = "INVALID_ARGUMENT"

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"invalid {field}: {description}", field=field)
        self.field = field
        self.description = description


class PathOutsideRoot(InvalidArgument):
    reason = "PATH_OUTSIDE_ROOT"

    def __init__(self, path: str, field: str = "path") -> None:
        super().__init__(field, f"path {path!r} leaves the storage root")
        self.metadata["path"] = path


class NotFound(WopiProxyError):
    reason = "NOT_FOUND"


class TenantNotFound(NotFound):
    reason = "TENANT_NOT_FOUND"

    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"tenant {tenant_id!r} not found", tenant_id=tenant_id)


class StorageNotFound(NotFound):
    reason = "STORAGE_NOT_FOUND"

    def __init__(self, tenant_id: str, storage: str) -> None:
        super().__init__(f"storage {storage!r} not found in tenant {tenant_id!r}",
                         tenant_id=tenant_id, storage=storage)


class SessionNotFound(NotFound):
    reason = "SESSION_NOT_FOUND"

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id!r} not found", session_id=session_id)


class FileNotFound(NotFound):
    reason = "FILE_NOT_FOUND"

    def __init__(self, path: str) -> None:
        super().__init__(f"file {path!r} not found", path=path)


class AlreadyExists(WopiProxyError):
    reason = "ALREADY_EXISTS"


class TenantAlreadyExists(AlreadyExists):
    reason = "TENANT_ALREADY_EXISTS"

    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"tenant {tenant_id!r} already exists", tenant_id=tenant_id)


class StorageAlreadyExists(AlreadyExists):
    reason = "STORAGE_ALREADY_EXISTS"

    def __init__(self, tenant_id: str, storage: str) -> None:
        super().__init__(f"storage {storage!r} already exists in tenant {tenant_id!r}",
                         tenant_id=tenant_id, storage=storage)


class StorageUnreachable(WopiProxyError):
    reason = "STORAGE_UNREACHABLE"
    editor_message = "the file's storage cannot be reached"

    def __init__(self, storage: str, detail: str) -> None:
        super().__init__(f"storage {storage!r} cannot be reached: {detail}", storage=storage, detail=detail)


class ApiKeyInvalid(WopiProxyError):
    reason = "API_KEY_INVALID"

    def __init__(self) -> None:
        super().__init__("missing, unknown or revoked API key (send 'authorization: Bearer <key>')")


class PermissionDenied(WopiProxyError):
    reason = "PERMISSION_DENIED"


class AccessTokenInvalid(WopiProxyError):
    reason = "ACCESS_TOKEN_INVALID"

    def __init__(self, why: str = "access token is invalid, expired or not valid for this file") -> None:
        super().__init__(why)


class TenantDisabled(WopiProxyError):
    reason = "TENANT_DISABLED"

    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"tenant {tenant_id!r} is disabled", tenant_id=tenant_id)


class OperationNotPermitted(WopiProxyError):
    reason = "OPERATION_NOT_PERMITTED"

    def __init__(self, operation: str) -> None:
        super().__init__(f"the session does not allow {operation}", operation=operation)


class PayloadTooLarge(WopiProxyError):
    reason = "PAYLOAD_TOO_LARGE"

    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than the limit of {limit} bytes", limit=str(limit))
        self.limit = limit


class FileTooLarge(WopiProxyError):
    reason = "FILE_TOO_LARGE"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"file of {size} bytes is larger than the {limit} bytes expected",
                         size=str(size), limit=str(limit))


class UnsupportedOperation(WopiProxyError):
    reason = "UNSUPPORTED_OPERATION"

    def __init__(self, operation: str) -> None:
        super().__init__(f"operation {operation!r} is not supported", operation=operation)


class UploadStalled(WopiProxyError):
    reason = "UPLOAD_STALLED"

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no body data for {seconds:g} seconds", seconds=f"{seconds:g}")


class ControlPlaneUnavailable(WopiProxyError):
    reason = "CONTROL_PLANE_UNAVAILABLE"

    def __init__(self, detail: str) -> None:
        super().__init__(f"control plane unavailable: {detail}", detail=detail)


class LockConflict(WopiProxyError):
    """A WOPI lock check failed; `current_lock` is "" when the file is unlocked."""

    reason = "LOCK_CONFLICT"
    # Where a refused PutFile body was kept (set by the edge once the copy exists; "" when none).
    copy_path: str = ""

    def __init__(self, current_lock: str, failure_reason: str) -> None:
        super().__init__(failure_reason, current_lock=current_lock, failure_reason=failure_reason)
        self.current_lock = current_lock
        self.failure_reason = failure_reason


class TimestampConflict(WopiProxyError):
    """Collabora/OnlyOffice last saw another LastModifiedTime: the file changed in storage."""

    reason = "TIMESTAMP_CONFLICT"

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"the editor last saw {expected}, the file is at {actual}", expected=expected, actual=actual)


class FileAlreadyExists(WopiProxyError):
    reason = "FILE_ALREADY_EXISTS"

    def __init__(self, path: str) -> None:
        super().__init__(f"file {path!r} already exists", path=path)


class FileLocked(WopiProxyError):
    reason = "FILE_LOCKED"

    def __init__(self, file_id: str) -> None:
        super().__init__(f"file {file_id!r} is locked by an editor", file_id=file_id)


class VersionNotFound(NotFound):
    reason = "VERSION_NOT_FOUND"

    def __init__(self, file_id: str, version: int) -> None:
        super().__init__(f"file {file_id!r} has no kept version {version}", file_id=file_id, version=str(version))


class InvalidFileName(WopiProxyError):
    reason = "INVALID_FILE_NAME"

    def __init__(self, name: str, description: str) -> None:
        super().__init__(f"invalid file name {name!r}: {description}", name=name, description=description)
        self.description = description


class RelativeTargetRefused(WopiProxyError):
    """PutRelativeFile cannot use the requested name; `valid_target` is one that would work."""

    reason = "RELATIVE_TARGET_REFUSED"

    def __init__(self, status: int, message: str, *, valid_target: str = "", current_lock: str | None = None) -> None:
        super().__init__(message, valid_target=valid_target)
        self.status = status
        self.valid_target = valid_target
        self.current_lock = current_lock


class FailedPrecondition(WopiProxyError):
    """The request is valid but the state does not allow it now (SESSIONS_OPEN, LAST_ADMIN_KEY, ...)."""

    def __init__(self, reason: str, message: str, **metadata: str) -> None:
        super().__init__(message, **metadata)
        self.reason = reason


class ApiKeyNotFound(NotFound):
    reason = "API_KEY_NOT_FOUND"

    def __init__(self, key_id: str) -> None:
        super().__init__(f"API key {key_id!r} not found", key_id=key_id)


class ProofInvalid(WopiProxyError):
    """A WOPI request's proof-key signature failed the editor's policy."""

    reason = "PROOF_INVALID"

    def __init__(self, detail: str) -> None:
        super().__init__(f"proof-key check failed: {detail}", detail=detail)


class LaunchCodeInvalid(NotFound):
    reason = "LAUNCH_CODE_INVALID"

    def __init__(self) -> None:
        super().__init__("the launch code is unknown, used or expired; open the document again")


class EditorNotFound(NotFound):
    reason = "EDITOR_NOT_FOUND"

    def __init__(self, name: str) -> None:
        super().__init__(f"editor {name!r} not found", editor=name)


class EditorAlreadyExists(AlreadyExists):
    reason = "EDITOR_ALREADY_EXISTS"

    def __init__(self, name: str) -> None:
        super().__init__(f"editor {name!r} already exists", editor=name)


# -- abuse limits and quotas ----------------------------------------------------------------------


class TooManyInvalidTokens(WopiProxyError):
    """A client address sent too many requests without a valid token; refused at the edge."""

    reason = "TOO_MANY_INVALID_TOKENS"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many requests without a valid access token; retry in {retry_after_s} s",
                         retry_after_s=str(retry_after_s))
        self.retry_after_s = retry_after_s


class TooManyUploads(WopiProxyError):
    """An access token, or its tenant, already has `limit` bodies arriving at the edge; refused
    before its body is read."""

    reason = "TOO_MANY_UPLOADS"

    def __init__(self, limit: int, retry_after_s: int, *, holder: str = "this access token") -> None:
        super().__init__(f"{holder} already has {limit} uploads in progress; retry in {retry_after_s} s",
                         limit=str(limit), retry_after_s=str(retry_after_s))
        self.retry_after_s = retry_after_s


class UploadCapacityReached(WopiProxyError):
    """The edge already receives `limit` bodies (its memory bound); refused before this body is read."""

    reason = "UPLOAD_CAPACITY_REACHED"

    def __init__(self, limit: int, retry_after_s: int) -> None:
        super().__init__(f"the server is receiving {limit} uploads already; retry in {retry_after_s} s",
                         limit=str(limit), retry_after_s=str(retry_after_s))
        self.retry_after_s = retry_after_s


class TooManyDownloads(TooManyUploads):
    """An access token, or its tenant, already has `limit` replies with file bytes on their way;
    refused before the file is opened."""

    reason = "TOO_MANY_DOWNLOADS"

    def __init__(self, limit: int, retry_after_s: int, *, holder: str = "this access token") -> None:
        WopiProxyError.__init__(self, f"{holder} already has {limit} downloads in progress; retry in "
                                      f"{retry_after_s} s", limit=str(limit), retry_after_s=str(retry_after_s))
        self.retry_after_s = retry_after_s


class DownloadCapacityReached(UploadCapacityReached):
    """The edge already sends `limit` files (its memory bound); refused before this one is opened."""

    reason = "DOWNLOAD_CAPACITY_REACHED"

    def __init__(self, limit: int, retry_after_s: int) -> None:
        WopiProxyError.__init__(self, f"the server is sending {limit} files already; retry in {retry_after_s} s",
                                limit=str(limit), retry_after_s=str(retry_after_s))
        self.retry_after_s = retry_after_s


class ConflictCopyQuotaExceeded(WopiProxyError):
    """A refused save cannot be kept as a conflict copy: the tenant's conflict copies use up its quota."""

    reason = "CONFLICT_COPY_QUOTA_EXCEEDED"

    def __init__(self, tenant_id: str, quota: int) -> None:
        super().__init__(f"the save was refused and cannot be kept: conflict copies of tenant {tenant_id!r} "
                         f"already use their quota of {quota} bytes", tenant_id=tenant_id, quota=str(quota))


class TenantLimitExceeded(WopiProxyError):
    """A tenant key asked for more than the operator lets one tenant have (storages, editors,
    concurrent event streams): each costs the control plane work on every list or poll, so a
    hostile key must not grow them without bound. Refused before anything is made."""

    reason = "TENANT_LIMIT_EXCEEDED"

    def __init__(self, tenant_id: str, limit: str, maximum: int, setting: str) -> None:
        super().__init__(f"tenant {tenant_id!r} has reached its limit of {maximum} {limit} "
                         f"(the operator's {setting})",
                         tenant_id=tenant_id, limit=limit, maximum=str(maximum), setting=setting)


# -- storage policy (control/services/storage_policy.py) --------------------------------------


class StoragePolicyDenied(PermissionDenied):
    """A storage the operator's policy does not allow (a root in the data dir, a protocol or an
    option tenant keys may not use, missing own credentials...)."""

    reason = "STORAGE_POLICY_DENIED"

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"storage refused by the operator's storage policy: {description}", field=field)
        self.field = field
        self.description = description


class StorageBlocked(WopiProxyError):
    """A stored storage that no longer passes the policy (its root now reaches the data dir, its
    row was changed...): it is not opened."""

    reason = "STORAGE_BLOCKED"
    editor_message = "the file's storage is blocked by the operator's storage policy"

    def __init__(self, storage: str, description: str) -> None:
        super().__init__(f"storage {storage!r} is blocked by the operator's storage policy: {description}",
                         storage=storage, description=description)


# -- storage failures (faults): a full or read-only storage, told apart by errno, never by message.

class StorageFull(WopiProxyError):
    """The storage has no room left (ENOSPC, EDQUOT): the previous content is intact."""

    reason = "STORAGE_FULL"
    editor_message = "the file's storage is full"

    def __init__(self, storage: str) -> None:
        super().__init__(f"storage {storage!r} is full", storage=storage)


class StorageReadOnly(WopiProxyError):
    """The storage refuses writes (EROFS, EACCES, EPERM): an operator's problem, not the editor's."""

    reason = "STORAGE_READ_ONLY"
    editor_message = "the file's storage is read-only"

    def __init__(self, storage: str, detail: str) -> None:
        super().__init__(f"storage {storage!r} is read-only: {detail}", storage=storage, detail=detail)


# -- egress policy (shared/egress.py) --------------------------------------------------------------


class EgressRefused(WopiProxyError):
    """A URL set by a tenant key names an address the egress policy refuses (SSRF). The
    message names the host and why, never anything a server answered."""

    reason = "EGRESS_REFUSED"

    def __init__(self, host: str, detail: str) -> None:
        super().__init__(f"egress refused: {host!r} {detail} (an operator may allow a network with "
                         f"--egress-allow)", host=host, detail=detail)
        self.host = host
        self.detail = detail


# -- the write protocol and deadlines (control/services/write_intents.py, control/services/deadlines.py) --


class WriteInProgress(WopiProxyError):
    """Another write of the file is between BeginWrite and its confirmation."""

    reason = "WRITE_IN_PROGRESS"

    def __init__(self, file_id: str) -> None:
        super().__init__(f"another write of file {file_id!r} is in progress; retry", file_id=file_id)


class FileMoved(WopiProxyError):
    """PutFile's bytes were staged for a path the file has left (a RenameFile while its body was
    arriving): publishing there would bring the old name back and leave the file as it was, while
    the database recorded the save. The edge asks again with what is at `path`."""

    reason = "FILE_MOVED"

    def __init__(self, file_id: str, path: str) -> None:
        super().__init__(f"file {file_id!r} was renamed to {path!r} during the save; retry there",
                         file_id=file_id, path=path)
        self.path = path


class WriteIntentNotFound(NotFound):
    reason = "WRITE_INTENT_NOT_FOUND"

    def __init__(self, intent_id: str) -> None:
        super().__init__(f"write intent {intent_id!r} is unknown or was abandoned", intent_id=intent_id)


class DeadlineExceeded(WopiProxyError):
    """The caller's deadline passed (or it went away) before the work could commit: nothing was."""

    reason = "DEADLINE_EXCEEDED"

    def __init__(self, detail: str) -> None:
        super().__init__(f"deadline exceeded: {detail}", detail=detail)


# -- the bridge ------------------------------------------------------------------------------


class BridgeSignatureInvalid(WopiProxyError):
    """A bridged app's request failed shared/signatures.py, or names a document we do not know.
    Both answer the same, so a caller learns nothing about which documents exist."""

    reason = "BRIDGE_SIGNATURE_INVALID"

    def __init__(self) -> None:
        super().__init__("the request is not signed by a known bridged app")


class BridgeDocumentNotFound(NotFound):
    """No such bridged document, or another tenant's (the same answer)."""

    reason = "BRIDGE_DOCUMENT_NOT_FOUND"

    def __init__(self, document_id: str) -> None:
        super().__init__(f"bridged document {document_id!r} not found", document_id=document_id)


class BridgeLeaseLost(FailedPrecondition):
    """A worker reports on a document whose lease it no longer holds (expired and handed to
    another worker, or never its own): the outcome is not recorded."""

    def __init__(self, document_id: str) -> None:
        super().__init__("BRIDGE_LEASE_LOST", f"the lease on bridged document {document_id!r} is not held "
                         "(expired or taken over): the outcome was not recorded", document_id=document_id)
