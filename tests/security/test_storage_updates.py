"""UpdateStorage and DeleteStorage under the storage policy: an update is a new storage as far as
the policy goes, credentials rotate without ever being read back, deletes never lose files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import pytest
from google.protobuf import field_mask_pb2

from tests.security.storage_support import (
    HostileTenant, assert_policy_denied, create_storage, hostile_tenant, open_session, refusal,
)
from tests.support.api import ControlApi, error_reason, storage_pb
from tests.support.deployment import Deployment
from tests.support.listener import Listener
from tests.support.s3 import S3Server, session_s3_server

Deploy = Callable[..., Deployment]


def _update(api: ControlApi, tenant_id: str, name: str, **fields: object) -> storage_pb.Storage:
    storage = storage_pb.Storage(tenant_id=tenant_id, name=name, **fields)  # type: ignore[arg-type]
    return api.call(api.storages.UpdateStorage, storage_pb.UpdateStorageRequest(
        storage=storage, update_mask=field_mask_pb2.FieldMask(paths=sorted(fields))))


def _delete(api: ControlApi, tenant_id: str, name: str, *, force: bool = False) -> None:
    api.call(api.storages.DeleteStorage, storage_pb.DeleteStorageRequest(tenant_id=tenant_id, name=name,
                                                                         force=force))


def _tenant_storage(deploy: Deploy, shape: str, tmp_path: Path) -> tuple[Deployment, HostileTenant, Path]:
    base = tmp_path / "tenants"
    deployment = deploy(shape, control_args=("--tenant-file-base", str(base)))
    hostile = hostile_tenant(deployment)
    folder = base / hostile.tenant_id / "docs"
    folder.mkdir(parents=True)
    (folder / "a.docx").write_bytes(b"kept")
    create_storage(hostile.api, hostile.tenant_id, folder)
    return deployment, hostile, folder


def test_tenant_key_update_moving_the_root_to_the_data_dir_is_refused(
        shape: str, deploy: Deploy, tmp_path: Path) -> None:
    """Attack: create an honest storage, then update its root to the data dir (or /)."""
    deployment, hostile, _ = _tenant_storage(deploy, shape, tmp_path)
    for root in (str(deployment.data_dir), "/"):
        error = refusal(lambda: _update(hostile.api, hostile.tenant_id, "docs", root=root))
        assert_policy_denied(error, deployment.log())


def test_tenant_key_update_to_a_forbidden_protocol_or_option_is_refused(
        shape: str, deploy: Deploy, tmp_path: Path) -> None:
    """Attack: switch an honest storage to memory, or slip a profile option in through an update."""
    deployment, hostile, _ = _tenant_storage(deploy, shape, tmp_path)
    api, tenant_id = hostile.api, hostile.tenant_id
    assert_policy_denied(refusal(lambda: _update(api, tenant_id, "docs", protocol="memory", root="/x")),
                         deployment.log())
    assert_policy_denied(refusal(lambda: _update(api, tenant_id, "docs", options={"profile": "default"})),
                         deployment.log(), "profile")


def test_tenant_key_cannot_change_an_operator_owned_storage(shape: str, deploy: Deploy, tmp_path: Path) -> None:
    """Attack: add options to a storage the operator set up (which the tenant policy does not bind)."""
    deployment = deploy(shape)
    hostile = hostile_tenant(deployment)
    folder = tmp_path / "operator"
    folder.mkdir()
    create_storage(hostile.admin, hostile.tenant_id, folder)
    error = refusal(lambda: _update(hostile.api, hostile.tenant_id, "docs", options={"auto_mkdir": "true"}))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, deployment.log()


def test_tenant_key_cannot_delete_an_operator_owned_storage(shape: str, deploy: Deploy, tmp_path: Path) -> None:
    """Attack: drop the operator's storage (and with it the records of its files and versions);
    the admin key still may."""
    deployment = deploy(shape)
    hostile = hostile_tenant(deployment)
    folder = tmp_path / "operator"
    folder.mkdir()
    create_storage(hostile.admin, hostile.tenant_id, folder)
    error = refusal(lambda: _delete(hostile.api, hostile.tenant_id, "docs", force=True))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, deployment.log()
    assert hostile.api.call(hostile.api.storages.GetStorage, storage_pb.GetStorageRequest(
        tenant_id=hostile.tenant_id, name="docs")).name == "docs"
    _delete(hostile.admin, hostile.tenant_id, "docs", force=True)


def test_tenant_key_cannot_update_or_delete_another_tenants_storage(
        shape: str, deploy: Deploy, tmp_path: Path) -> None:
    """Attack: name another tenant's storage in UpdateStorage / DeleteStorage."""
    deployment, victim, _ = _tenant_storage(deploy, shape, tmp_path)
    hostile = hostile_tenant(deployment)
    victim_id = victim.tenant_id
    for call in (lambda: _update(hostile.api, victim_id, "docs", max_file_size=1),
                 lambda: _delete(hostile.api, victim_id, "docs", force=True)):
        assert refusal(call).code() == grpc.StatusCode.NOT_FOUND
    assert victim.api.call(victim.api.storages.GetStorage, storage_pb.GetStorageRequest(
        tenant_id=victim_id, name="docs")).max_file_size == 0


