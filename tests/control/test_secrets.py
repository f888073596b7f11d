"""control.secrets: where the key comes from, and storage options encrypted in the database."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from control.db.engine import create_engine, create_schema, session_factory
from control.db.models import Storage, Tenant
from control.secrets import (
    SECRET_KEY_ENV,
    SecretBox,
    SecretKeyError,
    bind_engine,
    check_key,
    load_secret_box,
)
from control.services import storages
from control.services.context import Principal, ServiceContext
from shared.storage import REDACTED


def test_the_first_start_generates_a_private_key_file_and_later_starts_reuse_it(tmp_path: Path) -> None:
    first = load_secret_box(data_dir=tmp_path, key_file=None, environ={})
    key_file = tmp_path / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = load_secret_box(data_dir=tmp_path, key_file=None, environ={})
    assert again.decrypt(first.encrypt("x")) == "x"


def test_a_configured_key_file_is_used_and_must_exist(tmp_path: Path) -> None:
    key_file = tmp_path / "elsewhere.key"
    key_file.write_bytes(Fernet.generate_key() + b"\n")
    box = load_secret_box(data_dir=tmp_path, key_file=key_file, environ={})
    assert Fernet(key_file.read_bytes().strip()).decrypt(box.encrypt("x").encode()) == b"x"
    assert not (tmp_path / "secret.key").exists()
    with pytest.raises(SecretKeyError, match="cannot read the secret key file"):
        load_secret_box(data_dir=tmp_path, key_file=tmp_path / "missing.key", environ={})


def test_the_environment_overrides_the_files(tmp_path: Path) -> None:
    key = Fernet.generate_key()
    box = load_secret_box(data_dir=tmp_path, key_file=tmp_path / "missing.key",
                          environ={SECRET_KEY_ENV: key.decode()})
    assert Fernet(key).decrypt(box.encrypt("x").encode()) == b"x"
    assert not (tmp_path / "secret.key").exists()


def test_a_malformed_key_is_refused_without_showing_it(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyError, match=SECRET_KEY_ENV) as caught:
        load_secret_box(data_dir=tmp_path, key_file=None, environ={SECRET_KEY_ENV: "not-a-key"})
    assert "not-a-key" not in str(caught.value)


def test_another_key_cannot_decrypt() -> None:
    token = SecretBox(Fernet(Fernet.generate_key()), "a").encrypt("x")
    with pytest.raises(SecretKeyError, match="not the key they were encrypted with"):
        SecretBox(Fernet(Fernet.generate_key()), "b").decrypt(token)


async def test_storage_options_are_encrypted_in_the_database_and_redacted_in_reads(tmp_path: Path) -> None:
    box = load_secret_box(data_dir=tmp_path, key_file=None, environ={})
    database = tmp_path / "t.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    bind_engine(engine, box)
    try:
        await create_schema(engine)
        ctx = ServiceContext(sessions=session_factory(engine), wopi_base_url="http://wopi.test")
        admin = Principal(key_id="key_admin", role="admin")
        async with ctx.transaction() as db:
            db.add(Tenant(id="acme", name="Acme", create_time=0))
        (tmp_path / "root").mkdir()
        options = {"auto_mkdir": "false", "password": "hunter2-very-secret"}
        created = await storages.create_storage(ctx, admin, tenant_id="acme", name="docs", protocol="file",
                                                root=str(tmp_path / "root"), options=options)
        read = await storages.get_storage(ctx, admin, tenant_id="acme", name="docs")
        listed, _ = await storages.list_storages(ctx, admin, tenant_id="acme", page_size=10, page_token="")

        shown = {"auto_mkdir": "false", "password": REDACTED}
        assert storages.storage_options(created) == storages.storage_options(read) == shown
        assert [storages.storage_options(r) for r in listed] == [shown]
        async with ctx.sessions() as db:  # what the edge and open_storage get: the real options
            row = await db.get(Storage, read.id)
        assert row is not None and storages.storage_options(row) == options
        async with engine.connect() as conn:
            stored = (await conn.execute(text("SELECT options_json FROM storages"))).scalar()
        assert str(stored).startswith("gAAAAA") and box.decrypt(str(stored)) == '{"auto_mkdir": "false", ' \
            '"password": "hunter2-very-secret"}'
        await check_key(engine, box, table="storages", column="options_json")
        with pytest.raises(SecretKeyError):
            await check_key(engine, SecretBox(Fernet(Fernet.generate_key()), "another key"),
                            table="storages", column="options_json")
    finally:
        await engine.dispose()
    files = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("t.db"))
    assert b"hunter2-very-secret" not in files
