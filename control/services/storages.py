"""Storages: named roots in a tenant's filesystems.

Options may hold credentials (an S3 secret...). They are encrypted in the database (the
column type does it, see control.secrets) and what this module returns to API readers has
them redacted (shared.storage.options decides which options are secret). The plain options
leave the control plane only through open_storage() and the edge's EdgeService grant, and
both first ask the storage policy (control.services.storage_policy) whether the stored
storage may still be opened.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control.db import bridge_store, pages, stores
from control.db.models import File, FileVersion, LaunchCode, Session, Storage
from control.db.deadlocks import retried_on_deadlock
from control.services import audit, tenant_limits, validation
from control.services.access import require_tenant_visible
from control.services.context import Principal, ServiceContext
from shared.egress import EgressPolicy
from shared.errors import (
    FailedPrecondition, InvalidArgument, PermissionDenied, StorageAlreadyExists, StorageNotFound, TenantNotFound,
)
from shared.storage.instances import StorageInstances
from shared.storage import FsspecStorage, redact_options
from shared.storage.options import S3_PROTOCOLS, keep_stored, with_kept_secrets
from shared.storage.egress import HTTP_PROTOCOLS

DEFAULT_VERSION_RETENTION = 10
MAX_OPTIONS = 64


def storage_options(row: Storage) -> dict[str, str]:
    """The options of `row` as stored (plain for rows read from the database, redacted for
    the rows this module's create/get/list return)."""
    return dict(json.loads(row.options_json or "{}"))


# Reused across calls (a new S3 instance loads its client and service model), bounded: see shared.storage.instances.
_INSTANCES = StorageInstances()


def open_storage(ctx: ServiceContext, row: Storage) -> FsspecStorage:
    """The storage of `row`, if the policy still allows it (StorageBlocked otherwise); one a tenant
    key made is held to the egress policy."""
    root = ctx.storage_policy.check_open(row)  # local: the real root checked, which the storage never leaves
    local = row.protocol in ("file", "local")
    options = storage_options(row)
    egress = egress_of(row, ctx.egress)
    key = (egress, row.protocol, root, tuple(sorted(options.items())))
    return _INSTANCES.get(key, lambda: FsspecStorage(row.protocol, root, options, egress=egress,
                                                     real_root=root if local else None), owner=row.id)


def egress_of(row: Storage, egress: EgressPolicy) -> EgressPolicy | None:
    """The policy `row`'s connections are held to."""
    return egress_of_owner(row.operator_owned, egress)


def egress_of_owner(operator_owned: bool, egress: EgressPolicy) -> EgressPolicy | None:
    """None (unrestricted) for the operator's storages, the egress policy for a tenant's."""
    return None if operator_owned else egress


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


def _check_fields(protocol: str, root: str, options: Mapping[str, str], max_file_size: int,
                 version_retention: int) -> tuple[str, int]:
    """Validates what CreateStorage and UpdateStorage take; returns the protocol and the retention."""
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
    return protocol, {0: DEFAULT_VERSION_RETENTION, -1: 0}.get(version_retention, version_retention)


async def _probe(ctx: ServiceContext, *, operator_owned: bool, protocol: str, root: str,
                 options: Mapping[str, str]) -> None:
    """The reachability check of a storage about to be created or changed (a malformed option,
    such as anon=maybe, is refused here too). Its connections are held to the policy of the
    row's owner, not of the caller: a tenant's endpoints are attacker input whoever edits them
    (the operator's are trusted), refused here with the reason before any connection, and
    checked again at every connection (shared/egress.py)."""
    egress = egress_of_owner(operator_owned, ctx.egress)
    target = options.get("endpoint_url") if protocol in S3_PROTOCOLS else root if protocol in HTTP_PROTOCOLS else ""
    if egress is not None and target:
        await egress.check_url_resolved(target)
    await FsspecStorage(protocol, root, options, egress=egress).check_reachable()


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
    protocol, retention = _check_fields(protocol, root, options, max_file_size, version_retention)
    # The policy before anything touches the root: a refused root is never probed.
    ctx.storage_policy.check(principal, tenant_id, protocol, root, options)
    # A tenant at its cap is refused before the probe (no connection on its behalf) ...
    async with ctx.read() as db:
        await _require_storage_room(ctx, db, principal, tenant_id)
    # Reachability first: nothing is written for a storage that cannot work.
    await _probe(ctx, operator_owned=principal.is_admin, protocol=protocol, root=root, options=options)
    now = ctx.clock()
    try:
        async with ctx.transaction() as db:
            if await tenant_limits.lock_tenant(db, tenant_id=tenant_id) is None:
                raise TenantNotFound(tenant_id)
            # ... and counted again under the tenant's lock, so concurrent creations cannot pass it.
            await _require_storage_room(ctx, db, principal, tenant_id)
            if await stores.get_storage(db, tenant_id=tenant_id, name=name) is not None:
                raise StorageAlreadyExists(tenant_id, name)
            row = Storage(tenant_id=tenant_id, name=name, protocol=protocol, root=root,
                          options_json=json.dumps(dict(options), sort_keys=True), max_file_size=max_file_size,
                          version_retention=retention, operator_owned=principal.is_admin, create_time=now)
            await stores.add(db, row)
            await audit.record(db, time=now, actor=principal.actor, operation="CreateStorage", outcome="ok",
                               tenant_id=tenant_id, detail=f"storage={name} protocol={protocol} "
                                                           f"operator_owned={principal.is_admin}")
    except IntegrityError as exc:
        raise StorageAlreadyExists(tenant_id, name) from exc
    return _for_readers(row)


async def _require_storage_room(ctx: ServiceContext, db: AsyncSession, principal: Principal, tenant_id: str) -> None:
    """TenantLimitExceeded when a tenant key's tenant has its cap of storages (admin keys: no cap)."""
    if not principal.is_admin:
        await tenant_limits.require_room(db, tenant_id=tenant_id, model=Storage, maximum=ctx.limits.storages,
                                         limit="storages", setting=tenant_limits.STORAGES_SETTING)


def _check_may_change(principal: Principal, row: Storage) -> None:
    """A storage the operator set up (its root, credentials and endpoint outside the tenant
    policy) is changed or deleted only with an admin key."""
    if row.operator_owned and not principal.is_admin:
        raise PermissionDenied(f"storage {row.name!r} was set up by the operator: only an admin key may change "
                               "or delete it")


UPDATE_PATHS = frozenset({"options", "root", "protocol", "max_file_size", "version_retention"})


async def update_storage(
    ctx: ServiceContext,
    principal: Principal,
    *,
    tenant_id: str,
    name: str,
    paths: Sequence[str],
    protocol: str = "",
    root: str = "",
    options: Mapping[str, str] | None = None,
    max_file_size: int = 0,
    version_retention: int = 0,
) -> Storage:
    """Changes the fields named in `paths`; the result passes the same policy and reachability
    check as a new storage. An option sent as REDACTED keeps its stored value, so a reader can
    send back what it read and change one option (rotating a credential means sending it)."""
    require_tenant_visible(principal, tenant_id)
    unknown = sorted(set(paths) - UPDATE_PATHS)
    if unknown or not paths:
        raise InvalidArgument("update_mask", f"paths are among {', '.join(sorted(UPDATE_PATHS))}"
                              + (f"; not {', '.join(unknown)}" if unknown else ""))
    current = await _load(ctx, tenant_id, name)
    _check_may_change(principal, current)
    stored = storage_options(current)
    sent_protocol = validation.protocol((protocol if "protocol" in paths else current.protocol) or "file")
    sent_root = root if "root" in paths else current.root
    if "options" in paths:
        new_options = with_kept_secrets(current.protocol, current.root, stored, sent_protocol, sent_root,
                                        dict(options or {}))
    else:  # options not sent stay as stored, their secrets under the same rule
        new_options = keep_stored(current.protocol, current.root, stored, sent_protocol, sent_root)
    new_protocol, retention = _check_fields(
        protocol if "protocol" in paths else current.protocol, root if "root" in paths else current.root,
        new_options, max_file_size if "max_file_size" in paths else current.max_file_size,
        version_retention if "version_retention" in paths else _retention_field(current.version_retention))
    new_root = root if "root" in paths else current.root
    # The row keeps its owner: a tenant's storage stays under the tenant policy, whoever edits it.
    ctx.storage_policy.check(principal, tenant_id, new_protocol, new_root, new_options,
                             operator_owned=current.operator_owned)
    if {"options", "root", "protocol"} & set(paths):
        await _probe(ctx, operator_owned=current.operator_owned, protocol=new_protocol, root=new_root,
                     options=new_options)
    now = ctx.clock()
    async with ctx.transaction() as db:
        row = await stores.get_storage(db, tenant_id=tenant_id, name=name)
        if row is not None:
            row = await db.get(Storage, row.id, with_for_update=True, populate_existing=True)
        if row is None:
            raise StorageNotFound(tenant_id, name)
        if _changed_since(current, row):
            # Checked against what was read before the probe (which a slow endpoint can hold for
            # seconds): a storage deleted and made again under its name, perhaps by the operator,
            # or changed meanwhile, is not overwritten with a result checked against the old one.
            raise FailedPrecondition("STORAGE_CHANGED", f"storage {name!r} changed while this update was being "
                                     "checked; read it again and retry", tenant_id=tenant_id, storage=name)
        row.protocol, row.root = new_protocol, new_root
        row.options_json = json.dumps(new_options, sort_keys=True)
        if "max_file_size" in paths:
            row.max_file_size = max_file_size
        row.version_retention = retention
        db.add(row)
        changed = sorted(set(paths))
        await audit.record(db, time=now, actor=principal.actor, operation="UpdateStorage", outcome="ok",
                           tenant_id=tenant_id, detail=f"storage={name} fields={','.join(changed)}"
                           + (f" options={','.join(sorted(new_options))}" if "options" in paths else ""))
    return _for_readers(row)


def _changed_since(read: Storage, now: Storage) -> bool:
    """Whether the row differs, in what an update is checked against, from the one it read."""
    return ((read.id, read.protocol, read.root, read.options_json, read.operator_owned)
            != (now.id, now.protocol, now.root, now.options_json, now.operator_owned))


def _retention_field(kept: int) -> int:
    """The stored retention as CreateStorage's field would say it (-1 keeps none)."""
    return -1 if kept == 0 else kept


async def delete_storage(ctx: ServiceContext, principal: Principal, *, tenant_id: str, name: str,
                         force: bool) -> None:
    """Removes the storage's records (files, kept-version records, sessions, launch codes);
    never a byte in storage. Audit events and session events stay, as the trail must."""
    require_tenant_visible(principal, tenant_id)
    await retried_on_deadlock(lambda: _delete_storage(ctx, principal, tenant_id=tenant_id, name=name, force=force),
                              f"deleting storage {name} of tenant {tenant_id}")


async def _delete_storage(ctx: ServiceContext, principal: Principal, *, tenant_id: str, name: str,
                          force: bool) -> None:
    from control.services import sessions, write_intents  # they open storages (open_storage): not at the top

    now = ctx.clock()
    async with ctx.transaction() as db:
        row = await stores.get_storage(db, tenant_id=tenant_id, name=name) if validation.is_storage_name(name) else None
        if row is not None:  # locked, then work in flight on its records first (see stores.hold_storage)
            row = await db.get(Storage, row.id, with_for_update=True, populate_existing=True)
        if row is None:
            raise StorageNotFound(tenant_id, validation.printable(name, 63))
        _check_may_change(principal, row)
        await stores.lock_records_of(db, storage_id=row.id)
        file_ids = select(col(File.id)).where(col(File.storage_id) == row.id)
        session_ids = select(col(Session.id)).where(col(Session.file_id).in_(file_ids))
        open_sessions = (await db.exec(select(Session).where(
            col(Session.file_id).in_(file_ids), col(Session.close_time).is_(None),
            col(Session.expire_time) > now, col(Session.internal).is_(False)).order_by(col(Session.id)))).all()
        if open_sessions and not force:
            raise FailedPrecondition("SESSIONS_OPEN", f"storage {name!r} has {len(open_sessions)} open session(s); "
                                     "close them or delete with force", tenant_id=tenant_id, storage=name)
        # Launch codes and bridged documents are taken before the first write to the tenant's audit
        # chain: a redemption and a bridged app's event lock their row, then the chain (review m).
        await db.execute(delete(LaunchCode).where(col(LaunchCode.session_id).in_(session_ids)))
        await bridge_store.lock_file_documents(db, file_ids=file_ids)
        # Forced: each open session ends as CloseSession ends it (its bridged participation too), so
        # that applications watching the tenant's events (or its webhook) learn it is over.
        await sessions.close_open_sessions(db, ctx, open_sessions, actor=principal.actor, now=now,
                                           detail=f"its storage {name} was deleted")
        await bridge_store.delete_file_rows(db, file_ids=file_ids)
        await db.execute(delete(Session).where(col(Session.file_id).in_(file_ids)))
        await db.execute(delete(FileVersion).where(col(FileVersion.file_id).in_(file_ids)))
        await write_intents.retire_with_files(db, file_ids=file_ids, now=now,
                                              reason=f"its storage {name} was deleted")
        await db.execute(delete(File).where(col(File.storage_id) == row.id))
        await db.execute(delete(Storage).where(col(Storage.id) == row.id))
        await audit.record(db, time=now, actor=principal.actor, operation="DeleteStorage", outcome="ok",
                           tenant_id=tenant_id, detail=f"storage={name} force={force} "
                                                       f"open_sessions={len(open_sessions)}")


async def _load(ctx: ServiceContext, tenant_id: str, name: str) -> Storage:
    if not validation.is_storage_name(name):
        raise StorageNotFound(tenant_id, validation.printable(name, 63))
    async with ctx.sessions() as db:
        row = await stores.get_storage(db, tenant_id=tenant_id, name=name)
    if row is None:
        raise StorageNotFound(tenant_id, name)
    return row


async def get_storage(ctx: ServiceContext, principal: Principal, *, tenant_id: str, name: str) -> Storage:
    require_tenant_visible(principal, tenant_id)
    return _for_readers(await _load(ctx, tenant_id, name))


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