def test_delete_with_open_sessions_is_refused_unless_forced_and_files_remain(
        shape: str, deploy: Deploy, tmp_path: Path) -> None:
    """Attack: delete a storage under an editor's feet; with force the sessions end, the files stay."""
    deployment, hostile, folder = _tenant_storage(deploy, shape, tmp_path)
    api, tenant_id = hostile.api, hostile.tenant_id
    opened = open_session(api, tenant_id, "a.docx")
    error = refusal(lambda: _delete(api, tenant_id, "docs"))
    assert (error.code(), error_reason(error)) == (grpc.StatusCode.FAILED_PRECONDITION, "SESSIONS_OPEN")
    _delete(api, tenant_id, "docs", force=True)
    assert (folder / "a.docx").read_bytes() == b"kept"
    reply = httpx.get(f"{opened.session.wopi_src}/contents", params={"access_token": opened.access_token})
    assert reply.status_code in (401, 404), deployment.log()
    assert refusal(lambda: api.call(api.storages.GetStorage, storage_pb.GetStorageRequest(
        tenant_id=tenant_id, name="docs"))).code() == grpc.StatusCode.NOT_FOUND
    create_storage(api, tenant_id, folder)  # the name is free again, the folder still good
    assert open_session(api, tenant_id, "a.docx").access_token


@pytest.fixture
def s3(request: pytest.FixtureRequest) -> S3Server:
    return session_s3_server(request.config)


def test_update_rotates_s3_credentials_and_never_returns_them(shape: str, deploy: Deploy, s3: S3Server) -> None:
    """Attack: read a storage's secret back after an update (or keep using a revoked one): the new
    secret is what the storage uses (a wrong one is unreachable), and no reply shows it."""
    # The S3 server runs on loopback: the operator's egress exception lets tenants' storages reach it.
    deployment = deploy(shape, control_args=("--egress-allow", "127.0.0.1/32"),
                        edge_args=("--egress-allow", "127.0.0.1/32") if shape == "split" else ())
    hostile = hostile_tenant(deployment)
    api, tenant_id = hostile.api, hostile.tenant_id
    bucket = s3.new_bucket()
    try:
        create_storage(api, tenant_id, bucket, protocol="s3", options=s3.options)
        wrong = {**s3.options, "secret": "not-the-secret-" + "x" * 20}
        error = refusal(lambda: _update(api, tenant_id, "docs", options=wrong))
        assert error_reason(error) == "STORAGE_UNREACHABLE", f"{error.details()}\n{deployment.log()}"
        assert wrong["secret"] not in (error.details() or "")
        # "***" keeps the stored secret: a reader can send back what it read.
        read = api.call(api.storages.GetStorage, storage_pb.GetStorageRequest(tenant_id=tenant_id, name="docs"))
        updated = _update(api, tenant_id, "docs", options={**dict(read.options), "region": "us-east-1"})
        rotated = _update(api, tenant_id, "docs", options={**s3.options})
        for reply in (read, updated, rotated):
            assert reply.options["secret"] == "***" and s3.secret not in str(reply)
        assert updated.options["region"] == "us-east-1"
        assert s3.secret not in deployment.log()
    finally:
        s3.remove_bucket(bucket)


def test_a_kept_secret_never_follows_the_storage_to_a_new_endpoint(
        shape: str, deploy: Deploy, s3: S3Server) -> None:
    """Attack: read a storage's secret back after all. A key that may edit the storage (not
    necessarily the one that entered its credentials) sends back the "***" it read with its own
    server as endpoint_url: the next request (the update's reachability probe) would carry the
    stored credentials there (SigV4 sends the access key id; other schemes send the secret itself).
    Refused before any request is made."""
    deployment = deploy(shape, control_args=("--egress-allow", "127.0.0.1/32"),
                        edge_args=("--egress-allow", "127.0.0.1/32") if shape == "split" else ())
    hostile = hostile_tenant(deployment)
    api, tenant_id = hostile.api, hostile.tenant_id
    bucket = s3.new_bucket()
    attacker = Listener().start()
    try:
        create_storage(api, tenant_id, bucket, protocol="s3", options=s3.options)
        read = api.call(api.storages.GetStorage, storage_pb.GetStorageRequest(tenant_id=tenant_id, name="docs"))
        moved = {**dict(read.options), "endpoint_url": attacker.url}
        error = refusal(lambda: _update(api, tenant_id, "docs", options=moved))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, f"{error.details()}\n{deployment.log()}"
        assert "send the secret again" in (error.details() or "")
        assert attacker.touched == 0
    finally:
        attacker.stop()
        s3.remove_bucket(bucket)
