"""On PostgreSQL a writer batch ends in one pipeline: its events, its audit records with their
chain heads, and COMMIT (control.db.pipelined_commit). A refusal in it proves nothing committed, so
the batch's other decisions still commit; a connection lost while it goes out leaves the outcome
unknown, so no decision runs again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from control.db import audit_sync
from control.db.engine import create_engine, create_schema
from control.db.writer import DecisionWriter, Tx
from control.services import audit
from tests.control.helpers import OTHER_TENANT, TENANT, one_batch
from tests.support.postgres import PostgresCluster

pytestmark = pytest.mark.postgres


@pytest.fixture
async def writer(postgres_database_url: str) -> AsyncIterator[DecisionWriter]:
    engine = create_engine(postgres_database_url)
    await create_schema(engine)
    await engine.dispose()
    decisions = DecisionWriter(postgres_database_url)
    yield decisions
    await asyncio.to_thread(decisions.close)


def record(n: int, tenant_id: str | None = TENANT) -> audit.AuditRecord:
    return audit.new_event(time=1_700_000_000_000 + n, actor=f"user:{n}", operation="PutFile", outcome="ok",
                           tenant_id=tenant_id, session_id=f"s-{n}", file_id=f"f-{n}", status=200)


async def stored_actors(writer: DecisionWriter) -> list[str]:
    return await writer.run(lambda tx: [str(row[0]) for row in tx.conn.execute(
        text("SELECT actor FROM audit_events ORDER BY id"))])


async def test_a_batch_of_two_tenants_moves_each_head_to_its_last_record(writer: DecisionWriter) -> None:
    records = [record(1), record(2, OTHER_TENANT), record(3), record(4, None)]

    [outcome] = await one_batch(writer, [lambda tx: audit_sync.append(tx, records)])

    assert outcome is None
    heads = dict(await writer.run(lambda tx: [(str(row[0]), (int(row[1]), str(row[2]))) for row in tx.conn.execute(
        text("SELECT tenant_id, last_event_id, last_hash FROM audit_chain_heads"))]))
    assert heads == {TENANT: (records[2].id, records[2].hash), OTHER_TENANT: (records[1].id, records[1].hash),
                     "": (records[3].id, records[3].hash)}
    assert records[0].id is not None and records[0].id < records[2].id  # a chain's ids in its order


async def test_a_record_refused_at_the_close_fails_its_decision_alone_and_the_others_commit(
    writer: DecisionWriter,
) -> None:
    refused = record(2)
    refused.actor = "x" * 301  # longer than its column: PostgreSQL refuses the batch's statement

    outcomes = await one_batch(writer, [lambda tx: audit_sync.append(tx, [record(1)]),
                                        lambda tx: audit_sync.append(tx, [refused]),
                                        lambda tx: audit_sync.append(tx, [record(3)])])

    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], DBAPIError) and "too long" in str(outcomes[1])
    assert await stored_actors(writer) == ["user:1", "user:3"]


async def test_a_record_the_driver_cannot_send_fails_its_decision_alone_and_the_others_commit(
    writer: DecisionWriter,
) -> None:
    """psycopg refuses a NUL character before COMMIT is queued: nothing can have committed, so the
    batch's other decisions run again alone and commit (not "COMMIT's outcome unknown")."""
    unsendable = record(2)
    unsendable.detail = "a\x00b"

    outcomes = await one_batch(writer, [lambda tx: audit_sync.append(tx, [record(1)]),
                                        lambda tx: audit_sync.append(tx, [unsendable]),
                                        lambda tx: audit_sync.append(tx, [record(3)])])

    assert outcomes[0] is None and outcomes[2] is None, outcomes
    assert isinstance(outcomes[1], DBAPIError), outcomes
    assert await stored_actors(writer) == ["user:1", "user:3"]


async def test_a_connection_lost_as_commit_goes_out_runs_no_decision_again(
    writer: DecisionWriter, postgres_cluster: PostgresCluster
) -> None:
    """The backend is gone as the pipeline's COMMIT is handed to the driver: whether COMMIT landed
    cannot be known, so each decision fails having run once (run again alone, each would be done
    twice if it had)."""
    runs: list[int] = []

    def save(n: int, *, last: bool = False) -> Callable[[Tx], None]:
        def work(tx: Tx) -> None:
            runs.append(n)
            audit_sync.append(tx, [record(n)])
            if last:
                pid = int(tx.conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
                driver: Any = tx.conn.connection.driver_connection
                execute = driver.execute

                def terminated_at_commit(query: Any, *args: Any, **kwargs: Any) -> Any:
                    if query == "COMMIT":
                        with postgres_cluster.admin_connection() as admin:
                            admin.execute("SELECT pg_terminate_backend(%s, 30000)", (pid,))
                    return execute(query, *args, **kwargs)

                driver.execute = terminated_at_commit  # this connection dies with the batch
        return work

    outcomes = await one_batch(writer, [save(1), save(2, last=True)])

    assert all(isinstance(outcome, DBAPIError) for outcome in outcomes), outcomes
    assert sorted(runs) == [1, 2]
    assert await stored_actors(writer) == []
