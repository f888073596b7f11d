"""control.db.snapshots: a snapshot is what model_construct makes, for every column set the hot path reads."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Field, SQLModel

from control.db import decision_store, grant_reads
from control.db.models import File, Session, Storage, WriteIntent
from control.db.snapshots import snapshot

COLUMN_SETS: list[tuple[type[SQLModel], tuple[str, ...]]] = [
    *zip(grant_reads._MODELS, grant_reads._NAMES, strict=True),
    (WriteIntent, decision_store._INTENT_NAMES),
    (Session, decision_store._SESSION_NAMES),
    (File, decision_store._FILE_NAMES),
    (Storage, decision_store._STORAGE_NAMES),
]


def _values(names: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(f"value-of-{name}" for name in names)


def _state(made: SQLModel) -> tuple[Any, ...]:
    return (type(made), made.__dict__, made.__pydantic_fields_set__, made.__pydantic_extra__,
            made.__pydantic_private__)


@pytest.mark.parametrize(("model", "names"), COLUMN_SETS,
                         ids=[f"{model.__name__}-{len(names)}-columns" for model, names in COLUMN_SETS])
def test_a_snapshot_is_what_model_construct_makes(model: type[SQLModel], names: tuple[str, ...]) -> None:
    expected = model.model_construct(**dict(zip(names, _values(names), strict=True)))
    assert _state(snapshot(model, names, _values(names))) == _state(expected)


def test_a_column_the_grant_does_not_read_holds_the_models_default() -> None:
    names = grant_reads._NAMES[1]
    assert "webhook_secret" not in names
    tenant = snapshot(grant_reads._MODELS[1], names, _values(names))
    assert tenant.webhook_secret == ""  # type: ignore[attr-defined]


def test_each_snapshot_has_its_own_values() -> None:
    names = decision_store._FILE_NAMES
    first = snapshot(File, names, _values(names))
    second = snapshot(File, names, tuple("other" for _ in names))
    assert first.path == "value-of-path" and second.path == "other"
    assert first.__dict__ is not second.__dict__


def test_a_snapshot_cannot_be_changed() -> None:
    names = decision_store._FILE_NAMES
    made = snapshot(File, names, _values(names))
    with pytest.raises(AttributeError):
        made.path = "elsewhere"
    assert made.path == "value-of-path"


class _WithAList(SQLModel):
    name: str = ""
    tags: list[str] = Field(default_factory=list)


def test_a_default_that_could_be_mutated_is_refused_rather_than_shared() -> None:
    with pytest.raises(TypeError, match="tags"):
        snapshot(_WithAList, ("name",), ("a",))
