import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProofPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROOF_POLICY_UNSPECIFIED: _ClassVar[ProofPolicy]
    PROOF_POLICY_REQUIRED: _ClassVar[ProofPolicy]
    PROOF_POLICY_IF_ADVERTISED: _ClassVar[ProofPolicy]
    PROOF_POLICY_OFF: _ClassVar[ProofPolicy]
PROOF_POLICY_UNSPECIFIED: ProofPolicy
PROOF_POLICY_REQUIRED: ProofPolicy
PROOF_POLICY_IF_ADVERTISED: ProofPolicy
PROOF_POLICY_OFF: ProofPolicy

class Editor(_message.Message):
    __slots__ = ("name", "tenant_id", "discovery_url", "proof_policy", "product", "proof_keys_advertised", "extensions", "discovery_fetch_time", "discovery_error", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    DISCOVERY_URL_FIELD_NUMBER: _ClassVar[int]
    PROOF_POLICY_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    PROOF_KEYS_ADVERTISED_FIELD_NUMBER: _ClassVar[int]
    EXTENSIONS_FIELD_NUMBER: _ClassVar[int]
    DISCOVERY_FETCH_TIME_FIELD_NUMBER: _ClassVar[int]
    DISCOVERY_ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    tenant_id: str
    discovery_url: str
    proof_policy: ProofPolicy
    product: str
    proof_keys_advertised: bool
    extensions: _containers.RepeatedScalarFieldContainer[str]
    discovery_fetch_time: _timestamp_pb2.Timestamp
    discovery_error: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., tenant_id: _Optional[str] = ..., discovery_url: _Optional[str] = ..., proof_policy: _Optional[_Union[ProofPolicy, str]] = ..., product: _Optional[str] = ..., proof_keys_advertised: _Optional[bool] = ..., extensions: _Optional[_Iterable[str]] = ..., discovery_fetch_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., discovery_error: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateEditorRequest(_message.Message):
    __slots__ = ("name", "tenant_id", "discovery_url", "proof_policy")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    DISCOVERY_URL_FIELD_NUMBER: _ClassVar[int]
    PROOF_POLICY_FIELD_NUMBER: _ClassVar[int]
    name: str
    tenant_id: str
    discovery_url: str
    proof_policy: ProofPolicy
    def __init__(self, name: _Optional[str] = ..., tenant_id: _Optional[str] = ..., discovery_url: _Optional[str] = ..., proof_policy: _Optional[_Union[ProofPolicy, str]] = ...) -> None: ...

class GetEditorRequest(_message.Message):
    __slots__ = ("name", "tenant_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    tenant_id: str
    def __init__(self, name: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class ListEditorsRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class ListEditorsResponse(_message.Message):
    __slots__ = ("editors",)
    EDITORS_FIELD_NUMBER: _ClassVar[int]
    editors: _containers.RepeatedCompositeFieldContainer[Editor]
    def __init__(self, editors: _Optional[_Iterable[_Union[Editor, _Mapping]]] = ...) -> None: ...

class RefreshEditorRequest(_message.Message):
    __slots__ = ("name", "tenant_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    tenant_id: str
    def __init__(self, name: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class DeleteEditorRequest(_message.Message):
    __slots__ = ("name", "tenant_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    tenant_id: str
    def __init__(self, name: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...
