import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Storage(_message.Message):
    __slots__ = ("tenant_id", "name", "protocol", "root", "options", "create_time", "max_file_size", "version_retention", "operator_owned")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    MAX_FILE_SIZE_FIELD_NUMBER: _ClassVar[int]
    VERSION_RETENTION_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_OWNED_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    name: str
    protocol: str
    root: str
    options: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    max_file_size: int
    version_retention: int
    operator_owned: bool
    def __init__(self, tenant_id: _Optional[str] = ..., name: _Optional[str] = ..., protocol: _Optional[str] = ..., root: _Optional[str] = ..., options: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_file_size: _Optional[int] = ..., version_retention: _Optional[int] = ..., operator_owned: _Optional[bool] = ...) -> None: ...

class CreateStorageRequest(_message.Message):
    __slots__ = ("tenant_id", "name", "protocol", "root", "options", "max_file_size", "version_retention")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_FILE_SIZE_FIELD_NUMBER: _ClassVar[int]
    VERSION_RETENTION_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    name: str
    protocol: str
    root: str
    options: _containers.ScalarMap[str, str]
    max_file_size: int
    version_retention: int
    def __init__(self, tenant_id: _Optional[str] = ..., name: _Optional[str] = ..., protocol: _Optional[str] = ..., root: _Optional[str] = ..., options: _Optional[_Mapping[str, str]] = ..., max_file_size: _Optional[int] = ..., version_retention: _Optional[int] = ...) -> None: ...

class UpdateStorageRequest(_message.Message):
    __slots__ = ("storage", "update_mask")
    STORAGE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    storage: Storage
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, storage: _Optional[_Union[Storage, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteStorageRequest(_message.Message):
    __slots__ = ("tenant_id", "name", "force")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    name: str
    force: bool
    def __init__(self, tenant_id: _Optional[str] = ..., name: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class GetStorageRequest(_message.Message):
    __slots__ = ("tenant_id", "name")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    name: str
    def __init__(self, tenant_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListStoragesRequest(_message.Message):
    __slots__ = ("tenant_id", "page_size", "page_token")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    page_size: int
    page_token: str
    def __init__(self, tenant_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListStoragesResponse(_message.Message):
    __slots__ = ("storages", "next_page_token")
    STORAGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    storages: _containers.RepeatedCompositeFieldContainer[Storage]
    next_page_token: str
    def __init__(self, storages: _Optional[_Iterable[_Union[Storage, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
