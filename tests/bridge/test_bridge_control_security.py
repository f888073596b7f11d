"""BridgeService and bridged editors under attack: tenants see only their own documents, nothing
returned carries a token, a secret, an app session or the lock id, app secrets are never returned
(nor stored in clear), a tenant's app URL is held to the egress policy, and only edges reach the
internal bridge RPCs."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import grpc
import pytest

from shared import signatures
from tests.bridge.control_rig import API_KEY, SECRET, Rig, pad_event, refusal, start_rig
from wopiproxy.control.v1 import bridge_service_pb2 as bridge_pb
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import session_service_pb2 as session_pb
from wopiproxy.control.v1 import tenant_service_pb2 as tenant_pb
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

SHA = "ab" * 32


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    yield from start_rig(tmp_path_factory.mktemp("bridge-security"), "sqlite", lambda: "")


def _bridged(rig: Rig, tenant, path: str = "doc.txt") -> tuple[object, edge_pb.BridgedDocumentRef]:
    created = rig.session(tenant, path)
    opened = rig.open(created.access_token)
    rig.edge(rig.edge.edge.RegisterBridgeEntry, edge_pb.RegisterBridgeEntryRequest(
        access_token=created.access_token, document_id=opened.document.document_id, app_author_id="a.secretauthor",
        app_session_id="s.appsessionsecret", app_target="g.x$pad"))
    rig.complete(opened, edge_pb.BRIDGE_WORK_OUTCOME_LOADED, app_rev=1, sha256=SHA)
    return created, opened.document


def test_a_tenant_key_lists_and_reads_only_its_own_documents(rig: Rig) -> None:
    """Attack: tenant B lists bridged documents, or reads/saves/closes tenant A's by id."""
    a, b = rig.new_tenant(), rig.new_tenant()
    _, doc_a = _bridged(rig, a)
    _, doc_b = _bridged(rig, b)
    key_b = rig.tenant_key(b)
    listed = key_b(key_b.bridge.ListBridgedDocuments, bridge_pb.ListBridgedDocumentsRequest())
    assert [d.id for d in listed.documents] == [doc_b.document_id]
    assert refusal(lambda: key_b(key_b.bridge.ListBridgedDocuments, bridge_pb.ListBridgedDocumentsRequest(
        tenant_id=a.id)))[0] == grpc.StatusCode.NOT_FOUND
    for method, request in ((key_b.bridge.GetBridgedDocument, bridge_pb.GetBridgedDocumentRequest),
                            (key_b.bridge.SaveBridgedDocumentNow, bridge_pb.SaveBridgedDocumentNowRequest),
                            (key_b.bridge.CloseBridgedDocument, bridge_pb.CloseBridgedDocumentRequest)):
        theirs = refusal(lambda: key_b(method, request(id=doc_a.document_id)))
        missing = refusal(lambda: key_b(method, request(id="bd_doesnotexist000")))
        assert theirs == missing == (grpc.StatusCode.NOT_FOUND, "BRIDGE_DOCUMENT_NOT_FOUND")
    assert rig.document(doc_a.document_id).state == "open", "nothing happened to A's document"
    assert key_b(key_b.bridge.GetBridgedDocument, bridge_pb.GetBridgedDocumentRequest(
        id=doc_b.document_id)).tenant_id == b.id


def test_operator_output_carries_no_token_secret_app_session_or_lock(rig: Rig) -> None:
    """Attack (cs3's /wopi/bridge/list): the operator list leaks tokens or secrets to whoever reads it."""
    tenant = rig.new_tenant()
    created, doc = _bridged(rig, tenant)
    rig.admin(rig.admin.bridge.SaveBridgedDocumentNow, bridge_pb.SaveBridgedDocumentNowRequest(id=doc.document_id))
    items = [rig.claim_until(lambda i: i.document.document_id == doc.document_id)]
    secrets_ = [created.access_token, doc.lock_id, SECRET, API_KEY, "s.appsessionsecret", "a.secretauthor"]
    secrets_ += [i.document.bridge_token for i in items]
    listed = rig.admin(rig.admin.bridge.ListBridgedDocuments, bridge_pb.ListBridgedDocumentsRequest(
        tenant_id=tenant.id))
    shown = rig.document(doc.document_id)
    for message in (listed, shown):
        raw = message.SerializeToString()
        assert not [s for s in secrets_ if s and s.encode() in raw]
    assert shown.locked and shown.users[0].user_id == "ann"


