"""Schema migrations (control.db.schema, control/db/migrations) on SQLite and PostgreSQL.

The released databases are tests/fixtures/released_db, made by the first release's own code
(make.py there). pytest-alembic's tests prove that the migrations build exactly the models'
schema: a model changed without a revision fails test_model_definitions_match_ddl (draft the
revision with `python -m tools.migration_draft`).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from cryptography.fernet import Fernet
from pytest_alembic.plugin.fixtures import alembic_runner  # noqa: F401  (the plugin itself is off)
from pytest_alembic.tests import (  # noqa: F401  (collected here, on both databases)
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from control.db.engine import create_engine, session_factory
from control.db.models import AuditChainHead, Session, Storage, Tenant
from control.db.schema import (
    BASELINE,
    HEAD,
    SchemaVersionError,
    alembic_config,
    ensure_schema,
    head_revision,
    read_state,
    upgrade,
)
from control.secrets import SecretBox, SecretKeyError, bind_engine
from control.services.audit_queries import verify_chain
from control.services.context import ServiceContext
from control.services.storages import storage_options
from tests.support.postgres import PostgresCluster
from tests.support.released_db import FIXTURE_BOX, load_released

# -- databases ----------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database; PostgreSQL's cluster is looked up only for the postgresql runs."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/wopi-proxy.db"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    name = "m_" + secrets.token_hex(6)
    with cluster.admin_connection() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield cluster.url(name)
    with cluster.admin_connection() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def released_url(empty_url: str) -> str:
    load_released(empty_url)
    return empty_url


@pytest.fixture
async def released(released_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the released database, with the key that encrypted its storage options."""
    engine = create_engine(released_url)
    bind_engine(engine, FIXTURE_BOX)
    yield engine
    await engine.dispose()


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def _columns(engine: AsyncEngine, table: str) -> set[str]:
    async with engine.connect() as conn:
        return {c["name"] for c in await conn.run_sync(lambda sync: inspect(sync).get_columns(table))}


# -- upgrading the released database ------------------------------------------------------------


async def test_released_database_is_stamped_at_the_baseline_and_upgraded_with_its_rows(
        released: AsyncEngine) -> None:
    before = await read_state(released)
    assert (before.current, before.legacy, before.up_to_date) == (BASELINE, True, False)

    await ensure_schema(released, migrate=True, box=FIXTURE_BOX)

    after = await read_state(released)
    assert after.up_to_date and after.current == head_revision() and not after.legacy
    async with session_factory(released)() as db:
        tenant = (await db.exec(select(Tenant))).one()
        storages = {s.name: s for s in (await db.exec(select(Storage)))}
        assert len((await db.exec(select(Session))).all()) == 1
    assert (tenant.id, tenant.name, tenant.enabled) == ("acme", "Acme Corp", True)
    assert len(tenant.incarnation) == 16  # as CreateTenant makes one
    assert (tenant.max_file_size_cap, tenant.conflict_copy_quota, tenant.conflict_copy_bytes) == (0, 0, 0)
    # Storage options still decrypt with the fixture's key.
    assert storage_options(storages["docs"]) == {"auto_mkdir": "true"}
    assert storage_options(storages["own"]) == {"auto_mkdir": "false"}
    # The admin key made "docs", the tenant key "own" (from the audit trail).
    assert (storages["docs"].operator_owned, storages["own"].operator_owned) == (True, False)


