"""The bridged document's life in the control plane, driven as the edge and its worker drive it:
open -> load lease -> loaded -> change events coalesce -> SAVE -> saved -> last one leaves ->
final save -> CLOSE -> unlocked. SQLite and PostgreSQL (the lock CAS and the work leases are
database transactions)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.bridge.control_rig import DATABASES, Rig, pad_event, refusal, start_rig
from wopiproxy.control.v1 import bridge_service_pb2 as bridge_pb
from wopiproxy.control.v1 import session_service_pb2 as session_pb
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

EVENT = edge_pb.BRIDGE_EVENT_SOURCE_ETHERPAD_EVENT
SHA = "ab" * 32


@pytest.fixture(params=DATABASES)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    yield from start_rig(tmp_path, request.param, lambda: request.getfixturevalue("postgres_database_url"))


def _load(rig: Rig, opened: edge_pb.OpenBridgedResponse, rev: int = 1) -> edge_pb.BridgedDocumentRef:
    assert opened.load and opened.lease_token and opened.document.bridge_token, rig.log()
    reply = rig.complete(opened, edge_pb.BRIDGE_WORK_OUTCOME_LOADED, app_rev=rev, sha256=SHA, size=6,
                         file_version=opened.document.file_version, text_profile='{"crlf": false}')
    assert reply.document.state == "open"
    return reply.document


def _file_lock(rig: Rig, token: str, file_id: str) -> str:
    reply = rig.edge(rig.edge.edge.AuthorizeWopiRequest, edge_pb.AuthorizeWopiRequestRequest(call=edge_pb.WopiCall(
        access_token=token, file_id=file_id, operation=edge_pb.WOPI_OPERATION_GET_LOCK)))
    return str(reply.lock_id)


def test_a_document_goes_from_open_to_saved_to_closed_and_unlocked(rig: Rig) -> None:
    tenant = rig.new_tenant()
    created = rig.session(tenant)
    opened = rig.open(created.access_token)
    doc = opened.document
    assert doc.state == "loading" and opened.can_write and opened.read_only_reason == ""
    assert doc.app_doc_id.startswith("wp") and len(doc.app_doc_id) == 34
    assert doc.lock_id == f"wopi-proxy-bridge/etherpad/{doc.document_id}/1" and len(doc.lock_id) <= 100
    assert doc.app.kind == "etherpad" and doc.app.api_key and doc.app.webhook_secret
    assert _file_lock(rig, created.access_token, doc.file_id) == doc.lock_id
    doc = _load(rig, opened)
    assert (doc.baseline_rev, doc.saved_rev, doc.seen_rev, doc.saved_sha256) == (1, 1, 1, SHA)

    # Two changes close together: one save, due after the debounce, covering the later revision.
    changed = time.monotonic()
    rig.event(EVENT, pad_event(doc, "change", rev=2, author="a.1"))
    rig.event(EVENT, pad_event(doc, "change", rev=4, author="a.1"))
    early = [i for i in rig.claim() if i.kind == edge_pb.BRIDGE_WORK_KIND_SAVE]
    if time.monotonic() - changed < 0.9:  # a stalled machine may reach the claim after the debounce
        assert not early, "the debounce is 1 s"
    item = early[0] if early else rig.claim_until(lambda i: i.kind == edge_pb.BRIDGE_WORK_KIND_SAVE)
    assert item.document.seen_rev == 4 and item.document.bridge_token and item.lease_token
    assert item.document.lock_id == doc.lock_id
    saved = rig.complete(item, edge_pb.BRIDGE_WORK_OUTCOME_SAVED, app_rev=4, sha256="cd" * 32, size=9,
                         file_version=2, editors=["ann"]).document
    assert (saved.saved_rev, saved.file_version) == (4, 2)
    public = rig.document(doc.document_id)
    assert public.last_save_time.seconds > 0 and public.saved_rev == 4 and public.locked

    # The last writer closes the session: final save due now, then CLOSE after the grace, then unlocked.
    rig.admin(rig.admin.sessions.CloseSession, session_pb.CloseSessionRequest(id=created.session.id))
    assert rig.document(doc.document_id).state == "closing"
    final = rig.claim_until(lambda i: i.kind == edge_pb.BRIDGE_WORK_KIND_SAVE)
    rig.complete(final, edge_pb.BRIDGE_WORK_OUTCOME_UNCHANGED, app_rev=4)
    close = rig.claim_until(lambda i: i.kind == edge_pb.BRIDGE_WORK_KIND_CLOSE)
    closed = rig.complete(close, edge_pb.BRIDGE_WORK_OUTCOME_CLOSED).document
    assert closed.state == "closed"
    public = rig.document(doc.document_id)
    assert public.state == "closed" and not public.locked
    other = rig.session(tenant, user="bob")
    assert _file_lock(rig, other.access_token, doc.file_id) == ""
    operations = rig.audit_operations(tenant)
    for expected in ("bridge.open", "bridge.lock", "bridge.join", "bridge.load", "bridge.save", "bridge.leave",
                     "bridge.save_skipped", "bridge.unlock", "bridge.close"):
        assert expected in operations, (expected, operations)

    # Opened again: a new generation, a new app document, a new lock.
    again = rig.open(other.access_token).document
    assert again.generation == 2 and again.document_id != doc.document_id and again.app_doc_id != doc.app_doc_id


def test_opening_again_returns_the_same_participant_without_a_second_load(rig: Rig) -> None:
    tenant = rig.new_tenant()
    created = rig.session(tenant)
    first = rig.open(created.access_token)
    second = rig.open(created.access_token)
    assert first.load and not second.load and not second.lease_token and not second.document.bridge_token
    assert second.document.document_id == first.document.document_id
    assert second.participant.session_id == first.participant.session_id
    assert len(second.document.participants) == 1


def test_two_writers_share_one_constant_lock_that_never_changes(rig: Rig) -> None:
    tenant = rig.new_tenant()
    ann, bob = rig.session(tenant, user="ann"), rig.session(tenant, user="bob")
    first = rig.open(ann.access_token)
    _load(rig, first)
    second = rig.open(bob.access_token)
    assert second.can_write and not second.load
    assert second.document.lock_id == first.document.lock_id and len(second.document.lock_id) <= 1024
    assert _file_lock(rig, bob.access_token, first.document.file_id) == first.document.lock_id
    # Bob leaves (his session closes): the lock is the same, Ann keeps editing.
    rig.admin(rig.admin.sessions.CloseSession, session_pb.CloseSessionRequest(id=bob.session.id))
    assert _file_lock(rig, ann.access_token, first.document.file_id) == first.document.lock_id
    assert rig.document(first.document.document_id).state == "open"


def test_a_file_locked_by_another_client_opens_read_only(rig: Rig) -> None:
    tenant = rig.new_tenant()
    created = rig.session(tenant)
    rig.edge(rig.edge.edge.AuthorizeWopiRequest, edge_pb.AuthorizeWopiRequestRequest(call=edge_pb.WopiCall(
        access_token=created.access_token, file_id=created.session.file_id, operation=edge_pb.WOPI_OPERATION_LOCK,
        lock_id="collabora-lock")))
    opened = rig.open(created.access_token)
    assert not opened.can_write and opened.read_only_reason == "locked"
    assert _file_lock(rig, created.access_token, created.session.file_id) == "collabora-lock"
    viewer = rig.open(rig.session(tenant, user="val", edit=False).access_token)
    assert not viewer.can_write and viewer.read_only_reason == "view"


def test_an_expired_lease_is_handed_out_again_and_the_stale_one_is_refused(rig: Rig) -> None:
    tenant = rig.new_tenant()
    opened = rig.open(rig.session(tenant).access_token)
    doc = _load(rig, opened)
    rig.event(EVENT, pad_event(doc, "change", rev=3, author="a.1"))
    lost = rig.claim_until(lambda i: i.kind == edge_pb.BRIDGE_WORK_KIND_SAVE, worker="crashed")
    assert not [i for i in rig.claim("w2") if i.document.document_id == doc.document_id], "the lease holds"
    retaken = rig.claim_until(lambda i: i.kind == edge_pb.BRIDGE_WORK_KIND_SAVE, worker="w2", timeout=30)
    assert retaken.lease_token != lost.lease_token and retaken.document.seen_rev == 3
    assert refusal(lambda: rig.complete(lost, edge_pb.BRIDGE_WORK_OUTCOME_SAVED, app_rev=3, sha256=SHA)) == \
        (grpc.StatusCode.FAILED_PRECONDITION, "BRIDGE_LEASE_LOST")
    assert rig.document(doc.document_id).saved_rev == 1, "the stale report recorded nothing"
    rig.complete(retaken, edge_pb.BRIDGE_WORK_OUTCOME_SAVED, app_rev=3, sha256=SHA, file_version=2)
    assert rig.document(doc.document_id).saved_rev == 3


def test_a_load_lease_that_lapses_passes_to_the_next_opener(rig: Rig) -> None:
    tenant = rig.new_tenant()
    first = rig.open(rig.session(tenant, user="ann").access_token)
    assert first.load
    bob = rig.session(tenant, user="bob")
    assert not rig.open(bob.access_token).load, "loading: others wait"
    deadline = time.monotonic() + 20
    while not (again := rig.open(bob.access_token)).load:
        assert time.monotonic() < deadline, rig.log()
        time.sleep(0.2)
    assert again.lease_token != first.lease_token
    assert refusal(lambda: rig.complete(first, edge_pb.BRIDGE_WORK_OUTCOME_LOADED, app_rev=1)) == \
        (grpc.StatusCode.FAILED_PRECONDITION, "BRIDGE_LEASE_LOST")


def test_a_transient_failure_backs_off_and_keeps_the_change(rig: Rig) -> None:
    tenant = rig.new_tenant()
    doc = _load(rig, rig.open(rig.session(tenant).access_token))
    rig.event(EVENT, pad_event(doc, "change", rev=2, author="a.1"))
    item = rig.claim_until(lambda i: i.kind == edge_pb.BRIDGE_WORK_KIND_SAVE)
    rig.complete(item, edge_pb.BRIDGE_WORK_OUTCOME_RETRY, detail="edge answered 503")
    public = rig.document(doc.document_id)
    assert public.attempts == 1 and "503" in public.last_error and public.seen_rev == 2 and public.saved_rev == 1
    again = rig.claim_until(lambda i: i.kind == edge_pb.BRIDGE_WORK_KIND_SAVE)
    rig.complete(again, edge_pb.BRIDGE_WORK_OUTCOME_SAVED, app_rev=2, sha256=SHA, file_version=2)
    public = rig.document(doc.document_id)
    assert public.attempts == 0 and public.last_error == "" and public.saved_rev == 2


def test_save_now_makes_a_save_due_that_skips_unchanged_bytes(rig: Rig) -> None:
    tenant = rig.new_tenant()
    doc = _load(rig, rig.open(rig.session(tenant).access_token))
    rig.admin(rig.admin.bridge.SaveBridgedDocumentNow, bridge_pb.SaveBridgedDocumentNowRequest(id=doc.document_id))
    item = rig.claim_until(lambda i: i.kind == edge_pb.BRIDGE_WORK_KIND_SAVE)
    assert item.document.document_id == doc.document_id
    rig.complete(item, edge_pb.BRIDGE_WORK_OUTCOME_UNCHANGED, app_rev=1)
    assert "bridge.save_skipped" in rig.audit_operations(tenant)


def test_workers_claiming_at_once_never_get_the_same_document(rig: Rig) -> None:
    tenant = rig.new_tenant()
    docs = []
    for i in range(6):
        doc = _load(rig, rig.open(rig.session(tenant, f"race{i}.txt").access_token))
        rig.admin(rig.admin.bridge.SaveBridgedDocumentNow, bridge_pb.SaveBridgedDocumentNowRequest(
            id=doc.document_id))
        docs.append(doc.document_id)
    barrier = threading.Barrier(3)
    claimed: list[list[str]] = [[], [], []]

    def work(n: int) -> None:
        barrier.wait()
        claimed[n] = [i.document.document_id for i in rig.claim(f"racer{n}", max_items=4)]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [d for batch in claimed for d in batch]
    assert len(everything) == len(set(everything)), claimed
    assert set(docs) <= set(everything), (claimed, rig.log())
