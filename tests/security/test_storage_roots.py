"""Storage roots: a tenant key stays in <tenant-file-base>/<tenant_id>, and no storage, whoever
makes it, reaches the control plane's data dir (where admin.key and secret.key live)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import pytest

from tests.security.storage_support import (
    assert_policy_denied, create_storage, hostile_tenant, open_session, refusal,
)
from tests.support.api import error_reason
from tests.support.deployment import Deployment

Deploy = Callable[..., Deployment]


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """The operator's --tenant-file-base."""
    folder = tmp_path / "tenants"
    folder.mkdir()
    return folder


def _deploy_with_base(deploy: Deploy, shape: str, base: Path) -> Deployment:
    return deploy(shape, control_args=("--tenant-file-base", str(base)))


def _own_folder(base: Path, tenant_id: str, name: str = "docs") -> Path:
    folder = base / tenant_id / name
    folder.mkdir(parents=True)
    return folder


def test_tenant_key_root_slash_is_refused(shape: str, deploy: Deploy, base: Path) -> None:
    """Attack: a tenant key roots a storage at / to read the operator's keys over WOPI."""
    deployment = _deploy_with_base(deploy, shape, base)
    hostile = hostile_tenant(deployment)
    error = refusal(lambda: create_storage(hostile.api, hostile.tenant_id, "/"))
    assert_policy_denied(error, deployment.log(), "<tenant-file-base>")


def test_tenant_key_root_at_the_data_dir_is_refused(shape: str, deploy: Deploy, base: Path) -> None:
    """Attack: a tenant key roots a storage at the data dir itself."""
    deployment = _deploy_with_base(deploy, shape, base)
    hostile = hostile_tenant(deployment)
    assert_policy_denied(refusal(lambda: create_storage(hostile.api, hostile.tenant_id, deployment.data_dir)),
                         deployment.log())


def test_tenant_whose_base_folder_is_the_data_dir_is_refused(shape: str, deploy: Deploy, tmp_path: Path) -> None:
    """Attack: the operator's base holds the data dir and a tenant is named after it ("data"):
    <base>/data is the data dir, yet no storage may be rooted there."""
    deployment = deploy(shape, control_args=("--tenant-file-base", str(tmp_path / f"{shape}-0")))
    assert (tmp_path / f"{shape}-0" / "data") == deployment.data_dir
    hostile = hostile_tenant(deployment, tenant_id="data")
    error = refusal(lambda: create_storage(hostile.api, "data", deployment.data_dir))
    assert_policy_denied(error, deployment.log(), "data dir")


def test_admin_key_root_at_the_data_dir_is_refused(shape: str, deploy: Deploy) -> None:
    """Attack: even the admin key may not expose the data dir (a mistaken operator command)."""
    deployment = deploy(shape)
    hostile = hostile_tenant(deployment)
    error = refusal(lambda: create_storage(hostile.admin, hostile.tenant_id, deployment.data_dir))
    assert_policy_denied(error, deployment.log(), "data dir")


def test_admin_key_root_inside_the_data_dir_is_refused(shape: str, deploy: Deploy) -> None:
    """Attack: a root inside the data dir (a sub-folder, or the folder via a trailing '/.')."""
    deployment = deploy(shape)
    hostile = hostile_tenant(deployment)
    inside = deployment.data_dir / "inside"
    inside.mkdir()
    for root in (str(inside), f"{deployment.data_dir}/."):
        assert_policy_denied(refusal(lambda: create_storage(hostile.admin, hostile.tenant_id, root)),
                             deployment.log())


def test_admin_key_root_containing_the_data_dir_is_refused(shape: str, deploy: Deploy) -> None:
    """Attack: a root above the data dir (its parent, or /) reaches admin.key by a relative path."""
    deployment = deploy(shape)
    hostile = hostile_tenant(deployment)
    for root in (str(deployment.data_dir.parent), "/"):
        assert_policy_denied(refusal(lambda: create_storage(hostile.admin, hostile.tenant_id, root)),
                             deployment.log())


def test_admin_key_may_root_a_file_storage_outside_the_tenant_base(
        shape: str, deploy: Deploy, base: Path, tmp_path: Path) -> None:
    """The operator is trusted: outside the tenant base is fine, as long as it is not the data dir."""
    deployment = _deploy_with_base(deploy, shape, base)
    hostile = hostile_tenant(deployment)
    elsewhere = tmp_path / "operator-share"
    elsewhere.mkdir()
    created = create_storage(hostile.admin, hostile.tenant_id, elsewhere)
    assert created.operator_owned and created.root == str(elsewhere)


