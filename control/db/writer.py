"""The hot path's write transactions, each one synchronous call on one dedicated writer thread.

Why: through the async engine a decision (a lock change with its event and audit record) cost a
thread hand-off per statement and per BEGIN/COMMIT, and those hand-offs and the event-loop
wake-ups took more CPU than the SQL. Here a decision is a function of a Connection (SQLAlchemy
Core statements) that the writer thread runs whole; the event loop pays one hand-off.

Group commit: the thread takes every decision queued while it was busy and runs them in one
transaction. Each decision is still its own compare-and-set on rows it locked (SQLite: the
transaction holds the write lock; PostgreSQL: FOR UPDATE) and sees the decisions before it in
the batch. A decision that refuses (a domain error) does so before writing and fails alone; one
that fails after writing is undone by rolling the batch back and running the others again
without it. One commit makes the whole batch durable before any of its callers is answered.

A failed batch never runs a decision twice. The database failing it before COMMIT (a deadlock, a
lock wait cut short, a connection lost mid-way) rolled it all back: each decision then runs alone.
A COMMIT that fails may or may not have landed: its decisions all fail and none runs again, as if
the process had died there (the write intents' recovery settles saves). A connection that died
while idle fails the batch's BEGIN, before anything reached the database: the batch runs again on
a new one, once (its one-by-one reruns included). On PostgreSQL BEGIN goes with the batch's first
statement, so a connection lost while that statement ran counts as lost while idle too: nothing
committed either way, and the same single rerun applies.

Deadlines (control.services.deadlines) travel with each decision: one whose caller has gone or
whose deadline is near is not run, and if any budget fails right before COMMIT the transaction
is rolled back and run again without it, so nothing commits for a caller who gave up. SQLite's
wait for the write lock and PostgreSQL's lock waits are bounded by the most pressed caller's
time left.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError

from control.db import audit_sync, decision_store, grant_reads, pipelined_commit
from control.db.engine import SQLITE_BUSY_TIMEOUT_MS
from control.db.driver_calls import PENDING_BEGIN, PendingBegin, pending_begin
from control.db.grant_reads import sync_url
from control.services import deadlines
from control.services.write_intents import PendingWrite
from shared.errors import DeadlineExceeded, WopiProxyError

log = logging.getLogger(__name__)

T = TypeVar("T")
class NotHere(Exception):
    """Raised by a decision, before writing, for a case it leaves to the transaction path
    (ServiceContext.transaction): the caller runs that instead."""


# What a decision raises to refuse (before it writes): it fails alone, the batch goes on.
_REFUSALS = (WopiProxyError, PendingWrite, NotHere)
MAX_BATCH = 64  # decisions per transaction: bounds a batch's time (and so each budget's wait)
SQLITE_BUSY = 5
BEGIN_TRY_MS = 1  # SQLite: one try of BEGIN IMMEDIATE waits this long for the write lock ...
BEGIN_RETRY_S = 0.001  # ... then the writer sleeps this long and tries again (see _begin_immediate)
PG_LOCK_NOT_AVAILABLE = "55P03"
PG_QUERY_CANCELED = "57014"


@dataclass
class Tx:
    """What a decision gets: the connection, inside the batch's transaction, and the batch's
    state that outlives one decision (audit chain heads locked so far: control.db.audit_sync)."""

    conn: Connection
    postgres: bool
    heads: dict[str, Any] = field(default_factory=dict)
    audit: list[Any] = field(default_factory=list)  # (chain, record) linked, inserted at flush_heads
    # A batch of grant reads only: their rows read together before the first decision runs
    # (token hash -> rows, None for an unknown token; control.db.grant_reads.read_grants).
    grants: dict[str, Any] = field(default_factory=dict)
    # Session events to insert at flush (control.db.decision_store.flush_events), in emit order.
    events: list[dict[str, Any]] = field(default_factory=list)
    emitted_events: bool = False  # session events were written: wake their watchers after commit
    writes: int = 0  # statements that changed rows so far (each store function of a write counts one)
    commit_sent: bool = False  # COMMIT handed to the driver (control.db.pipelined_commit): it may have landed


Work = Callable[[Tx], T]


@dataclass
class _Job(Generic[T]):
    work: Work[T]
    budget: deadlines.Budget | None
    future: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop
    prefetch: str = ""  # a grant read that writes nothing but its audit record: its token hash
    result: Any = None
    error: BaseException | None = None


class _RunAgain(Exception):
    """A decision must be undone (it failed after writing, or its budget ran out before the
    commit): roll back, and run the batch again without it."""


class DecisionWriter:
    """One per control-plane process: start() once, run() from the event loop, close() at the end."""

    def __init__(self, url: str, *, on_commit: Callable[[], None] | None = None) -> None:
        url = sync_url(url)
        self.postgres = url.startswith("postgresql")
        if url.startswith("sqlite"):
            self.engine: Engine = create_engine(url, pool_size=1, max_overflow=0,
                                                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                                              "check_same_thread": False})
            _configure_sqlite_writer(self.engine, self)
        else:
            self.engine = create_engine(url, pool_size=1, max_overflow=0)
            _configure_postgres_writer(self.engine, self)
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="decision-writer", daemon=True)
        self._closed = False
        self.lock_wait_ms = SQLITE_BUSY_TIMEOUT_MS  # SQLite: the batch's BEGIN IMMEDIATE waits this long
        self.pg_wait_ms = 0  # PostgreSQL: the batch's lock and statement timeouts (0: none)
        self.began = False  # SQLite: the current transaction's BEGIN reached the database
        self.pending: PendingBegin | None = None  # PostgreSQL: the current transaction's BEGIN
        self.committing = False  # the current transaction's COMMIT has been sent
        self._thread.start()

    async def run(self, work: Work[T], *, prefetch_grant: str = "") -> T:
        """Runs `work` in the writer's next transaction; returns its result once committed (or raises
        what it raised, its statements rolled back). The caller's deadline budget goes with it.

        `prefetch_grant`: the token hash of a grant `work` reads and changes nothing but the audit
        trail with; when a whole batch is such reads, their rows are read in one SELECT (Tx.grants)."""
        deadlines.check("decision")
        if self._closed:
            raise DeadlineExceeded("the control plane is stopping")
        loop = asyncio.get_running_loop()
        job: _Job[T] = _Job(work=work, budget=deadlines.current(), future=loop.create_future(), loop=loop,
                            prefetch=prefetch_grant)
        self._queue.put(job)
        # A cancelled caller leaves its decision to its budget (marked abandoned by the gRPC
        # boundary): it is then rolled back, never half-done.
        return await asyncio.shield(job.future)

    def close(self) -> None:
        """Finishes what is queued, then stops the thread (blocking: call it in a thread)."""
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        self.engine.dispose()

    # -- the thread ----------------------------------------------------------------------------

    def _serve(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch: list[_Job[Any]] = [first]
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            emitted = False
            try:
                emitted = self._run_batch(batch)
            except BaseException as error:  # noqa: BLE001  (never leave a caller waiting)
                log.exception("a decision batch failed")
                for job in batch:
                    job.error = job.error or error
            # One wake-up of each event loop per batch (each call_soon_threadsafe writes to the
            # loop's self-pipe: per decision, that was the largest cost of a read on the loop),
            # which also wakes the event watchers when the batch committed session events.
            by_loop: dict[asyncio.AbstractEventLoop, list[_Job[Any]]] = {}
            for job in batch:
                by_loop.setdefault(job.loop, []).append(job)
            on_commit = self._on_commit if emitted else None
            for loop, jobs in by_loop.items():
                loop.call_soon_threadsafe(_settle_all, jobs, on_commit)
                on_commit = None

    def _began(self) -> bool:
        """The current transaction's BEGIN reached the database (a statement of the batch may have)."""
        return self.pending.sent if self.pending is not None else self.began

    def _run_batch(self, batch: list[_Job[Any]], *, may_reconnect: bool = True) -> bool:
        """Runs the batch's decisions; True when what committed included session events.
        `may_reconnect`: a connection found lost while idle may cost a rerun (once per batch, its
        one-by-one reruns included)."""
        live = [job for job in batch if _still_wanted(job)]
        reconnected = not may_reconnect
        while live:
            try:
                committed = self._transaction(live)
            except _RunAgain:  # rolled back: the others again, without the ones that failed
                live = [job for job in live if job.error is None]
                continue
            except DBAPIError as error:
                if error.connection_invalidated and not self._began() and not reconnected:
                    # The pooled connection died while idle (a database restart, a proxy's idle
                    # timeout): nothing of the batch ran, so it runs again on a new connection.
                    # This replaces a ping at every checkout, one round trip per transaction.
                    log.warning("the decision writer's database connection was lost while idle (%s); "
                                "reconnecting", error.orig)
                    reconnected = True
                    continue
                if self.committing:
                    # COMMIT was sent and failed: it may have reached the database or not. Running
                    # the decisions again could do each twice (an audit record, a lock change, a
                    # saved version); each caller is told it failed, as a crash there would.
                    log.warning("the COMMIT of a batch of %d decisions failed (%s); its outcome is unknown, "
                                "nothing runs again", len(live), error.orig)
                    for job in live:
                        job.error = error
                    return False
                if len(live) == 1:
                    live[0].error = _lock_wait_error(error, live[0]) or error
                    return False
                # The database failed the batch (a PostgreSQL deadlock: a batch takes the row locks
                # of several decisions, in their order, not the order single transactions keep; a
                # lock wait cut short by one caller's deadline; a lost connection): each decision
                # alone, so that one cannot fail the others.
                log.info("a batch of %d decisions failed (%s); running them one by one", len(live), error)
                emitted = False
                for job in live:
                    job.error = None
                    emitted = self._run_batch([job], may_reconnect=not reconnected) or emitted
                return emitted
            return committed
        return False

    def _transaction(self, live: list[_Job[Any]]) -> bool:
        """One transaction over `live`; True when it committed session events.

        A decision that raises before writing anything (a refusal: the usual case) just fails.
        One that raises after writing, or whose budget no longer allows the commit, can only be
        undone with the whole transaction: _RunAgain rolls back, and the batch runs again without
        it (no SAVEPOINTs: they cost two statements per decision on the happy path)."""
        self.lock_wait_ms = _lock_wait_ms(live)
        self.pg_wait_ms = _pg_wait_ms(live)
        self.began = False
        self.pending = None
        self.committing = False
        with self.engine.connect() as conn:
            tx = Tx(conn=conn, postgres=self.postgres)
            try:
                with conn.begin():
                    if len(live) > 1 and all(job.prefetch for job in live):
                        # Only in batches that change no row a grant reads: what each decision
                        # sees is then what it would have read itself.
                        tx.grants = grant_reads.read_grants(conn, list({job.prefetch for job in live}))
                    for job in live:
                        job.result, job.error = None, None
                        writes = tx.writes
                        try:
                            job.result = job.work(tx)
                        except DBAPIError:
                            raise  # the transaction is lost: see _run_batch
                        except Exception as error:  # noqa: BLE001  (handed to the job's caller)
                            job.error = error
                            if tx.writes != writes or not isinstance(error, _REFUSALS):
                                raise _RunAgain() from None
                    if all(job.error is not None for job in live):
                        raise _Rollback()
                    for job in live:  # right before COMMIT: nothing commits for a caller who gave up
                        if job.error is None and job.budget is not None:
                            try:
                                job.budget.check()
                            except DeadlineExceeded as error:
                                job.error = error
                                raise _RunAgain() from None
                    if (closing := pipelined_commit.closing(tx)) is not None:
                        self.committing = True
                        try:
                            pipelined_commit.commit(tx, closing)  # leaving the block then sends nothing
                        except DBAPIError:
                            self.committing = not pipelined_commit.rolled_back(tx)
                            raise
                    else:
                        decision_store.flush_events(tx)
                        audit_sync.flush_heads(tx)
                        if tx.writes and self.pending is not None and not self.pending.sent:
                            raise RuntimeError("the batch wrote without its BEGIN")  # never autocommit
                        self.committing = True  # leaving the block sends COMMIT
            except _Rollback:
                return False
        return tx.emitted_events


