from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WopiOperation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WOPI_OPERATION_UNSPECIFIED: _ClassVar[WopiOperation]
    WOPI_OPERATION_CHECK_FILE_INFO: _ClassVar[WopiOperation]
    WOPI_OPERATION_GET_FILE: _ClassVar[WopiOperation]
    WOPI_OPERATION_PUT_FILE: _ClassVar[WopiOperation]
    WOPI_OPERATION_PUT_RELATIVE_FILE: _ClassVar[WopiOperation]
    WOPI_OPERATION_LOCK: _ClassVar[WopiOperation]
    WOPI_OPERATION_UNLOCK_AND_RELOCK: _ClassVar[WopiOperation]
    WOPI_OPERATION_REFRESH_LOCK: _ClassVar[WopiOperation]
    WOPI_OPERATION_UNLOCK: _ClassVar[WopiOperation]
    WOPI_OPERATION_GET_LOCK: _ClassVar[WopiOperation]
    WOPI_OPERATION_RENAME_FILE: _ClassVar[WopiOperation]
    WOPI_OPERATION_DELETE_FILE: _ClassVar[WopiOperation]
    WOPI_OPERATION_PUT_USER_INFO: _ClassVar[WopiOperation]

class WriteStep(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WRITE_STEP_UNSPECIFIED: _ClassVar[WriteStep]
    WRITE_STEP_PUBLISH: _ClassVar[WriteStep]
    WRITE_STEP_DONE: _ClassVar[WriteStep]

class BridgeEventSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BRIDGE_EVENT_SOURCE_UNSPECIFIED: _ClassVar[BridgeEventSource]
    BRIDGE_EVENT_SOURCE_ETHERPAD_EVENT: _ClassVar[BridgeEventSource]
    BRIDGE_EVENT_SOURCE_ETHERPAD_REDEEM: _ClassVar[BridgeEventSource]
    BRIDGE_EVENT_SOURCE_CODIMD_WEBHOOK: _ClassVar[BridgeEventSource]
    BRIDGE_EVENT_SOURCE_HOCUSPOCUS_WEBHOOK: _ClassVar[BridgeEventSource]

class BridgeWorkKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BRIDGE_WORK_KIND_UNSPECIFIED: _ClassVar[BridgeWorkKind]
    BRIDGE_WORK_KIND_LOAD: _ClassVar[BridgeWorkKind]
    BRIDGE_WORK_KIND_SAVE: _ClassVar[BridgeWorkKind]
    BRIDGE_WORK_KIND_POLL: _ClassVar[BridgeWorkKind]
    BRIDGE_WORK_KIND_CLOSE: _ClassVar[BridgeWorkKind]

class BridgeWorkOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BRIDGE_WORK_OUTCOME_UNSPECIFIED: _ClassVar[BridgeWorkOutcome]
    BRIDGE_WORK_OUTCOME_LOADED: _ClassVar[BridgeWorkOutcome]
    BRIDGE_WORK_OUTCOME_SAVED: _ClassVar[BridgeWorkOutcome]
    BRIDGE_WORK_OUTCOME_UNCHANGED: _ClassVar[BridgeWorkOutcome]
    BRIDGE_WORK_OUTCOME_CONFLICT: _ClassVar[BridgeWorkOutcome]
    BRIDGE_WORK_OUTCOME_RETRY: _ClassVar[BridgeWorkOutcome]
    BRIDGE_WORK_OUTCOME_FAILED: _ClassVar[BridgeWorkOutcome]
    BRIDGE_WORK_OUTCOME_CLOSED: _ClassVar[BridgeWorkOutcome]
    BRIDGE_WORK_OUTCOME_POLLED: _ClassVar[BridgeWorkOutcome]
WOPI_OPERATION_UNSPECIFIED: WopiOperation
WOPI_OPERATION_CHECK_FILE_INFO: WopiOperation
WOPI_OPERATION_GET_FILE: WopiOperation
WOPI_OPERATION_PUT_FILE: WopiOperation
WOPI_OPERATION_PUT_RELATIVE_FILE: WopiOperation
WOPI_OPERATION_LOCK: WopiOperation
WOPI_OPERATION_UNLOCK_AND_RELOCK: WopiOperation
WOPI_OPERATION_REFRESH_LOCK: WopiOperation
WOPI_OPERATION_UNLOCK: WopiOperation
WOPI_OPERATION_GET_LOCK: WopiOperation
WOPI_OPERATION_RENAME_FILE: WopiOperation
WOPI_OPERATION_DELETE_FILE: WopiOperation
WOPI_OPERATION_PUT_USER_INFO: WopiOperation
WRITE_STEP_UNSPECIFIED: WriteStep
WRITE_STEP_PUBLISH: WriteStep
WRITE_STEP_DONE: WriteStep
BRIDGE_EVENT_SOURCE_UNSPECIFIED: BridgeEventSource
BRIDGE_EVENT_SOURCE_ETHERPAD_EVENT: BridgeEventSource
BRIDGE_EVENT_SOURCE_ETHERPAD_REDEEM: BridgeEventSource
BRIDGE_EVENT_SOURCE_CODIMD_WEBHOOK: BridgeEventSource
BRIDGE_EVENT_SOURCE_HOCUSPOCUS_WEBHOOK: BridgeEventSource
BRIDGE_WORK_KIND_UNSPECIFIED: BridgeWorkKind
BRIDGE_WORK_KIND_LOAD: BridgeWorkKind
BRIDGE_WORK_KIND_SAVE: BridgeWorkKind
BRIDGE_WORK_KIND_POLL: BridgeWorkKind
BRIDGE_WORK_KIND_CLOSE: BridgeWorkKind
BRIDGE_WORK_OUTCOME_UNSPECIFIED: BridgeWorkOutcome
BRIDGE_WORK_OUTCOME_LOADED: BridgeWorkOutcome
BRIDGE_WORK_OUTCOME_SAVED: BridgeWorkOutcome
BRIDGE_WORK_OUTCOME_UNCHANGED: BridgeWorkOutcome
BRIDGE_WORK_OUTCOME_CONFLICT: BridgeWorkOutcome
BRIDGE_WORK_OUTCOME_RETRY: BridgeWorkOutcome
BRIDGE_WORK_OUTCOME_FAILED: BridgeWorkOutcome
BRIDGE_WORK_OUTCOME_CLOSED: BridgeWorkOutcome
BRIDGE_WORK_OUTCOME_POLLED: BridgeWorkOutcome

class WopiCall(_message.Message):
    __slots__ = ("access_token", "file_id", "operation", "client_address", "correlation_id", "editor", "proof", "proof_old", "proof_timestamp", "url", "lock_id", "old_lock_id", "editor_timestamp", "timestamp_editor")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    EDITOR_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    PROOF_OLD_FIELD_NUMBER: _ClassVar[int]
    PROOF_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    LOCK_ID_FIELD_NUMBER: _ClassVar[int]
    OLD_LOCK_ID_FIELD_NUMBER: _ClassVar[int]
    EDITOR_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_EDITOR_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    file_id: str
    operation: WopiOperation
    client_address: str
    correlation_id: str
    editor: str
    proof: str
    proof_old: str
    proof_timestamp: str
    url: str
    lock_id: str
    old_lock_id: str
    editor_timestamp: str
    timestamp_editor: bool
    def __init__(self, access_token: _Optional[str] = ..., file_id: _Optional[str] = ..., operation: _Optional[_Union[WopiOperation, str]] = ..., client_address: _Optional[str] = ..., correlation_id: _Optional[str] = ..., editor: _Optional[str] = ..., proof: _Optional[str] = ..., proof_old: _Optional[str] = ..., proof_timestamp: _Optional[str] = ..., url: _Optional[str] = ..., lock_id: _Optional[str] = ..., old_lock_id: _Optional[str] = ..., editor_timestamp: _Optional[str] = ..., timestamp_editor: _Optional[bool] = ...) -> None: ...

class AuthorizeWopiRequestRequest(_message.Message):
    __slots__ = ("call", "user_info")
    CALL_FIELD_NUMBER: _ClassVar[int]
    USER_INFO_FIELD_NUMBER: _ClassVar[int]
    call: WopiCall
    user_info: str
    def __init__(self, call: _Optional[_Union[WopiCall, _Mapping]] = ..., user_info: _Optional[str] = ...) -> None: ...

class StorageAccess(_message.Message):
    __slots__ = ("protocol", "root", "options", "max_file_size", "version_retention", "egress_restricted", "storage_id")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_FILE_SIZE_FIELD_NUMBER: _ClassVar[int]
    VERSION_RETENTION_FIELD_NUMBER: _ClassVar[int]
    EGRESS_RESTRICTED_FIELD_NUMBER: _ClassVar[int]
    STORAGE_ID_FIELD_NUMBER: _ClassVar[int]
    protocol: str
    root: str
    options: _containers.ScalarMap[str, str]
    max_file_size: int
    version_retention: int
    egress_restricted: bool
    storage_id: int
    def __init__(self, protocol: _Optional[str] = ..., root: _Optional[str] = ..., options: _Optional[_Mapping[str, str]] = ..., max_file_size: _Optional[int] = ..., version_retention: _Optional[int] = ..., egress_restricted: _Optional[bool] = ..., storage_id: _Optional[int] = ...) -> None: ...

class AuthorizeWopiRequestsRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[AuthorizeWopiRequestRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[AuthorizeWopiRequestRequest, _Mapping]]] = ...) -> None: ...

class AuthorizeWopiRequestsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[AuthorizeWopiResult]
    def __init__(self, results: _Optional[_Iterable[_Union[AuthorizeWopiResult, _Mapping]]] = ...) -> None: ...

class AuthorizeWopiResult(_message.Message):
    __slots__ = ("grant", "error")
    GRANT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    grant: AuthorizeWopiRequestResponse
    error: _status_pb2.Status
    def __init__(self, grant: _Optional[_Union[AuthorizeWopiRequestResponse, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class AuthorizeWopiRequestResponse(_message.Message):
    __slots__ = ("tenant_id", "session_id", "user_id", "user_name", "can_write", "path", "version", "owner_id", "storage", "access_token_expiry", "lock_id", "sha256", "fingerprint", "user_info", "post_message_origin", "editor_name")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    CAN_WRITE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    STORAGE_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_EXPIRY_FIELD_NUMBER: _ClassVar[int]
    LOCK_ID_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    USER_INFO_FIELD_NUMBER: _ClassVar[int]
    POST_MESSAGE_ORIGIN_FIELD_NUMBER: _ClassVar[int]
    EDITOR_NAME_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    session_id: str
    user_id: str
    user_name: str
    can_write: bool
    path: str
    version: int
    owner_id: str
    storage: StorageAccess
    access_token_expiry: int
    lock_id: str
    sha256: str
    fingerprint: str
    user_info: str
    post_message_origin: str
    editor_name: str
    def __init__(self, tenant_id: _Optional[str] = ..., session_id: _Optional[str] = ..., user_id: _Optional[str] = ..., user_name: _Optional[str] = ..., can_write: _Optional[bool] = ..., path: _Optional[str] = ..., version: _Optional[int] = ..., owner_id: _Optional[str] = ..., storage: _Optional[_Union[StorageAccess, _Mapping]] = ..., access_token_expiry: _Optional[int] = ..., lock_id: _Optional[str] = ..., sha256: _Optional[str] = ..., fingerprint: _Optional[str] = ..., user_info: _Optional[str] = ..., post_message_origin: _Optional[str] = ..., editor_name: _Optional[str] = ...) -> None: ...

class RedeemLaunchCodeRequest(_message.Message):
    __slots__ = ("launch_code", "client_address")
    LAUNCH_CODE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    launch_code: str
    client_address: str
    def __init__(self, launch_code: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class RedeemLaunchCodeResponse(_message.Message):
    __slots__ = ("action_url", "access_token", "access_token_ttl", "post_message_origin", "file_name", "favicon_url", "editor_kind")
    ACTION_URL_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_TTL_FIELD_NUMBER: _ClassVar[int]
    POST_MESSAGE_ORIGIN_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    FAVICON_URL_FIELD_NUMBER: _ClassVar[int]
    EDITOR_KIND_FIELD_NUMBER: _ClassVar[int]
    action_url: str
    access_token: str
    access_token_ttl: int
    post_message_origin: str
    file_name: str
    favicon_url: str
    editor_kind: str
    def __init__(self, action_url: _Optional[str] = ..., access_token: _Optional[str] = ..., access_token_ttl: _Optional[int] = ..., post_message_origin: _Optional[str] = ..., file_name: _Optional[str] = ..., favicon_url: _Optional[str] = ..., editor_kind: _Optional[str] = ...) -> None: ...

class StoredObject(_message.Message):
    __slots__ = ("exists", "size", "modified", "fingerprint")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    size: int
    modified: str
    fingerprint: str
    def __init__(self, exists: _Optional[bool] = ..., size: _Optional[int] = ..., modified: _Optional[str] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class StagedContent(_message.Message):
    __slots__ = ("size", "sha256", "fingerprint", "staged_path")
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    STAGED_PATH_FIELD_NUMBER: _ClassVar[int]
    size: int
    sha256: str
    fingerprint: str
    staged_path: str
    def __init__(self, size: _Optional[int] = ..., sha256: _Optional[str] = ..., fingerprint: _Optional[str] = ..., staged_path: _Optional[str] = ...) -> None: ...

class BeginWriteRequest(_message.Message):
    __slots__ = ("call", "current", "staged", "target_path", "overwrite", "editors", "save_flags")
    CALL_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    STAGED_FIELD_NUMBER: _ClassVar[int]
    TARGET_PATH_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    EDITORS_FIELD_NUMBER: _ClassVar[int]
    SAVE_FLAGS_FIELD_NUMBER: _ClassVar[int]
    call: WopiCall
    current: StoredObject
    staged: StagedContent
    target_path: str
    overwrite: bool
    editors: str
    save_flags: str
    def __init__(self, call: _Optional[_Union[WopiCall, _Mapping]] = ..., current: _Optional[_Union[StoredObject, _Mapping]] = ..., staged: _Optional[_Union[StagedContent, _Mapping]] = ..., target_path: _Optional[str] = ..., overwrite: _Optional[bool] = ..., editors: _Optional[str] = ..., save_flags: _Optional[str] = ...) -> None: ...

class BeginWriteResponse(_message.Message):
    __slots__ = ("intent_id", "step", "publish_within_ms", "keep_version", "file_id", "version")
    INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_WITHIN_MS_FIELD_NUMBER: _ClassVar[int]
    KEEP_VERSION_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    intent_id: str
    step: WriteStep
    publish_within_ms: int
    keep_version: int
    file_id: str
    version: int
    def __init__(self, intent_id: _Optional[str] = ..., step: _Optional[_Union[WriteStep, str]] = ..., publish_within_ms: _Optional[int] = ..., keep_version: _Optional[int] = ..., file_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class CommitWriteRequest(_message.Message):
    __slots__ = ("call", "intent_id", "fingerprint")
    CALL_FIELD_NUMBER: _ClassVar[int]
    INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    call: WopiCall
    intent_id: str
    fingerprint: str
    def __init__(self, call: _Optional[_Union[WopiCall, _Mapping]] = ..., intent_id: _Optional[str] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class CommitWriteResponse(_message.Message):
    __slots__ = ("version", "expired_versions", "wopi_src", "access_token", "host_view_url", "host_edit_url")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    WOPI_SRC_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    HOST_VIEW_URL_FIELD_NUMBER: _ClassVar[int]
    HOST_EDIT_URL_FIELD_NUMBER: _ClassVar[int]
    version: int
    expired_versions: _containers.RepeatedScalarFieldContainer[int]
    wopi_src: str
    access_token: str
    host_view_url: str
    host_edit_url: str
    def __init__(self, version: _Optional[int] = ..., expired_versions: _Optional[_Iterable[int]] = ..., wopi_src: _Optional[str] = ..., access_token: _Optional[str] = ..., host_view_url: _Optional[str] = ..., host_edit_url: _Optional[str] = ...) -> None: ...

class AbandonWriteRequest(_message.Message):
    __slots__ = ("call", "intent_id", "reason")
    CALL_FIELD_NUMBER: _ClassVar[int]
    INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    call: WopiCall
    intent_id: str
    reason: str
    def __init__(self, call: _Optional[_Union[WopiCall, _Mapping]] = ..., intent_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class AbandonWriteResponse(_message.Message):
    __slots__ = ("abandoned",)
    ABANDONED_FIELD_NUMBER: _ClassVar[int]
    abandoned: bool
    def __init__(self, abandoned: _Optional[bool] = ...) -> None: ...

class RecordConflictCopyRequest(_message.Message):
    __slots__ = ("call", "copy_path", "size", "reason", "status")
    CALL_FIELD_NUMBER: _ClassVar[int]
    COPY_PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    call: WopiCall
    copy_path: str
    size: int
    reason: str
    status: int
    def __init__(self, call: _Optional[_Union[WopiCall, _Mapping]] = ..., copy_path: _Optional[str] = ..., size: _Optional[int] = ..., reason: _Optional[str] = ..., status: _Optional[int] = ...) -> None: ...

class RecordConflictCopyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReportEdgeRefusalsRequest(_message.Message):
    __slots__ = ("counts",)
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    counts: _containers.RepeatedCompositeFieldContainer[EdgeRefusalCount]
    def __init__(self, counts: _Optional[_Iterable[_Union[EdgeRefusalCount, _Mapping]]] = ...) -> None: ...

class EdgeRefusalCount(_message.Message):
    __slots__ = ("client_address", "rate_limited", "missing_token")
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMITED_FIELD_NUMBER: _ClassVar[int]
    MISSING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    client_address: str
    rate_limited: int
    missing_token: int
    def __init__(self, client_address: _Optional[str] = ..., rate_limited: _Optional[int] = ..., missing_token: _Optional[int] = ...) -> None: ...

class ReportEdgeRefusalsResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BridgeApp(_message.Message):
    __slots__ = ("editor_id", "kind", "url", "public_url", "api_key", "webhook_secret", "egress_restricted", "timing")
    EDITOR_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_URL_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_SECRET_FIELD_NUMBER: _ClassVar[int]
    EGRESS_RESTRICTED_FIELD_NUMBER: _ClassVar[int]
    TIMING_FIELD_NUMBER: _ClassVar[int]
    editor_id: int
    kind: str
    url: str
    public_url: str
    api_key: str
    webhook_secret: str
    egress_restricted: bool
    timing: BridgeTiming
    def __init__(self, editor_id: _Optional[int] = ..., kind: _Optional[str] = ..., url: _Optional[str] = ..., public_url: _Optional[str] = ..., api_key: _Optional[str] = ..., webhook_secret: _Optional[str] = ..., egress_restricted: _Optional[bool] = ..., timing: _Optional[_Union[BridgeTiming, _Mapping]] = ...) -> None: ...

class BridgeTiming(_message.Message):
    __slots__ = ("save_debounce_s", "save_max_wait_s", "poll_interval_s", "idle_poll_interval_s", "unlock_grace_s", "keep_app_copy")
    SAVE_DEBOUNCE_S_FIELD_NUMBER: _ClassVar[int]
    SAVE_MAX_WAIT_S_FIELD_NUMBER: _ClassVar[int]
    POLL_INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    IDLE_POLL_INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    UNLOCK_GRACE_S_FIELD_NUMBER: _ClassVar[int]
    KEEP_APP_COPY_FIELD_NUMBER: _ClassVar[int]
    save_debounce_s: int
    save_max_wait_s: int
    poll_interval_s: int
    idle_poll_interval_s: int
    unlock_grace_s: int
    keep_app_copy: bool
    def __init__(self, save_debounce_s: _Optional[int] = ..., save_max_wait_s: _Optional[int] = ..., poll_interval_s: _Optional[int] = ..., idle_poll_interval_s: _Optional[int] = ..., unlock_grace_s: _Optional[int] = ..., keep_app_copy: _Optional[bool] = ...) -> None: ...

class BridgeParticipant(_message.Message):
    __slots__ = ("session_id", "user_id", "user_name", "can_write", "app_author_id", "present", "app_session_id", "revoked")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    CAN_WRITE_FIELD_NUMBER: _ClassVar[int]
    APP_AUTHOR_ID_FIELD_NUMBER: _ClassVar[int]
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    APP_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    user_id: str
    user_name: str
    can_write: bool
    app_author_id: str
    present: bool
    app_session_id: str
    revoked: bool
    def __init__(self, session_id: _Optional[str] = ..., user_id: _Optional[str] = ..., user_name: _Optional[str] = ..., can_write: _Optional[bool] = ..., app_author_id: _Optional[str] = ..., present: _Optional[bool] = ..., app_session_id: _Optional[str] = ..., revoked: _Optional[bool] = ...) -> None: ...

class BridgedDocumentRef(_message.Message):
    __slots__ = ("document_id", "tenant_id", "file_id", "file_name", "app_doc_id", "app_read_only_id", "generation", "state", "lock_id", "bridge_token", "bridge_token_expiry", "app", "text_profile", "baseline_rev", "saved_rev", "saved_sha256", "seen_rev", "file_version", "participants")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    APP_DOC_ID_FIELD_NUMBER: _ClassVar[int]
    APP_READ_ONLY_ID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LOCK_ID_FIELD_NUMBER: _ClassVar[int]
    BRIDGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    BRIDGE_TOKEN_EXPIRY_FIELD_NUMBER: _ClassVar[int]
    APP_FIELD_NUMBER: _ClassVar[int]
    TEXT_PROFILE_FIELD_NUMBER: _ClassVar[int]
    BASELINE_REV_FIELD_NUMBER: _ClassVar[int]
    SAVED_REV_FIELD_NUMBER: _ClassVar[int]
    SAVED_SHA256_FIELD_NUMBER: _ClassVar[int]
    SEEN_REV_FIELD_NUMBER: _ClassVar[int]
    FILE_VERSION_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    tenant_id: str
    file_id: str
    file_name: str
    app_doc_id: str
    app_read_only_id: str
    generation: int
    state: str
    lock_id: str
    bridge_token: str
    bridge_token_expiry: int
    app: BridgeApp
    text_profile: str
    baseline_rev: int
    saved_rev: int
    saved_sha256: str
    seen_rev: int
    file_version: int
    participants: _containers.RepeatedCompositeFieldContainer[BridgeParticipant]
    def __init__(self, document_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., file_id: _Optional[str] = ..., file_name: _Optional[str] = ..., app_doc_id: _Optional[str] = ..., app_read_only_id: _Optional[str] = ..., generation: _Optional[int] = ..., state: _Optional[str] = ..., lock_id: _Optional[str] = ..., bridge_token: _Optional[str] = ..., bridge_token_expiry: _Optional[int] = ..., app: _Optional[_Union[BridgeApp, _Mapping]] = ..., text_profile: _Optional[str] = ..., baseline_rev: _Optional[int] = ..., saved_rev: _Optional[int] = ..., saved_sha256: _Optional[str] = ..., seen_rev: _Optional[int] = ..., file_version: _Optional[int] = ..., participants: _Optional[_Iterable[_Union[BridgeParticipant, _Mapping]]] = ...) -> None: ...

class OpenBridgedRequest(_message.Message):
    __slots__ = ("access_token", "client_address")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    client_address: str
    def __init__(self, access_token: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class OpenBridgedResponse(_message.Message):
    __slots__ = ("document", "load", "lease_token", "can_write", "read_only_reason", "participant", "valid_until")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CAN_WRITE_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_REASON_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    document: BridgedDocumentRef
    load: bool
    lease_token: str
    can_write: bool
    read_only_reason: str
    participant: BridgeParticipant
    valid_until: int
    def __init__(self, document: _Optional[_Union[BridgedDocumentRef, _Mapping]] = ..., load: _Optional[bool] = ..., lease_token: _Optional[str] = ..., can_write: _Optional[bool] = ..., read_only_reason: _Optional[str] = ..., participant: _Optional[_Union[BridgeParticipant, _Mapping]] = ..., valid_until: _Optional[int] = ...) -> None: ...

class RegisterBridgeEntryRequest(_message.Message):
    __slots__ = ("access_token", "document_id", "app_author_id", "app_session_id", "app_target")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    APP_AUTHOR_ID_FIELD_NUMBER: _ClassVar[int]
    APP_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    APP_TARGET_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    document_id: str
    app_author_id: str
    app_session_id: str
    app_target: str
    def __init__(self, access_token: _Optional[str] = ..., document_id: _Optional[str] = ..., app_author_id: _Optional[str] = ..., app_session_id: _Optional[str] = ..., app_target: _Optional[str] = ...) -> None: ...

class RegisterBridgeEntryResponse(_message.Message):
    __slots__ = ("entry_code",)
    ENTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    entry_code: str
    def __init__(self, entry_code: _Optional[str] = ...) -> None: ...

class NoteBridgeEventRequest(_message.Message):
    __slots__ = ("source", "body", "signature", "client_address")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    source: BridgeEventSource
    body: bytes
    signature: str
    client_address: str
    def __init__(self, source: _Optional[_Union[BridgeEventSource, str]] = ..., body: _Optional[bytes] = ..., signature: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class NoteBridgeEventResponse(_message.Message):
    __slots__ = ("app_session_id", "app_target", "user_name", "valid_until", "context_json", "load_document")
    APP_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    APP_TARGET_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_JSON_FIELD_NUMBER: _ClassVar[int]
    LOAD_DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    app_session_id: str
    app_target: str
    user_name: str
    valid_until: int
    context_json: str
    load_document: BridgedDocumentRef
    def __init__(self, app_session_id: _Optional[str] = ..., app_target: _Optional[str] = ..., user_name: _Optional[str] = ..., valid_until: _Optional[int] = ..., context_json: _Optional[str] = ..., load_document: _Optional[_Union[BridgedDocumentRef, _Mapping]] = ...) -> None: ...

class ClaimBridgeWorkRequest(_message.Message):
    __slots__ = ("worker_id", "max_items", "first_claim")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_ITEMS_FIELD_NUMBER: _ClassVar[int]
    FIRST_CLAIM_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    max_items: int
    first_claim: bool
    def __init__(self, worker_id: _Optional[str] = ..., max_items: _Optional[int] = ..., first_claim: _Optional[bool] = ...) -> None: ...

class BridgeWorkItem(_message.Message):
    __slots__ = ("kind", "document", "lease_token", "lease_expiry")
    KIND_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRY_FIELD_NUMBER: _ClassVar[int]
    kind: BridgeWorkKind
    document: BridgedDocumentRef
    lease_token: str
    lease_expiry: int
    def __init__(self, kind: _Optional[_Union[BridgeWorkKind, str]] = ..., document: _Optional[_Union[BridgedDocumentRef, _Mapping]] = ..., lease_token: _Optional[str] = ..., lease_expiry: _Optional[int] = ...) -> None: ...

class ClaimBridgeWorkResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[BridgeWorkItem]
    def __init__(self, items: _Optional[_Iterable[_Union[BridgeWorkItem, _Mapping]]] = ...) -> None: ...

class CompleteBridgeWorkRequest(_message.Message):
    __slots__ = ("document_id", "lease_token", "outcome", "app_rev", "sha256", "size", "file_version", "editors", "detail", "present_authors", "conflict_path", "text_profile", "app_read_only_id")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    APP_REV_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    FILE_VERSION_FIELD_NUMBER: _ClassVar[int]
    EDITORS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    PRESENT_AUTHORS_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_PATH_FIELD_NUMBER: _ClassVar[int]
    TEXT_PROFILE_FIELD_NUMBER: _ClassVar[int]
    APP_READ_ONLY_ID_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    lease_token: str
    outcome: BridgeWorkOutcome
    app_rev: int
    sha256: str
    size: int
    file_version: int
    editors: _containers.RepeatedScalarFieldContainer[str]
    detail: str
    present_authors: _containers.RepeatedScalarFieldContainer[str]
    conflict_path: str
    text_profile: str
    app_read_only_id: str
    def __init__(self, document_id: _Optional[str] = ..., lease_token: _Optional[str] = ..., outcome: _Optional[_Union[BridgeWorkOutcome, str]] = ..., app_rev: _Optional[int] = ..., sha256: _Optional[str] = ..., size: _Optional[int] = ..., file_version: _Optional[int] = ..., editors: _Optional[_Iterable[str]] = ..., detail: _Optional[str] = ..., present_authors: _Optional[_Iterable[str]] = ..., conflict_path: _Optional[str] = ..., text_profile: _Optional[str] = ..., app_read_only_id: _Optional[str] = ...) -> None: ...

class CompleteBridgeWorkResponse(_message.Message):
    __slots__ = ("document",)
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    document: BridgedDocumentRef
    def __init__(self, document: _Optional[_Union[BridgedDocumentRef, _Mapping]] = ...) -> None: ...
