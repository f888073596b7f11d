from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuthorizeWopiRequestRequest(_message.Message):
    __slots__ = ("access_token", "file_id", "operation", "client_address", "correlation_id")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    file_id: str
    operation: str
    client_address: str
    correlation_id: str
    def __init__(self, access_token: _Optional[str] = ..., file_id: _Optional[str] = ..., operation: _Optional[str] = ..., client_address: _Optional[str] = ..., correlation_id: _Optional[str] = ...) -> None: ...

class StorageAccess(_message.Message):
    __slots__ = ("protocol", "root", "options", "max_file_size")
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
    protocol: str
    root: str
    options: _containers.ScalarMap[str, str]
    max_file_size: int
    def __init__(self, protocol: _Optional[str] = ..., root: _Optional[str] = ..., options: _Optional[_Mapping[str, str]] = ..., max_file_size: _Optional[int] = ...) -> None: ...

class AuthorizeWopiRequestResponse(_message.Message):
    __slots__ = ("tenant_id", "session_id", "user_id", "user_name", "can_write", "path", "version", "owner_id", "storage", "access_token_expiry")
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
    def __init__(self, tenant_id: _Optional[str] = ..., session_id: _Optional[str] = ..., user_id: _Optional[str] = ..., user_name: _Optional[str] = ..., can_write: _Optional[bool] = ..., path: _Optional[str] = ..., version: _Optional[int] = ..., owner_id: _Optional[str] = ..., storage: _Optional[_Union[StorageAccess, _Mapping]] = ..., access_token_expiry: _Optional[int] = ...) -> None: ...

class RecordWriteRequest(_message.Message):
    __slots__ = ("access_token", "file_id", "size", "sha256", "correlation_id", "client_address")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    file_id: str
    size: int
    sha256: str
    correlation_id: str
    client_address: str
    def __init__(self, access_token: _Optional[str] = ..., file_id: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ..., correlation_id: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class RecordWriteResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...