class _Rollback(Exception):
    """Every decision failed (their errors are set): nothing to commit."""


def _still_wanted(job: _Job[Any]) -> bool:
    if job.budget is None:
        return True
    try:
        job.budget.check("decision")
    except DeadlineExceeded as error:
        job.error = error
        return False
    return True


def _settle_all(jobs: list[_Job[Any]], on_commit: Callable[[], None] | None) -> None:
    if on_commit is not None:
        on_commit()
    for job in jobs:
        if job.future.done():
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)


def _lock_wait_ms(jobs: list[_Job[Any]]) -> int:
    """SQLite: the batch waits for the write lock no longer than its most pressed caller may."""
    lefts = [job.budget.remaining() for job in jobs if job.budget is not None]
    known = [left for left in lefts if left is not None]
    if not known:
        return SQLITE_BUSY_TIMEOUT_MS
    wait_ms = max(1, min(SQLITE_BUSY_TIMEOUT_MS, int(min(known) * 1000)))
    return wait_ms - wait_ms % 1000 if wait_ms > 3000 else wait_ms


def _pg_wait_ms(jobs: list[_Job[Any]]) -> int:
    """PostgreSQL: lock waits end with the most pressed caller's deadline (a decision cut short by
    it fails alone: the batch runs again without it); 0 is no limit."""
    lefts = [left for left in (job.budget.remaining() for job in jobs if job.budget is not None)
             if left is not None]
    return max(1, int(min(lefts) * 1000)) if lefts else 0


