"""Crash consistency of writes: after `kill -9` of the edge or the control plane at any step of a
PutFile (failpoints, shared/failpoints.py), and a restart, the file row (version, size, sha256),
the kept versions, the audit trail and the `saved` events agree with what storage holds; a write
left unconfirmed is resolved at the next access to the file (when storage shows it) or by the
periodic sweep (when it does not). The protocol: control/services/write_intents.py.
Each scenario runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.crash_rig import (
    CONTROL_POINTS,
    EDGE_POINTS,
    OLD,
    OTHER_POINTS,
    crash_other,
    crash_put_file,
    mismatches,
)

POINTS = {**EDGE_POINTS, **CONTROL_POINTS}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    yield request.getfixturevalue("postgres_database_url") if request.param == "postgresql" else None


@pytest.mark.parametrize("point", sorted(POINTS))
def test_a_put_file_killed_at_any_step_leaves_database_audit_and_events_agreeing_with_storage(
    tmp_path: Path, database_url: str | None, point: str
) -> None:
    """The attack: `kill -9` of the edge or the control plane in the middle of a save (the fault
    review saw the database, the audit and the webhook say "saved" while storage held the old bytes)."""
    outcome, new, rig, status = crash_put_file(tmp_path, point, database_url=database_url)
    try:
        assert not mismatches(outcome, new), f"{mismatches(outcome, new)}\n{rig.log()}"
        published = POINTS[point]
        assert outcome.stored == (new if published else OLD), rig.log()
        if not published and point not in ("putfile.after_stage", "control.begin.before_commit"):
            # The write was begun, then never published: abandoned, and audited so.
            assert outcome.failed_saves == 1, rig.log()
        if status == 200:
            assert outcome.stored == new, "the editor was told 200 for bytes storage does not hold"
    finally:
        rig.stop()


def test_a_small_kill_loop_finds_no_mismatch(tmp_path: Path) -> None:
    """Kills at random steps, one after the other (bench/kill_loop.py runs the long version)."""
    rounds = random.Random(7).sample(sorted(POINTS), 3)
    for n, point in enumerate(rounds):
        outcome, new, rig, _ = crash_put_file(tmp_path / f"round{n}", point)
        try:
            assert not mismatches(outcome, new), f"{point}: {mismatches(outcome, new)}\n{rig.log()}"
        finally:
            rig.stop()


@pytest.mark.parametrize("point", sorted(OTHER_POINTS))
def test_rename_delete_put_relative_and_restore_killed_mid_way_agree_with_storage(
    tmp_path: Path, database_url: str | None, point: str
) -> None:
    """The same attack on the other writes: the edge (or, for a restore, the control plane) killed
    between deciding the change and making it, or between making it and recording it."""
    found, rig = crash_other(tmp_path, point, database_url=database_url)
    try:
        assert not found, f"{found}\n{rig.log()}"
    finally:
        rig.stop()
