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

class FindingSeverity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FINDING_SEVERITY_UNSPECIFIED: _ClassVar[FindingSeverity]
    FINDING_SEVERITY_OK: _ClassVar[FindingSeverity]
    FINDING_SEVERITY_WARN: _ClassVar[FindingSeverity]
    FINDING_SEVERITY_FAIL: _ClassVar[FindingSeverity]
PROOF_POLICY_UNSPECIFIED: ProofPolicy
PROOF_POLICY_REQUIRED: ProofPolicy
PROOF_POLICY_IF_ADVERTISED: ProofPolicy
PROOF_POLICY_OFF: ProofPolicy
FINDING_SEVERITY_UNSPECIFIED: FindingSeverity
FINDING_SEVERITY_OK: FindingSeverity
FINDING_SEVERITY_WARN: FindingSeverity
FINDING_SEVERITY_FAIL: FindingSeverity

class Editor(_message.Message):
    __slots__ = ("name", "tenant_id", "discovery_url", "proof_policy", "product", "proof_keys_advertised", "extensions", "discovery_fetch_time", "discovery_error", "create_time", "kind", "app_url", "app_public_url", "has_api_key", "has_webhook_secret")
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
    KIND_FIELD_NUMBER: _ClassVar[int]
    APP_URL_FIELD_NUMBER: _ClassVar[int]
    APP_PUBLIC_URL_FIELD_NUMBER: _ClassVar[int]
    HAS_API_KEY_FIELD_NUMBER: _ClassVar[int]
    HAS_WEBHOOK_SECRET_FIELD_NUMBER: _ClassVar[int]
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
    kind: str
    app_url: str
    app_public_url: str
    has_api_key: bool
    has_webhook_secret: bool
    def __init__(self, name: _Optional[str] = ..., tenant_id: _Optional[str] = ..., discovery_url: _Optional[str] = ..., proof_policy: _Optional[_Union[ProofPolicy, str]] = ..., product: _Optional[str] = ..., proof_keys_advertised: _Optional[bool] = ..., extensions: _Optional[_Iterable[str]] = ..., discovery_fetch_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., discovery_error: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[str] = ..., app_url: _Optional[str] = ..., app_public_url: _Optional[str] = ..., has_api_key: _Optional[bool] = ..., has_webhook_secret: _Optional[bool] = ...) -> None: ...

class CreateEditorRequest(_message.Message):
    __slots__ = ("name", "tenant_id", "discovery_url", "proof_policy", "kind", "app_url", "app_public_url", "api_key", "webhook_secret")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    DISCOVERY_URL_FIELD_NUMBER: _ClassVar[int]
    PROOF_POLICY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    APP_URL_FIELD_NUMBER: _ClassVar[int]
    APP_PUBLIC_URL_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_SECRET_FIELD_NUMBER: _ClassVar[int]
    name: str
    tenant_id: str
    discovery_url: str
    proof_policy: ProofPolicy
    kind: str
    app_url: str
    app_public_url: str
    api_key: str
    webhook_secret: str
    def __init__(self, name: _Optional[str] = ..., tenant_id: _Optional[str] = ..., discovery_url: _Optional[str] = ..., proof_policy: _Optional[_Union[ProofPolicy, str]] = ..., kind: _Optional[str] = ..., app_url: _Optional[str] = ..., app_public_url: _Optional[str] = ..., api_key: _Optional[str] = ..., webhook_secret: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("name", "tenant_id", "force")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    tenant_id: str
    force: bool
    def __init__(self, name: _Optional[str] = ..., tenant_id: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class DiagnoseEditorRequest(_message.Message):
    __slots__ = ("name", "tenant_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    tenant_id: str
    def __init__(self, name: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class EditorFinding(_message.Message):
    __slots__ = ("check", "severity", "summary", "detail", "fix")
    CHECK_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    FIX_FIELD_NUMBER: _ClassVar[int]
    check: str
    severity: FindingSeverity
    summary: str
    detail: str
    fix: str
    def __init__(self, check: _Optional[str] = ..., severity: _Optional[_Union[FindingSeverity, str]] = ..., summary: _Optional[str] = ..., detail: _Optional[str] = ..., fix: _Optional[str] = ...) -> None: ...

class DiagnoseEditorResponse(_message.Message):
    __slots__ = ("editor", "public_url", "findings", "diagnose_time")
    EDITOR_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_URL_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    editor: Editor
    public_url: str
    findings: _containers.RepeatedCompositeFieldContainer[EditorFinding]
    diagnose_time: _timestamp_pb2.Timestamp
    def __init__(self, editor: _Optional[_Union[Editor, _Mapping]] = ..., public_url: _Optional[str] = ..., findings: _Optional[_Iterable[_Union[EditorFinding, _Mapping]]] = ..., diagnose_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
