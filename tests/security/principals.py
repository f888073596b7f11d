"""Helpers of the principals tests (keys, edge role, tenant isolation): stubs for every service of
a deployment, keys of each role, and what a refusal looked like."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from tests.support.api import error_reason
from tests.support.deployment import Deployment
from tests.support.http_stub import HttpStub
from wopiproxy.control.v1 import audit_service_pb2_grpc as audit_grpc
from wopiproxy.internal.v1 import edge_service_pb2_grpc as edge_grpc
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import editor_service_pb2_grpc as editor_grpc
from wopiproxy.control.v1 import file_service_pb2_grpc as file_grpc
from wopiproxy.control.v1 import key_service_pb2 as key_pb
from wopiproxy.control.v1 import key_service_pb2_grpc as key_grpc
from wopiproxy.control.v1 import session_service_pb2_grpc as session_grpc
from wopiproxy.control.v1 import storage_service_pb2_grpc as storage_grpc
from wopiproxy.control.v1 import tenant_service_pb2_grpc as tenant_grpc

DISCOVERY = Path(__file__).resolve().parents[1] / "fixtures" / "discovery" / "collabora.xml"


@dataclass
class Stubs:
    """Every service of a control plane, called with one key."""

    channel: grpc.Channel
    key: str

    def __post_init__(self) -> None:
        self.tenants = tenant_grpc.TenantServiceStub(self.channel)
        self.keys = key_grpc.KeyServiceStub(self.channel)
        self.storages = storage_grpc.StorageServiceStub(self.channel)
        self.sessions = session_grpc.SessionServiceStub(self.channel)
        self.editors = editor_grpc.EditorServiceStub(self.channel)
        self.files = file_grpc.FileServiceStub(self.channel)
        self.audit = audit_grpc.AuditServiceStub(self.channel)
        self.edge = edge_grpc.EdgeServiceStub(self.channel)

    def call(self, method: Any, request: Any) -> Any:
        return method(request, metadata=(("authorization", f"Bearer {self.key}"),), timeout=15)

    def first_of_stream(self, method: Any, request: Any, timeout: float = 3.0) -> list[Any]:
        """What a server stream yields within `timeout` (DEADLINE_EXCEEDED then ends it quietly)."""
        seen: list[Any] = []
        try:
            for item in method(request, metadata=(("authorization", f"Bearer {self.key}"),), timeout=timeout):
                seen.append(item)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise
        return seen


def stubs(deployment: Deployment, key: str, opened: list[grpc.Channel]) -> Stubs:
    channel = grpc.insecure_channel(deployment.grpc_address)
    opened.append(channel)
    return Stubs(channel, key)


def refusal(call: Callable[[], Any]) -> grpc.RpcError:
    """The error a call ends with; fails the test when the call succeeds."""
    try:
        result = call()
    except grpc.RpcError as error:
        return error
    raise AssertionError(f"the call succeeded: {result!r}")


def refused_as(call: Callable[[], Any]) -> tuple[grpc.StatusCode, str]:
    error = refusal(call)
    return error.code(), error_reason(error)


def new_key(admin: Stubs, *, tenant_id: str = "", role: int = key_pb.KEY_ROLE_UNSPECIFIED) -> str:
    reply = admin.call(admin.keys.CreateApiKey, key_pb.CreateApiKeyRequest(tenant_id=tenant_id, role=role,
                                                                         description="test"))
    return str(reply.api_key)


def discovery_stub() -> HttpStub:
    """A discovery server, for tenants' own editors."""
    stub = HttpStub().start()
    stub.routes["/hosting/discovery"] = (200, "text/xml", DISCOVERY.read_bytes())
    return stub


def add_editor(stubs_: Stubs, tenant_id: str, name: str, stub: HttpStub) -> editor_pb.Editor:
    return stubs_.call(stubs_.editors.CreateEditor, editor_pb.CreateEditorRequest(
        name=name, tenant_id=tenant_id, discovery_url=f"{stub.url}/hosting/discovery",
        proof_policy=editor_pb.PROOF_POLICY_OFF))
