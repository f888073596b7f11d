"""Fault: the database is slow (another session locks the save's write intent as soon as
BeginWrite has recorded it, past the edge's deadline) or stopped (pg_ctl stop -m immediate) while a save
waits for CommitWrite, after the edge has published the new bytes.

Once storage holds the new bytes the save is decided: the editor is told it was saved (200), and
the control plane confirms it from storage as the next version when it can. It was told 503 for a
save that then became the file's content."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.faults.s3_rig import Procs, poll
from tests.support.api import lock, new_tenant, open_file, put
from tests.support.postgres import PostgresServer, postgres_server

pytestmark = pytest.mark.postgres
OLD, NEW = b"old content " * 100, b"new content " * ((64 << 20) // 12)


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    with postgres_server() as started:
        with started.cluster().admin_connection() as admin:
            admin.execute('CREATE DATABASE "wopi"')
        yield started


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _commit_waits_on_a_lock(url: str) -> bool:
    with psycopg.connect(_plain(url), autocommit=True) as conn:
        rows = conn.execute("SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock'").fetchall()
    return any("write_intents" in q for (q,) in rows)


@pytest.mark.parametrize("fault", ["lock-held-past-deadline", "postgres-stopped-during-commit"])
def test_a_save_published_before_the_database_fails_is_answered_as_saved_and_recorded(server: PostgresServer, tmp_path: Path,
                                                            fault: str) -> None:
    url = server.cluster().url("wopi")
    write_timeout = "2" if fault == "lock-held-past-deadline" else "20"
    procs = Procs(tmp_path / "rig", database_url=url,
                  control_extra=("--write-intent-ttl", "4", "--intent-sweep-interval", "0.5"),
                  edge_extra=("--control-read-timeout", "2", "--control-write-timeout", write_timeout)).start()
    holder = psycopg.connect(_plain(url))
    try:
        api = procs.api()
        tenant_id, folder = new_tenant(api, tmp_path / "storage")
        f = open_file(api, tenant_id, folder, "doc.docx", OLD)
        with httpx.Client(timeout=60) as http:
            lock(http, f)
            told: dict[str, httpx.Response] = {}
            saver = threading.Thread(target=lambda: told.__setitem__("put", put(http, f, NEW)))
            saver.start()
            # Another session locks the save's write intent as soon as BeginWrite has recorded it
            # (the edge is then keeping, fsyncing and publishing 64 MiB): CommitWrite waits on it.
            poll(lambda: holder.execute("SELECT id FROM write_intents WHERE file_id = %s AND state = 'pending' "
                                        "FOR UPDATE", (f.file_id,)).fetchall(),
                 what="the intent recorded", log=procs.log, interval=0.0005)
            assert f.local_path.read_bytes() != NEW, "published before the intent was locked: rerun"
            poll(lambda: f.local_path.read_bytes() == NEW, what="the new bytes published", log=procs.log)
            if fault == "postgres-stopped-during-commit":
                poll(lambda: _commit_waits_on_a_lock(url), what="CommitWrite waiting", log=procs.log)
                server.stop("immediate")  # the holder's session dies with it
                holder.close()
                saver.join(60)
                server.start()
            else:
                saver.join(60)
                holder.rollback()
            reply = told["put"]
        # Recovery runs (the next access and the sweep).
        poll(lambda: not procs.rows("SELECT id FROM write_intents WHERE state = 'pending'"),
             what="no pending intent", log=procs.log)
        [(version, size)] = procs.rows("SELECT version, size FROM files WHERE id = :f", f=f.file_id)
        audits = procs.rows("SELECT outcome, status, detail FROM audit_events WHERE file_id = :f "
                            "AND operation = 'PutFile'", f=f.file_id)
        summary = (f"editor told {reply.status_code} {reply.text[:160]!r} (Retry-After "
                   f"{reply.headers.get('Retry-After')}); storage holds "
                   f"{'NEW' if f.local_path.read_bytes() == NEW else 'OLD'}; database: version {version}, "
                   f"size {size}; PutFile audit: {[(o, s) for o, s, _ in audits]}")
        assert reply.status_code == 200, summary + "\n" + procs.log()
        assert (version, size, f.local_path.read_bytes() == NEW) == (2, len(NEW), True), summary
        assert reply.headers["X-WOPI-ItemVersion"].startswith("2-"), summary
    finally:
        if not holder.closed:
            holder.close()
        procs.stop()