async def test_editors_are_operator_owned_only_when_an_admin_made_them(released: AsyncEngine) -> None:
    """The first release let tenant keys add editors with any discovery URL: only the pool's (admin
    only) and those the audit trail shows an admin key adding escape the egress policy."""
    async with released.begin() as conn:
        keys = dict((await conn.execute(text("SELECT role, id FROM api_keys"))).all())
        for editor_id, tenant, name, actor in [(1, "", "pool", None), (2, "acme", "by-admin", keys["admin"]),
                                               (3, "acme", "by-tenant", keys["tenant"])]:
            await conn.execute(text(
                "INSERT INTO editors (id, tenant_id, name, discovery_url, proof_policy, discovery_xml, product, "
                "fetch_time, discovery_error, create_time) VALUES (:id, :tenant, :name, 'https://e.test/d', "
                "'off', '', '', 0, '', 0)"), {"id": editor_id, "tenant": tenant, "name": name})
            if actor:
                await conn.execute(text(
                    "INSERT INTO audit_events (time, tenant_id, actor, operation, outcome, status, detail, "
                    "version_before, version_after, lock_hash, editor, client_address, correlation_id, "
                    "previous_hash, hash) VALUES (0, :tenant, :actor, 'CreateEditor', 'ok', 0, :detail, 0, 0, "
                    "'', '', '', '', '', '')"),
                    {"tenant": tenant, "actor": f"key:{actor}", "detail": f"editor={name} url=https://e.test/d"})
    await ensure_schema(released, migrate=True, box=FIXTURE_BOX)
    async with released.connect() as conn:
        owned = dict((await conn.execute(text("SELECT name, operator_owned FROM editors"))).all())
    assert owned == {"pool": True, "by-admin": True, "by-tenant": False}


async def test_upgrade_encrypts_the_released_plain_webhook_secret(released: AsyncEngine) -> None:
    async with released.connect() as conn:
        assert (await conn.execute(text("SELECT webhook_secret FROM tenants"))).scalar() == "plain-webhook-secret"
    await ensure_schema(released, migrate=True, box=FIXTURE_BOX)
    async with released.connect() as conn:
        stored = str((await conn.execute(text("SELECT webhook_secret FROM tenants"))).scalar())
    assert stored.startswith("gAAAAA") and FIXTURE_BOX.decrypt(stored) == "plain-webhook-secret"
    async with session_factory(released)() as db:
        assert (await db.exec(select(Tenant))).one().webhook_secret == "plain-webhook-secret"


async def test_upgraded_audit_chains_still_verify(released: AsyncEngine) -> None:
    await ensure_schema(released, migrate=True, box=FIXTURE_BOX)
    ctx = ServiceContext(sessions=session_factory(released), wopi_base_url="http://wopi.test")
    async with session_factory(released)() as db:
        chains = [h.tenant_id for h in (await db.exec(select(AuditChainHead)))]
    assert chains
    for chain in chains:
        report = await verify_chain(ctx, chain)
        assert report.ok and report.checked > 0, (chain, report)


async def test_outdated_schema_is_refused_and_left_untouched(released: AsyncEngine) -> None:
    with pytest.raises(SchemaVersionError) as refused:
        await ensure_schema(released, migrate=False, box=FIXTURE_BOX)
    assert str(refused.value) == (f"the database schema is at revision {BASELINE}, this release needs "
                                  f"{head_revision()}: run `wopi-proxy db upgrade` or start with --migrate")
    assert "alembic_version" not in await _tables(released)
    assert "incarnation" not in await _columns(released, "tenants")


async def test_upgrade_with_another_key_is_rolled_back_whole(released: AsyncEngine) -> None:
    """The webhook secret would be encrypted with a key that cannot read the storage options."""
    another = SecretBox(Fernet(Fernet.generate_key()), "another key")
    with pytest.raises(SecretKeyError):
        await upgrade(released, another)
    state = await read_state(released)
    assert state.legacy and state.current == BASELINE
    assert "alembic_version" not in await _tables(released)
    assert "incarnation" not in await _columns(released, "tenants")


async def test_empty_database_gets_the_schema_without_migrate(empty_url: str) -> None:
    engine = create_engine(empty_url)
    try:
        await ensure_schema(engine, migrate=False)
        assert (await read_state(engine)).up_to_date
    finally:
        await engine.dispose()


def test_head_is_the_newest_revision_alembic_finds() -> None:
    """A start recognises an up-to-date database by HEAD without loading Alembic: a new revision
    must move it."""
    assert HEAD == head_revision()


async def test_an_empty_database_is_stamped_at_head_as_alembic_reads_it(empty_url: str) -> None:
    engine = create_engine(empty_url)
    try:
        await ensure_schema(engine, migrate=False)
        async with engine.connect() as conn:
            current = await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    finally:
        await engine.dispose()
    assert current == head_revision()


