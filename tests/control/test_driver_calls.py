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
