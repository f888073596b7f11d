from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_REASON_UNSPECIFIED: _ClassVar[ErrorReason]
    ERROR_REASON_API_KEY_INVALID: _ClassVar[ErrorReason]
    ERROR_REASON_PERMISSION_DENIED: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_ARGUMENT: _ClassVar[ErrorReason]
    ERROR_REASON_TENANT_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_TENANT_ALREADY_EXISTS: _ClassVar[ErrorReason]
    ERROR_REASON_STORAGE_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_STORAGE_ALREADY_EXISTS: _ClassVar[ErrorReason]
    ERROR_REASON_STORAGE_UNREACHABLE: _ClassVar[ErrorReason]
    ERROR_REASON_SESSION_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_FILE_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_PATH_OUTSIDE_ROOT: _ClassVar[ErrorReason]
    ERROR_REASON_ACCESS_TOKEN_INVALID: _ClassVar[ErrorReason]
    ERROR_REASON_OPERATION_NOT_PERMITTED: _ClassVar[ErrorReason]
    ERROR_REASON_TENANT_DISABLED: _ClassVar[ErrorReason]
ERROR_REASON_UNSPECIFIED: ErrorReason
ERROR_REASON_API_KEY_INVALID: ErrorReason
ERROR_REASON_PERMISSION_DENIED: ErrorReason
ERROR_REASON_INVALID_ARGUMENT: ErrorReason
ERROR_REASON_TENANT_NOT_FOUND: ErrorReason
ERROR_REASON_TENANT_ALREADY_EXISTS: ErrorReason
ERROR_REASON_STORAGE_NOT_FOUND: ErrorReason
ERROR_REASON_STORAGE_ALREADY_EXISTS: ErrorReason
ERROR_REASON_STORAGE_UNREACHABLE: ErrorReason
ERROR_REASON_SESSION_NOT_FOUND: ErrorReason
ERROR_REASON_FILE_NOT_FOUND: ErrorReason
ERROR_REASON_PATH_OUTSIDE_ROOT: ErrorReason
ERROR_REASON_ACCESS_TOKEN_INVALID: ErrorReason
ERROR_REASON_OPERATION_NOT_PERMITTED: ErrorReason
ERROR_REASON_TENANT_DISABLED: ErrorReason