def _schema(url: str) -> dict[str, Any]:
    """Every table as the database describes it: columns (type, nullability, default), primary
    key, foreign keys, indexes, unique and check constraints. Not the columns' order: a revision
    that adds one puts it last, the model where it reads best, and no statement reads by position."""
    engine = create_sync_engine(url.replace("sqlite+aiosqlite://", "sqlite://"))
    try:
        found = inspect(engine)
        schema: dict[str, Any] = {}
        for table in sorted(found.get_table_names()):
            schema[table] = {
                "columns": sorted((c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                                  for c in found.get_columns(table)),
                "primary key": found.get_pk_constraint(table)["constrained_columns"],
                "foreign keys": sorted((f["constrained_columns"], f["referred_table"], f["referred_columns"],
                                        sorted((f.get("options") or {}).items())) for f in found.get_foreign_keys(table)),
                "indexes": sorted((i["name"], i["column_names"], bool(i["unique"])) for i in found.get_indexes(table)),
                "unique": sorted(sorted(u["column_names"]) for u in found.get_unique_constraints(table)),
                "checks": sorted(str(c["sqltext"]) for c in found.get_check_constraints(table)),
            }
        return schema
    finally:
        engine.dispose()


def _second_database(url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if url.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{tmp_path}/replayed.db"
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    name = "m_" + secrets.token_hex(6)
    with cluster.admin_connection() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    request.addfinalizer(lambda: _drop(cluster, name))
    return cluster.url(name)


def _drop(cluster: PostgresCluster, name: str) -> None:
    with cluster.admin_connection() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def test_an_empty_database_gets_the_schema_its_revisions_make(
        empty_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """A new database is made from the models and stamped at head; one upgraded revision by revision
    must end with the same tables, column for column, key for key and index for index."""
    engine = create_engine(empty_url)
    try:
        assert (await upgrade(engine)).current is None
    finally:
        await engine.dispose()
    replayed_url = _second_database(empty_url, request, tmp_path)
    replayed = create_sync_engine(replayed_url.replace("sqlite+aiosqlite://", "sqlite://"))
    try:
        with replayed.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
    finally:
        replayed.dispose()
    made, upgraded = _schema(empty_url), _schema(replayed_url)
    assert made.keys() == upgraded.keys()
    for table in made:
        assert made[table] == upgraded[table], table
    assert (await _version(empty_url)) == head_revision()


async def _version(url: str) -> str:
    engine = create_engine(url)
    try:
        return (await read_state(engine)).current or ""
    finally:
        await engine.dispose()


async def test_schema_of_a_newer_release_is_refused(empty_url: str) -> None:
    engine = create_engine(empty_url)
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        for migrate in (False, True):
            with pytest.raises(SchemaVersionError, match="revision 9999, which this release does not know"):
                await ensure_schema(engine, migrate=migrate)
    finally:
        await engine.dispose()


async def test_database_with_only_some_of_our_tables_is_refused(empty_url: str) -> None:
    engine = create_engine(empty_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE tenants (id VARCHAR(63) PRIMARY KEY)"))
        with pytest.raises(SchemaVersionError, match="some of wopi-proxy's tables but not all"):
            await ensure_schema(engine, migrate=True)
    finally:
        await engine.dispose()


async def test_concurrent_upgrades_run_the_migrations_once(released_url: str) -> None:
    """Two control planes starting with --migrate on one database: one upgrades, the other waits
    on the lock and finds the schema current."""
    engines = [create_engine(released_url) for _ in range(2)]
    try:
        befores = await asyncio.gather(*(upgrade(e, FIXTURE_BOX) for e in engines))
        assert sorted(b.legacy for b in befores) == [False, True]
        assert (await read_state(engines[0])).up_to_date
    finally:
        for engine in engines:
            await engine.dispose()


# -- pytest-alembic: the migrations and the models describe one schema --------------------------


@pytest.fixture(name="alembic_config")
def alembic_config_fixture() -> Config:
    return alembic_config()


@pytest.fixture
def alembic_engine(empty_url: str) -> Iterator[Engine]:
    """pytest-alembic drives a synchronous engine (pysqlite, psycopg)."""
    url = empty_url.replace("sqlite+aiosqlite://", "sqlite://")
    engine = create_sync_engine(url)
    yield engine
    engine.dispose()
