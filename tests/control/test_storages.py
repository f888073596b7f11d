"""StorageService's core (control.services.storages): named, reachable roots inside one tenant."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlmodel import col, select

from control.db import pages
from control.db.models import AuditEvent, SessionEvent, Storage, Tenant
from control.services import sessions, storages
from control.services.context import Principal, ServiceContext
from shared.errors import (
    FailedPrecondition,
    InvalidArgument,
    StorageAlreadyExists,
    StorageNotFound,
    StorageUnreachable,
    TenantNotFound,
)
from tests.control.helpers import OTHER_TENANT, START_MS, STORAGE, TENANT, OpenSession, outcomes


async def _create(ctx: ServiceContext, principal: Principal, root: Path, *, tenant_id: str = TENANT,
                  name: str = STORAGE, protocol: str = "file",
                  options: dict[str, str] | None = None) -> Storage:
    return await storages.create_storage(ctx, principal, tenant_id=tenant_id, name=name, protocol=protocol,
                                         root=str(root), options=options or {})


async def test_create_storage_keeps_its_fields(
    ctx: ServiceContext, admin: Principal, acme: Tenant, storage_root: Path
) -> None:
    row = await _create(ctx, admin, storage_root, options={"auto_mkdir": "false"})

    assert (row.tenant_id, row.name, row.protocol, row.root) == (TENANT, STORAGE, "file", str(storage_root))
    assert storages.storage_options(row) == {"auto_mkdir": "false"}
    assert row.create_time == START_MS


async def test_get_storage_returns_what_was_created(
    ctx: ServiceContext, admin: Principal, docs: Storage, storage_root: Path
) -> None:
    row = await storages.get_storage(ctx, admin, tenant_id=TENANT, name=STORAGE)

    assert (row.id, row.name, row.root) == (docs.id, STORAGE, str(storage_root))


async def test_an_empty_protocol_means_a_local_folder(
    ctx: ServiceContext, admin: Principal, acme: Tenant, storage_root: Path
) -> None:
    row = await _create(ctx, admin, storage_root, protocol="")

    assert row.protocol == "file"


async def test_get_unknown_storage_is_storage_not_found(
    ctx: ServiceContext, admin: Principal, acme: Tenant
) -> None:
    with pytest.raises(StorageNotFound):
        await storages.get_storage(ctx, admin, tenant_id=TENANT, name="nothing")


async def test_create_duplicate_storage_name_is_already_exists(
    ctx: ServiceContext, admin: Principal, docs: Storage, storage_root: Path
) -> None:
    with pytest.raises(StorageAlreadyExists):
        await _create(ctx, admin, storage_root)


async def test_the_same_storage_name_may_be_used_by_another_tenant(
    ctx: ServiceContext, admin: Principal, docs: Storage, globex: Tenant, storage_root: Path
) -> None:
    row = await _create(ctx, admin, storage_root, tenant_id=OTHER_TENANT)

    assert (row.tenant_id, row.name) == (OTHER_TENANT, STORAGE)


async def test_concurrent_creates_of_one_storage_let_exactly_one_win(
    ctx: ServiceContext, admin: Principal, acme: Tenant, storage_root: Path
) -> None:
    results = await asyncio.gather(*(_create(ctx, admin, storage_root) for _ in range(8)),
                                   return_exceptions=True)

    assert sum(isinstance(r, Storage) for r in results) == 1
    assert all(isinstance(r, StorageAlreadyExists) for r in results if not isinstance(r, Storage))


async def test_create_storage_on_a_missing_folder_is_storage_unreachable_and_stores_nothing(
    ctx: ServiceContext, admin: Principal, acme: Tenant, tmp_path: Path
) -> None:
    with pytest.raises(StorageUnreachable):
        await _create(ctx, admin, tmp_path / "does-not-exist")

    assert await storages.list_storages(ctx, admin, tenant_id=TENANT, page_size=0, page_token="") == ([], "")


async def test_create_storage_on_a_file_is_storage_unreachable(
    ctx: ServiceContext, admin: Principal, acme: Tenant, storage_root: Path
) -> None:
    with pytest.raises(StorageUnreachable):
        await _create(ctx, admin, storage_root / "doc.docx")


async def test_a_local_storage_root_must_be_absolute(
    ctx: ServiceContext, admin: Principal, acme: Tenant
) -> None:
    relative = ["relative/folder", "./storage", "storage", "~/storage"]

    results = await outcomes(relative, lambda root: storages.create_storage(
        ctx, admin, tenant_id=TENANT, name=STORAGE, protocol="file", root=root, options={}))

    assert results == dict.fromkeys(relative, "InvalidArgument:root")


async def test_create_storage_with_a_malformed_name_is_invalid_argument(
    ctx: ServiceContext, admin: Principal, acme: Tenant, storage_root: Path
) -> None:
    malformed = ["", "Docs", "-docs", "my docs", "d" * 64, "docs/x"]

    results = await outcomes(malformed, lambda name: _create(ctx, admin, storage_root, name=name))

    assert results == dict.fromkeys(malformed, "InvalidArgument:name")


async def test_create_storage_with_a_malformed_protocol_is_invalid_argument(
    ctx: ServiceContext, admin: Principal, acme: Tenant, storage_root: Path
) -> None:
    malformed = ["FILE", "1file", "fi le", "p" * 33]

    results = await outcomes(malformed, lambda protocol: _create(ctx, admin, storage_root, protocol=protocol))

    assert results == dict.fromkeys(malformed, "InvalidArgument:protocol")


async def test_create_storage_in_an_unknown_tenant_is_tenant_not_found(
    ctx: ServiceContext, admin: Principal, storage_root: Path
) -> None:
    with pytest.raises(TenantNotFound):
        await _create(ctx, admin, storage_root, tenant_id="nobody")


# -- tenant keys ----------------------------------------------------------------------------------


async def test_a_tenant_key_creates_storages_in_its_own_tenant(
    ctx: ServiceContext, acme_key: Principal, acme: Tenant, tenant_root: Path
) -> None:
    row = await _create(ctx, acme_key, tenant_root)

    assert row.tenant_id == TENANT
    assert row.operator_owned is False


async def test_a_tenant_key_cannot_create_a_storage_in_another_tenant(
    ctx: ServiceContext, acme_key: Principal, acme: Tenant, globex: Tenant, storage_root: Path
) -> None:
    with pytest.raises(TenantNotFound):
        await _create(ctx, acme_key, storage_root, tenant_id=OTHER_TENANT)


async def test_a_tenant_key_learns_nothing_about_other_tenants_from_create_storage(
    ctx: ServiceContext, acme_key: Principal, acme: Tenant, globex: Tenant, tmp_path: Path
) -> None:
    # An existing and a missing tenant answer alike, and the root is never probed for a foreign tenant.
    with pytest.raises(TenantNotFound) as existing:
        await _create(ctx, acme_key, tmp_path / "missing", tenant_id=OTHER_TENANT)
    with pytest.raises(TenantNotFound) as missing:
        await _create(ctx, acme_key, tmp_path / "missing", tenant_id="nobody")
    assert type(existing.value) is type(missing.value)


async def test_a_tenant_key_cannot_get_another_tenants_storage(
    ctx: ServiceContext, admin: Principal, globex_key: Principal, docs: Storage, globex: Tenant
) -> None:
    with pytest.raises(TenantNotFound):
        await storages.get_storage(ctx, globex_key, tenant_id=TENANT, name=STORAGE)


async def test_a_tenant_key_cannot_list_another_tenants_storages(
    ctx: ServiceContext, globex_key: Principal, docs: Storage, globex: Tenant
) -> None:
    with pytest.raises(TenantNotFound):
        await storages.list_storages(ctx, globex_key, tenant_id=TENANT, page_size=0, page_token="")


async def test_a_tenant_key_gets_its_own_storage(
    ctx: ServiceContext, acme_key: Principal, docs: Storage
) -> None:
    row = await storages.get_storage(ctx, acme_key, tenant_id=TENANT, name=STORAGE)

    assert row.id == docs.id


# -- listing ------------------------------------------------------------------------------------


async def _create_named(
    ctx: ServiceContext, admin: Principal, root: Path, tenant_id: str, *names: str
) -> None:
    for name in names:
        await _create(ctx, admin, root, tenant_id=tenant_id, name=name)


async def test_list_storages_shows_only_the_tenants_own_storages_by_name(
    ctx: ServiceContext, admin: Principal, acme: Tenant, globex: Tenant, storage_root: Path
) -> None:
    await _create_named(ctx, admin, storage_root, TENANT, "zeta", "alpha", "mid")
    await _create_named(ctx, admin, storage_root, OTHER_TENANT, "beta")

    rows, token = await storages.list_storages(ctx, admin, tenant_id=TENANT, page_size=0, page_token="")

    assert [r.name for r in rows] == ["alpha", "mid", "zeta"]
    assert token == ""


async def test_list_storages_pages_through_every_storage_once(
    ctx: ServiceContext, admin: Principal, acme: Tenant, storage_root: Path
) -> None:
    names = [f"s{i}" for i in range(5)]
    await _create_named(ctx, admin, storage_root, TENANT, *reversed(names))

    first, token = await storages.list_storages(ctx, admin, tenant_id=TENANT, page_size=2, page_token="")
    second, token2 = await storages.list_storages(ctx, admin, tenant_id=TENANT, page_size=2, page_token=token)
    third, token3 = await storages.list_storages(ctx, admin, tenant_id=TENANT, page_size=2, page_token=token2)

    assert [[r.name for r in page] for page in (first, second, third)] == [names[0:2], names[2:4], names[4:5]]
    assert token and token2 and token3 == ""


async def test_list_storages_of_an_unknown_tenant_is_tenant_not_found(
    ctx: ServiceContext, admin: Principal
) -> None:
    with pytest.raises(TenantNotFound):
        await storages.list_storages(ctx, admin, tenant_id="nobody", page_size=0, page_token="")


async def test_list_storages_with_a_negative_page_size_is_invalid_argument(
    ctx: ServiceContext, admin: Principal, acme: Tenant
) -> None:
    with pytest.raises(InvalidArgument) as raised:
        await storages.list_storages(ctx, admin, tenant_id=TENANT, page_size=-5, page_token="")
    assert raised.value.field == "page_size"


async def test_list_storages_with_a_foreign_page_token_is_invalid_argument(
    ctx: ServiceContext, admin: Principal, acme: Tenant
) -> None:
    foreign = ["garbage", pages.encode(7), pages.encode({"name": "docs"}), pages.encode(["docs"])]

    results = await outcomes(foreign, lambda token: storages.list_storages(
        ctx, admin, tenant_id=TENANT, page_size=0, page_token=token))

    assert results == dict.fromkeys(foreign, "InvalidArgument:page_token")


async def test_a_forced_delete_ends_each_open_session_with_its_closed_event_and_record(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, storage_root: Path,
) -> None:
    """Applications watching the tenant's events (or its webhook) learn that their editors'
    sessions are over, as after CloseSession."""
    (storage_root / "a.docx").write_bytes(b"a")
    opened = [await open_session(path="a.docx"), await open_session(path="a.docx", user_id="u-2")]
    closed_before = await open_session(path="a.docx", user_id="u-3")
    await sessions.close_session(ctx, admin, session_id=closed_before.session.row.id)

    await storages.delete_storage(ctx, admin, tenant_id=TENANT, name=STORAGE, force=True)

    async with ctx.sessions() as db:
        closed = (await db.exec(select(SessionEvent.session_id).where(SessionEvent.type == "closed"))).all()
        records = (await db.exec(select(AuditEvent.session_id).where(
            AuditEvent.operation == "CloseSession", col(AuditEvent.detail).contains("storage")))).all()
    ended = sorted(o.session.row.id for o in opened)
    assert sorted(closed) == sorted([*ended, closed_before.session.row.id])  # one "closed" each, none twice
    assert sorted(records) == ended


async def test_an_update_whose_storage_was_made_again_meanwhile_changes_nothing(
    ctx: ServiceContext, admin: Principal, acme: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Attack: an update (a tenant key's, checked under the tenant policy) waits in its
    reachability probe, which a slow endpoint of the tenant's holds for seconds, while the
    operator deletes the storage and makes it again under the same name: the update, checked
    against the old row, must not overwrite the new one."""
    from tests.control.test_deleted_records import Gate

    tenant_root, operator_root, elsewhere = tmp_path / "t", tmp_path / "op", tmp_path / "t2"
    for folder in (tenant_root, operator_root, elsewhere):
        folder.mkdir()
    await _create(ctx, admin, tenant_root)
    gate = Gate(monkeypatch, storages, "_probe", "update")
    update = asyncio.create_task(storages.update_storage(
        ctx, admin, tenant_id=TENANT, name=STORAGE, paths=["root"], root=str(elsewhere)), name="update")
    await asyncio.wait_for(gate.reached.wait(), 60)
    await storages.delete_storage(ctx, admin, tenant_id=TENANT, name=STORAGE, force=True)
    remade = await _create(ctx, admin, operator_root, options={"auto_mkdir": "false"})
    gate.release.set()

    with pytest.raises(FailedPrecondition) as refused:
        await asyncio.wait_for(update, 60)
    assert refused.value.reason == "STORAGE_CHANGED"
    now = await storages.get_storage(ctx, admin, tenant_id=TENANT, name=STORAGE)
    assert (now.id, now.root) == (remade.id, str(operator_root))
