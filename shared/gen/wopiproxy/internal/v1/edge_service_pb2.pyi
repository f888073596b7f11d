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
    __slots__ = ("protocol", "root", "options", "max_file_size", "version_retention", "egress_restricted")
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
    protocol: str
    root: str
    options: _containers.ScalarMap[str, str]
    max_file_size: int
    version_retention: int
    egress_restricted: bool
    def __init__(self, protocol: _Optional[str] = ..., root: _Optional[str] = ..., options: _Optional[_Mapping[str, str]] = ..., max_file_size: _Optional[int] = ..., version_retention: _Optional[int] = ..., egress_restricted: _Optional[bool] = ...) -> None: ...

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
    __slots__ = ("action_url", "access_token", "access_token_ttl", "post_message_origin", "file_name", "favicon_url")
    ACTION_URL_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_TTL_FIELD_NUMBER: _ClassVar[int]
    POST_MESSAGE_ORIGIN_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    FAVICON_URL_FIELD_NUMBER: _ClassVar[int]
    action_url: str
    access_token: str
    access_token_ttl: int
    post_message_origin: str
    file_name: str
    favicon_url: str
    def __init__(self, action_url: _Optional[str] = ..., access_token: _Optional[str] = ..., access_token_ttl: _Optional[int] = ..., post_message_origin: _Optional[str] = ..., file_name: _Optional[str] = ..., favicon_url: _Optional[str] = ...) -> None: ...

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
