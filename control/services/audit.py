"""Writing the audit trail. Nothing here may receive a token or file content.

Every record is appended inside the transaction of the change it records, so it is durable
exactly when the change is, before any reply depends on it, and costs no extra round trip.

Tamper evidence: each tenant's records (and the deployment's, chain "") form a hash chain in
id order. Appending locks the chain's head row (audit_chain_heads; FOR UPDATE on PostgreSQL,
while SQLite transactions are exclusive anyway), so concurrent transactions extend a chain one
after the other and the ids, assigned after the lock, follow the chain's order.

    hash = sha256(canonical(record)).hexdigest()
    canonical(record) = json.dumps({"v": 1, <each name of HASHED_FIELDS>: value}, sort_keys=True,
                                   separators=(",", ":"), ensure_ascii=True).encode()

Values are those the API returns (None is "" or 0; time in milliseconds since the epoch), and
previous_hash is one of the fields, so a record exported from ListAuditEvents can be checked
without the database. The id is not hashed: the chain's order is, through previous_hash, so a
database restored with other ids still verifies.
"""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import quote
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from control.db import audit_store, stores
from control.db.models import AuditChainHead, Session
from control.services import validation
from shared import errors
from shared.wopi_operation import Decided, WopiOperation
from shared.wopi_status import wopi_status

HASH_VERSION = 1
HASHED_FIELDS = (
    "time", "tenant_id", "actor", "session_id", "file_id", "operation", "outcome", "status", "size",
    "version_before", "version_after", "lock_hash", "editor", "client_address", "correlation_id", "detail",
    "previous_hash",
)
_INT_FIELDS = frozenset({"time", "status", "size", "version_before", "version_after"})

OUTCOMES = ("ok", "denied", "conflict", "failed")

_CONFLICTS = (errors.LockConflict, errors.TimestampConflict, errors.FileAlreadyExists, errors.FileLocked)


def chain_of(tenant_id: str | None) -> str:
    return tenant_id or ""


def canonical(event: Any) -> bytes:
    """The bytes a record's hash covers (see the module docstring); `event` is a row or alike."""
    document: dict[str, object] = {"v": HASH_VERSION}
    for name in HASHED_FIELDS:
        value = getattr(event, name)
        document[name] = value if value is not None else (0 if name in _INT_FIELDS else "")
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def compute_hash(event: Any) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


async def lock_chain(db: AsyncSession, chain: str) -> AuditChainHead:
    """The chain's head, locked until the transaction ends (created on the chain's first record).
    Locked once per transaction: a lock operation's event and its audit record share it."""
    transaction = db.sync_session.get_transaction()
    cached = db.info.get(_HEADS_KEY)
    if cached is not None and cached[0] is transaction and chain in cached[1]:
        return cached[1][chain]
    head = await audit_store.head_for_update(db, chain=chain)
    if head is None:
        await audit_store.create_head(db, chain=chain)
        head = await audit_store.head_for_update(db, chain=chain)
        assert head is not None
    if cached is None or cached[0] is not transaction:
        heads: dict[str, AuditChainHead] = {}
        cached = db.info[_HEADS_KEY] = (transaction, heads)
    cached[1][chain] = head
    return head


_HEADS_KEY = "audit_heads_locked"  # in AsyncSession.info: (the transaction, {chain: its locked head})


ARCHIVE_SEPARATOR = "~"  # never in a tenant id, so an archived chain's name is no tenant's


async def archive_chain(db: AsyncSession, *, tenant_id: str, label: str) -> str | None:
    """Moves the tenant's chain aside as "<tenant_id>~<label>" and starts the tenant's chain anew
    (its next record is a first record again): a tenant created later under the same id reads
    none of it, while the operator still verifies it by that name. Records stay as they are, so
    the archived chain verifies as before. Returns the archive's name (None: nothing to archive)."""
    head = await lock_chain(db, tenant_id)
    if head.last_event_id <= head.first_after_id:
        return None
    name = f"{tenant_id}{ARCHIVE_SEPARATOR}{label}"
    await audit_store.create_archive(db, name=name, live=head)
    head.first_after_id = head.last_event_id
    head.last_event_id, head.last_hash, head.anchor_event_id, head.anchor_hash, head.purged = 0, "", 0, "", 0
    db.add(head)
    return name


@dataclass(slots=True)
class AuditRecord:
    """An audit_events row before it is inserted (a plain object: an ORM instance costs ~0.2 ms
    to make, more than the rest of a read's record); append() fills the chain's fields and id."""

    time: int
    actor: str
    operation: str
    outcome: str
    tenant_id: str | None
    session_id: str | None
    file_id: str | None
    detail: str
    size: int | None
    status: int
    version_before: int
    version_after: int
    lock_hash: str
    editor: str
    client_address: str
    correlation_id: str
    previous_hash: str = ""
    hash: str = ""
    id: int | None = None


