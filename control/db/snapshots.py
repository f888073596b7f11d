"""Read-only snapshots of table rows for the hot path (a grant's six rows, a commit's four).

A snapshot is what `model.model_construct(**row)` makes: the model's object with the row's values
and the defaults of the columns not read, no validation, no ORM identity (setting an attribute fails:
SQLAlchemy finds no instance state, which is what a snapshot should do). model_construct walks
every field of the model on each call, about 25 µs a model, six models a grant. Here that walk is
made once per (model, columns read) and each snapshot copies its result: about a tenth of the cost.
tests/control/test_snapshots.py holds the two to the same result for every column set we read.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlmodel import SQLModel

M = TypeVar("M", bound=SQLModel)

# Defaults are shared by every snapshot made from one template: only values nobody can mutate.
_IMMUTABLE = (str, int, float, bool, bytes, type(None))

_templates: dict[tuple[type[SQLModel], tuple[str, ...]], dict[str, Any]] = {}


def _defaults(model: type[SQLModel], names: tuple[str, ...]) -> dict[str, Any]:
    """The values model_construct gives the fields not in `names` (made once per column set)."""
    made = model.model_construct(**dict.fromkeys(names))
    left = {key: value for key, value in made.__dict__.items() if key not in names}
    shared = [key for key, value in left.items() if not isinstance(value, _IMMUTABLE)]
    if shared or made.__pydantic_private__ or made.__pydantic_extra__:
        raise TypeError(f"{model.__name__}: defaults {shared} cannot be shared between snapshots; read them")
    return left


def snapshot(model: type[M], names: tuple[str, ...], values: tuple[Any, ...] | Any) -> M:
    """`model.model_construct(**dict(zip(names, values)))`, made from a template."""
    key = (model, names)
    defaults = _templates.get(key)
    if defaults is None:
        defaults = _templates[key] = _defaults(model, names)
    row = dict(defaults)
    row.update(zip(names, values, strict=True))
    made = model.__new__(model)  # SQLModel.__new__: pydantic's fields-set, extra and private slots
    object.__setattr__(made, "__dict__", row)
    object.__setattr__(made, "__pydantic_fields_set__", set(names))
    return made
