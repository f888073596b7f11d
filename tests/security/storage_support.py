"""What the storage-policy attack tests share: a tenant with its own key, and storage calls that
return the refusal instead of raising."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from tests.support.api import ControlApi, error_reason, session_pb, storage_pb, tenant_pb
from tests.support.deployment import Deployment
from wopiproxy.control.v1 import key_service_pb2 as key_pb
from wopiproxy.control.v1 import key_service_pb2_grpc as key_grpc


@dataclass
class HostileTenant:
    tenant_id: str
    api: ControlApi  # holds the tenant's own key: everything it sends is attacker input
    admin: ControlApi


def hostile_tenant(deployment: Deployment, tenant_id: str | None = None) -> HostileTenant:
    admin = deployment.api()
    tenant_id = tenant_id or "t-" + secrets.token_hex(4)
    admin.call(admin.tenants.CreateTenant, tenant_pb.CreateTenantRequest(id=tenant_id, name="Hostile"))
    key = admin.call(key_grpc.KeyServiceStub(admin.channel).CreateApiKey,
                     key_pb.CreateApiKeyRequest(tenant_id=tenant_id, description="hostile")).api_key
    return HostileTenant(tenant_id=tenant_id, api=deployment.api(key), admin=admin)


def create_storage(api: ControlApi, tenant_id: str, root: str | Path, *, protocol: str = "file",
                   name: str = "docs", options: dict[str, str] | None = None) -> storage_pb.Storage:
    return api.call(api.storages.CreateStorage, storage_pb.CreateStorageRequest(
        tenant_id=tenant_id, name=name, protocol=protocol, root=str(root), options=options or {}))


def open_session(api: ControlApi, tenant_id: str, path: str, storage: str = "docs") -> session_pb.CreateSessionResponse:
    return api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=tenant_id, storage=storage, path=path, user_id="u1", permission=session_pb.PERMISSION_EDIT))


def refusal(call: Callable[[], Any]) -> grpc.RpcError:
    try:
        result = call()
    except grpc.RpcError as error:
        return error
    raise AssertionError(f"the call was accepted: {result}")


def assert_policy_denied(error: grpc.RpcError, log: str, *words: str) -> None:
    assert (error.code(), error_reason(error)) == (grpc.StatusCode.PERMISSION_DENIED, "STORAGE_POLICY_DENIED"), (
        f"{error.code()} {error.details()}\n{log}")
    for word in words:
        assert word in (error.details() or ""), f"{word!r} not in {error.details()!r}"


def forge_storage_row(deployment: Deployment, tenant_id: str, name: str, **columns: Any) -> None:
    """Changes a storage row behind the API's back, as someone with database access could."""
    with sqlite3.connect(deployment.data_dir / "wopi-proxy.db", timeout=30) as db:
        assignments = ", ".join(f"{column} = ?" for column in columns)
        updated = db.execute(f"UPDATE storages SET {assignments} WHERE tenant_id = ? AND name = ?",
                             [*columns.values(), tenant_id, name]).rowcount
    assert updated == 1
