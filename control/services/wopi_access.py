"""The edge's first question for every WOPI request: may this token do this to this file?

The answer, the lock change of lock operations and the audit record are one transaction,
so a WOPI request costs the edge a single round trip. Denials are audited too.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from control.db import audit_sync, decision_store, grant_reads, stores
from control.db.models import Editor, File, Session, Storage, Tenant, UserInfo
from control.services import audit, events, file_size, locks, validation
from control.services.access_tokens import hash_token
from control.services.context import ServiceContext
from control.services.editors import EditorRegistry, LoopBoundKeys, ProofHeaders, check_proof, check_proof_of
from control.services.storages import storage_options
from control.services.write_intents import PendingWrite, settle
from shared.errors import (
    AccessTokenInvalid,
    DeadlineExceeded,
    FileMoved,
    FileNotFound,
    InvalidArgument,
    LockConflict,
    OperationNotPermitted,
    TenantDisabled,
    TimestampConflict,
    WopiProxyError,
)
from shared.wopi_operation import WopiOperation

if TYPE_CHECKING:
    from control.db.writer import Tx

LOCK_EVENTS = {"Lock": "locked", "UnlockAndRelock": "locked", "Unlock": "unlocked"}
MAX_USER_INFO_LENGTH = 1024


@dataclass(frozen=True)
class Caller:
    """The editor's side of a WOPI request, as the edge reports it."""

    access_token: str
    file_id: str
    client_address: str = ""
    correlation_id: str = ""
    editor: str = ""


@dataclass(frozen=True)
class Grant:
    session: Session
    file: File
    storage: Storage
    lock_id: str
    tenant: Tenant | None = None
    user_info: str = ""
    post_message_origin: str = ""
    editor_name: str = ""
    # The root the edge uses: a local storage's real path as the policy checked it (check_open).
    storage_root: str = ""

    @property
    def can_write(self) -> bool:
        return self.session.permission == "edit"

    @property
    def max_file_size(self) -> int:
        """The storage's limit under the tenant's cap (0: the edge's default)."""
        return file_size.max_file_size(self.storage, self.tenant)

    @property
    def storage_options(self) -> dict[str, str]:
        return storage_options(self.storage)

    @property
    def actor(self) -> str:
        return f"user:{self.session.user_id}"


async def resolve(db: AsyncSession, ctx: ServiceContext, caller: Caller, operation: WopiOperation | str, *,
                  for_update: bool = False, settle_pending: bool = False) -> Grant:
    """Checks the token; with `for_update` the file row stays locked until the transaction ends.
    With `settle_pending`, a pending write intent on the file raises PendingWrite (roll back,
    settle it from storage, call again without)."""
    found = await stores.session_context_by_token_hash(db, token_hash=hash_token(caller.access_token),
                                                       lock_file=for_update)

    async def file_exists(file_id: str) -> bool:  # only asked once found: in the token's tenant
        tenant_id = found[0].tenant_id if found is not None else ""
        return await stores.get_file(db, file_id=file_id, tenant_id=tenant_id) is not None

    return await check_found(ctx, caller, WopiOperation(operation), found, settle_pending=settle_pending,
                             file_exists=file_exists)


async def check_found(ctx: ServiceContext, caller: Caller, operation: WopiOperation,
                      found: tuple[Session, Tenant, File, Storage] | None, *, settle_pending: bool,
                      file_exists: Callable[[str], Awaitable[bool]]) -> Grant:
    """resolve()'s checks of what the token's lookup found."""
    exists = False
    if found is not None and found[0].file_id != caller.file_id and validation.is_lookup_id(caller.file_id):
        exists = await file_exists(caller.file_id)
    return check_grant(ctx, caller, operation, found, settle_pending=settle_pending,
                       file_exists=lambda _file_id: exists)


def session_open(session: Session, now: int) -> bool:
    """Neither closed nor expired: what every use of a session's token needs."""
    return session.close_time is None and session.expire_time > now


