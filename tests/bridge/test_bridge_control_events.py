"""Signed requests from the bridged apps (NoteBridgeEvent) and entry codes, as the edge relays them:
every failure answers the same UNAUTHENTICATED, entry codes are single use and expire, presence
follows the apps' events, and a session's end revokes its user in the app."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import grpc
import pytest

from shared import signatures
from tests.bridge.control_rig import FAST, SECRET, Rig, pad_event, refusal, start_rig
from wopiproxy.control.v1 import bridge_service_pb2 as bridge_pb
from wopiproxy.control.v1 import session_service_pb2 as session_pb
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

EVENT = edge_pb.BRIDGE_EVENT_SOURCE_ETHERPAD_EVENT
REDEEM = edge_pb.BRIDGE_EVENT_SOURCE_ETHERPAD_REDEEM
CODIMD = edge_pb.BRIDGE_EVENT_SOURCE_CODIMD_WEBHOOK
HOCUSPOCUS = edge_pb.BRIDGE_EVENT_SOURCE_HOCUSPOCUS_WEBHOOK
REFUSED = (grpc.StatusCode.UNAUTHENTICATED, "BRIDGE_SIGNATURE_INVALID")
SHA = "ab" * 32
ENTRY_TTL_S = 4


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    yield from start_rig(tmp_path_factory.mktemp("bridge-events"), "sqlite", lambda: "", *FAST,
                         "--bridge-entry-ttl", str(ENTRY_TTL_S))


def _loaded(rig: Rig, tenant=None, *, user: str = "ann", path: str = "notes.txt") -> tuple[object, object]:
    tenant = tenant or rig.new_tenant()
    created = rig.session(tenant, path, user=user)
    opened = rig.open(created.access_token)
    if opened.load:
        rig.complete(opened, edge_pb.BRIDGE_WORK_OUTCOME_LOADED, app_rev=1, sha256=SHA)
    return created, opened.document


def _entry(rig: Rig, created, doc, *, author: str = "a.ann", app_session: str = "s.ann") -> str:
    reply = rig.edge(rig.edge.edge.RegisterBridgeEntry, edge_pb.RegisterBridgeEntryRequest(
        access_token=created.access_token, document_id=doc.document_id, app_author_id=author,
        app_session_id=app_session, app_target=f"g.x${doc.app_doc_id}"))
    assert len(reply.entry_code) >= 32
    return str(reply.entry_code)


# -- signatures -----------------------------------------------------------------------------------


def test_a_change_with_a_wrong_signature_is_refused_and_changes_nothing(rig: Rig) -> None:
    """Attack: anyone who can reach the edge posts change events to make us save (or not)."""
    _, doc = _loaded(rig)
    assert refusal(lambda: rig.event(EVENT, pad_event(doc, "change", rev=9, author="a"),
                                     secret="not-the-secret-at-all")) == REFUSED
    assert rig.document(doc.document_id).seen_rev == 1


def test_a_change_without_a_signature_is_refused(rig: Rig) -> None:
    """Attack: an unsigned event, or a malformed signature header."""
    _, doc = _loaded(rig)
    for header in ("", "t=1", "v1=" + "0" * 64, "garbage", "t=abc,v1=" + "0" * 64):
        assert refusal(lambda: rig.event(EVENT, pad_event(doc, "change", rev=9, author="a"),
                                         signature=header)) == REFUSED, header


def test_a_replayed_event_outside_the_window_is_refused(rig: Rig) -> None:
    """Attack: a captured, correctly signed event sent again later."""
    _, doc = _loaded(rig)
    body = json.dumps(pad_event(doc, "change", rev=9, author="a")).encode()
    old = signatures.sign(SECRET.encode(), body, now=int(time.time()) - 3600)
    assert refusal(lambda: rig.event(EVENT, body, signature=old)) == REFUSED


def test_another_tenants_pad_signed_with_my_secret_answers_like_an_unknown_one(rig: Rig) -> None:
    """Attack: tenant B's own Etherpad (B knows its secret) signs events naming tenant A's pad."""
    _, doc_a = _loaded(rig)
    rig.new_tenant(secret="tenant-b-own-secret-0123")
    forged = refusal(lambda: rig.event(EVENT, pad_event(doc_a, "change", rev=9, author="a"),
                                       secret="tenant-b-own-secret-0123"))
    unknown = refusal(lambda: rig.event(EVENT, {"event": "change", "pad": "wp" + "0" * 32, "rev": 9, "author": "a",
                                                "ts": 1}))
    assert forged == unknown == REFUSED
    assert rig.document(doc_a.document_id).seen_rev == 1


def test_a_body_that_is_not_strict_json_is_refused(rig: Rig) -> None:
    """Attack: duplicate keys (one parser reads the first, another the last), NaN, non-objects."""
    _, doc = _loaded(rig)
    pad = f"g.x${doc.app_doc_id}"
    for raw in (b'{"event":"change","pad":"%s","rev":2,"rev":99}' % pad.encode(),
                b'{"event":"change","pad":"%s","rev":NaN}' % pad.encode(), b"[1]", b"\xff\xfe"):
        assert refusal(lambda: rig.event(EVENT, raw)) == REFUSED, raw


def test_an_event_of_the_wrong_source_kind_is_refused(rig: Rig) -> None:
    """Attack: an Etherpad pad's id sent as a CodiMD webhook (other code path, other checks)."""
    _, doc = _loaded(rig)
    assert refusal(lambda: rig.event(CODIMD, {"id": doc.app_doc_id, "close": False})) == REFUSED


