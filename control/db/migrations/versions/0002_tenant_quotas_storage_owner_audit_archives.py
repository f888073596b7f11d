"""tenant incarnation and quotas, storages' and editors' owner, archived audit chains, encrypted webhook secrets

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Rows that exist get what the release that added each column would have given them:
- tenants.incarnation: a random one per tenant, as CreateTenant makes;
- storages.operator_owned, editors.operator_owned: True only when the audit trail shows an
  admin key created the row (the first release let tenant keys create storages anywhere and
  editors with any discovery URL: a row the trail cannot vouch for is held to the tenant storage
  policy and the egress policy, and a warning names it); pool editors only admins could make;
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
    "editors": [("operator_owned", sa.Boolean(), "false")],
    "audit_chain_heads": [("first_after_id", sa.BigInteger(), "0"), ("archive_of", sa.String(length=63), "''")],
}


def upgrade() -> None:
    for table, columns in NEW_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for name, type_, default in columns:
                batch.add_column(sa.Column(name, type_, nullable=False, server_default=sa.text(default)))
    bind = op.get_bind()
    _give_incarnations(bind)
    _mark_operator_owned(bind, table="storages", operation="CreateStorage", label="storage")
    _mark_operator_owned(bind, table="editors", operation="CreateEditor", label="editor")
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


def _mark_operator_owned(bind: sa.engine.Connection, *, table: str, operation: str, label: str) -> None:
    """Sets operator_owned on the rows of `table` whose creation (`operation`, detail
    "<label>=<name> ...") the audit trail shows an admin key made. Pool editors (tenant "")
    only an admin key can make."""
    admin_actors = {f"key:{key_id}" for (key_id,) in
                    bind.execute(sa.text("SELECT id FROM api_keys WHERE role = 'admin'")).fetchall()}
    creators: dict[tuple[str, str], str] = {}  # (tenant, name) -> actor of its last creation
    rows = bind.execute(sa.text("SELECT tenant_id, detail, actor FROM audit_events WHERE operation = :operation "
                                "AND outcome = 'ok' ORDER BY id"), {"operation": operation}).fetchall()
    for tenant_id, detail, actor in rows:
        name = str(detail).removeprefix(f"{label}=").partition(" ")[0]
        creators[(str(tenant_id or ""), name)] = str(actor)
    for row_id, tenant_id, name in bind.execute(sa.text(f"SELECT id, tenant_id, name FROM {table}")).fetchall():
        if (table == "editors" and not tenant_id) or creators.get((tenant_id, name)) in admin_actors:
            bind.execute(sa.text(f"UPDATE {table} SET operator_owned = true WHERE id = :id"), {"id": row_id})
        else:
            log.warning("%s %r of tenant %r: the audit trail does not show an admin key creating it, so it is "
                        "held to the tenant's policies from now on", label, name, tenant_id)


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
