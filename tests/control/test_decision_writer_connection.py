"""The decision writer's PostgreSQL connection (control.db.writer): no ping at checkout, BEGIN and
the batch's timeouts sent with its first statement. A connection lost while idle (a database restart,
a proxy's idle timeout) must cost no decision: nothing of the batch reached the database, and the
batch runs again on a new connection, once. A connection
lost inside a transaction must never run a decision twice: that batch fails, the next one
reconnects. Nor may a COMMIT whose outcome is unknown: its decisions fail, none runs again."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

from control.db.driver_calls import rows_of
from control.db.writer import DecisionWriter, Tx
from control.services import deadlines
from tests.control.helpers import one_batch
from tests.support.postgres import PostgresCluster

pytestmark = pytest.mark.postgres


@pytest.fixture
async def writer(postgres_database_url: str) -> AsyncIterator[DecisionWriter]:
    decisions = DecisionWriter(postgres_database_url)
    yield decisions
    await asyncio.to_thread(decisions.close)


def backend_pid(tx: Tx) -> int:
    return int(tx.conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def terminate(cluster: PostgresCluster, pid: int) -> None:
    with cluster.admin_connection() as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 30000)", (pid,))


async def test_a_connection_lost_while_idle_is_replaced_and_the_next_decision_commits(
    writer: DecisionWriter, postgres_cluster: PostgresCluster, caplog: pytest.LogCaptureFixture
) -> None:
    await writer.run(lambda tx: tx.conn.execute(text("CREATE TABLE marks (n int)")))
    first_pid = await writer.run(backend_pid)
    terminate(postgres_cluster, first_pid)
    runs: list[int] = []

    def mark(tx: Tx) -> int:
        tx.conn.execute(text("INSERT INTO marks VALUES (1)"))  # the first statement: it fails once
        runs.append(1)
        return backend_pid(tx)

    second_pid = await writer.run(mark)

    assert second_pid != first_pid
    assert runs == [1]
    assert await writer.run(lambda tx: tx.conn.execute(text("SELECT count(*) FROM marks")).scalar_one()) == 1
    assert "connection was lost while idle" in caplog.text


async def test_a_connection_lost_inside_a_transaction_fails_its_decision_without_running_it_again(
    writer: DecisionWriter,
) -> None:
    runs: list[int] = []

    def dies_midway(tx: Tx) -> None:
        runs.append(1)
        tx.conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    with pytest.raises(DBAPIError):
        await writer.run(dies_midway)

    assert runs == [1]
    assert await writer.run(lambda tx: tx.conn.execute(text("SELECT 1")).scalar_one()) == 1


async def test_a_batch_runs_in_one_transaction_with_its_callers_lock_timeout(writer: DecisionWriter) -> None:
    def settings(tx: Tx) -> tuple[str, str, bool]:
        row = tx.conn.execute(text("SELECT current_setting('lock_timeout'), current_setting('statement_timeout'), "
                                   "now() = statement_timestamp()")).one()
        return str(row[0]), str(row[1]), bool(row[2])

    with deadlines.budget(20.0):
        lock_timeout, statement_timeout, same_instant = await writer.run(settings)
    unbounded = await writer.run(settings)

    # now() is the transaction's start: it differs from the statement's time only inside a
    # transaction begun before the statement (autocommit would make every statement its own).
    assert not same_instant
    assert lock_timeout.endswith("s") and lock_timeout not in ("0", "0s")
    assert 15 <= _seconds(lock_timeout) <= 20
    assert statement_timeout == lock_timeout
    assert unbounded[:2] == ("0", "0")


async def test_a_first_statement_sent_to_the_driver_runs_in_the_batchs_transaction_with_its_timeouts(
    writer: DecisionWriter,
) -> None:
    """BEGIN and the timeouts ride in the first statement's pipeline (driver_calls.PendingBegin)."""
    query = select(func.current_setting("lock_timeout"), func.current_setting("statement_timeout"),
                   func.now() == func.statement_timestamp())

    with deadlines.budget(20.0):
        [(lock_timeout, statement_timeout, same_instant)] = await writer.run(lambda tx: rows_of(tx.conn, query, {}))
    [unbounded] = await writer.run(lambda tx: rows_of(tx.conn, query, {}))

    assert not same_instant  # inside a transaction begun before the statement (see above)
    assert 15 <= _seconds(str(lock_timeout)) <= 20 and statement_timeout == lock_timeout
    assert unbounded[:2] == ("0", "0")


