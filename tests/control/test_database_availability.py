"""control.db.availability: a database that cannot be reached is an outage (UNAVAILABLE, one log
line now and then), anything else a database refused stays an error with its traceback."""

from __future__ import annotations

import logging
import secrets
import sqlite3
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, InterfaceError

from control.db import availability
from tests.support.postgres import PostgresCluster
from tests.support.ports import unused_port


def _error_of(url: str, statement: str = "SELECT 1", **connect_args: object) -> DBAPIError:
    engine = create_engine(url, connect_args=connect_args)
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    except DBAPIError as error:
        return error
    finally:
        engine.dispose()
    raise AssertionError(f"{statement} succeeded")


def test_a_refused_postgresql_connection_is_an_outage() -> None:
    error = _error_of(f"postgresql+psycopg://postgres@127.0.0.1:{unused_port()}/wopi", connect_timeout=5)

    assert availability.unreachable(error)
    assert "refused" in availability.describe(error).lower() or "failed" in availability.describe(error).lower()


@pytest.mark.postgres
def test_too_many_connections_is_an_outage(postgres_cluster: PostgresCluster) -> None:
    role = "full_" + secrets.token_hex(4)
    with postgres_cluster.admin_connection() as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0')
    try:
        url = f"postgresql+psycopg://{role}@{postgres_cluster.host}:{postgres_cluster.port}/postgres"
        error = _error_of(url, connect_timeout=5)
    finally:
        with postgres_cluster.admin_connection() as admin:
            admin.execute(f'DROP ROLE "{role}"')

    assert "too many connections" in availability.describe(error)
    assert availability.unreachable(error)


def test_a_misused_driver_is_a_bug_not_an_outage() -> None:
    """psycopg's InterfaceError has no SQLSTATE either; unless SQLAlchemy saw a lost connection in
    it, it is a bug and keeps its traceback."""
    error = InterfaceError("SELECT 1", None, psycopg.InterfaceError("the cursor is closed"))

    assert not availability.unreachable(error)


def test_a_locked_sqlite_database_is_not_an_outage(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        error = _error_of(f"sqlite:///{path}", "CREATE TABLE t (n int)", timeout=0)
    finally:
        holder.close()

    assert "locked" in availability.describe(error)
    assert not availability.unreachable(error)


def test_an_outage_is_one_warning_line_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    error = _error_of(f"postgresql+psycopg://postgres@127.0.0.1:{unused_port()}/wopi", connect_timeout=5)
    log = logging.getLogger("test.availability")

    with caplog.at_level(logging.INFO, logger="test.availability"):
        for _ in range(3):
            availability.log_failure(log, "the outage test's round", error)

    assert [(r.levelno, r.exc_info) for r in caplog.records] == [(logging.WARNING, None)]
    assert "the database cannot be reached" in caplog.records[0].getMessage()


def test_any_other_failure_is_an_error_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.availability")

    with caplog.at_level(logging.INFO, logger="test.availability"):
        for _ in range(2):
            availability.log_failure(log, "a buggy round", ValueError("a bug"))

    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.ERROR]
    assert all(r.exc_info is not None for r in caplog.records)
