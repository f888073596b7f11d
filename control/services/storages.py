"""Storages: named roots in a tenant's filesystems.

Options may hold credentials (an S3 secret...). They are encrypted in the database (the
column type does it, see control.secrets) and what this module returns to API readers has
them redacted (shared.storage.options decides which options are secret). The plain options
leave the control plane only through open_storage() and the edge's EdgeService grant.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence

from sqlalchemy.exc import IntegrityError

from control.db import pages, stores
from control.db.models import Storage
from control.services import audit, validation
from control.services.access import require_tenant_visible
from control.services.context import Principal, ServiceContext
from shared.egress import EgressPolicy
from shared.errors import InvalidArgument, StorageAlreadyExists, StorageNotFound, TenantNotFound
from shared.storage import FsspecStorage, redact_options
from shared.storage.egress import HTTP_PROTOCOLS
from shared.storage.options import S3_PROTOCOLS

DEFAULT_VERSION_RETENTION = 10
MAX_OPTIONS = 64


def storage_options(row: Storage) -> dict[str, str]:
    """The options of `row` as stored (plain for rows read from the database, redacted for
    the rows this module's create/get/list return)."""
    return dict(json.loads(row.options_json or "{}"))


def open_storage(row: Storage, egress: EgressPolicy) -> FsspecStorage:
    """The storage of `row`; one a tenant key made is held to the egress policy."""
    return FsspecStorage(row.protocol, row.root, storage_options(row), egress=egress_of(row, egress))


def egress_of(row: Storage, egress: EgressPolicy) -> EgressPolicy | None:
    """The policy `row`'s connections are held to: None (unrestricted) for the operator's storages."""
    return None if row.operator_owned else egress


def _for_readers(row: Storage) -> Storage:
    """A detached copy of `row` whose secret options are replaced by REDACTED: every reply of
    CreateStorage, GetStorage and ListStorages is built from one of these."""
    shown = json.dumps(redact_options(storage_options(row)), sort_keys=True)
    return Storage(**{**row.model_dump(), "options_json": shown})


def _check_root(protocol: str, root: str) -> None:
    if protocol in ("file", "local") and not os.path.isabs(root):
        raise InvalidArgument("root", "a local storage root must be an absolute path")
    if protocol in S3_PROTOCOLS:
        bucket = root.removeprefix(f"{protocol}://").strip("/").partition("/")[0]
        if not bucket:
            raise InvalidArgument("root", "an S3 root is bucket or bucket/prefix")


async def create_storage(
    ctx: ServiceContext,
    principal: Principal,
    *,
    tenant_id: str,
    name: str,
    protocol: str,
    root: str,
    options: Mapping[str, str],
    max_file_size: int = 0,
    version_retention: int = 0,
) -> Storage:
    require_tenant_visible(principal, tenant_id)
    validation.storage_name(name)
    protocol = validation.protocol(protocol or "file")
    validation.text(root, "root", max_length=1024)
    _check_root(protocol, root)
    if len(options) > MAX_OPTIONS:
        raise InvalidArgument("options", f"at most {MAX_OPTIONS} options")
    for key, value in options.items():
        validation.text(key, "options", max_length=128)
        validation.text(value, "options", max_length=4096, required=False)
    if max_file_size < 0:
        raise InvalidArgument("max_file_size", "must not be negative")
    if not -1 <= version_retention <= 1000:
        raise InvalidArgument("version_retention", "between -1 (keep none) and 1000; 0 means the default of 10")
    retention = {0: DEFAULT_VERSION_RETENTION, -1: 0}.get(version_retention, version_retention)
    # A tenant key's endpoints are attacker input (the operator's are trusted): refused here
    # with the reason, and checked again at every connection (shared/egress.py).
    operator_owned = principal.is_admin
    egress = None if operator_owned else ctx.egress
    target = options.get("endpoint_url") if protocol in S3_PROTOCOLS else root if protocol in HTTP_PROTOCOLS else ""
    if egress is not None and target:
        await egress.check_url_resolved(target)
    # Reachability first: nothing is written for a storage that cannot work (a malformed
    # option, such as anon=maybe, is refused here too).
    await FsspecStorage(protocol, root, options, egress=egress).check_reachable()
    now = ctx.clock()
    try:
        async with ctx.transaction() as db:
            if await stores.get_tenant(db, tenant_id=tenant_id) is None:
                raise TenantNotFound(tenant_id)
            if await stores.get_storage(db, tenant_id=tenant_id, name=name) is not None:
                raise StorageAlreadyExists(tenant_id, name)
            row = Storage(tenant_id=tenant_id, name=name, protocol=protocol, root=root,
                          options_json=json.dumps(dict(options), sort_keys=True), max_file_size=max_file_size,
                          version_retention=retention, create_time=now, operator_owned=operator_owned)
            await stores.add(db, row)
            await audit.record(db, time=now, actor=principal.actor, operation="CreateStorage", outcome="ok",
                               tenant_id=tenant_id, detail=f"storage={name} protocol={protocol}")
    except IntegrityError as exc:
        raise StorageAlreadyExists(tenant_id, name) from exc
    return _for_readers(row)


async def get_storage(ctx: ServiceContext, principal: Principal, *, tenant_id: str, name: str) -> Storage:
    require_tenant_visible(principal, tenant_id)
    if not validation.is_storage_name(name):
        raise StorageNotFound(tenant_id, validation.printable(name, 63))
    async with ctx.sessions() as db:
        row = await stores.get_storage(db, tenant_id=tenant_id, name=name)
    if row is None:
        raise StorageNotFound(tenant_id, name)
    return _for_readers(row)


async def list_storages(
    ctx: ServiceContext, principal: Principal, *, tenant_id: str, page_size: int, page_token: str
) -> tuple[Sequence[Storage], str]:
    require_tenant_visible(principal, tenant_id)
    limit = pages.page_size(page_size)
    after = pages.decode_text(page_token)
    async with ctx.sessions() as db:
        if await stores.get_tenant(db, tenant_id=tenant_id) is None:
            raise TenantNotFound(tenant_id)
        rows = await stores.list_storages(db, tenant_id=tenant_id, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return [_for_readers(r) for r in rows], pages.encode(rows[-1].name) if more else ""
