from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuthorizeWopiRequestRequest(_message.Message):
    __slots__ = ("access_token", "file_id", "operation", "client_address", "correlation_id", "lock_id", "old_lock_id", "user_info", "editor", "proof", "proof_old", "proof_timestamp", "url")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    LOCK_ID_FIELD_NUMBER: _ClassVar[int]
    OLD_LOCK_ID_FIELD_NUMBER: _ClassVar[int]
    USER_INFO_FIELD_NUMBER: _ClassVar[int]
    EDITOR_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    PROOF_OLD_FIELD_NUMBER: _ClassVar[int]
    PROOF_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    file_id: str
    operation: str
    client_address: str
    correlation_id: str
    lock_id: str
    old_lock_id: str
    user_info: str
    editor: str
    proof: str
    proof_old: str
    proof_timestamp: str
    url: str
    def __init__(self, access_token: _Optional[str] = ..., file_id: _Optional[str] = ..., operation: _Optional[str] = ..., client_address: _Optional[str] = ..., correlation_id: _Optional[str] = ..., lock_id: _Optional[str] = ..., old_lock_id: _Optional[str] = ..., user_info: _Optional[str] = ..., editor: _Optional[str] = ..., proof: _Optional[str] = ..., proof_old: _Optional[str] = ..., proof_timestamp: _Optional[str] = ..., url: _Optional[str] = ...) -> None: ...

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

class RecordWriteRequest(_message.Message):
    __slots__ = ("access_token", "file_id", "size", "sha256", "correlation_id", "client_address", "expected_lock_id", "fingerprint", "kept_version", "kept_size", "editors", "save_flags", "editor")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_LOCK_ID_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    KEPT_VERSION_FIELD_NUMBER: _ClassVar[int]
    KEPT_SIZE_FIELD_NUMBER: _ClassVar[int]
    EDITORS_FIELD_NUMBER: _ClassVar[int]
    SAVE_FLAGS_FIELD_NUMBER: _ClassVar[int]
    EDITOR_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    file_id: str
    size: int
    sha256: str
    correlation_id: str
    client_address: str
    expected_lock_id: str
    fingerprint: str
    kept_version: int
    kept_size: int
    editors: str
    save_flags: str
    editor: str
    def __init__(self, access_token: _Optional[str] = ..., file_id: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ..., correlation_id: _Optional[str] = ..., client_address: _Optional[str] = ..., expected_lock_id: _Optional[str] = ..., fingerprint: _Optional[str] = ..., kept_version: _Optional[int] = ..., kept_size: _Optional[int] = ..., editors: _Optional[str] = ..., save_flags: _Optional[str] = ..., editor: _Optional[str] = ...) -> None: ...

class RecordWriteResponse(_message.Message):
    __slots__ = ("version", "expired_versions")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    version: int
    expired_versions: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, version: _Optional[int] = ..., expired_versions: _Optional[_Iterable[int]] = ...) -> None: ...

class RecordConflictCopyRequest(_message.Message):
    __slots__ = ("access_token", "file_id", "copy_path", "size", "reason", "correlation_id", "client_address")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    COPY_PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    file_id: str
    copy_path: str
    size: int
    reason: str
    correlation_id: str
    client_address: str
    def __init__(self, access_token: _Optional[str] = ..., file_id: _Optional[str] = ..., copy_path: _Optional[str] = ..., size: _Optional[int] = ..., reason: _Optional[str] = ..., correlation_id: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class RecordConflictCopyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateRelativeFileRequest(_message.Message):
    __slots__ = ("access_token", "file_id", "target_path", "overwrite", "target_exists", "correlation_id", "client_address", "size", "sha256", "target_size")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_PATH_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    TARGET_EXISTS_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    TARGET_SIZE_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    file_id: str
    target_path: str
    overwrite: bool
    target_exists: bool
    correlation_id: str
    client_address: str
    size: int
    sha256: str
    target_size: int
    def __init__(self, access_token: _Optional[str] = ..., file_id: _Optional[str] = ..., target_path: _Optional[str] = ..., overwrite: _Optional[bool] = ..., target_exists: _Optional[bool] = ..., correlation_id: _Optional[str] = ..., client_address: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ..., target_size: _Optional[int] = ...) -> None: ...

class CreateRelativeFileResponse(_message.Message):
    __slots__ = ("file_id", "wopi_src", "access_token", "version", "expired_versions", "host_view_url", "host_edit_url")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    WOPI_SRC_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    HOST_VIEW_URL_FIELD_NUMBER: _ClassVar[int]
    HOST_EDIT_URL_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    wopi_src: str
    access_token: str
    version: int
    expired_versions: _containers.RepeatedScalarFieldContainer[int]
    host_view_url: str
    host_edit_url: str
    def __init__(self, file_id: _Optional[str] = ..., wopi_src: _Optional[str] = ..., access_token: _Optional[str] = ..., version: _Optional[int] = ..., expired_versions: _Optional[_Iterable[int]] = ..., host_view_url: _Optional[str] = ..., host_edit_url: _Optional[str] = ...) -> None: ...

class RecordRenameRequest(_message.Message):
    __slots__ = ("access_token", "file_id", "lock_id", "new_path", "correlation_id", "client_address")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    LOCK_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_PATH_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    file_id: str
    lock_id: str
    new_path: str
    correlation_id: str
    client_address: str
    def __init__(self, access_token: _Optional[str] = ..., file_id: _Optional[str] = ..., lock_id: _Optional[str] = ..., new_path: _Optional[str] = ..., correlation_id: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class RecordRenameResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RecordDeleteRequest(_message.Message):
    __slots__ = ("access_token", "file_id", "kept_version", "kept_size", "correlation_id", "client_address")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    KEPT_VERSION_FIELD_NUMBER: _ClassVar[int]
    KEPT_SIZE_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    file_id: str
    kept_version: int
    kept_size: int
    correlation_id: str
    client_address: str
    def __init__(self, access_token: _Optional[str] = ..., file_id: _Optional[str] = ..., kept_version: _Optional[int] = ..., kept_size: _Optional[int] = ..., correlation_id: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class RecordDeleteResponse(_message.Message):
    __slots__ = ("expired_versions",)
    EXPIRED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    expired_versions: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, expired_versions: _Optional[_Iterable[int]] = ...) -> None: ...

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
