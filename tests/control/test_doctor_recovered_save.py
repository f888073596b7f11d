"""`doctor session` reading a session whose save the control plane confirmed from storage (the
edge's CommitWrite was lost: the crash case the write protocol repairs)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from control.api.audit_servicer import audit_event
from control.db.models import Storage
from control.services import audit_queries, wopi_access, wopi_changes, write_intents
from control.services.audit_queries import AuditFilter
from control.services.context import Principal, ServiceContext
from control.services.wopi_changes import Staged, Stored, WriteRequest
from cli.audit_commands import event_record
from cli.doctor_commands import summarize, timeline
from shared.wopi_operation import WopiOperation
from tests.control.helpers import TENANT, FakeClock, OpenSession, caller


async def test_doctor_session_does_not_call_a_save_confirmed_from_storage_lost(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, docs: Storage, storage_root: Path,
    clock: FakeClock,
) -> None:
    opened = await open_session(path="doc.docx")
    who = caller(opened)
    await wopi_access.authorize(ctx, who, operation="Lock", lock_id="L1")
    content = b"the user's edit"
    old = (storage_root / "doc.docx").read_bytes()
    begun = await wopi_changes.begin(ctx, who, WriteRequest(
        operation=WopiOperation.PUT_FILE, lock_id="L1", current=Stored(exists=True, size=len(old)),
        staged=Staged(size=len(content), sha256=hashlib.sha256(content).hexdigest())))
    (storage_root / "doc.docx").write_bytes(content)  # published; the edge dies before CommitWrite
    clock.advance(seconds=120)
    assert await write_intents.settle(ctx, begun.intent_id) == write_intents.CONFIRMED  # storage holds it

    rows, _ = await audit_queries.list_events(ctx, admin, where=AuditFilter(tenant_id=TENANT,
                                                                            session_id=opened.session.row.id),
                                              page_size=1000, page_token="")
    events = [event_record(audit_event(r)) for r in rows]
    session = {"state": "open", "permission": "edit", "expire_time": "later", "close_time": ""}
    summary = summarize(timeline(events, session), session)

    assert "no save reached storage in this session" not in summary, (
        f"doctor says no save reached storage, yet version {begun.version + 1} was confirmed from storage: {summary}")