async def test_a_connection_lost_while_idle_costs_no_decision_whose_first_statement_goes_to_the_driver(
    writer: DecisionWriter, postgres_cluster: PostgresCluster
) -> None:
    first_pid = await writer.run(backend_pid)
    terminate(postgres_cluster, first_pid)
    pid = select(func.pg_backend_pid())

    [(second_pid,)] = await writer.run(lambda tx: rows_of(tx.conn, pid, {}))

    assert second_pid != first_pid


async def test_a_first_statement_that_ends_its_backend_costs_its_batch_one_rerun_only(
    writer: DecisionWriter,
) -> None:
    """BEGIN goes with the batch's first statement, so a backend that dies while that statement
    runs looks like a connection lost while idle: the batch runs again once, and its decisions
    then run alone without another reconnect. Nothing committed on the way."""
    runs: list[str] = []
    ends_its_backend = select(func.pg_terminate_backend(func.pg_backend_pid()))

    def killer(tx: Tx) -> None:
        runs.append("killer")
        rows_of(tx.conn, ends_its_backend, {})

    def other(tx: Tx) -> int:
        runs.append("other")
        return int(tx.conn.execute(text("SELECT 1")).scalar_one())

    outcomes = await one_batch(writer, [killer, other])

    assert isinstance(outcomes[0], DBAPIError) and outcomes[1] == 1, outcomes
    assert runs.count("killer") == 3, runs  # the batch, the batch again, then alone


def _seconds(setting: str) -> float:
    """PostgreSQL's display of a timeout (`19999ms`, `20s`) in seconds."""
    return float(setting[:-2]) / 1000 if setting.endswith("ms") else float(setting[:-1])


async def test_a_connection_lost_at_every_begin_is_tried_again_only_once(
    writer: DecisionWriter, postgres_cluster: PostgresCluster
) -> None:
    """A pooler in front of a database that is down accepts connections and drops them: the writer
    must give up (its callers answered, its thread free) instead of reconnecting for ever."""
    checkouts: list[int] = []

    def drop_at_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        checkouts.append(1)
        terminate(postgres_cluster, dbapi_connection.info.backend_pid)

    event.listen(writer.engine, "checkout", drop_at_checkout)
    runs: list[int] = []

    def query(tx: Tx) -> None:
        tx.conn.execute(text("SELECT 1"))
        runs.append(1)

    with pytest.raises(DBAPIError):
        await asyncio.wait_for(writer.run(query), 60)

    assert (len(checkouts), runs) == (2, [])
    event.remove(writer.engine, "checkout", drop_at_checkout)
    assert await writer.run(lambda tx: tx.conn.execute(text("SELECT 1")).scalar_one()) == 1


async def test_a_batch_whose_commit_fails_runs_no_decision_again(
    writer: DecisionWriter, postgres_cluster: PostgresCluster
) -> None:
    """The connection is lost as COMMIT goes out: whether it reached the database cannot be known,
    so both decisions of the batch fail, each having run once (run again alone, each would be done
    twice if the COMMIT had landed)."""
    await writer.run(lambda tx: tx.conn.execute(text("CREATE TABLE saves (n int)")))
    entered, held, armed = threading.Event(), threading.Event(), threading.Event()
    runs: list[int] = []

    def hold(tx: Tx) -> None:
        entered.set()
        held.wait(30)  # the two saves queue meanwhile: they are the next batch

    def save(n: int) -> Any:
        def work(tx: Tx) -> None:
            runs.append(n)
            tx.conn.execute(text("INSERT INTO saves VALUES (:n)"), {"n": n})
            armed.set()
        return work

    def drop_at_commit(conn: Any) -> None:
        if armed.is_set():
            armed.clear()
            terminate(postgres_cluster, conn.connection.dbapi_connection.info.backend_pid)

    event.listen(writer.engine, "commit", drop_at_commit)
    holder = asyncio.ensure_future(writer.run(hold))
    assert await asyncio.to_thread(entered.wait, 30)
    saves = [asyncio.ensure_future(writer.run(save(n))) for n in (1, 2)]
    await asyncio.sleep(0)  # the tasks put their decisions on the writer's queue
    held.set()
    await holder
    outcomes = await asyncio.gather(*saves, return_exceptions=True)
    event.remove(writer.engine, "commit", drop_at_commit)

    assert all(isinstance(outcome, DBAPIError) for outcome in outcomes), outcomes
    assert sorted(runs) == [1, 2]
    assert await writer.run(lambda tx: tx.conn.execute(text("SELECT count(*) FROM saves")).scalar_one()) == 0