def check_grant(ctx: ServiceContext, caller: Caller, operation: WopiOperation,
                found: tuple[Session, Tenant, File, Storage] | None, *, settle_pending: bool,
                file_exists: Callable[[str], bool]) -> Grant:
    """check_found's rules, synchronous (the writer thread's decisions run them too)."""
    now = ctx.clock()
    if found is None:
        raise AccessTokenInvalid()
    session, tenant, file, storage = found
    if not session_open(session, now):
        raise AccessTokenInvalid()
    if session.file_id != caller.file_id:
        # A file id that names no file of the token's tenant is 404 (WOPI "file unknown"), so
        # another tenant's id answers exactly like a missing one; a file of the same tenant the
        # token was not issued for is 401, like any foreign token. `file_exists` must look in
        # session.tenant_id only.
        # (Ids we never issue do not even reach the database: PostgreSQL text cannot hold NUL.)
        if not validation.is_lookup_id(caller.file_id) or not file_exists(caller.file_id):
            raise FileNotFound(validation.printable(caller.file_id, 43))
        raise AccessTokenInvalid("the access token is not valid for this file")
    if not tenant.enabled:
        raise TenantDisabled(session.tenant_id)
    if operation.writes and session.permission != "edit":
        raise OperationNotPermitted(operation.value)
    if settle_pending and file.pending_intent_id:
        raise PendingWrite(file.pending_intent_id)
    if file.deleted_time is not None:
        raise FileNotFound(session.path)
    # Checked on every request: the grant hands the edge the storage's root (as checked) and credentials.
    root = ctx.storage_policy.check_open(storage)
    return Grant(session=session, file=file, storage=storage, lock_id=locks.current_lock(file, now), tenant=tenant,
                 storage_root=root)


@asynccontextmanager
async def audited(ctx: ServiceContext, caller: Caller, operation: str, *,
                  record_conflicts: bool = True) -> AsyncIterator[None]:
    """Records a refusal (in its own transaction, since the refused one rolls back) and re-raises.
    Not a DeadlineExceeded: that caller is not answered by us. Not conflicts when
    `record_conflicts` is false: the edge records them with where the refused content went.
    A refused token is only counted: its audit record is one per address and minute
    (control.services.invalid_tokens), so a flood of bad tokens does not write one per request."""
    try:
        yield
    except (DeadlineExceeded, FileMoved):  # FileMoved: the edge asks again at the file's new path
        raise
    except WopiProxyError as error:
        if isinstance(error, AccessTokenInvalid) and ctx.invalid_tokens is not None:
            await ctx.invalid_tokens.count_refusal(ctx, access_token=caller.access_token,
                                                   client_address=caller.client_address, operation=operation)
        elif record_conflicts or not isinstance(error, (LockConflict, TimestampConflict)):
            await _record_refusal(ctx, caller, operation, error)
        raise


async def _record_refusal(ctx: ServiceContext, caller: Caller, operation: str, error: WopiProxyError) -> None:
    token_hash = hash_token(caller.access_token)
    fields: dict[str, Any] = dict(time=ctx.clock(), operation=operation, error=error, file_id=caller.file_id[:43],
                                  editor=caller.editor, client_address=caller.client_address,
                                  correlation_id=caller.correlation_id)
    if ctx.decisions is not None:
        # On the writer thread, like the grant it refuses (a lock conflict, say): a transaction of
        # the async engine would hold SQLite's write lock across event-loop hops while the writer
        # thread, and every decision queued behind it, waits for it.
        await ctx.decisions.run(functools.partial(_record_refusal_decision, token_hash=token_hash, fields=fields))
        return
    async with ctx.transaction() as db:
        await audit.record_refusal(db, token_hash=token_hash, **fields)


def _record_refusal_decision(tx: Tx, *, token_hash: str, fields: dict[str, Any]) -> None:
    session = decision_store.session_by_token_hash(tx, token_hash=token_hash)
    audit_sync.append(tx, [audit.new_event(**audit.refusal_fields(session, **fields))])


async def authorize(ctx: ServiceContext, caller: Caller, *, operation: WopiOperation | str, lock_id: str = "",
                    old_lock_id: str = "", user_info: str | None = None, proof: ProofHeaders | None = None,
                    editors: EditorRegistry | None = None) -> Grant:
    """A pending write on the file is first settled from storage (write_intents), so that what the
    grant says (version, hash) describes the bytes the edge is about to serve."""
    try:
        return await _authorize(ctx, caller, operation=WopiOperation(operation), lock_id=lock_id,
                                old_lock_id=old_lock_id, user_info=user_info, proof=proof, editors=editors,
                                settle_pending=True)
    except PendingWrite as pending:
        await settle(ctx, pending.intent_id)
    return await _authorize(ctx, caller, operation=WopiOperation(operation), lock_id=lock_id,
                            old_lock_id=old_lock_id, user_info=user_info, proof=proof, editors=editors,
                            settle_pending=False)


