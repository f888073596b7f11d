"""Bridge domain views to protos: the internal BridgedDocumentRef (with the app's secrets and the
bridge token, for edges only) and the public BridgedDocument (none of them, never the lock id)."""

from __future__ import annotations

from control.api.convert import timestamp
from control.api.protos import bridge_pb, edge_pb
from control.db.models import BridgeParticipant
from control.services.bridge_common import DocumentView
from control.services.context import BridgeSettings


def timing(settings: BridgeSettings) -> edge_pb.BridgeTiming:
    return edge_pb.BridgeTiming(save_debounce_s=settings.save_debounce_s, save_max_wait_s=settings.save_max_wait_s,
                                poll_interval_s=settings.poll_interval_s,
                                idle_poll_interval_s=settings.idle_poll_interval_s,
                                unlock_grace_s=settings.unlock_grace_s, keep_app_copy=settings.keep_app_copy)


def participant(row: BridgeParticipant) -> edge_pb.BridgeParticipant:
    return edge_pb.BridgeParticipant(session_id=row.session_id, user_id=row.user_id, user_name=row.user_name,
                                     can_write=row.can_write, app_author_id=row.app_author_id, present=row.present,
                                     app_session_id=row.app_session_id, revoked=row.revoked)


def document_ref(view: DocumentView, settings: BridgeSettings) -> edge_pb.BridgedDocumentRef:
    doc, editor = view.doc, view.editor
    app = edge_pb.BridgeApp(editor_id=editor.id or 0, kind=doc.kind, url=editor.app_url,
                            public_url=editor.app_public_url or editor.app_url, api_key=editor.api_key,
                            webhook_secret=editor.webhook_secret, egress_restricted=not editor.operator_owned,
                            timing=timing(settings))
    # Revoked participants are handed out while their app session is still to be revoked, and
    # while they have an author in the app: a save after their session ended (expired, closed)
    # still names them as the editors of what they typed before (the worker maps authors to users).
    people = [participant(p) for p in view.participants if not p.revoked or p.app_session_id or p.app_author_id]
    return edge_pb.BridgedDocumentRef(
        document_id=doc.id, tenant_id=doc.tenant_id, file_id=doc.file_id, file_name=view.file_name,
        app_doc_id=doc.app_doc_id, app_read_only_id=doc.app_read_only_id, generation=doc.generation,
        state=doc.state, lock_id=doc.lock_id, bridge_token=view.bridge_token,
        bridge_token_expiry=doc.bridge_token_expire_time if view.bridge_token else 0, app=app,
        text_profile=doc.text_profile, baseline_rev=doc.baseline_rev, saved_rev=doc.saved_rev,
        saved_sha256=doc.saved_sha256, seen_rev=doc.seen_rev, file_version=doc.file_version, participants=people)


def bridged_document(view: DocumentView) -> bridge_pb.BridgedDocument:
    doc = view.doc
    message = bridge_pb.BridgedDocument(
        id=doc.id, tenant_id=doc.tenant_id, file_id=doc.file_id, storage_name=view.storage_name,
        path=view.file.deleted_from or view.file.path, editor_name=view.editor.name, kind=doc.kind, state=doc.state,
        generation=doc.generation, locked=view.locked, saved_rev=doc.saved_rev, seen_rev=doc.seen_rev,
        file_version=doc.file_version, last_error=doc.last_error, attempts=doc.attempts,
        create_time=timestamp(doc.create_time),
        users=[_user(p) for p in view.participants],
    )
    if doc.last_save_time:
        message.last_save_time.CopyFrom(timestamp(doc.last_save_time))
    due = [t for t in (doc.next_attempt_time if doc.dirty_since is not None else None, doc.close_after_time,
                       doc.next_poll_time if doc.state != "closed" else None) if t]
    if due:
        message.next_attempt_time.CopyFrom(timestamp(min(due)))
    return message


def _user(row: BridgeParticipant) -> bridge_pb.BridgeUser:
    message = bridge_pb.BridgeUser(session_id=row.session_id, user_id=row.user_id, user_name=row.user_name,
                                   can_write=row.can_write, present=row.present, join_time=timestamp(row.join_time))
    if row.leave_time is not None:
        message.leave_time.CopyFrom(timestamp(row.leave_time))
    return message
