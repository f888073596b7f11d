"""TenantService's core (control.services.tenants): admin key only, ids unique, lists paged by id."""

from __future__ import annotations

import asyncio

import pytest

from control.db import pages
from control.services import tenants
from control.services.context import Principal, ServiceContext
from shared.errors import InvalidArgument, PermissionDenied, TenantAlreadyExists, TenantNotFound
from tests.control.helpers import START_MS, FakeClock, outcomes


async def test_create_tenant_returns_an_enabled_tenant_stamped_with_the_clock(
    ctx: ServiceContext, admin: Principal
) -> None:
    tenant = await tenants.create_tenant(ctx, admin, tenant_id="acme", name="Acme Corp")

    assert (tenant.id, tenant.name, tenant.enabled) == ("acme", "Acme Corp", True)
    assert tenant.create_time == START_MS


async def test_get_tenant_returns_what_was_created(
    ctx: ServiceContext, admin: Principal, clock: FakeClock
) -> None:
    clock.advance(seconds=5)
    await tenants.create_tenant(ctx, admin, tenant_id="acme", name="Acme Corp")

    tenant = await tenants.get_tenant(ctx, admin, tenant_id="acme")

    assert (tenant.id, tenant.name, tenant.enabled) == ("acme", "Acme Corp", True)
    assert tenant.create_time == START_MS + 5000


async def test_get_unknown_tenant_is_tenant_not_found(ctx: ServiceContext, admin: Principal) -> None:
    with pytest.raises(TenantNotFound):
        await tenants.get_tenant(ctx, admin, tenant_id="nobody")


async def test_create_duplicate_tenant_is_already_exists(ctx: ServiceContext, admin: Principal) -> None:
    await tenants.create_tenant(ctx, admin, tenant_id="acme", name="Acme")

    with pytest.raises(TenantAlreadyExists):
        await tenants.create_tenant(ctx, admin, tenant_id="acme", name="Acme again")


async def test_concurrent_creates_of_one_tenant_let_exactly_one_win(
    ctx: ServiceContext, admin: Principal
) -> None:
    results = await asyncio.gather(
        *(tenants.create_tenant(ctx, admin, tenant_id="acme", name=f"Acme {i}") for i in range(8)),
        return_exceptions=True,
    )

    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, TenantAlreadyExists) for r in results if isinstance(r, BaseException))


async def test_create_tenant_with_a_malformed_id_is_invalid_argument(
    ctx: ServiceContext, admin: Principal
) -> None:
    malformed = ["", "Acme", "1acme", "-acme", "acme_corp", "acme corp", "a" * 64]

    results = await outcomes(malformed, lambda v: tenants.create_tenant(ctx, admin, tenant_id=v, name="Acme"))

    assert results == dict.fromkeys(malformed, "InvalidArgument:id")


async def test_tenant_id_of_63_characters_is_accepted(ctx: ServiceContext, admin: Principal) -> None:
    tenant_id = "a" + "b-" * 31
    assert len(tenant_id) == 63

    created = await tenants.create_tenant(ctx, admin, tenant_id=tenant_id, name="Long")

    assert created.id == tenant_id


async def test_create_tenant_with_a_bad_name_is_invalid_argument(
    ctx: ServiceContext, admin: Principal
) -> None:
    bad = ["", "   ", "x" * 201, "line\nbreak"]

    results = await outcomes(bad, lambda v: tenants.create_tenant(ctx, admin, tenant_id="acme", name=v))

    assert results == dict.fromkeys(bad, "InvalidArgument:name")


async def test_tenant_keys_may_not_create_tenants(ctx: ServiceContext, acme_key: Principal) -> None:
    with pytest.raises(PermissionDenied):
        await tenants.create_tenant(ctx, acme_key, tenant_id="acme", name="Acme")


async def test_tenant_keys_may_not_get_even_their_own_tenant(
    ctx: ServiceContext, admin: Principal, acme_key: Principal
) -> None:
    await tenants.create_tenant(ctx, admin, tenant_id="acme", name="Acme")

    with pytest.raises(PermissionDenied):
        await tenants.get_tenant(ctx, acme_key, tenant_id="acme")


async def test_tenant_keys_get_the_same_answer_for_existing_and_missing_tenants(
    ctx: ServiceContext, admin: Principal, acme_key: Principal
) -> None:
    await tenants.create_tenant(ctx, admin, tenant_id="globex", name="Globex")

    with pytest.raises(PermissionDenied) as existing:
        await tenants.get_tenant(ctx, acme_key, tenant_id="globex")
    with pytest.raises(PermissionDenied) as missing:
        await tenants.get_tenant(ctx, acme_key, tenant_id="nobody")
    assert existing.value.message == missing.value.message


