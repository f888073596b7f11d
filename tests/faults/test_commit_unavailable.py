"""A change storage already holds is decided: when the control plane dies before recording it
(CommitWrite unanswered), the editor is told it is done, not 503, and the restarted control
plane confirms it from storage (edge/wopi/writes.py commit_decided, control/services/write_intents.py)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy

from tests.faults.crash_rig import LOCK_ID, OLD, RESOLVE_TIMEOUT_S, Rig, check_file_info, prepare
from tests.support.api import OpenFile, put

NEW = b"new content " * 100
EDGE_DEADLINES = ("--control-write-timeout", "3", "--control-read-timeout", "3")


def _change(http: httpx.Client, f: OpenFile, operation: str) -> httpx.Response:
    if operation == "put":
        return put(http, f, NEW, lock_id=LOCK_ID)
    if operation in ("rename", "rename-to-its-own-name"):
        name = "renamed" if operation == "rename" else "doc"
        return http.post(f.url(), headers={"X-WOPI-Override": "RENAME_FILE", "X-WOPI-Lock": LOCK_ID,
                                           "X-WOPI-RequestedName": name})
    unlocked = http.post(f.url(), headers={"X-WOPI-Override": "UNLOCK", "X-WOPI-Lock": LOCK_ID})
    assert unlocked.status_code == 200, unlocked.text
    return http.post(f.url(), headers={"X-WOPI-Override": "DELETE"})


def _file_row(rig: Rig, f: OpenFile) -> tuple[str, int, bool]:
    """(path, version, deleted) once no intent of the file is pending."""
    deadline = time.monotonic() + RESOLVE_TIMEOUT_S
    engine = rig.engine()
    try:
        while True:
            with engine.connect() as conn:
                pending = conn.execute(sqlalchemy.text(
                    "SELECT count(*) FROM write_intents WHERE file_id = :f AND state = 'pending'"), {"f": f.file_id}
                ).scalar_one()
                path, version, deleted = conn.execute(sqlalchemy.text(
                    "SELECT path, version, deleted_time FROM files WHERE id = :f"), {"f": f.file_id}).one()
            if not pending:
                return str(path), int(version), deleted is not None
            assert time.monotonic() < deadline, f"the intent is still pending\n{rig.log()}"
            time.sleep(0.1)
    finally:
        engine.dispose()


def _intent_states(rig: Rig, f: OpenFile) -> list[str]:
    engine = rig.engine()
    try:
        with engine.connect() as conn:
            return [str(state) for (state,) in conn.execute(sqlalchemy.text(
                "SELECT state FROM write_intents WHERE file_id = :f"), {"f": f.file_id})]
    finally:
        engine.dispose()


@pytest.mark.parametrize("operation", ["put", "rename", "rename-to-its-own-name", "delete"])
def test_a_change_storage_holds_is_answered_as_done_when_the_control_plane_dies_before_recording_it(
        tmp_path: Path, operation: str) -> None:
    rig = Rig(tmp_path)
    rig.start_control("control.commit.before_commit=kill")
    try:
        rig.start_edge("", *EDGE_DEADLINES)
        f = prepare(rig)
        with httpx.Client(timeout=60) as http:
            reply = _change(http, f, operation)
        assert rig.control is not None
        rig.wait_killed(rig.control)

        assert reply.status_code == 200, f"{reply.status_code} {reply.text}\n{rig.log()}"
        assert "not yet recorded" in rig.log()
        folder = f.local_path.parent
        rig.start_control()
        if operation == "put":
            assert reply.headers["X-WOPI-ItemVersion"].startswith("2-")
            check_file_info(f)
            assert _file_row(rig, f) == ("doc.docx", 2, False)
            assert f.local_path.read_bytes() == NEW
        elif operation == "rename":
            assert reply.json() == {"Name": "renamed"}
            assert _file_row(rig, f)[0] == "renamed.docx"
            assert (folder / "renamed.docx").read_bytes() == OLD and not f.local_path.exists()
        elif operation == "rename-to-its-own-name":
            assert _file_row(rig, f)[0] == "doc.docx" and f.local_path.read_bytes() == OLD
            assert _intent_states(rig, f) == ["confirmed"], "told 200, recorded as failed"
        else:
            assert _file_row(rig, f)[2] is True
            assert not f.local_path.exists()
    finally:
        rig.stop()