async def _authorize(ctx: ServiceContext, caller: Caller, *, operation: WopiOperation, lock_id: str,
                     old_lock_id: str, user_info: str | None, proof: ProofHeaders | None,
                     editors: EditorRegistry | None, settle_pending: bool) -> Grant:
    if ctx.decisions is not None and operation != "PutUserInfo":
        keys = LoopBoundKeys(editors, asyncio.get_running_loop()) if editors is not None else None
        async with audited(ctx, caller, operation.value):
            token_hash = hash_token(caller.access_token)
            return await ctx.decisions.run(functools.partial(
                _decide, ctx=ctx, caller=caller, operation=operation, lock_id=lock_id,
                old_lock_id=old_lock_id, proof=proof, keys=keys, settle_pending=settle_pending,
                token_hash=token_hash), prefetch_grant="" if operation.changes_lock else token_hash)
    async with audited(ctx, caller, operation.value), ctx.transaction() as db:
        is_lock_operation = operation.changes_lock
        # PutUserInfo holds the file row too: a DeleteTenant waits for it (stores.lock_records_of).
        grant = await resolve(db, ctx, caller, operation, for_update=is_lock_operation or operation == "PutUserInfo",
                              settle_pending=settle_pending)
        now = ctx.clock()
        if editors is not None and proof is not None:
            await check_proof(db, editors, session=grant.session, access_token=caller.access_token,
                              headers=proof, now_ms=now)
        current = grant.lock_id
        detail = ""
        if is_lock_operation:
            before = grant.lock_id
            current = locks.apply(grant.file, operation.value, lock_id=lock_id, old_lock_id=old_lock_id, now=now)
            db.add(grant.file)
            detail = f"lock={audit.lock_digest(current)}"
            if operation in LOCK_EVENTS and current != before:
                await events.emit(db, type=LOCK_EVENTS[operation], session=grant.session, now=now,
                                  version=grant.file.version)
        # UserInfo only matters to CheckFileInfo (which returns it) and PutUserInfo (which sets it).
        info = None
        if operation in ("CheckFileInfo", "PutUserInfo"):
            info = await stores.get_user_info(db, tenant_id=grant.session.tenant_id, user_id=grant.session.user_id)
        if operation == "PutUserInfo":
            if user_info is None or len(user_info) > MAX_USER_INFO_LENGTH:
                raise InvalidArgument("user_info", f"at most {MAX_USER_INFO_LENGTH} characters")
            if info is None:
                info = UserInfo(tenant_id=grant.session.tenant_id, user_id=grant.session.user_id)
            info.info, info.update_time = user_info, now
            db.add(info)
        await audit.record(db, **_grant_record(caller, operation, grant, now=now, detail=detail,
                                               lock_hash=audit.lock_hash_of(lock_id or current)))
        editor_name = ((await db.exec(select(Editor.name).where(Editor.id == grant.session.editor_id))).first()
                       if grant.session.editor_id else None)
    return _answer(grant, current, info, editor_name or "")


