"""Per-tenant quotas set by the operator: a cap on the file size whatever the tenant's storages say,
and a quota on the bytes conflict copies may take (past it 507, the first refused save still kept)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import pytest
from google.protobuf import field_mask_pb2

from tests.support.api import ControlApi, error_reason, lock, open_file, put, session_pb, storage_pb, tenant_pb
from tests.support.deployment import Deployment
from wopiproxy.control.v1 import key_service_pb2 as key_pb
from wopiproxy.control.v1 import key_service_pb2_grpc as key_grpc


def _tenant(api: ControlApi, root: Path, *, storage_limit: int = 0) -> tuple[str, Path]:
    tenant_id = "t-" + secrets.token_hex(4)
    api.call(api.tenants.CreateTenant, tenant_pb.CreateTenantRequest(id=tenant_id, name="Quota test"))
    folder = root / tenant_id
    folder.mkdir(parents=True)
    api.call(api.storages.CreateStorage, storage_pb.CreateStorageRequest(
        tenant_id=tenant_id, name="docs", protocol="file", root=str(folder), max_file_size=storage_limit))
    return tenant_id, folder


def _cli(deployment: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WOPI_PROXY_CONTROL": deployment.grpc_address, "WOPI_PROXY_API_KEY": deployment.admin_key}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def _set_quotas(deployment: Deployment, tenant_id: str, *flags: str) -> None:
    """Through the operator's command line: `tenants update --max-file-size-cap ... --conflict-copy-quota ...`."""
    done = _cli(deployment, "tenants", "update", tenant_id, *flags)
    assert done.returncode == 0, done.stderr + deployment.log()


def _get(api: ControlApi, tenant_id: str) -> tenant_pb.Tenant:
    return api.call(api.tenants.GetTenant, tenant_pb.GetTenantRequest(id=tenant_id))


