"""The control plane never commits work whose caller has given up: with the database held by
another writer past the edge's deadline, a LOCK and a PutFile answer an error to the editor, and
afterwards the database shows no lock and no new version (SQLite: another process holds the
write lock with BEGIN IMMEDIATE; PostgreSQL: another connection holds the file's row)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.faults.crash_rig import OLD, Rig, read_outcome
from tests.support.api import new_tenant, open_file, put

HOLD_S = 6.0  # longer than the edge's deadlines below
EDGE_DEADLINES = ("--control-read-timeout", "1", "--control-write-timeout", "2")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    url = request.getfixturevalue("postgres_database_url") if request.param == "postgresql" else None
    rig = Rig(tmp_path, database_url=url, intent_ttl_s=60, sweep_interval_s=3600)
    rig.start_control()
    try:
        rig.start_edge("", *EDGE_DEADLINES)
        yield rig
    finally:
        rig.stop()


def _hold_database(rig: Rig, file_id: str, held: threading.Event, release: threading.Event) -> None:
    if rig.database_url is None:
        conn: object = sqlite3.connect(rig.data_dir / "wopi-proxy.db", isolation_level=None, timeout=30)
        conn.execute("BEGIN IMMEDIATE")  # type: ignore[attr-defined]
    else:
        conn = psycopg.connect(rig.database_url.replace("postgresql+psycopg://", "postgresql://"))
        conn.execute("SELECT id FROM files WHERE id = %s FOR UPDATE", (file_id,))  # type: ignore[attr-defined]
        conn.execute("SELECT tenant_id FROM audit_chain_heads FOR UPDATE")  # type: ignore[attr-defined]
    held.set()
    release.wait(HOLD_S)
    conn.rollback()  # type: ignore[attr-defined]
    conn.close()  # type: ignore[attr-defined]


def test_lock_and_put_file_past_the_deadline_commit_nothing(rig: Rig) -> None:
    """The attack (a fault review): a write lock held for 13 s; the editor got 500 after the
    deadline, then the control plane committed the save and the LOCK anyway."""
    api = rig.api()
    tenant_id, folder = new_tenant(api, rig.workdir / "storage")
    f = open_file(api, tenant_id, folder, "doc.docx", content=OLD)
    api.close()
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_database, args=(rig, f.file_id, held, release))
    holder.start()
    try:
        assert held.wait(10)
        with httpx.Client(timeout=30) as http:
            started = time.monotonic()
            locked = http.post(f.url(), headers={"X-WOPI-Override": "LOCK", "X-WOPI-Lock": "L1"})
            saved = put(http, f, b"new bytes", lock_id="L1", **{"X-COOL-WOPI-Timestamp": "x"})
            waited = time.monotonic() - started
    finally:
        release.set()
        holder.join()
    assert locked.status_code >= 500 and saved.status_code >= 500, (locked.text, saved.text, rig.log())
    assert waited < HOLD_S, f"the edge waited {waited:.1f} s\n{rig.log()}"
    # Give the control plane every chance to commit late: the database is free again now.
    time.sleep(1.0)
    outcome = read_outcome(rig, f)
    assert (outcome.version, outcome.pending, outcome.stored) == (1, 0, OLD), rig.log()
    with httpx.Client(timeout=30) as http:
        reply = http.post(f.url(), headers={"X-WOPI-Override": "GET_LOCK"})
    assert (reply.status_code, reply.headers.get("X-WOPI-Lock")) == (200, ""), rig.log()
