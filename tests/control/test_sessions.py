"""SessionService's core (control.services.sessions): one user, one file, one access token."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from sqlmodel import select

from control.db import pages
from control.db.models import File, Session, Tenant
from control.services import sessions, storages
from control.services.context import Principal, ServiceContext
from shared.errors import (
    FileNotFound,
    InvalidArgument,
    PathOutsideRoot,
    SessionNotFound,
    StorageNotFound,
    TenantDisabled,
    TenantNotFound,
)
from tests.control.helpers import (
    OTHER_TENANT,
    START_MS,
    STORAGE,
    TENANT,
    FakeClock,
    OpenSession,
    disable_tenant,
    outcomes,
)

DEFAULT_TTL_MS = 10 * 3600 * 1000


# -- creating -----------------------------------------------------------------------------------


async def test_a_new_session_is_open_and_describes_its_user_and_file(open_session: OpenSession) -> None:
    opened = await open_session(path="folder/sheet.xlsx", user_id="u-7", user_name="Uma", permission="view")
    row = opened.session.row

    assert opened.session.state == "open"
    assert (row.tenant_id, row.storage_name, row.path) == (TENANT, STORAGE, "folder/sheet.xlsx")
    assert (row.user_id, row.user_name, row.permission) == ("u-7", "Uma", "view")
    assert row.id.startswith("ses_") and row.close_time is None


async def test_the_wopi_src_is_the_edges_url_of_the_file(open_session: OpenSession) -> None:
    opened = await open_session()

    assert opened.session.wopi_src == f"http://wopi.test/wopi/files/{opened.session.row.file_id}"


async def test_the_default_ttl_is_ten_hours_and_access_token_ttl_is_the_absolute_expiry_in_ms(
    open_session: OpenSession,
) -> None:
    opened = await open_session(ttl_seconds=0)

    assert opened.session.row.create_time == START_MS
    assert opened.session.row.expire_time == START_MS + DEFAULT_TTL_MS
    assert opened.access_token_ttl == START_MS + DEFAULT_TTL_MS


async def test_an_empty_user_name_defaults_to_the_user_id(open_session: OpenSession) -> None:
    opened = await open_session(user_id="u-9", user_name="")

    assert opened.session.row.user_name == "u-9"


async def test_the_access_token_is_kept_only_as_a_hash(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    opened = await open_session()

    async with ctx.sessions() as db:
        row = (await db.exec(select(Session).where(Session.id == opened.session.row.id))).one()
    assert len(opened.access_token) >= 43  # 256 random bits
    assert opened.access_token not in [str(v) for v in row.model_dump().values()]


async def test_sessions_on_the_same_file_share_the_file_id_but_not_the_token(
    open_session: OpenSession
) -> None:
    first = await open_session(user_id="u-1")
    second = await open_session(user_id="u-2", permission="view")

    assert first.session.row.file_id == second.session.row.file_id
    assert first.access_token != second.access_token
    assert first.session.row.id != second.session.row.id


async def test_the_file_id_survives_closing_every_session(ctx: ServiceContext, admin: Principal,
                                                          open_session: OpenSession) -> None:
    first = await open_session()
    await sessions.close_session(ctx, admin, session_id=first.session.row.id)

    later = await open_session()

    assert later.session.row.file_id == first.session.row.file_id


async def test_spellings_of_one_path_share_the_file_id(open_session: OpenSession) -> None:
    canonical = await open_session(path="folder/sheet.xlsx")

    for spelling in ["folder//sheet.xlsx", "./folder/sheet.xlsx", "folder/./sheet.xlsx/"]:
        other = await open_session(path=spelling)
        assert other.session.row.path == "folder/sheet.xlsx", spelling
        assert other.session.row.file_id == canonical.session.row.file_id, spelling


async def test_different_files_have_different_file_ids(open_session: OpenSession) -> None:
    doc = await open_session(path="doc.docx")
    sheet = await open_session(path="folder/sheet.xlsx")

    assert doc.session.row.file_id != sheet.session.row.file_id


async def test_the_same_path_in_another_storage_is_another_file(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, storage_root: Path
) -> None:
    await storages.create_storage(ctx, admin, tenant_id=TENANT, name="mirror", protocol="file",
                                  root=str(storage_root), options={})

    in_docs = await open_session(storage_name=STORAGE)
    in_mirror = await open_session(storage_name="mirror")

    assert in_docs.session.row.file_id != in_mirror.session.row.file_id


async def test_concurrent_first_sessions_on_a_file_agree_on_one_file_id(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    opened = await asyncio.gather(*(open_session(user_id=f"u-{i}") for i in range(10)))

    assert len({o.session.row.file_id for o in opened}) == 1
    async with ctx.sessions() as db:
        assert len((await db.exec(select(File))).all()) == 1


async def test_a_missing_file_is_file_not_found(open_session: OpenSession) -> None:
    with pytest.raises(FileNotFound):
        await open_session(path="nothing-here.docx")


async def test_a_folder_is_not_a_file(open_session: OpenSession) -> None:
    with pytest.raises(FileNotFound):
        await open_session(path="empty")


async def test_a_failed_create_session_leaves_no_file_identity_behind(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    with pytest.raises(FileNotFound):
        await open_session(path="nothing-here.docx")

    async with ctx.sessions() as db:
        assert (await db.exec(select(File))).all() == []


async def test_an_unknown_storage_is_storage_not_found(open_session: OpenSession) -> None:
    with pytest.raises(StorageNotFound):
        await open_session(storage_name="nothing")


async def test_an_unknown_tenant_is_tenant_not_found(open_session: OpenSession) -> None:
    with pytest.raises(TenantNotFound):
        await open_session(tenant_id="nobody")


async def test_a_disabled_tenant_cannot_open_sessions(ctx: ServiceContext, open_session: OpenSession) -> None:
    await disable_tenant(ctx, TENANT)

    with pytest.raises(TenantDisabled):
        await open_session()


async def test_a_tenant_key_opens_sessions_in_its_own_tenant(
    open_session: OpenSession, acme_key: Principal
) -> None:
    opened = await open_session(principal=acme_key)

    assert opened.session.row.tenant_id == TENANT


async def test_a_tenant_key_cannot_open_sessions_in_another_tenant(
    open_session: OpenSession, globex_key: Principal, globex: Tenant
) -> None:
    with pytest.raises(TenantNotFound):
        await open_session(principal=globex_key)


# -- paths that leave the root ------------------------------------------------------------------


async def test_a_path_leaving_the_storage_root_is_path_outside_root(open_session: OpenSession) -> None:
    leaving = ["../x", "/etc/passwd", "/", "folder/../../x", "..", "folder/../doc.docx", "C:/Windows/win.ini"]

    results = await outcomes(leaving, lambda path: open_session(path=path))

    assert results == dict.fromkeys(leaving, "PathOutsideRoot:path")


async def test_a_symlink_to_a_file_outside_the_root_is_path_outside_root(
    open_session: OpenSession, storage_root: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "outside.docx"
    secret.write_bytes(b"secret")
    os.symlink(secret, storage_root / "link.docx")

    with pytest.raises(PathOutsideRoot):
        await open_session(path="link.docx")


async def test_a_symlinked_folder_outside_the_root_is_path_outside_root(
    open_session: OpenSession, storage_root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.docx").write_bytes(b"secret")
    os.symlink(outside, storage_root / "escape")

    with pytest.raises(PathOutsideRoot):
        await open_session(path="escape/secret.docx")


async def test_a_symlink_that_stays_inside_the_root_is_followed(
    open_session: OpenSession, storage_root: Path
) -> None:
    os.symlink(storage_root / "doc.docx", storage_root / "alias.docx")

    opened = await open_session(path="alias.docx")

    assert opened.session.state == "open"


async def test_a_malformed_path_is_invalid_argument(open_session: OpenSession) -> None:
    malformed = {
        "empty": "", "backslash": "folder\\sheet.xlsx", "nul": "bad\x00name.docx", "only a dot": "./",
        "too long": "x" * 1025, "segment too long": "s" * 256 + ".docx",
        "reserved versions folder": ".wopi-versions/f/1",
        "reserved temporary object": "folder/.~wopi-0123.tmp",
    }

    results = await outcomes(malformed, lambda label: open_session(path=malformed[label]))

    assert results == dict.fromkeys(malformed, "InvalidArgument:path")


# -- other arguments ----------------------------------------------------------------------------


async def test_a_ttl_outside_one_minute_to_seven_days_is_invalid_argument(open_session: OpenSession) -> None:
    outside = [-1, 1, 59, 604_801, 2**62]

    results = await outcomes(outside, lambda ttl: open_session(ttl_seconds=ttl))

    assert results == dict.fromkeys(outside, "InvalidArgument:ttl_seconds")


async def test_a_ttl_sets_the_expiry_that_many_seconds_ahead(open_session: OpenSession) -> None:
    for ttl_seconds in [60, 3600, 604_800]:
        opened = await open_session(ttl_seconds=ttl_seconds)
        assert opened.session.row.expire_time == START_MS + ttl_seconds * 1000, ttl_seconds


async def test_a_permission_other_than_view_or_edit_is_invalid_argument(open_session: OpenSession) -> None:
    others = ["", "admin", "EDIT", "write"]

    results = await outcomes(others, lambda permission: open_session(permission=permission))

    assert results == dict.fromkeys(others, "InvalidArgument:permission")


async def test_a_bad_user_id_is_invalid_argument(open_session: OpenSession) -> None:
    bad = ["", "  ", "u" * 257, "tab\there"]

    results = await outcomes(bad, lambda user_id: open_session(user_id=user_id))

    assert results == dict.fromkeys(bad, "InvalidArgument:user_id")


async def test_user_id_and_name_of_256_characters_are_stored_whole(open_session: OpenSession) -> None:
    opened = await open_session(user_id="u" * 256, user_name="ü" * 256)

    assert opened.session.row.user_id == "u" * 256
    assert opened.session.row.user_name == "ü" * 256


# -- reading, closing, expiring -----------------------------------------------------------------


async def test_get_session_returns_the_session(ctx: ServiceContext, admin: Principal,
                                               open_session: OpenSession) -> None:
    opened = await open_session()

    got = await sessions.get_session(ctx, admin, session_id=opened.session.row.id)

    assert got.row.model_dump() == opened.session.row.model_dump()
    assert (got.state, got.wopi_src) == ("open", opened.session.wopi_src)


async def test_get_unknown_session_is_session_not_found(ctx: ServiceContext, admin: Principal) -> None:
    with pytest.raises(SessionNotFound):
        await sessions.get_session(ctx, admin, session_id="ses_nothing")


async def test_a_tenant_key_cannot_see_another_tenants_session(
    ctx: ServiceContext, globex_key: Principal, open_session: OpenSession
) -> None:
    opened = await open_session()

    with pytest.raises(SessionNotFound):
        await sessions.get_session(ctx, globex_key, session_id=opened.session.row.id)


async def test_a_tenant_key_sees_its_own_session(
    ctx: ServiceContext, acme_key: Principal, open_session: OpenSession
) -> None:
    opened = await open_session()

    got = await sessions.get_session(ctx, acme_key, session_id=opened.session.row.id)

    assert got.row.id == opened.session.row.id


async def test_closing_a_session_stamps_the_close_time(
    ctx: ServiceContext, admin: Principal, clock: FakeClock, open_session: OpenSession
) -> None:
    opened = await open_session()
    clock.advance(seconds=30)

    closed = await sessions.close_session(ctx, admin, session_id=opened.session.row.id)

    assert closed.state == "closed"
    assert closed.row.close_time == START_MS + 30_000
    assert (await sessions.get_session(ctx, admin, session_id=opened.session.row.id)).state == "closed"


async def test_closing_a_closed_session_is_a_no_op(ctx: ServiceContext, admin: Principal, clock: FakeClock,
                                                   open_session: OpenSession) -> None:
    opened = await open_session()
    await sessions.close_session(ctx, admin, session_id=opened.session.row.id)
    clock.advance(seconds=30)

    again = await sessions.close_session(ctx, admin, session_id=opened.session.row.id)

    assert again.state == "closed"
    assert again.row.close_time == START_MS


async def test_close_unknown_session_is_session_not_found(ctx: ServiceContext, admin: Principal) -> None:
    with pytest.raises(SessionNotFound):
        await sessions.close_session(ctx, admin, session_id="ses_nothing")


async def test_a_tenant_key_cannot_close_another_tenants_session(
    ctx: ServiceContext, admin: Principal, globex_key: Principal, open_session: OpenSession
) -> None:
    opened = await open_session()

    with pytest.raises(SessionNotFound):
        await sessions.close_session(ctx, globex_key, session_id=opened.session.row.id)
    assert (await sessions.get_session(ctx, admin, session_id=opened.session.row.id)).state == "open"


async def test_a_session_is_open_until_the_last_millisecond_of_its_ttl(
    ctx: ServiceContext, admin: Principal, clock: FakeClock, open_session: OpenSession
) -> None:
    opened = await open_session(ttl_seconds=60)

    clock.advance(seconds=60, ms=-1)
    assert (await sessions.get_session(ctx, admin, session_id=opened.session.row.id)).state == "open"
    clock.advance(ms=1)
    assert (await sessions.get_session(ctx, admin, session_id=opened.session.row.id)).state == "expired"


async def test_a_closed_session_stays_closed_after_its_expiry(
    ctx: ServiceContext, admin: Principal, clock: FakeClock, open_session: OpenSession
) -> None:
    opened = await open_session(ttl_seconds=60)
    await sessions.close_session(ctx, admin, session_id=opened.session.row.id)

    clock.advance(seconds=3600)

    assert (await sessions.get_session(ctx, admin, session_id=opened.session.row.id)).state == "closed"


# -- listing ------------------------------------------------------------------------------------


async def test_list_sessions_returns_the_newest_first(
    ctx: ServiceContext, admin: Principal, clock: FakeClock, open_session: OpenSession
) -> None:
    ids = []
    for _ in range(3):
        ids.append((await open_session()).session.row.id)
        clock.advance(seconds=1)

    rows, token = await sessions.list_sessions(ctx, admin, tenant_id="", page_size=0, page_token="")

    assert [s.row.id for s in rows] == list(reversed(ids))
    assert token == ""


async def test_list_sessions_pages_through_sessions_opened_in_the_same_millisecond_once_each(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession
) -> None:
    opened = {(await open_session()).session.row.id for _ in range(7)}

    seen: list[str] = []
    token = ""
    while True:
        rows, token = await sessions.list_sessions(ctx, admin, tenant_id=TENANT, page_size=3,
                                                   page_token=token)
        assert len(rows) <= 3
        seen += [s.row.id for s in rows]
        if not token:
            break

    assert sorted(seen) == sorted(opened)


async def test_list_sessions_reports_each_sessions_state(
    ctx: ServiceContext, admin: Principal, clock: FakeClock, open_session: OpenSession
) -> None:
    short = await open_session(ttl_seconds=60)
    closed = await open_session()
    still_open = await open_session()
    await sessions.close_session(ctx, admin, session_id=closed.session.row.id)
    clock.advance(seconds=61)

    rows, _ = await sessions.list_sessions(ctx, admin, tenant_id="", page_size=0, page_token="")

    states = {s.row.id: s.state for s in rows}
    assert states == {short.session.row.id: "expired", closed.session.row.id: "closed",
                      still_open.session.row.id: "open"}


async def _open_in_both_tenants(ctx: ServiceContext, admin: Principal, open_session: OpenSession,
                                storage_root: Path) -> tuple[str, str]:
    await storages.create_storage(ctx, admin, tenant_id=OTHER_TENANT, name=STORAGE, protocol="file",
                                  root=str(storage_root), options={})
    mine = await open_session()
    theirs = await open_session(tenant_id=OTHER_TENANT)
    return mine.session.row.id, theirs.session.row.id


async def test_a_tenant_key_lists_only_its_own_tenants_sessions(
    ctx: ServiceContext, admin: Principal, acme_key: Principal, globex: Tenant, open_session: OpenSession,
    storage_root: Path,
) -> None:
    mine, _theirs = await _open_in_both_tenants(ctx, admin, open_session, storage_root)

    rows, _ = await sessions.list_sessions(ctx, acme_key, tenant_id="", page_size=0, page_token="")

    assert [s.row.id for s in rows] == [mine]


async def test_a_tenant_key_cannot_list_another_tenants_sessions(
    ctx: ServiceContext, acme_key: Principal, globex: Tenant
) -> None:
    with pytest.raises(TenantNotFound):
        await sessions.list_sessions(ctx, acme_key, tenant_id=OTHER_TENANT, page_size=0, page_token="")


async def test_the_admin_lists_every_tenant_or_one(
    ctx: ServiceContext, admin: Principal, globex: Tenant, open_session: OpenSession, storage_root: Path
) -> None:
    mine, theirs = await _open_in_both_tenants(ctx, admin, open_session, storage_root)

    everyone, _ = await sessions.list_sessions(ctx, admin, tenant_id="", page_size=0, page_token="")
    only_globex, _ = await sessions.list_sessions(ctx, admin, tenant_id=OTHER_TENANT, page_size=0,
                                                  page_token="")

    assert {s.row.id for s in everyone} == {mine, theirs}
    assert [s.row.id for s in only_globex] == [theirs]


async def test_list_sessions_with_a_negative_page_size_is_invalid_argument(
    ctx: ServiceContext, admin: Principal
) -> None:
    with pytest.raises(InvalidArgument) as raised:
        await sessions.list_sessions(ctx, admin, tenant_id="", page_size=-1, page_token="")
    assert raised.value.field == "page_size"


async def test_list_sessions_with_a_foreign_page_token_is_invalid_argument(
    ctx: ServiceContext, admin: Principal
) -> None:
    foreign = ["garbage", pages.encode("ses_x"), pages.encode({}), pages.encode([1, "a", 2]),
               pages.encode([1])]

    results = await outcomes(foreign, lambda token: sessions.list_sessions(
        ctx, admin, tenant_id="", page_size=0, page_token=token))

    assert results == dict.fromkeys(foreign, "InvalidArgument:page_token")


@pytest.mark.parametrize("token", [pages.encode(["ses_x", "ses_y"]), pages.encode([START_MS, 7]),
                                   pages.encode([None, None]), pages.encode([1 << 63, "ses_x"]),
                                   pages.encode([-(1 << 64), "ses_x"])],
                         ids=["strings", "number-id", "nulls", "time-past-int64", "time-below-int64"])
async def test_a_page_token_of_the_right_shape_but_wrong_types_is_invalid_argument(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, token: str
) -> None:
    await open_session()

    with pytest.raises(InvalidArgument) as raised:
        await sessions.list_sessions(ctx, admin, tenant_id="", page_size=0, page_token=token)
    assert raised.value.field == "page_token"


@pytest.mark.parametrize(("field", "value"), [("user_id", "ann\x00"), ("file_id", "f\x00"),
                                              ("created_by_key", "\x00"), ("user_id", "u" * 257),
                                              ("file_id", "f" * 65)],
                         ids=["nul-user", "nul-file", "nul-key", "long-user", "long-file"])
async def test_a_filter_with_a_nul_or_longer_than_any_value_is_invalid_argument(
    ctx: ServiceContext, admin: Principal, field: str, value: str
) -> None:
    """A NUL used to reach PostgreSQL's driver, which refused it as an internal error."""
    with pytest.raises(InvalidArgument) as raised:
        await sessions.list_sessions(ctx, admin, tenant_id="", page_size=0, page_token="", **{field: value})
    assert raised.value.field == field