# -- entry codes ----------------------------------------------------------------------------------


def test_an_entry_code_lets_in_once(rig: Rig) -> None:
    """Attack: a code seen once (browser history, a proxy log) is used again."""
    created, doc = _loaded(rig)
    code = _entry(rig, created, doc)
    answer = rig.event(REDEEM, {"code": code})
    assert answer.app_session_id == "s.ann" and answer.app_target == f"g.x${doc.app_doc_id}"
    assert answer.user_name == "Ann" and answer.valid_until > time.time()
    assert refusal(lambda: rig.event(REDEEM, {"code": code})) == REFUSED
    assert refusal(lambda: rig.event(REDEEM, {"code": "x" * 32})) == REFUSED


def test_an_entry_code_expires(rig: Rig) -> None:
    """Attack: an entry code used after its short life (a leaked link opened later)."""
    created, doc = _loaded(rig)
    code = _entry(rig, created, doc)
    made = time.monotonic()
    while time.monotonic() < made + ENTRY_TTL_S + 0.5:
        time.sleep(0.2)
    assert refusal(lambda: rig.event(REDEEM, {"code": code})) == REFUSED


def test_an_entry_code_of_a_closed_session_is_refused(rig: Rig) -> None:
    """Attack: the session was closed (the user was let out) but its entry code is used anyway."""
    created, doc = _loaded(rig)
    code = _entry(rig, created, doc)
    rig.admin(rig.admin.sessions.CloseSession, session_pb.CloseSessionRequest(id=created.session.id))
    assert refusal(lambda: rig.event(REDEEM, {"code": code})) == REFUSED


def test_an_entry_code_redeemed_with_a_bad_signature_is_refused(rig: Rig) -> None:
    created, doc = _loaded(rig)
    code = _entry(rig, created, doc)
    assert refusal(lambda: rig.event(REDEEM, {"code": code}, secret="wrong-secret-wrong-secret")) == REFUSED
    assert rig.event(REDEEM, {"code": code}).app_session_id == "s.ann", "a forged try does not spend the code"


# -- presence -------------------------------------------------------------------------------------


def test_the_last_writer_leaving_makes_the_final_save_due_and_the_document_closing(rig: Rig) -> None:
    created, doc = _loaded(rig)
    _entry(rig, created, doc, author="a.leaver")
    rig.event(EVENT, pad_event(doc, "join", author="a.leaver", rev=1))
    assert rig.document(doc.document_id).users[0].present
    rig.event(EVENT, pad_event(doc, "leave", author="a.leaver", rev=1))
    public = rig.document(doc.document_id)
    assert public.state == "closing" and not public.users[0].present
    rig.event(EVENT, pad_event(doc, "join", author="a.leaver", rev=1))
    assert rig.document(doc.document_id).state == "open", "back within the grace period: the same generation"