async def test_tenant_keys_may_not_list_tenants(ctx: ServiceContext, acme_key: Principal) -> None:
    with pytest.raises(PermissionDenied):
        await tenants.list_tenants(ctx, acme_key, page_size=0, page_token="")


# -- listing ------------------------------------------------------------------------------------


async def _create(ctx: ServiceContext, admin: Principal, *ids: str) -> None:
    for tenant_id in ids:
        await tenants.create_tenant(ctx, admin, tenant_id=tenant_id, name=tenant_id.title())


async def test_list_tenants_of_an_empty_deployment_is_empty_with_no_next_page(
    ctx: ServiceContext, admin: Principal
) -> None:
    assert await tenants.list_tenants(ctx, admin, page_size=0, page_token="") == ([], "")


async def test_list_tenants_orders_by_id(ctx: ServiceContext, admin: Principal) -> None:
    await _create(ctx, admin, "delta", "alpha", "charlie", "bravo")

    rows, token = await tenants.list_tenants(ctx, admin, page_size=0, page_token="")

    assert [t.id for t in rows] == ["alpha", "bravo", "charlie", "delta"]
    assert token == ""


async def test_list_tenants_pages_through_every_tenant_once(ctx: ServiceContext, admin: Principal) -> None:
    ids = [f"t{i:02d}" for i in range(7)]
    await _create(ctx, admin, *reversed(ids))

    seen: list[list[str]] = []
    token = ""
    while True:
        rows, token = await tenants.list_tenants(ctx, admin, page_size=3, page_token=token)
        seen.append([t.id for t in rows])
        if not token:
            break

    assert seen == [ids[0:3], ids[3:6], ids[6:7]]


async def test_a_full_last_page_has_no_next_page_token(ctx: ServiceContext, admin: Principal) -> None:
    await _create(ctx, admin, "alpha", "bravo", "charlie", "delta")

    first, token = await tenants.list_tenants(ctx, admin, page_size=2, page_token="")
    second, last_token = await tenants.list_tenants(ctx, admin, page_size=2, page_token=token)

    assert [t.id for t in first] == ["alpha", "bravo"]
    assert [t.id for t in second] == ["charlie", "delta"]
    assert token != "" and last_token == ""


async def test_page_size_zero_means_the_default_page_size(ctx: ServiceContext, admin: Principal) -> None:
    await _create(ctx, admin, *(f"t{i:02d}" for i in range(pages.DEFAULT_PAGE_SIZE + 1)))

    rows, token = await tenants.list_tenants(ctx, admin, page_size=0, page_token="")

    assert len(rows) == pages.DEFAULT_PAGE_SIZE
    assert token != ""


async def test_page_size_above_the_maximum_is_capped_not_refused(
    ctx: ServiceContext, admin: Principal
) -> None:
    await _create(ctx, admin, "alpha", "bravo")

    rows, token = await tenants.list_tenants(ctx, admin, page_size=10**9, page_token="")

    assert [t.id for t in rows] == ["alpha", "bravo"] and token == ""


async def test_negative_page_size_is_invalid_argument(ctx: ServiceContext, admin: Principal) -> None:
    with pytest.raises(InvalidArgument) as raised:
        await tenants.list_tenants(ctx, admin, page_size=-1, page_token="")
    assert raised.value.field == "page_size"


async def test_a_page_token_not_issued_by_list_tenants_is_invalid_argument(
    ctx: ServiceContext, admin: Principal
) -> None:
    foreign = ["garbage", "!!!!", pages.encode({}), pages.encode(42), pages.encode(["t01"])]

    results = await outcomes(foreign, lambda t: tenants.list_tenants(ctx, admin, page_size=0, page_token=t))

    assert results == dict.fromkeys(foreign, "InvalidArgument:page_token")


def test_quotas_stay_the_operators_even_where_a_tenant_key_may_change_its_settings(acme_key: Principal) -> None:
    """The guard behind require_admin: naming a quota is refused, a whole-settings update leaves them alone."""
    with pytest.raises(PermissionDenied):
        tenants._require_operator_for(acme_key, ["settings.conflict_copy_quota"],
                                      tenants.TenantSettings(conflict_copy_quota=1 << 40))
    whole = tenants._require_operator_for(acme_key, ["settings"],
                                          tenants.TenantSettings(max_file_size_cap=0, conflict_copy_quota=0))
    assert (whole.max_file_size_cap, whole.conflict_copy_quota) == (None, None)
