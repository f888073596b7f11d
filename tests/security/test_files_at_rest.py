"""The control plane's files at rest: only its own user may read the data dir, the database (with
its WAL and SHM), the keys; and the secrets in the database are encrypted."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

from google.protobuf import field_mask_pb2

from tests.security.storage_support import hostile_tenant
from tests.support.api import tenant_pb
from tests.support.deployment import Deployment

Deploy = Callable[..., Deployment]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _set_webhook_secret(deployment: Deployment, tenant_id: str, secret: str) -> None:
    admin = deployment.api()
    admin.call(admin.tenants.UpdateTenant, tenant_pb.UpdateTenantRequest(
        tenant=tenant_pb.Tenant(id=tenant_id, settings=tenant_pb.TenantSettings(
            webhook_url="http://127.0.0.1:9/hook", webhook_secret=secret)),
        update_mask=field_mask_pb2.FieldMask(paths=["settings.webhook_url", "settings.webhook_secret"])))


def test_other_users_cannot_read_the_data_dir_database_or_keys(shape: str, deploy: Deploy) -> None:
    """Attack: another local user reads admin.key, secret.key or the database (and its WAL/SHM)."""
    deployment = deploy(shape)
    hostile_tenant(deployment)  # a write: the WAL and SHM files exist now
    data = deployment.data_dir
    assert _mode(data) == 0o700, deployment.log()
    files = ["wopi-proxy.db", "wopi-proxy.db-wal", "wopi-proxy.db-shm", "admin.key", "secret.key"]
    assert {name: oct(_mode(data / name)) for name in files} == dict.fromkeys(files, oct(0o600))


def test_a_data_dir_open_to_others_is_narrowed_at_start(deploy: Deploy, tmp_path: Path) -> None:
    """Attack: an operator-made data dir (and database) left world-readable by a umask of 022."""
    data = tmp_path / "serve-0" / "data"
    data.mkdir(parents=True)
    data.chmod(0o755)
    (data / "wopi-proxy.db").touch()
    (data / "wopi-proxy.db").chmod(0o644)
    deployment = deploy("serve")
    assert (_mode(data), _mode(data / "wopi-proxy.db")) == (0o700, 0o600), deployment.log()
    assert "narrowed" in deployment.log()


def test_webhook_secret_is_encrypted_in_the_database(shape: str, deploy: Deploy) -> None:
    """Attack: read a tenant's webhook secret (to forge its event signatures) from the database file or a backup."""
    deployment = deploy(shape)
    tenant = hostile_tenant(deployment)
    secret = "whsec-" + "z" * 30
    _set_webhook_secret(deployment, tenant.tenant_id, secret)
    with sqlite3.connect(deployment.data_dir / "wopi-proxy.db") as db:
        [(stored,)] = db.execute("SELECT webhook_secret FROM tenants WHERE id = ?", [tenant.tenant_id]).fetchall()
    assert stored.startswith("gAAAAA") and secret not in stored
    for name in ("wopi-proxy.db", "wopi-proxy.db-wal"):
        path = deployment.data_dir / name
        assert not path.exists() or secret.encode() not in path.read_bytes()
    assert secret not in deployment.log()