def test_closing_a_session_revokes_its_app_session_at_the_next_item(rig: Rig) -> None:
    tenant = rig.new_tenant()
    ann, doc = _loaded(rig, tenant, path="revoke.txt")
    bob = rig.session(tenant, "revoke.txt", user="bob")
    rig.open(bob.access_token)
    _entry(rig, bob, doc, author="a.bob", app_session="s.bob")
    rig.admin(rig.admin.sessions.CloseSession, session_pb.CloseSessionRequest(id=bob.session.id))
    public = rig.document(doc.document_id)
    assert public.state == "open", "Ann is still in"
    rig.admin(rig.admin.bridge.SaveBridgedDocumentNow, bridge_pb.SaveBridgedDocumentNowRequest(id=doc.document_id))
    item = rig.claim_until(lambda i: i.document.document_id == doc.document_id)
    revoked = [p for p in item.document.participants if p.revoked]
    assert [(p.user_id, p.app_session_id, p.present) for p in revoked] == [("bob", "s.bob", False)]
    rig.complete(item, edge_pb.BRIDGE_WORK_OUTCOME_UNCHANGED, app_rev=1)
    rig.admin(rig.admin.bridge.SaveBridgedDocumentNow, bridge_pb.SaveBridgedDocumentNowRequest(id=doc.document_id))
    again = rig.claim_until(lambda i: i.document.document_id == doc.document_id)
    revoked = [p for p in again.document.participants if p.revoked]
    assert [(p.user_id, p.app_session_id, p.app_author_id) for p in revoked] == [("bob", "", "a.bob")], \
        "revoked once: the app session is not handed out again; the author stays (saves name bob's edits)"
    rig.complete(again, edge_pb.BRIDGE_WORK_OUTCOME_UNCHANGED, app_rev=1)
    assert refusal(lambda: rig.edge(rig.edge.edge.RegisterBridgeEntry, edge_pb.RegisterBridgeEntryRequest(
        access_token=bob.access_token, document_id=doc.document_id)))[0] == grpc.StatusCode.PERMISSION_DENIED


def test_a_codimd_webhook_makes_a_save_due_now_and_close_lets_everyone_out(rig: Rig) -> None:
    tenant = rig.new_tenant(kind="codimd", editor="notes")
    _, doc = _loaded(rig, tenant, path="notes.md")
    rig.event(CODIMD, {"id": doc.app_doc_id, "close": False})
    item = rig.claim_until(lambda i: i.document.document_id == doc.document_id
                           and i.kind == edge_pb.BRIDGE_WORK_KIND_SAVE)
    assert item.document.seen_rev == 2
    rig.complete(item, edge_pb.BRIDGE_WORK_OUTCOME_SAVED, app_rev=item.document.seen_rev, sha256=SHA,
                 file_version=2)
    rig.event(CODIMD, {"id": doc.app_doc_id, "close": True})
    public = rig.document(doc.document_id)
    assert public.state == "closing" and not any(u.present for u in public.users)


def test_hocuspocus_connect_create_change_disconnect(rig: Rig) -> None:
    tenant = rig.new_tenant(kind="hocuspocus", editor="yjs")
    created, doc = _loaded(rig, tenant, path="yjs.md")
    code = _entry(rig, created, doc, author="", app_session="")
    refused = refusal(lambda: rig.event(HOCUSPOCUS, {"event": "connect", "payload": {
        "documentName": "wp" + "1" * 32, "token": code}}))
    assert refused == REFUSED, "a code for another document"
    answer = rig.event(HOCUSPOCUS, {"event": "connect", "payload": {"documentName": doc.app_doc_id, "token": code}})
    context = json.loads(answer.context_json)
    assert context == {"session": created.session.id, "user": "ann", "name": "Ann", "readOnly": False}
    create = rig.event(HOCUSPOCUS, {"event": "create", "payload": {"documentName": doc.app_doc_id,
                                                                   "context": context}})
    assert create.load_document.document_id == doc.document_id and create.load_document.bridge_token
    rig.event(HOCUSPOCUS, {"event": "change", "payload": {"documentName": doc.app_doc_id, "context": context,
                                                          "document": {"content": "text"}}})
    assert rig.document(doc.document_id).seen_rev == 2
    rig.event(HOCUSPOCUS, {"event": "disconnect", "payload": {"documentName": doc.app_doc_id, "context": context}})
    assert rig.document(doc.document_id).state == "closing"
    assert refusal(lambda: rig.event(HOCUSPOCUS, {"event": "change", "payload": {
        "documentName": doc.app_doc_id, "context": context}}, signature="sha256=" + "0" * 64)) == REFUSED


