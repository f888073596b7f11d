"""Ambient credentials: the server's own cloud credentials (AWS_* environment, instance role,
~/.aws profiles) never serve a tenant key's storage unless the operator allows that tenant."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from shared.storage import FsspecStorage
from tests.security.storage_support import (
    assert_policy_denied, create_storage, forge_storage_row, hostile_tenant, open_session, refusal,
)
from tests.support.api import error_reason
from tests.support.deployment import Deployment

Deploy = Callable[..., Deployment]
# The server's environment holds credentials of the operator's (fake ones here).
AMBIENT = {"AWS_ACCESS_KEY_ID": "AKIAOPERATORKEY00000", "AWS_SECRET_ACCESS_KEY": "operator-secret-0000000000"}
DEAD_ENDPOINT = "http://127.0.0.1:1"


def test_tenant_s3_storage_without_credentials_is_refused_while_the_server_has_some(
        shape: str, deploy: Deploy) -> None:
    """Attack: an S3 storage with no key/secret, so that botocore signs with the server's AWS_* credentials."""
    deployment = deploy(shape, env=AMBIENT)
    hostile = hostile_tenant(deployment)
    for options in ({"endpoint_url": DEAD_ENDPOINT}, {"endpoint_url": DEAD_ENDPOINT, "key": "only-a-key"},
                    {"endpoint_url": DEAD_ENDPOINT, "anon": "false"}):
        error = refusal(lambda: create_storage(hostile.api, hostile.tenant_id, "bucket", protocol="s3",
                                               options=options))
        assert_policy_denied(error, deployment.log(), "own credentials")


def test_forged_tenant_s3_row_without_credentials_is_refused_at_open(
        shape: str, deploy: Deploy, tmp_path: Path) -> None:
    """Attack: a tenant storage row changed behind the API (no credentials left) is never opened,
    so no request goes out signed with the server's credentials."""
    base = tmp_path / "tenants"
    deployment = deploy(shape, env=AMBIENT, control_args=("--tenant-file-base", str(base)))
    hostile = hostile_tenant(deployment)
    folder = base / hostile.tenant_id / "docs"
    folder.mkdir(parents=True)
    create_storage(hostile.api, hostile.tenant_id, folder)
    forge_storage_row(deployment, hostile.tenant_id, "docs", protocol="s3", root="bucket",
                      options_json=json.dumps({"endpoint_url": DEAD_ENDPOINT}))
    error = refusal(lambda: open_session(hostile.api, hostile.tenant_id, "a.docx"))
    assert (error.code(), error_reason(error)) == (grpc.StatusCode.FAILED_PRECONDITION, "STORAGE_BLOCKED"), (
        f"{error.details()}\n{deployment.log()}")
    assert "own credentials" in (error.details() or "")


def test_allowed_tenant_may_use_ambient_credentials(shape: str, deploy: Deploy) -> None:
    """The operator's exception (--allow-ambient-credentials): the policy lets it through, and the
    storage is then only as good as its endpoint (dead here: STORAGE_UNREACHABLE, not a policy refusal)."""
    # The dead endpoint is on loopback: the egress policy must let it through for this test to reach it.
    deployment = deploy(shape, env=AMBIENT, control_args=("--allow-ambient-credentials", "trusted",
                                                          "--egress-allow", "127.0.0.1/32"))
    trusted = hostile_tenant(deployment, tenant_id="trusted")
    error = refusal(lambda: create_storage(trusted.api, "trusted", "bucket", protocol="s3",
                                           options={"endpoint_url": DEAD_ENDPOINT}))
    assert error_reason(error) == "STORAGE_UNREACHABLE", f"{error.details()}\n{deployment.log()}"
    other = hostile_tenant(deployment)
    assert_policy_denied(refusal(lambda: create_storage(other.api, other.tenant_id, "bucket", protocol="s3",
                                                        options={"endpoint_url": DEAD_ENDPOINT})),
                         deployment.log(), "own credentials")


@pytest.fixture
def ambient_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in AMBIENT.items():
        monkeypatch.setenv(name, value)


def _signing_credentials(options: dict[str, str]) -> object:
    storage = FsspecStorage("s3", "bucket", {"endpoint_url": DEAD_ENDPOINT, "region": "us-east-1",
                                             "skip_instance_cache": "true", **options}, egress=None)
    storage.fs.connect()  # builds the botocore client; no request is sent
    return storage.fs.s3._request_signer._credentials


def test_s3_storage_with_its_own_keys_never_signs_with_ambient_credentials(ambient_environment: None) -> None:
    """What the policy relies on: given key and secret, s3fs/botocore use them, not AWS_* (checked
    against the installed s3fs, whose fallbacks could change)."""
    credentials = _signing_credentials({"key": "tenant-key", "secret": "tenant-secret"})
    assert (credentials.access_key, credentials.secret_key) == ("tenant-key", "tenant-secret")  # type: ignore[attr-defined]


def test_anonymous_s3_storage_signs_nothing(ambient_environment: None) -> None:
    """anon=true: requests go unsigned, so the ambient credentials are never sent."""
    assert _signing_credentials({"anon": "true"}) is None


def test_s3_storage_without_keys_would_use_ambient_credentials(ambient_environment: None) -> None:
    """Why the policy must refuse such a storage for a tenant: s3fs falls back to AWS_*."""
    assert _signing_credentials({}).access_key == AMBIENT["AWS_ACCESS_KEY_ID"]  # type: ignore[attr-defined]
