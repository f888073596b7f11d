"""What every service needs: the database, the clock, and a few settings."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

if TYPE_CHECKING:
    from control.db.writer import DecisionWriter
    from control.services.invalid_tokens import InvalidTokenTally
from control.services.event_cursors import EventCursors
from control.services.storage_policy import StoragePolicy
from control.services.tenant_limits import (
    TenantLimits,
    TenantSlots,
    audit_verification_slots,
    discovery_fetch_slots,
    event_stream_slots,
)
from shared.egress import EgressPolicy
from control.services import deadlines
from shared.errors import DeadlineExceeded

SQLITE_BUSY = 5  # sqlite3's result code of a lock wait that timed out
PG_LOCK_NOT_AVAILABLE = "55P03"
PG_QUERY_CANCELED = "57014"


async def _bound_lock_waits(db: AsyncSession) -> None:
    """PostgreSQL: row and table lock waits end with the caller's deadline (SQLite: the begin hook)."""
    budget = deadlines.current()
    left = budget.remaining() if budget is not None else None
    if left is None or db.bind is None or db.bind.dialect.name != "postgresql":
        return
    ms = max(1, int(left * 1000))
    await db.exec(text(f"SET LOCAL lock_timeout = {ms}"))  # type: ignore[call-overload]
    await db.exec(text(f"SET LOCAL statement_timeout = {ms}"))  # type: ignore[call-overload]


def _lock_wait_timed_out(error: OperationalError) -> bool:
    original = error.orig
    return (getattr(original, "sqlite_errorcode", None) == SQLITE_BUSY
            or getattr(original, "sqlstate", None) in (PG_LOCK_NOT_AVAILABLE, PG_QUERY_CANCELED))


def system_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Principal:
    """Who is calling the gRPC API: an operator's admin key (trusted), a tenant's key (untrusted:
    its own tenant only), or an edge's key (the internal EdgeService only)."""

    key_id: str
    role: str  # "admin" | "tenant" | "edge"
    tenant_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_edge(self) -> bool:
        return self.role == "edge"

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"


class EventSignal:
    """Wakes in-process event watchers after a commit instead of making them poll fast."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()

    def notify(self) -> None:
        for waiter in self._waiters:
            waiter.set()

    async def wait(self, timeout: float, *, stop: asyncio.Event | None = None) -> None:
        """Returns at the next commit with events, after `timeout`, or as soon as `stop` is set (a
        background job at shutdown: its lease's release need not wait out the timeout)."""
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        try:
            if stop is None:
                await asyncio.wait_for(waiter.wait(), timeout)
                return
            waits = [asyncio.ensure_future(waiter.wait()), asyncio.ensure_future(stop.wait())]
            try:
                await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pending in waits:
                    pending.cancel()
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(waiter)


@dataclass(frozen=True)
class BridgeSettings:
    """The bridge's timing (docs/BRIDGE.md; seconds) and the key its document ids are made with."""

    save_debounce_s: int = 5  # a save this long after the last change ...
    save_max_wait_s: int = 60  # ... but no later than this after the first unsaved one
    poll_interval_s: int = 30  # reconcile polls while someone is in the document
    idle_poll_interval_s: int = 300  # ... and while nobody is
    unlock_grace_s: int = 60  # after the last person left and the final save: unlock, remove the app's copy
    keep_app_copy: bool = False
    lease_s: int = 60  # a worker's (or the loading host page's) hold on a document
    token_ttl_s: int = 600  # the bridge session's WOPI token
    entry_ttl_s: int = 120  # an entry code
    # HMAC key of the app document ids (derived from the secret key by start_control; random here,
    # so a context made without one still never makes guessable ids).
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)


@dataclass(frozen=True)
class ServiceContext:
    sessions: async_sessionmaker[AsyncSession]
    wopi_base_url: str  # public URL of the edge, e.g. https://wopi.example.com
    clock: Callable[[], int] = field(default=system_clock_ms)
    default_session_ttl_s: int = 10 * 3600
    events: EventSignal = field(default_factory=EventSignal)
    launch_code_ttl_s: int = 300  # a host page's launch code is usable this long
    # Refusals of invalid tokens are counted here and audited per address and minute; None: one
    # audit record per refusal (the services' unit tests).
    invalid_tokens: InvalidTokenTally | None = None
    # Which storages may be made and opened (control.services.storage_policy).
    storage_policy: StoragePolicy = field(default_factory=StoragePolicy)
    # What URLs set by tenant keys may connect to (discovery URLs, S3 endpoints).
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    write_intent_ttl_ms: int = 60_000  # see control.services.write_intents
    # Read-only transactions (SQLite: a pool of reader connections beside the one writer, as WAL
    # lets readers run while a write commits); None: the same sessions as writes.
    read_sessions: async_sessionmaker[AsyncSession] | None = None
    bridge: BridgeSettings = field(default_factory=BridgeSettings)
    # The hot path's write transactions (lock changes, the reads' audit batches) as one call each
    # on a dedicated writer thread, group-committed (control.db.writer); None: through
    # `transaction()` (the services' unit tests).
    decisions: DecisionWriter | None = None
    # The operator's per-tenant caps on tenant keys (control.services.tenant_limits), and the event
    # streams and audit verifications this process has running per tenant.
    limits: TenantLimits = field(default_factory=TenantLimits)
    event_streams: TenantSlots = field(default_factory=event_stream_slots)
    audit_verifications: TenantSlots = field(default_factory=audit_verification_slots)
    discovery_fetches: TenantSlots = field(default_factory=discovery_fetch_slots)
    # One audit chain walked at a time in this process, whoever asked (control.services.audit_queries).
    audit_walks: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))
    # Event ids shown as opaque cursors (control.services.event_cursors); every replica's key is
    # derived from the shared secret key (control.server), a random one otherwise (unit tests).
    event_cursors: EventCursors = field(default_factory=EventCursors)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A transaction that only reads: one consistent snapshot, no lock (its commit writes
        nothing, and unlike a rollback it leaves the rows it loaded readable afterwards)."""
        async with (self.read_sessions or self.sessions)() as db, db.begin():
            yield db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One database transaction; committed when the block ends without an exception, unless
        the caller's deadline passed or the caller went away (DeadlineExceeded, rolled back)."""
        try:
            async with self.sessions() as db, db.begin():
                await _bound_lock_waits(db)
                yield db
                deadlines.check()
        except OperationalError as error:
            if _lock_wait_timed_out(error) and deadlines.current() is not None:
                raise DeadlineExceeded("the database stayed locked past the caller's deadline") from error
            raise
        self.events.notify()

    def wopi_src(self, file_id: str) -> str:
        return f"{self.wopi_base_url.rstrip('/')}/wopi/files/{file_id}"