def test_a_save_over_the_tenant_cap_is_refused_even_when_the_storage_allows_more(
        shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: a tenant key gives its storage a huge max_file_size to fill the deployment's disks."""
    deployment = deploy(shape)
    api = deployment.api()
    tenant_id, folder = _tenant(api, deployment.workdir / "storage", storage_limit=1 << 20)
    _set_quotas(deployment, tenant_id, "--max-file-size-cap", "1000")
    f = open_file(api, tenant_id, folder, "big.docx", b"old")
    with httpx.Client(timeout=30) as http:
        lock(http, f)

        too_big = put(http, f, b"x" * 1001)
        fits = put(http, f, b"y" * 1000)

    assert too_big.status_code == 413, too_big.text + deployment.log()
    assert fits.status_code == 200, fits.text + deployment.log()
    assert f.local_path.read_bytes() == b"y" * 1000


def test_a_cap_also_limits_a_storage_without_a_limit_of_its_own(
        shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: rely on the edge's generous default (1 GiB) when the operator capped the tenant lower."""
    deployment = deploy(shape)
    api = deployment.api()
    tenant_id, folder = _tenant(api, deployment.workdir / "storage")
    _set_quotas(deployment, tenant_id, "--max-file-size-cap", "100")
    f = open_file(api, tenant_id, folder, "a.docx", b"old")
    with httpx.Client(timeout=30) as http:
        lock(http, f)
        assert put(http, f, b"x" * 101).status_code == 413, deployment.log()


def test_a_template_over_the_tenant_cap_is_not_copied(shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: CreateSession(create, template_path) copies, through the control plane, a template
    the tenant placed in its own storage (4 GiB used to be the only bound), again and again, past
    the cap the operator set: the copy is held to the same limit as a save."""
    deployment = deploy(shape)
    api = deployment.api()
    tenant_id, folder = _tenant(api, deployment.workdir / "storage")
    _set_quotas(deployment, tenant_id, "--max-file-size-cap", "100")
    (folder / "big-template.docx").write_bytes(b"x" * 101)
    (folder / "template.docx").write_bytes(b"y" * 100)

    def create(path: str, template: str) -> object:
        return api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
            tenant_id=tenant_id, storage="docs", path=path, user_id="u1", create=True, template_path=template))

    with pytest.raises(grpc.RpcError) as refused:
        create("copy.docx", "big-template.docx")
    assert (refused.value.code(), error_reason(refused.value)) == (grpc.StatusCode.RESOURCE_EXHAUSTED,
                                                                   "PAYLOAD_TOO_LARGE"), refused.value.details()
    assert not (folder / "copy.docx").exists()
    create("fits.docx", "template.docx")
    assert (folder / "fits.docx").read_bytes() == b"y" * 100


def test_conflict_copies_past_the_quota_are_refused_507_and_the_first_is_kept(
        shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: fill the tenant's storage with conflict copies by saving again and again with a wrong lock."""
    deployment = deploy(shape)
    api = deployment.api()
    tenant_id, folder = _tenant(api, deployment.workdir / "storage")
    _set_quotas(deployment, tenant_id, "--conflict-copy-quota", "150")
    f = open_file(api, tenant_id, folder, "q.docx", b"current")
    with httpx.Client(timeout=30) as http:
        lock(http, f)

        first = put(http, f, b"a" * 100, lock_id="someone-else")   # 0 used: kept
        second = put(http, f, b"b" * 100, lock_id="someone-else")  # 100 used, under 150: kept, crosses it
        third = put(http, f, b"c" * 100, lock_id="someone-else")   # 200 used: refused

    assert (first.status_code, second.status_code) == (409, 409), deployment.log()
    assert third.status_code == 507, third.text + deployment.log()
    assert third.json()["error"] == "CONFLICT_COPY_QUOTA_EXCEEDED"
    copies = sorted(p.read_bytes() for p in folder.iterdir() if "conflict" in p.name)
    assert copies == [b"a" * 100, b"b" * 100], deployment.log()
    # Nothing staged is left (the staging folder itself may stay, empty).
    assert not [p for p in folder.rglob("*") if p.is_file() and p.name.startswith(".~wopi")], list(folder.rglob("*"))
    assert f.local_path.read_bytes() == b"current"
    assert _get(api, tenant_id).conflict_copy_bytes == 200


def test_a_tenant_key_cannot_raise_its_own_quotas(shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: a tenant lifts the operator's limits on itself with its own API key."""
    deployment = deploy(shape)
    admin = deployment.api()
    tenant_id, _ = _tenant(admin, deployment.workdir / "storage")
    _set_quotas(deployment, tenant_id, "--max-file-size-cap", "1000", "--conflict-copy-quota", "2000")
    key = key_grpc.KeyServiceStub(admin.channel).CreateApiKey(
        key_pb.CreateApiKeyRequest(tenant_id=tenant_id), metadata=admin.metadata, timeout=15).api_key
    tenant_api = deployment.api(key)

    def update(path: str, settings: tenant_pb.TenantSettings) -> None:
        request = tenant_pb.UpdateTenantRequest(tenant=tenant_pb.Tenant(id=tenant_id, settings=settings),
                                                update_mask=field_mask_pb2.FieldMask(paths=[path]))
        tenant_api.call(tenant_api.tenants.UpdateTenant, request)

    for path, settings in (("settings.conflict_copy_quota", tenant_pb.TenantSettings(conflict_copy_quota=1 << 40)),
                           ("settings.max_file_size_cap", tenant_pb.TenantSettings(max_file_size_cap=0))):
        with pytest.raises(grpc.RpcError) as refused:
            update(path, settings)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED, path
        assert error_reason(refused.value) == "PERMISSION_DENIED"
    try:  # all settings at once (zeros): refused, or (where tenant keys may change settings) quotas untouched
        update("settings", tenant_pb.TenantSettings())
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]

    kept = _get(admin, tenant_id).settings
    assert (kept.max_file_size_cap, kept.conflict_copy_quota) == (1000, 2000)


def test_quotas_are_not_negative(shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack (or slip): a negative quota that some comparison would read as unlimited."""
    deployment = deploy(shape)
    api = deployment.api()
    tenant_id, _ = _tenant(api, deployment.workdir / "storage")
    request = tenant_pb.UpdateTenantRequest(
        tenant=tenant_pb.Tenant(id=tenant_id, settings=tenant_pb.TenantSettings(conflict_copy_quota=-1)),
        update_mask=field_mask_pb2.FieldMask(paths=["settings.conflict_copy_quota"]))
    with pytest.raises(grpc.RpcError) as refused:
        api.call(api.tenants.UpdateTenant, request)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


