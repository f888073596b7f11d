"""File ids are typed into the CLI by operators: none may read as an option there."""

from __future__ import annotations

from control.services.file_identity import new_file_id


def test_no_file_id_starts_with_a_dash() -> None:
    # One id in 64 began with "-" when ids were plain url-safe base64: 10,000 draws find one.
    ids = [new_file_id() for _ in range(10_000)]
    assert not [file_id for file_id in ids if file_id.startswith("-")]
    assert {len(file_id) for file_id in ids} == {22}, "still 128 random bits, url-safe base64"