def test_tenant_key_root_with_dot_dot_is_refused(shape: str, deploy: Deploy, base: Path) -> None:
    """Attack: <base>/<me>/../<victim> and <base>/<me>/../../ climb out of the tenant's folder."""
    deployment = _deploy_with_base(deploy, shape, base)
    hostile = hostile_tenant(deployment)
    _own_folder(base, hostile.tenant_id)
    victim = _own_folder(base, "victim")
    for root in (f"{base}/{hostile.tenant_id}/../victim/docs", f"{base}/{hostile.tenant_id}/docs/../../.."):
        assert_policy_denied(refusal(lambda: create_storage(hostile.api, hostile.tenant_id, root)),
                             deployment.log())
    assert victim.exists()


def test_tenant_key_root_in_another_tenants_base_folder_is_refused(shape: str, deploy: Deploy, base: Path) -> None:
    """Attack: a tenant names another tenant's folder under the base, to read its files."""
    deployment = _deploy_with_base(deploy, shape, base)
    hostile = hostile_tenant(deployment)
    victim = _own_folder(base, "victim")
    assert_policy_denied(refusal(lambda: create_storage(hostile.api, hostile.tenant_id, victim)), deployment.log())


def test_tenant_key_root_through_a_symlink_to_the_data_dir_is_refused(
        shape: str, deploy: Deploy, base: Path) -> None:
    """Attack: a symlink inside the tenant's own folder that points at the data dir."""
    deployment = _deploy_with_base(deploy, shape, base)
    hostile = hostile_tenant(deployment)
    link = base / hostile.tenant_id / "innocent"
    link.parent.mkdir(parents=True)
    link.symlink_to(deployment.data_dir)
    assert_policy_denied(refusal(lambda: create_storage(hostile.api, hostile.tenant_id, link)), deployment.log())


def test_tenant_key_root_through_a_symlink_to_another_tenants_folder_is_refused(
        shape: str, deploy: Deploy, base: Path) -> None:
    """Attack: a symlink inside the tenant's own folder that points into another tenant's folder."""
    deployment = _deploy_with_base(deploy, shape, base)
    hostile = hostile_tenant(deployment)
    victim = _own_folder(base, "victim")
    link = base / hostile.tenant_id / "shared"
    link.parent.mkdir(parents=True)
    link.symlink_to(victim)
    assert_policy_denied(refusal(lambda: create_storage(hostile.api, hostile.tenant_id, link)), deployment.log())


def test_tenant_key_file_storage_without_a_tenant_file_base_is_refused(
        shape: str, deploy: Deploy, tmp_path: Path) -> None:
    """Attack: any local root at all, when the operator gave tenants no base folder."""
    deployment = deploy(shape)
    hostile = hostile_tenant(deployment)
    folder = tmp_path / "anywhere"
    folder.mkdir()
    assert_policy_denied(refusal(lambda: create_storage(hostile.api, hostile.tenant_id, folder)),
                         deployment.log(), "--tenant-file-base")


def test_tenant_key_may_root_a_storage_in_its_own_folder(shape: str, deploy: Deploy, base: Path) -> None:
    """The policy's other side: a tenant's own folder works, and the storage is not operator-owned."""
    deployment = _deploy_with_base(deploy, shape, base)
    hostile = hostile_tenant(deployment)
    folder = _own_folder(base, hostile.tenant_id)
    (folder / "a.docx").write_bytes(b"mine")
    created = create_storage(hostile.api, hostile.tenant_id, folder)
    assert not created.operator_owned
    opened = open_session(hostile.api, hostile.tenant_id, "a.docx")
    got = httpx.get(f"{opened.session.wopi_src}/contents", params={"access_token": opened.access_token})
    assert got.content == b"mine", deployment.log()


def test_root_replaced_by_a_symlink_to_the_data_dir_after_creation_is_refused_at_open(
        shape: str, deploy: Deploy, base: Path) -> None:
    """Attack: create a storage on an honest folder holding a decoy admin.key, open a session on
    the decoy, then swap the folder for a symlink to the data dir: neither a new session nor the
    open one's WOPI reads may return the real admin.key."""
    deployment = _deploy_with_base(deploy, shape, base)
    hostile = hostile_tenant(deployment)
    folder = _own_folder(base, hostile.tenant_id)
    (folder / "admin.key").write_bytes(b"decoy")
    create_storage(hostile.api, hostile.tenant_id, folder)
    opened = open_session(hostile.api, hostile.tenant_id, "admin.key")
    os.rename(folder, folder.with_name("docs-old"))
    folder.symlink_to(deployment.data_dir)
    secret = deployment.admin_key.encode()

    error = refusal(lambda: open_session(hostile.api, hostile.tenant_id, "admin.key"))
    assert (error.code(), error_reason(error)) == (grpc.StatusCode.FAILED_PRECONDITION, "STORAGE_BLOCKED"), (
        deployment.log())
    assert "'docs'" in (error.details() or "")
    for suffix in ("/contents", ""):
        reply = httpx.get(f"{opened.session.wopi_src}{suffix}", params={"access_token": opened.access_token})
        assert reply.status_code == 403, f"{reply.status_code} {reply.text}\n{deployment.log()}"
        assert secret not in reply.content
        assert reply.json()["error"] == "STORAGE_BLOCKED"
