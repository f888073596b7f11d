"""Event cursors are opaque (control.services.event_cursors): a tenant reading its own cursors
learns nothing of the deployment-wide id behind them, so nothing of other tenants' events."""

from __future__ import annotations

import pytest

from control.services.event_cursors import EventCursors
from shared.errors import InvalidArgument

KEY = bytes(range(32))


def test_a_cursor_decodes_to_the_event_id_it_was_made_from() -> None:
    cursors = EventCursors(KEY)
    assert [cursors.decode(cursors.encode(n)) for n in (1, 2, 10**12, (1 << 63) - 1)] == [1, 2, 10**12, (1 << 63) - 1]


def test_consecutive_ids_give_cursors_that_are_not_numbers_and_share_no_order() -> None:
    cursors = EventCursors(KEY)
    made = [cursors.encode(n) for n in range(1, 200)]
    assert not any(c.isdigit() for c in made)
    assert made != sorted(made)  # the text's order says nothing of the ids' order
    assert len({c[:4] for c in made}) > 150  # neighbours share no visible prefix


def test_another_replica_with_the_same_key_reads_the_cursor() -> None:
    assert EventCursors(KEY).decode(EventCursors(bytes(KEY)).encode(42)) == 42


def test_a_cursor_made_with_another_key_is_refused() -> None:
    foreign = EventCursors(bytes(32)).encode(42)
    with pytest.raises(InvalidArgument) as caught:
        EventCursors(KEY).decode(foreign)
    assert caught.value.field == "cursor"


def test_a_cursor_with_one_character_changed_is_refused() -> None:
    cursor = EventCursors(KEY).encode(42)
    changed = ("B" if cursor[3] == "A" else "A").join((cursor[:3], cursor[4:]))
    with pytest.raises(InvalidArgument):
        EventCursors(KEY).decode(changed)


@pytest.mark.parametrize("text", ["not-a-cursor", "x" * 21, "x" * 23, "+" * 22, "/" * 22, "é" * 22, "-1",
                                  "1" * 19, "\u0661\u0662"])
def test_malformed_cursors_are_refused(text: str) -> None:
    with pytest.raises(InvalidArgument):
        EventCursors(KEY).decode(text)


def test_zero_is_accepted_but_plain_ids_are_not() -> None:
    """A plain id would let a tenant probe positions between its own events and count the others'."""
    assert EventCursors(KEY).decode("0") == 0
    for plain in ("1", "1234", "00"):
        with pytest.raises(InvalidArgument):
            EventCursors(KEY).decode(plain)


def test_ids_out_of_range_are_never_encoded() -> None:
    for bad in (0, -1, 1 << 63):
        with pytest.raises(ValueError):
            EventCursors(KEY).encode(bad)
