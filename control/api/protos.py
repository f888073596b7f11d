"""The generated modules, imported once under short names (edge_*: the internal EdgeService)."""

from wopiproxy.control.v1 import bridge_service_pb2 as bridge_pb
from wopiproxy.control.v1 import bridge_service_pb2_grpc as bridge_grpc
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import editor_service_pb2_grpc as editor_grpc
from wopiproxy.control.v1 import error_reason_pb2 as reason_pb
from wopiproxy.control.v1 import file_service_pb2 as file_pb
from wopiproxy.control.v1 import file_service_pb2_grpc as file_grpc
from wopiproxy.control.v1 import key_service_pb2 as key_pb
from wopiproxy.control.v1 import key_service_pb2_grpc as key_grpc
from wopiproxy.control.v1 import session_service_pb2 as session_pb
from wopiproxy.control.v1 import session_service_pb2_grpc as session_grpc
from wopiproxy.control.v1 import storage_service_pb2 as storage_pb
from wopiproxy.control.v1 import storage_service_pb2_grpc as storage_grpc
from wopiproxy.control.v1 import tenant_service_pb2 as tenant_pb
from wopiproxy.control.v1 import tenant_service_pb2_grpc as tenant_grpc
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb
from wopiproxy.internal.v1 import edge_service_pb2_grpc as edge_grpc

__all__ = [
    "bridge_grpc", "bridge_pb", "edge_grpc", "edge_pb", "editor_grpc", "editor_pb", "file_grpc", "file_pb", "key_grpc", "key_pb", "reason_pb", "session_grpc", "session_pb", "storage_grpc", "storage_pb",
    "tenant_grpc", "tenant_pb",
]
