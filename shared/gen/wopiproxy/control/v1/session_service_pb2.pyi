import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Permission(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PERMISSION_UNSPECIFIED: _ClassVar[Permission]
    PERMISSION_VIEW: _ClassVar[Permission]
    PERMISSION_EDIT: _ClassVar[Permission]

class SessionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_STATE_UNSPECIFIED: _ClassVar[SessionState]
    SESSION_STATE_OPEN: _ClassVar[SessionState]
    SESSION_STATE_CLOSED: _ClassVar[SessionState]
    SESSION_STATE_EXPIRED: _ClassVar[SessionState]

class SessionEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_EVENT_TYPE_UNSPECIFIED: _ClassVar[SessionEventType]
    SESSION_EVENT_TYPE_OPENED: _ClassVar[SessionEventType]
    SESSION_EVENT_TYPE_SAVED: _ClassVar[SessionEventType]
    SESSION_EVENT_TYPE_LOCKED: _ClassVar[SessionEventType]
    SESSION_EVENT_TYPE_UNLOCKED: _ClassVar[SessionEventType]
    SESSION_EVENT_TYPE_CLOSED: _ClassVar[SessionEventType]
    SESSION_EVENT_TYPE_EXPIRED: _ClassVar[SessionEventType]
PERMISSION_UNSPECIFIED: Permission
PERMISSION_VIEW: Permission
PERMISSION_EDIT: Permission
SESSION_STATE_UNSPECIFIED: SessionState
SESSION_STATE_OPEN: SessionState
SESSION_STATE_CLOSED: SessionState
SESSION_STATE_EXPIRED: SessionState
SESSION_EVENT_TYPE_UNSPECIFIED: SessionEventType
SESSION_EVENT_TYPE_OPENED: SessionEventType
SESSION_EVENT_TYPE_SAVED: SessionEventType
SESSION_EVENT_TYPE_LOCKED: SessionEventType
SESSION_EVENT_TYPE_UNLOCKED: SessionEventType
SESSION_EVENT_TYPE_CLOSED: SessionEventType
SESSION_EVENT_TYPE_EXPIRED: SessionEventType

class Session(_message.Message):
    __slots__ = ("id", "tenant_id", "storage", "path", "file_id", "wopi_src", "user_id", "user_name", "permission", "state", "create_time", "expire_time", "close_time", "account", "origin", "editor", "created_by_key")
    class OriginEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    STORAGE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    WOPI_SRC_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    EDITOR_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_KEY_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    storage: str
    path: str
    file_id: str
    wopi_src: str
    user_id: str
    user_name: str
    permission: Permission
    state: SessionState
    create_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    close_time: _timestamp_pb2.Timestamp
    account: str
    origin: _containers.ScalarMap[str, str]
    editor: str
    created_by_key: str
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., storage: _Optional[str] = ..., path: _Optional[str] = ..., file_id: _Optional[str] = ..., wopi_src: _Optional[str] = ..., user_id: _Optional[str] = ..., user_name: _Optional[str] = ..., permission: _Optional[_Union[Permission, str]] = ..., state: _Optional[_Union[SessionState, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., close_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., account: _Optional[str] = ..., origin: _Optional[_Mapping[str, str]] = ..., editor: _Optional[str] = ..., created_by_key: _Optional[str] = ...) -> None: ...

class CreateSessionRequest(_message.Message):
    __slots__ = ("tenant_id", "storage", "path", "user_id", "user_name", "permission", "ttl_seconds", "account", "origin", "create", "template_path", "editor", "language", "storage_name", "file_path", "permissions", "user", "origin_connection_id", "origin_page_id")
    class OriginEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    STORAGE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    CREATE_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_PATH_FIELD_NUMBER: _ClassVar[int]
    EDITOR_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    STORAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    FILE_PATH_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_PAGE_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    storage: str
    path: str
    user_id: str
    user_name: str
    permission: Permission
    ttl_seconds: int
    account: str
    origin: _containers.ScalarMap[str, str]
    create: bool
    template_path: str
    editor: str
    language: str
    storage_name: str
    file_path: str
    permissions: _containers.RepeatedScalarFieldContainer[str]
    user: str
    origin_connection_id: str
    origin_page_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., storage: _Optional[str] = ..., path: _Optional[str] = ..., user_id: _Optional[str] = ..., user_name: _Optional[str] = ..., permission: _Optional[_Union[Permission, str]] = ..., ttl_seconds: _Optional[int] = ..., account: _Optional[str] = ..., origin: _Optional[_Mapping[str, str]] = ..., create: _Optional[bool] = ..., template_path: _Optional[str] = ..., editor: _Optional[str] = ..., language: _Optional[str] = ..., storage_name: _Optional[str] = ..., file_path: _Optional[str] = ..., permissions: _Optional[_Iterable[str]] = ..., user: _Optional[str] = ..., origin_connection_id: _Optional[str] = ..., origin_page_id: _Optional[str] = ...) -> None: ...

class CreateSessionResponse(_message.Message):
    __slots__ = ("session", "access_token", "access_token_ttl", "session_id", "file_id", "editor_url", "expires_at", "wopi_src", "editor_action_url", "editor_form", "host_page_url")
    class EditorFormEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SESSION_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_TTL_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    EDITOR_URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    WOPI_SRC_FIELD_NUMBER: _ClassVar[int]
    EDITOR_ACTION_URL_FIELD_NUMBER: _ClassVar[int]
    EDITOR_FORM_FIELD_NUMBER: _ClassVar[int]
    HOST_PAGE_URL_FIELD_NUMBER: _ClassVar[int]
    session: Session
    access_token: str
    access_token_ttl: int
    session_id: str
    file_id: str
    editor_url: str
    expires_at: _timestamp_pb2.Timestamp
    wopi_src: str
    editor_action_url: str
    editor_form: _containers.ScalarMap[str, str]
    host_page_url: str
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ..., access_token: _Optional[str] = ..., access_token_ttl: _Optional[int] = ..., session_id: _Optional[str] = ..., file_id: _Optional[str] = ..., editor_url: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., wopi_src: _Optional[str] = ..., editor_action_url: _Optional[str] = ..., editor_form: _Optional[_Mapping[str, str]] = ..., host_page_url: _Optional[str] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ("id", "session_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    session_id: str
    def __init__(self, id: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ("tenant_id", "page_size", "page_token", "user_id", "file_id", "state", "created_by_key")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_KEY_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    page_size: int
    page_token: str
    user_id: str
    file_id: str
    state: SessionState
    created_by_key: str
    def __init__(self, tenant_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., user_id: _Optional[str] = ..., file_id: _Optional[str] = ..., state: _Optional[_Union[SessionState, str]] = ..., created_by_key: _Optional[str] = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("sessions", "next_page_token")
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[Session]
    next_page_token: str
    def __init__(self, sessions: _Optional[_Iterable[_Union[Session, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CloseSessionRequest(_message.Message):
    __slots__ = ("id", "session_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    session_id: str
    def __init__(self, id: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class CleanupSessionsRequest(_message.Message):
    __slots__ = ("tenant_id", "dry_run")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    dry_run: bool
    def __init__(self, tenant_id: _Optional[str] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class CleanupSessionsResponse(_message.Message):
    __slots__ = ("sessions",)
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[Session]
    def __init__(self, sessions: _Optional[_Iterable[_Union[Session, _Mapping]]] = ...) -> None: ...

class SessionEvent(_message.Message):
    __slots__ = ("cursor", "type", "time", "tenant_id", "session_id", "file_id", "user_id", "version", "account", "origin")
    class OriginEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    type: SessionEventType
    time: _timestamp_pb2.Timestamp
    tenant_id: str
    session_id: str
    file_id: str
    user_id: str
    version: int
    account: str
    origin: _containers.ScalarMap[str, str]
    def __init__(self, cursor: _Optional[str] = ..., type: _Optional[_Union[SessionEventType, str]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tenant_id: _Optional[str] = ..., session_id: _Optional[str] = ..., file_id: _Optional[str] = ..., user_id: _Optional[str] = ..., version: _Optional[int] = ..., account: _Optional[str] = ..., origin: _Optional[_Mapping[str, str]] = ...) -> None: ...

class WatchSessionEventsRequest(_message.Message):
    __slots__ = ("tenant_id", "cursor")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    cursor: str
    def __init__(self, tenant_id: _Optional[str] = ..., cursor: _Optional[str] = ...) -> None: ...