def _configure_postgres_writer(engine: Engine, writer: DecisionWriter) -> None:
    """BEGIN and the batch's timeouts go with the transaction's first statement, in one round trip
    (control.db.driver_calls.PendingBegin: a pipeline with a statement sent to the driver; on their
    own, right before, for one of SQLAlchemy's), with psycopg's own implicit BEGIN turned off. No
    ping at checkout: a connection lost while idle fails that first send, before anything of the
    batch ran, and DecisionWriter._run_batch runs the batch again on a new one."""
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.autocommit = True  # transactions are begun by the hooks below

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        ms = int(writer.pg_wait_ms)  # an int: nothing else goes into the statement's text
        writer.pending = PendingBegin(("BEGIN", f"SELECT set_config('lock_timeout', '{ms}', true), "
                                                f"set_config('statement_timeout', '{ms}', true)"))
        connection.info[PENDING_BEGIN] = writer.pending

    @event.listens_for(engine, "before_cursor_execute")
    def _begin_first(connection: Any, cursor: Any, *_: Any) -> None:
        if (begin := pending_begin(connection)) is not None:
            # One string without parameters: psycopg's simple query protocol runs it in one round trip.
            cursor.execute("; ".join(begin.statements))
            begin.sent = True


def _lock_wait_error(error: BaseException, job: _Job[Any]) -> DeadlineExceeded | None:
    """A lock wait cut short by the caller's deadline is DeadlineExceeded (as in ServiceContext)."""
    if not isinstance(error, OperationalError) or job.budget is None:
        return None
    original = error.orig
    if (getattr(original, "sqlite_errorcode", None) == SQLITE_BUSY
            or getattr(original, "sqlstate", None) in (PG_LOCK_NOT_AVAILABLE, PG_QUERY_CANCELED)):
        return DeadlineExceeded("the database stayed locked past the caller's deadline")
    return None


def _configure_sqlite_writer(engine: Engine, writer: DecisionWriter) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun by the hook below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BEGIN_TRY_MS}")  # each try of _begin_immediate
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        _begin_immediate(connection, writer.lock_wait_ms)
        writer.began = True


def _begin_immediate(connection: Any, wait_ms: int) -> None:
    """BEGIN IMMEDIATE, retried every millisecond while another connection (the async engine's
    transactions: lease renewals, sweeps, provisioning) holds the write lock, for up to `wait_ms`.

    Why not SQLite's busy handler: it sleeps 1, 2, 5, 10, 15, 20, 25 ... up to 100 ms between
    tries, so a batch waiting for a transaction of a few ms slept on for tens of ms more (8-250
    ms measured under LOCK/UNLOCK load), and every decision queued behind it waited as long.
    The connection's own busy timeout stays at BEGIN_TRY_MS for each try: once BEGIN IMMEDIATE
    holds the write lock, a WAL transaction's statements and COMMIT do not wait for anyone."""
    deadline = time.monotonic() + wait_ms / 1000
    while True:
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as error:
            if getattr(error.orig, "sqlite_errorcode", None) != SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        time.sleep(BEGIN_RETRY_S)