@pytest.mark.parametrize("sent_at", [-(signatures.REPLAY_WINDOW_S + 60) * 1000, (signatures.REPLAY_WINDOW_S + 60) * 1000,
                                     None, "now"], ids=["old", "future", "missing", "not-a-number"])
def test_a_hocuspocus_webhook_outside_the_replay_window_is_refused_like_a_bad_signature(
        rig: Rig, sent_at: int | str | None) -> None:
    """A captured `create` answers the document's text: replayed later, it must be refused."""
    tenant = rig.new_tenant(kind="hocuspocus", editor="yjs")
    created, doc = _loaded(rig, tenant, path="replay.md")
    body: dict[str, object] = {"event": "create", "payload": {"documentName": doc.app_doc_id, "context": {}}}
    if sent_at is not None:
        body["sentAt"] = sent_at if isinstance(sent_at, str) else int(time.time() * 1000) + sent_at

    assert refusal(lambda: rig.event(HOCUSPOCUS, json.dumps(body).encode())) == REFUSED

    fresh = rig.event(HOCUSPOCUS, {**body, "sentAt": int(time.time() * 1000)})
    assert fresh.load_document.document_id == doc.document_id


def test_a_user_back_while_the_apps_copy_is_removed_gets_it_loaded_again(rig: Rig) -> None:
    """The CLOSE item removes the pad; a user who opened meanwhile must not be left in a closed
    document: the same generation (same lock) is loaded into the app again."""
    tenant = rig.new_tenant()
    ann, doc = _loaded(rig, tenant, path="back.txt")
    rig.admin(rig.admin.sessions.CloseSession, session_pb.CloseSessionRequest(id=ann.session.id))
    final = rig.claim_until(lambda i: i.document.document_id == doc.document_id
                            and i.kind == edge_pb.BRIDGE_WORK_KIND_SAVE)
    rig.complete(final, edge_pb.BRIDGE_WORK_OUTCOME_UNCHANGED, app_rev=1)
    close = rig.claim_until(lambda i: i.document.document_id == doc.document_id
                            and i.kind == edge_pb.BRIDGE_WORK_KIND_CLOSE)
    bob = rig.session(tenant, "back.txt", user="bob")
    back = rig.open(bob.access_token)
    assert back.document.document_id == doc.document_id and not back.load and back.can_write
    after = rig.complete(close, edge_pb.BRIDGE_WORK_OUTCOME_CLOSED).document
    assert after.state == "loading" and after.lock_id == doc.lock_id
    again = rig.open(bob.access_token)
    assert again.load and again.document.generation == doc.generation


def test_a_poll_of_an_app_that_only_counts_clients_leaves_presence_alone(rig: Rig) -> None:
    """Hocuspocus tells how many clients, not who: "*" keeps presence as the app's events set it."""
    tenant = rig.new_tenant(kind="hocuspocus", editor="yjs")
    created, doc = _loaded(rig, tenant, path="count.md")
    opened = time.monotonic()
    while time.monotonic() < opened + ENTRY_TTL_S + 0.5:  # past the time a user may take to enter
        time.sleep(0.2)
    rig.admin(rig.admin.bridge.SaveBridgedDocumentNow, bridge_pb.SaveBridgedDocumentNowRequest(id=doc.document_id))
    item = rig.claim_until(lambda i: i.document.document_id == doc.document_id)
    rig.complete(item, edge_pb.BRIDGE_WORK_OUTCOME_POLLED, app_rev=1, present_authors=["*"])
    public = rig.document(doc.document_id)
    assert public.state == "open" and public.users[0].present
    rig.admin(rig.admin.bridge.SaveBridgedDocumentNow, bridge_pb.SaveBridgedDocumentNowRequest(id=doc.document_id))
    item = rig.claim_until(lambda i: i.document.document_id == doc.document_id)
    rig.complete(item, edge_pb.BRIDGE_WORK_OUTCOME_POLLED, app_rev=1, present_authors=[])
    public = rig.document(doc.document_id)
    assert public.state == "closing" and not public.users[0].present, "no clients: nobody is in"
