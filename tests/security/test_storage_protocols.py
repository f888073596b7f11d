"""Storage protocols and options: a tenant key gets s3 (and file under its base folder) and the
options that cannot reach local files or the server's credentials; nothing else unless the
operator lists it, and chained URLs never."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.security.storage_support import assert_policy_denied, create_storage, hostile_tenant, refusal
from tests.support.deployment import Deployment

Deploy = Callable[..., Deployment]
# What a tenant would need to reach the server's own files, or to fetch through it.
REFUSED_PROTOCOLS = {
    "http": "http://127.0.0.1:1/",
    "https": "https://127.0.0.1:1/",
    "memory": "/tenant",
    "simplecache::file": "/",
    "file::s3": "bucket",
}


@pytest.mark.parametrize("protocol", sorted(REFUSED_PROTOCOLS))
def test_tenant_key_protocol_outside_the_allow_list_is_refused(
        shape: str, deploy: Deploy, tmp_path: Path, protocol: str) -> None:
    """Attack: http/https (the server fetches for the tenant), memory (shared process state),
    chained simplecache::file and file::s3 (a wrapper around a local or foreign filesystem)."""
    deployment = deploy(shape, control_args=("--tenant-file-base", str(tmp_path / "tenants")))
    hostile = hostile_tenant(deployment)
    error = refusal(lambda: create_storage(hostile.api, hostile.tenant_id, REFUSED_PROTOCOLS[protocol],
                                           protocol=protocol))
    # A chained protocol is refused either by the API's protocol syntax or by the policy.
    if "::" not in protocol:
        assert_policy_denied(error, deployment.log(), "not allowed for tenant keys")
    else:
        assert error.code().name in ("PERMISSION_DENIED", "INVALID_ARGUMENT"), deployment.log()


def test_tenant_key_chained_root_is_refused(shape: str, deploy: Deploy) -> None:
    """Attack: an s3 storage whose root is itself a chained URL (simplecache::file:///)."""
    deployment = deploy(shape)
    hostile = hostile_tenant(deployment)
    error = refusal(lambda: create_storage(hostile.api, hostile.tenant_id, "simplecache::file:///etc",
                                           protocol="s3", options={"anon": "true"}))
    assert_policy_denied(error, deployment.log(), "chained")


@pytest.mark.parametrize("option", ["profile", "client_kwargs", "config_kwargs", "session"])
def test_tenant_key_s3_option_reaching_local_configuration_is_refused(
        shape: str, deploy: Deploy, option: str) -> None:
    """Attack: profile=<the operator's ~/.aws profile> (or botocore kwargs) to borrow its credentials."""
    deployment = deploy(shape)
    hostile = hostile_tenant(deployment)
    error = refusal(lambda: create_storage(hostile.api, hostile.tenant_id, "bucket", protocol="s3",
                                           options={"key": "k", "secret": "s", option: "default"}))
    assert_policy_denied(error, deployment.log(), option)


def test_tenant_key_s3_verify_as_a_file_path_is_refused(shape: str, deploy: Deploy) -> None:
    """Attack: verify=/path makes botocore read a local file (probing the server's filesystem)."""
    deployment = deploy(shape)
    hostile = hostile_tenant(deployment)
    error = refusal(lambda: create_storage(hostile.api, hostile.tenant_id, "bucket", protocol="s3",
                                           options={"key": "k", "secret": "s", "verify": str(deployment.data_dir)}))
    assert_policy_denied(error, deployment.log(), "verify")


def test_operator_listed_protocols_replace_the_default(shape: str, deploy: Deploy, tmp_path: Path) -> None:
    """Attack: s3 when the operator allowed tenants only local folders (--tenant-storage-protocols file)."""
    deployment = deploy(shape, control_args=("--tenant-file-base", str(tmp_path / "tenants"),
                                             "--tenant-storage-protocols", "file"))
    hostile = hostile_tenant(deployment)
    error = refusal(lambda: create_storage(hostile.api, hostile.tenant_id, "bucket", protocol="s3",
                                           options={"key": "k", "secret": "s"}))
    assert_policy_denied(error, deployment.log(), "allowed: file")