def new_event(
    *,
    time: int,
    actor: str,
    operation: str,
    outcome: str,
    tenant_id: str | None = None,
    session_id: str | None = None,
    file_id: str | None = None,
    detail: str = "",
    size: int | None = None,
    client_address: str = "",
    correlation_id: str = "",
    status: int = 0,
    version_before: int = 0,
    version_after: int = 0,
    lock_hash: str = "",
    editor: str = "",
) -> AuditRecord:
    """A record, not yet in any chain (append(), or audit_sync.append on the decision writer, links it into its chain)."""
    # Cut to the columns' sizes here, so that what is hashed is exactly what is stored.
    # Control characters (NUL above all: PostgreSQL text cannot hold it) never reach the trail.
    clean = validation.printable
    return AuditRecord(
        time=time, actor=clean(actor, 300), operation=clean(operation, 64), outcome=outcome[:16],
        tenant_id=clean(tenant_id, 63) if tenant_id else None,
        session_id=clean(session_id, 40) if session_id else None,
        file_id=clean(file_id, 43) if file_id else None, detail=clean(detail, 4000), size=size, status=status,
        version_before=version_before, version_after=version_after, lock_hash=lock_hash[:64],
        editor=clean(editor, 120), client_address=clean(client_address, 64),
        correlation_id=clean(correlation_id, 128),
    )


async def record(db: AsyncSession, **fields: Any) -> None:
    """Appends a record (new_event's fields) to its tenant's chain, in the caller's transaction."""
    await append(db, [new_event(**fields)])


async def append(db: AsyncSession, events: list[AuditRecord]) -> None:
    """Links `events` into their chains, in list order, in the caller's transaction: each chain's
    head is locked once, the hashes are computed in order, and the rows are inserted in that
    order (ids follow the chain's order, as the head stays locked until the transaction ends)."""
    by_chain: dict[str, list[AuditRecord]] = {}
    for event in events:
        by_chain.setdefault(chain_of(event.tenant_id), []).append(event)
    for chain in sorted(by_chain):  # a fixed order: two writers never wait on each other's heads
        head = await lock_chain(db, chain)
        previous = head.last_hash
        rows = []
        for event in by_chain[chain]:
            event.previous_hash = previous
            event.hash = previous = compute_hash(event)
            rows.append(event)
        head.last_event_id = await audit_store.insert_events(db, events=rows)
        head.last_hash = previous
        db.add(head)


async def record_refusal(
    db: AsyncSession,
    *,
    time: int,
    operation: str,
    error: errors.WopiProxyError,
    token_hash: str,
    file_id: str,
    editor: str = "",
    client_address: str = "",
    correlation_id: str = "",
) -> None:
    """A refused WOPI request (see refusal_fields)."""
    session = await stores.session_by_token_hash(db, token_hash=token_hash)
    await record(db, **refusal_fields(session, time=time, operation=operation, error=error, file_id=file_id,
                                      editor=editor, client_address=client_address, correlation_id=correlation_id))


def refusal_fields(session: Session | None, *, time: int, operation: str, error: errors.WopiProxyError,
                   file_id: str, editor: str = "", client_address: str = "", correlation_id: str = "") -> dict[str, Any]:
    """new_event's fields for a refused WOPI request. A token that names a session (expired,
    closed, for another file, or simply refused this operation) files it under the session's
    tenant and user, so the tenant sees it; an unknown token goes to the deployment's chain as
    actor "token"."""
    lock = error.current_lock if isinstance(error, errors.LockConflict) else ""
    return dict(
        time=time, actor=f"user:{session.user_id}" if session else "token", operation=operation,
        outcome=refusal_outcome(error), status=wopi_status(error),
        tenant_id=session.tenant_id if session else None, session_id=session.id if session else None,
        file_id=file_id, detail=f"{error.reason}: {error.message}"[:500], lock_hash=lock_hash_of(lock),
        editor=editor, client_address=client_address, correlation_id=correlation_id,
    )


def refusal_outcome(error: errors.WopiProxyError) -> str:
    return "conflict" if isinstance(error, _CONFLICTS) else "denied"




def granted_status(operation: WopiOperation) -> int:
    """Lock operations and PutUserInfo are decided in the control plane's transaction: the edge
    answers 200 once they are granted. Other grants are answered after the edge reads storage
    (status 0 here: unknown), or by the write protocol's confirmation, which records its own 200."""
    return 200 if operation.policy.decided is Decided.CONTROL else 0


def lock_digest(lock_id: str) -> str:
    """Lock ids can be long and editor-specific; the audit keeps a short hash ("-" when unlocked)."""
    return hashlib.sha256(lock_id.encode()).hexdigest()[:12] if lock_id else "-"


def lock_hash_of(lock_id: str) -> str:
    """The lock_hash field: lock_digest, or "" when no lock is involved."""
    return lock_digest(lock_id) if lock_id else ""


# What a detail value from a client keeps as it is: no space, "=", braces or control character, so
# that a value cannot add a field of its own ("editors=ann version=9") or a placeholder.
_DETAIL_SAFE = "@.,_-+:/()"
SAVE_FLAGS = re.compile(r"[a-z_]+=(true|false)( [a-z_]+=(true|false))*")


def detail_text(text: str) -> str:
    """Free text with a client's words in it (a refusal's reason quoting a header): readable, but
    "=", braces, "%" and control characters percent-encoded, so no word of it reads as a field."""
    return "".join(quote(c, safe="") if c in "%={}" or not c.isprintable() else c for c in text)


def detail_value(text: str) -> str:
    """A value a client chose (X-WOPI-Editors), percent-encoded for a record's detail: detail is
    "name=value" fields separated by spaces, which an operator reads and scripts split."""
    return quote(text, safe=_DETAIL_SAFE)