def test_list_pages_are_bounded_and_tokens_opaque(rig: Rig) -> None:
    tenant = rig.new_tenant()
    for i in range(3):
        _bridged(rig, tenant, f"p{i}.txt")
    first = rig.admin(rig.admin.bridge.ListBridgedDocuments, bridge_pb.ListBridgedDocumentsRequest(
        tenant_id=tenant.id, page_size=2))
    second = rig.admin(rig.admin.bridge.ListBridgedDocuments, bridge_pb.ListBridgedDocumentsRequest(
        tenant_id=tenant.id, page_size=2, page_token=first.next_page_token))
    assert len(first.documents) == 2 and len(second.documents) == 1 and not second.next_page_token
    assert not {d.id for d in first.documents} & {d.id for d in second.documents}
    for bad in (bridge_pb.ListBridgedDocumentsRequest(page_size=-1), bridge_pb.ListBridgedDocumentsRequest(
            page_size=501), bridge_pb.ListBridgedDocumentsRequest(page_token="!!"),
            bridge_pb.ListBridgedDocumentsRequest(state="nonsense")):
        assert refusal(lambda: rig.admin(rig.admin.bridge.ListBridgedDocuments, bad))[0] == \
            grpc.StatusCode.INVALID_ARGUMENT


def test_bridged_editor_secrets_are_never_returned_nor_stored_in_clear(rig: Rig) -> None:
    """Attack: a key holder reads the app's API key back through GetEditor/ListEditors, or a database
    dump reveals it."""
    tenant = rig.new_tenant(secret="very-secret-webhook-value-42")
    editor = rig.admin(rig.admin.editors.GetEditor, editor_pb.GetEditorRequest(name="pad", tenant_id=tenant.id))
    assert editor.kind == "etherpad" and editor.has_api_key and editor.has_webhook_secret
    listed = rig.admin(rig.admin.editors.ListEditors, editor_pb.ListEditorsRequest(tenant_id=tenant.id))
    for message in (editor, listed):
        raw = message.SerializeToString()
        assert b"very-secret-webhook-value-42" not in raw and API_KEY.encode() not in raw
    database = b"".join(p.read_bytes() for p in (rig.workdir / "data").glob("*.db*"))
    assert database and b"very-secret-webhook-value-42" not in database
    # A bridged app has no discovery: refresh and diagnose answer without breaking.
    rig.admin(rig.admin.editors.RefreshEditor, editor_pb.RefreshEditorRequest(name="pad", tenant_id=tenant.id))
    diagnosis = rig.admin(rig.admin.editors.DiagnoseEditor, editor_pb.DiagnoseEditorRequest(
        name="pad", tenant_id=tenant.id))
    assert [f.check for f in diagnosis.findings] == ["bridged-app"]


def test_a_tenant_app_url_on_loopback_is_refused_by_the_egress_policy(rig: Rig) -> None:
    """Attack: a tenant registers "its Etherpad" at an internal address, so that the edge's worker
    calls the deployment's own services with the app's credentials."""
    tenant = rig.new_tenant()
    key = rig.tenant_key(tenant)
    for url in ("http://127.0.0.1:9001/", "http://[::1]/", "http://169.254.169.254/", "http://10.0.0.1/"):
        assert refusal(lambda: key(key.editors.CreateEditor, editor_pb.CreateEditorRequest(
            name="mine", tenant_id=tenant.id, kind="etherpad", app_url=url, api_key="k",
            webhook_secret="0123456789abcdef"))) == (grpc.StatusCode.FAILED_PRECONDITION, "EGRESS_REFUSED"), url


def test_bridged_editor_input_is_validated(rig: Rig) -> None:
    tenant = rig.new_tenant()
    base = dict(name="bad", tenant_id=tenant.id, kind="etherpad", app_url="http://127.0.0.1:1/", api_key="k",
                webhook_secret="0123456789abcdef")
    for change in ({"kind": "notepad"}, {"app_url": ""}, {"app_url": "ftp://x/"}, {"webhook_secret": "short"},
                   {"api_key": ""}, {"discovery_url": "http://127.0.0.1/hosting/discovery"}):
        assert refusal(lambda: rig.admin(rig.admin.editors.CreateEditor, editor_pb.CreateEditorRequest(
            **{**base, **change})))[0] == grpc.StatusCode.INVALID_ARGUMENT, change


def test_only_edge_keys_reach_the_bridge_rpcs(rig: Rig) -> None:
    """Attack: a tenant (or admin) key calls OpenBridged/ClaimBridgeWork to get bridge tokens and app secrets."""
    tenant = rig.new_tenant()
    created = rig.session(tenant, "edge-only.txt")
    for caller in (rig.admin, rig.tenant_key(tenant)):
        calls = [lambda: caller(caller.edge.OpenBridged, edge_pb.OpenBridgedRequest(access_token=created.access_token)),
                 lambda: caller(caller.edge.ClaimBridgeWork, edge_pb.ClaimBridgeWorkRequest(worker_id="x")),
                 lambda: caller(caller.edge.NoteBridgeEvent, edge_pb.NoteBridgeEventRequest(body=b"{}")),
                 lambda: caller(caller.edge.CompleteBridgeWork, edge_pb.CompleteBridgeWorkRequest()),
                 lambda: caller(caller.edge.RegisterBridgeEntry, edge_pb.RegisterBridgeEntryRequest())]
        assert {refusal(c)[0] for c in calls} == {grpc.StatusCode.PERMISSION_DENIED}


