"""tenant incarnation and quotas, storages' owner, archived audit chains, encrypted webhook secrets

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Rows that exist get what the release that added each column would have given them:
- tenants.incarnation: a random one per tenant, as CreateTenant makes;
- storages.operator_owned: True only when the audit trail shows an admin key created the
  storage (the first release let tenant keys create storages anywhere: one the trail cannot
  vouch for is bound to the tenant storage policy, and a warning names it);
- tenants.webhook_secret: encrypted with the control plane's secret key (when the upgrade has
  it: the control plane and `wopi-proxy db upgrade` always do; otherwise the column type still
  reads the plain value and encrypts it at its next change).
New NOT NULL columns are added with a server default that fills existing rows, which is then
dropped: the models give every value in Python, and the schema stays exactly theirs.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger("control.db.migrations")

FERNET_TOKEN_PREFIX = "gAAAAA"  # every Fernet token starts so (control.secrets)

NEW_COLUMNS: dict[str, list[tuple[str, sa.types.TypeEngine[Any], str]]] = {
    "tenants": [("incarnation", sa.String(length=32), "''"), ("max_file_size_cap", sa.BigInteger(), "0"),
                ("conflict_copy_quota", sa.BigInteger(), "0"), ("conflict_copy_bytes", sa.BigInteger(), "0")],
    "storages": [("operator_owned", sa.Boolean(), "false")],
    "audit_chain_heads": [("first_after_id", sa.BigInteger(), "0"), ("archive_of", sa.String(length=63), "''")],
}


def upgrade() -> None:
    for table, columns in NEW_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for name, type_, default in columns:
                batch.add_column(sa.Column(name, type_, nullable=False, server_default=sa.text(default)))
    bind = op.get_bind()
    _give_incarnations(bind)
    _mark_operator_storages(bind)
    _encrypt_webhook_secrets(bind)
    # The types and defaults of the models (on SQLite: each table copied once).
    for table, columns in NEW_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for name, type_, _default in columns:
                batch.alter_column(name, existing_type=type_, existing_nullable=False, server_default=None)
            if table == "tenants":
                batch.alter_column("webhook_secret", existing_type=sa.String(length=200), type_=sa.Text(),
                                   existing_nullable=False)
            if table == "audit_chain_heads":  # archived chains are named "<tenant>~<label>"
                batch.alter_column("tenant_id", existing_type=sa.String(length=63), type_=sa.String(length=100),
                                   existing_nullable=False)


def _give_incarnations(bind: sa.engine.Connection) -> None:
    for (tenant_id,) in bind.execute(sa.text("SELECT id FROM tenants")).fetchall():
        bind.execute(sa.text("UPDATE tenants SET incarnation = :incarnation WHERE id = :id"),
                     {"incarnation": secrets.token_hex(8), "id": tenant_id})


def _mark_operator_storages(bind: sa.engine.Connection) -> None:
    admin_actors = {f"key:{key_id}" for (key_id,) in
                    bind.execute(sa.text("SELECT id FROM api_keys WHERE role = 'admin'")).fetchall()}
    creators: dict[tuple[str, str], str] = {}  # (tenant, storage name) -> actor of its last creation
    rows = bind.execute(sa.text("SELECT tenant_id, detail, actor FROM audit_events WHERE operation = 'CreateStorage' "
                                "AND outcome = 'ok' ORDER BY id")).fetchall()
    for tenant_id, detail, actor in rows:
        name = str(detail).removeprefix("storage=").partition(" ")[0]  # "storage=<name> protocol=<p>"
        creators[(str(tenant_id), name)] = str(actor)
    for storage_id, tenant_id, name in bind.execute(sa.text("SELECT id, tenant_id, name FROM storages")).fetchall():
        if creators.get((tenant_id, name)) in admin_actors:
            bind.execute(sa.text("UPDATE storages SET operator_owned = true WHERE id = :id"), {"id": storage_id})
        else:
            log.warning("storage %r of tenant %r: the audit trail does not show an admin key creating it, so it "
                        "is bound to the tenant storage policy from now on", name, tenant_id)


def _encrypt_webhook_secrets(bind: sa.engine.Connection) -> None:
    plain = bind.execute(sa.text("SELECT id, webhook_secret FROM tenants WHERE webhook_secret <> '' "
                                 f"AND webhook_secret NOT LIKE '{FERNET_TOKEN_PREFIX}%'")).fetchall()
    box: Any = context.config.attributes.get("secret_box")  # a control.secrets.SecretBox
    if plain and box is None:
        log.warning("%d webhook secrets stay unencrypted until changed: the upgrade was not given the secret key",
                    len(plain))
        return
    if plain:
        # The key must be the one the storage options were encrypted with: a wrong key here would
        # leave secrets nobody can read. SecretKeyError rolls the whole upgrade back.
        token = bind.execute(sa.text(f"SELECT options_json FROM storages WHERE options_json LIKE "
                                     f"'{FERNET_TOKEN_PREFIX}%' LIMIT 1")).scalar()
        if token is not None:
            box.decrypt(str(token))
    for tenant_id, secret in plain:
        bind.execute(sa.text("UPDATE tenants SET webhook_secret = :secret WHERE id = :id"),
                     {"secret": box.encrypt(secret), "id": tenant_id})


def downgrade() -> None:
    bind = op.get_bind()
    box: Any = context.config.attributes.get("secret_box")
    encrypted = bind.execute(sa.text("SELECT id, webhook_secret FROM tenants "
                                     f"WHERE webhook_secret LIKE '{FERNET_TOKEN_PREFIX}%'")).fetchall()
    if encrypted and box is None:
        raise RuntimeError("webhook secrets are encrypted: a downgrade needs the secret key to decrypt them")
    for tenant_id, token in encrypted:
        bind.execute(sa.text("UPDATE tenants SET webhook_secret = :secret WHERE id = :id"),
                     {"secret": box.decrypt(token), "id": tenant_id})
    for table, columns in reversed(NEW_COLUMNS.items()):
        with op.batch_alter_table(table) as batch:
            if table == "tenants":
                batch.alter_column("webhook_secret", existing_type=sa.Text(), type_=sa.String(length=200),
                                   existing_nullable=False)
            if table == "audit_chain_heads":
                batch.alter_column("tenant_id", existing_type=sa.String(length=100), type_=sa.String(length=63),
                                   existing_nullable=False)
            for name, _type, _default in reversed(columns):
                batch.drop_column(name)
