"""Statements sent to the driver compiled once (control.db.driver_calls): only those whose values
SQLAlchemy would send unconverted; what they read is compared with SQLAlchemy's own execution in
tests/control/test_hot_path.py, and their errors in tests/control/test_driver_insert.py."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, create_engine, select, update

from control.db import driver_calls
from control.db.models import Storage

STORAGES = Storage.__table__  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", ["sqlite+pysqlite://", "postgresql+psycopg://u@127.0.0.1:9/x"])
def test_a_statement_whose_values_sqlalchemy_converts_is_refused(url: str) -> None:
    """The storage options are encrypted by their column type on the way in."""
    dialect = create_engine(url).dialect
    statement = update(STORAGES).where(STORAGES.c.id == bindparam("id")).values(options_json=bindparam("options"))

    with pytest.raises(ValueError, match="options"):
        driver_calls.driver_statement(dialect, statement)


@pytest.mark.parametrize("url", ["sqlite+pysqlite://", "postgresql+psycopg://u@127.0.0.1:9/x"])
def test_a_query_keeps_its_columns_result_processors(url: str) -> None:
    """The decrypting column is processed on both databases (and SQLite's booleans there)."""
    dialect = create_engine(url).dialect
    query = select(STORAGES.c.name, STORAGES.c.options_json).where(STORAGES.c.id == bindparam("id"))

    statement = driver_calls.driver_statement(dialect, query)

    assert [at for at, _ in statement.processors] == [1]
    assert statement.names == ("id",)


@pytest.mark.parametrize("url", ["sqlite+pysqlite://", "postgresql+psycopg://u@127.0.0.1:9/x"])
def test_a_statements_own_values_go_with_the_callers(url: str) -> None:
    """A LIMIT and a column set to a constant are the statement's; every bindparam() is the caller's."""
    dialect = create_engine(url).dialect
    query = select(STORAGES.c.name).where(STORAGES.c.tenant_id == bindparam("tenant_id")).limit(5)

    statement = driver_calls.driver_statement(dialect, query)

    assert statement.required == {"tenant_id"} and 5 in statement.fixed.values()  # (SQLite: OFFSET 0 too)
    given = statement._params({"tenant_id": "acme"})
    assert {5, "acme"} <= (set(given.values()) if statement.named else set(given))
    with pytest.raises(KeyError, match="tenant_id"):
        statement._params({})


@pytest.mark.parametrize("url", ["sqlite+pysqlite://", "postgresql+psycopg://u@127.0.0.1:9/x"])
def test_an_expanding_in_list_is_left_to_sqlalchemy(url: str) -> None:
    dialect = create_engine(url).dialect
    query = select(STORAGES.c.name).where(STORAGES.c.id.in_(bindparam("ids", expanding=True)))

    with pytest.raises(ValueError, match="expanding"):
        driver_calls.driver_statement(dialect, query)