def test_the_bridge_session_is_hidden_and_its_token_cannot_open_a_bridge(rig: Rig) -> None:
    """Attack: the bridge's own token (edit, principal bridge:<kind>) used as a user's to join, or the
    bridge session closed through the public API to break saves."""
    tenant = rig.new_tenant()
    created, doc = _bridged(rig, tenant, "hidden.txt")
    rig.admin(rig.admin.bridge.SaveBridgedDocumentNow, bridge_pb.SaveBridgedDocumentNowRequest(id=doc.document_id))
    item = rig.claim_until(lambda i: i.document.document_id == doc.document_id)
    listed = rig.admin(rig.admin.sessions.ListSessions, session_pb.ListSessionsRequest(tenant_id=tenant.id))
    assert [s.user_id for s in listed.sessions] == ["ann"]
    assert refusal(lambda: rig.open(item.document.bridge_token))[0] == grpc.StatusCode.PERMISSION_DENIED
    granted = rig.edge(rig.edge.edge.AuthorizeWopiRequest, edge_pb.AuthorizeWopiRequestRequest(call=edge_pb.WopiCall(
        access_token=item.document.bridge_token, file_id=doc.file_id, operation=edge_pb.WOPI_OPERATION_GET_FILE)))
    assert granted.user_id == "bridge:etherpad" and granted.can_write
    assert refusal(lambda: rig.admin(rig.admin.sessions.CloseSession, session_pb.CloseSessionRequest(
        id=granted.session_id)))[0] == grpc.StatusCode.NOT_FOUND


def test_deleting_a_tenant_removes_its_bridged_documents(rig: Rig) -> None:
    tenant = rig.new_tenant()
    _, doc = _bridged(rig, tenant, "gone.txt")
    rig.admin(rig.admin.tenants.DeleteTenant, tenant_pb.DeleteTenantRequest(id=tenant.id, force=True))
    assert refusal(lambda: rig.document(doc.document_id)) == (grpc.StatusCode.NOT_FOUND, "BRIDGE_DOCUMENT_NOT_FOUND")
    assert not [i for i in rig.claim() if i.document.document_id == doc.document_id]


def test_a_stale_or_forged_lease_token_records_nothing(rig: Rig) -> None:
    """Attack: a worker (or a stolen edge key) reports outcomes on documents it does not hold."""
    tenant = rig.new_tenant()
    _, doc = _bridged(rig, tenant, "forged.txt")
    assert refusal(lambda: rig.edge(rig.edge.edge.CompleteBridgeWork, edge_pb.CompleteBridgeWorkRequest(
        document_id=doc.document_id, lease_token="forged", outcome=edge_pb.BRIDGE_WORK_OUTCOME_SAVED,
        app_rev=99))) == (grpc.StatusCode.FAILED_PRECONDITION, "BRIDGE_LEASE_LOST")
    assert rig.document(doc.document_id).saved_rev == 1





def test_a_bridged_session_tells_the_host_page_its_editor_kind(rig: Rig) -> None:
    tenant = rig.new_tenant()
    created = rig.session(tenant, "kind.md")
    assert created.host_page_url
    code = created.host_page_url.rsplit("/", 1)[-1]
    redeemed = rig.edge(rig.edge.edge.RedeemLaunchCode, edge_pb.RedeemLaunchCodeRequest(launch_code=code))
    assert redeemed.editor_kind == "etherpad" and redeemed.access_token == created.access_token


def test_a_bridged_app_opens_only_its_own_extensions(rig: Rig) -> None:
    tenant = rig.new_tenant()
    refused = refusal(lambda: rig.session(tenant, "sheet.xlsx"))
    assert refused == (grpc.StatusCode.FAILED_PRECONDITION, "NO_EDITOR")


def test_a_forged_app_event_is_refused_without_waiting_for_the_database_write_lock(rig: Rig) -> None:
    """Attack: forged events at the edge's public bridge routes, while a writer holds SQLite's write
    lock. Each is refused in a read: none waits for the lock (30 s at most), nor takes it from the
    writers of every tenant's grants and saves."""
    _, doc = _bridged(rig, rig.new_tenant())
    forged = rig.edge.edge.NoteBridgeEvent
    request = edge_pb.NoteBridgeEventRequest(
        source=edge_pb.BRIDGE_EVENT_SOURCE_ETHERPAD_EVENT, client_address="203.0.113.9",
        body=(body := json.dumps(pad_event(doc, "change", rev=7, author="a.x")).encode()),
        signature=signatures.sign(b"a secret guessed by the attacker", body))
    writer = sqlite3.connect(rig.workdir / "data" / "wopi-proxy.db", timeout=30)
    writer.execute("BEGIN IMMEDIATE")
    try:
        # The deadline is a third of SQLite's busy timeout: a refusal waiting for the lock misses it.
        refused = refusal(lambda: forged(request, metadata=(("authorization", f"Bearer {rig.edge.key}"),),
                                         timeout=10))
    finally:
        writer.rollback()
        writer.close()

    assert refused == (grpc.StatusCode.UNAUTHENTICATED, "BRIDGE_SIGNATURE_INVALID"), rig.log()
    assert rig.document(doc.document_id).state == "open", "nothing recorded"
