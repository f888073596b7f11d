"""The storage policy's rules (control.services.storage_policy), without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from control.db.models import Storage
from control.services.context import Principal
from control.services.storage_policy import StoragePolicy, parse_protocol_list
from shared.errors import StorageBlocked, StoragePolicyDenied

ADMIN = Principal(key_id="key_admin", role="admin")
ACME = Principal(key_id="key_acme", role="tenant", tenant_id="acme")
EDGE = Principal(key_id="key_edge", role="edge")
S3_OWN = {"key": "k", "secret": "s"}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def policy(tmp_path: Path, data_dir: Path) -> StoragePolicy:
    (tmp_path / "tenants" / "acme" / "docs").mkdir(parents=True)
    (tmp_path / "tenants" / "globex").mkdir(parents=True)
    return StoragePolicy(protected_paths=(data_dir, tmp_path / "elsewhere" / "secret.key"),
                         tenant_file_base=tmp_path / "tenants")


def _denied(policy: StoragePolicy, principal: Principal, protocol: str, root: str | Path,
            options: dict[str, str] | None = None) -> str:
    with pytest.raises(StoragePolicyDenied) as raised:
        policy.check(principal, "acme", protocol, str(root), options or {})
    return raised.value.description


def test_no_principal_may_root_at_inside_or_above_a_protected_path(
        policy: StoragePolicy, data_dir: Path, tmp_path: Path) -> None:
    for root in (data_dir, data_dir / "sub", tmp_path, "/", tmp_path / "elsewhere"):
        assert "data dir" in _denied(policy, ADMIN, "file", root)


def test_admin_may_root_anywhere_else_with_any_protocol(policy: StoragePolicy, tmp_path: Path) -> None:
    policy.check(ADMIN, "acme", "file", str(tmp_path / "operator"), {"anything": "x"})
    policy.check(ADMIN, "acme", "memory", "/x", {})
    policy.check(ADMIN, "acme", "s3", "bucket", {"profile": "prod"})


def test_tenant_local_root_must_resolve_inside_its_own_folder(policy: StoragePolicy, tmp_path: Path) -> None:
    policy.check(ACME, "acme", "file", str(tmp_path / "tenants" / "acme" / "docs"), {})
    (tmp_path / "tenants" / "acme" / "out").symlink_to(tmp_path / "tenants" / "globex")
    for root in (tmp_path / "tenants" / "globex", tmp_path / "tenants" / "acme" / "out",
                 f"{tmp_path}/tenants/acme/../globex", tmp_path / "tenants" / "acme-evil"):
        _denied(policy, ACME, "file", root)


def test_any_role_but_admin_is_bound_by_the_tenant_rules(policy: StoragePolicy, tmp_path: Path) -> None:
    _denied(policy, EDGE, "file", tmp_path / "operator")


def test_tenant_protocols_default_to_s3_and_file_with_a_base(policy: StoragePolicy) -> None:
    assert policy.allowed_tenant_protocols == {"s3", "file"}
    assert StoragePolicy().allowed_tenant_protocols == {"s3"}
    assert "--tenant-file-base" in _denied(StoragePolicy(), ACME, "file", "/srv/x")
    for protocol in ("http", "https", "memory", "gcs", "simplecache::file"):
        _denied(policy, ACME, protocol, "bucket", S3_OWN)


def test_tenant_s3_needs_own_credentials_and_only_listed_options(policy: StoragePolicy) -> None:
    policy.check(ACME, "acme", "s3", "bucket", S3_OWN)
    policy.check(ACME, "acme", "s3", "bucket", {"anon": "true"})
    assert "own credentials" in _denied(policy, ACME, "s3", "bucket", {"key": "k"})
    assert "own credentials" in _denied(policy, ACME, "s3", "bucket", {"anon": "false"})
    for option in ("profile", "session", "client_kwargs", "config_kwargs"):
        assert option in _denied(policy, ACME, "s3", "bucket", {**S3_OWN, option: "x"})
    assert "verify" in _denied(policy, ACME, "s3", "bucket", {**S3_OWN, "verify": "/etc/ssl/ca.pem"})
    policy.check(ACME, "acme", "s3", "bucket", {**S3_OWN, "verify": "false"})
    assert "chained" in _denied(policy, ACME, "s3", "simplecache::s3://bucket", S3_OWN)


def test_ambient_credentials_only_for_the_tenants_the_operator_names(tmp_path: Path) -> None:
    policy = StoragePolicy(ambient_credential_tenants=frozenset({"acme"}),
                           tenant_protocols=frozenset({"s3", "gcs"}))
    policy.check(ACME, "acme", "s3", "bucket", {})
    policy.check(ACME, "acme", "gcs", "bucket", {})
    with pytest.raises(StoragePolicyDenied):
        policy.check(ACME, "globex", "s3", "bucket", {})
    with pytest.raises(StoragePolicyDenied):  # gcs would fall back to the server's google_default
        policy.check(ACME, "globex", "gcs", "bucket", {})


def test_check_open_names_the_storage_and_follows_the_owner(policy: StoragePolicy, data_dir: Path) -> None:
    row = Storage(tenant_id="acme", name="docs", protocol="file", root=str(data_dir), options_json="{}",
                  operator_owned=True, create_time=0)
    with pytest.raises(StorageBlocked) as raised:
        policy.check_open(row)
    assert raised.value.metadata["storage"] == "docs"
    forged = Storage(tenant_id="acme", name="s3", protocol="s3", root="bucket", options_json="{}",
                     operator_owned=False, create_time=0)
    with pytest.raises(StorageBlocked):
        policy.check_open(forged)
    policy.check_open(Storage(**{**forged.model_dump(), "operator_owned": True}))


def test_protocol_lists_parse_commas_and_repeats() -> None:
    assert parse_protocol_list("s3, file,,") == {"s3", "file"}
    assert parse_protocol_list(["s3", "gcs,file"]) == {"s3", "gcs", "file"}
    assert parse_protocol_list("") is None and parse_protocol_list(None) is None