def _decide(tx: Tx, *, ctx: ServiceContext, caller: Caller, operation: WopiOperation, lock_id: str,
            old_lock_id: str, proof: ProofHeaders | None, keys: LoopBoundKeys | None, settle_pending: bool,
            token_hash: str) -> Grant:
    """A grant as one call on the writer thread (control.db.writer), in Core statements: the
    same steps as _authorize's transaction. A lock operation reads the file row FOR UPDATE and
    changes it (the compare-and-set); any other grant reads without a lock. Its audit record is
    in the same transaction, so it is durable before the reply."""
    changes_lock = operation.changes_lock
    if token_hash in tx.grants:  # read with the rest of its batch (control.db.writer)
        rows = tx.grants[token_hash]
    else:
        rows = grant_reads.read_grant(tx.conn, token_hash, for_update=changes_lock)
    found = (rows.session, rows.tenant, rows.file, rows.storage) if rows else None
    tenant_id = rows.session.tenant_id if rows else ""
    grant = check_grant(ctx, caller, operation, found, settle_pending=settle_pending,
                        file_exists=lambda file_id: decision_store.file_in_tenant(tx, file_id=file_id,
                                                                                  tenant_id=tenant_id))
    assert rows is not None
    now = ctx.clock()
    if keys is not None and proof is not None:
        editor_id = rows.editor.id if rows.editor is not None else None
        check_proof_of(rows.editor, keys, session=grant.session, access_token=caller.access_token,
                       headers=proof, now_ms=now, load_discovery=lambda: grant_reads.read_discovery(tx.conn, editor_id))
    file = grant.file
    current, detail = grant.lock_id, ""
    if changes_lock:
        state = locks.LockState(file.lock_id, file.lock_expire_time)
        current = locks.apply(state, operation.value, lock_id=lock_id, old_lock_id=old_lock_id, now=now)
        if (state.lock_id, state.lock_expire_time) != (file.lock_id, file.lock_expire_time):
            decision_store.set_lock(tx, file_id=file.id, lock_id=state.lock_id,
                                    lock_expire_time=state.lock_expire_time)
        if operation in LOCK_EVENTS and current != grant.lock_id:
            decision_store.emit_event(tx, type=LOCK_EVENTS[operation], session=grant.session, now=now,
                                      version=file.version)
        detail = f"lock={audit.lock_digest(current)}"
    audit_sync.append(tx, [audit.new_event(**_grant_record(caller, operation, grant, now=now, detail=detail,
                                                           lock_hash=audit.lock_hash_of(lock_id or current)))])
    # UserInfo only matters to CheckFileInfo (which returns it) and PutUserInfo (not decided here).
    info = rows.user_info if operation == "CheckFileInfo" else None
    return _answer(grant, current, info, rows.editor.name if rows.editor else "")


def _grant_record(caller: Caller, operation: WopiOperation, grant: Grant, *, now: int, detail: str,
                  lock_hash: str) -> dict[str, Any]:
    """The audit record of a granted request (audit.record's fields)."""
    return dict(time=now, actor=grant.actor, operation=operation.value, outcome="ok",
                tenant_id=grant.session.tenant_id, session_id=grant.session.id, file_id=grant.file.id,
                detail=" ".join(filter(None, [detail, f"editor={caller.editor}" if caller.editor else ""])),
                client_address=caller.client_address, correlation_id=caller.correlation_id,
                status=audit.granted_status(operation), version_before=grant.file.version,
                version_after=grant.file.version, lock_hash=lock_hash, editor=caller.editor)


def _answer(grant: Grant, lock_id: str, info: UserInfo | None, editor_name: str) -> Grant:
    tenant = grant.tenant
    return Grant(session=grant.session, file=grant.file, storage=grant.storage, lock_id=lock_id, tenant=tenant,
                 storage_root=grant.storage_root, user_info=info.info if info else "", post_message_origin=tenant.post_message_origin if tenant else "",
                 editor_name=editor_name)


MAX_EDGE_REPORT_ENTRIES = 1000
MAX_EDGE_REPORT_COUNT = 10**9


async def count_edge_refusals(ctx: ServiceContext, counts: list[tuple[str, int, int]]) -> None:
    """The edge's own refusals (429s, token-less 401s) per address, into the invalid-token tally."""
    if len(counts) > MAX_EDGE_REPORT_ENTRIES:
        raise InvalidArgument("counts", f"at most {MAX_EDGE_REPORT_ENTRIES} entries per report")
    for _, rate_limited, missing_token in counts:
        if not (0 <= rate_limited <= MAX_EDGE_REPORT_COUNT and 0 <= missing_token <= MAX_EDGE_REPORT_COUNT):
            raise InvalidArgument("counts", f"counts between 0 and {MAX_EDGE_REPORT_COUNT}")
    if ctx.invalid_tokens is None:
        return
    now = ctx.clock()
    for address, rate_limited, missing_token in counts:
        ctx.invalid_tokens.count_edge(now, client_address=address, rate_limited=rate_limited,
                                      missing_token=missing_token)
