"""A gRPC client of the control plane for tests, plus WOPI helpers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from wopiproxy.control.v1 import session_service_pb2 as session_pb
from wopiproxy.control.v1 import session_service_pb2_grpc as session_grpc
from wopiproxy.control.v1 import storage_service_pb2 as storage_pb
from wopiproxy.control.v1 import storage_service_pb2_grpc as storage_grpc
from wopiproxy.control.v1 import tenant_service_pb2 as tenant_pb
from wopiproxy.control.v1 import tenant_service_pb2_grpc as tenant_grpc

from shared.grpc_channel import PLAINTEXT, TlsSettings, secure_or_insecure_channel


class ControlApi:
    def __init__(self, address: str, api_key: str | None, tls: TlsSettings = PLAINTEXT) -> None:
        self.channel = secure_or_insecure_channel(address, tls)
        self.metadata = (("authorization", f"Bearer {api_key}"),) if api_key else ()
        self.tenants = tenant_grpc.TenantServiceStub(self.channel)
        self.storages = storage_grpc.StorageServiceStub(self.channel)
        self.sessions = session_grpc.SessionServiceStub(self.channel)

    def call(self, method: Any, request: Any) -> Any:
        return method(request, metadata=self.metadata, timeout=15)

    def close(self) -> None:
        self.channel.close()


def error_reason(error: grpc.RpcError) -> str:
    """The ErrorInfo.reason of a failed call ('' when absent)."""
    for key, value in error.trailing_metadata() or ():  # type: ignore[attr-defined]
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason
    return ""


@dataclass
class OpenFile:
    """A session opened on a file: what an editor is given."""

    tenant_id: str
    storage: str
    path: str
    local_path: Path
    session_id: str
    file_id: str
    wopi_src: str
    token: str

    def url(self, suffix: str = "", token: str | None = None) -> str:
        return f"{self.wopi_src}{suffix}?access_token={token or self.token}"


LOCK = "test-lock-1"


def lock(http: Any, f: OpenFile, lock_id: str = LOCK) -> None:
    """Takes the WOPI lock, as editors do before saving."""
    reply = http.post(f.url(), headers={"X-WOPI-Override": "LOCK", "X-WOPI-Lock": lock_id})
    assert reply.status_code == 200, reply.text


def put(http: Any, f: OpenFile, body: Any, lock_id: str | None = LOCK, **headers: str) -> Any:
    """PutFile under `lock_id` (None: without X-WOPI-Lock)."""
    sent = {"X-WOPI-Override": "PUT", **headers}
    if lock_id is not None:
        sent["X-WOPI-Lock"] = lock_id
    return http.post(f.url("/contents"), content=body, headers=sent)


def new_tenant(api: ControlApi, root: Path) -> tuple[str, Path]:
    """A fresh tenant with one local storage named 'docs' rooted at a new folder."""
    tenant_id = "t-" + secrets.token_hex(4)
    api.call(api.tenants.CreateTenant, tenant_pb.CreateTenantRequest(id=tenant_id, name=f"Tenant {tenant_id}"))
    folder = root / tenant_id
    folder.mkdir(parents=True)
    api.call(api.storages.CreateStorage, storage_pb.CreateStorageRequest(
        tenant_id=tenant_id, name="docs", protocol="file", root=str(folder)))
    return tenant_id, folder


def open_file(api: ControlApi, tenant_id: str, folder: Path, path: str, content: bytes | None = b"hello",
              *, permission: int = session_pb.PERMISSION_EDIT, user_id: str = "u1") -> OpenFile:
    local = folder / path
    if content is not None:
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(content)
    reply = api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=tenant_id, storage="docs", path=path, user_id=user_id, user_name="Ann Example",
        permission=permission))
    return OpenFile(tenant_id=tenant_id, storage="docs", path=path, local_path=local,
                    session_id=reply.session.id, file_id=reply.session.file_id,
                    wopi_src=reply.session.wopi_src, token=reply.access_token)


__all__ = ["LOCK", "ControlApi", "OpenFile", "error_reason", "lock", "new_tenant", "open_file", "put", "session_pb",
           "storage_pb", "tenant_pb"]
