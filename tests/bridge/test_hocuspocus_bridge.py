"""The Hocuspocus kind end to end: the real `wopi-proxy serve` (control plane, edge, bridge worker)
and a real Hocuspocus 3.4.4 (apps/hocuspocus/server.mjs) calling the edge's webhook; headless Yjs
users enter with the entry code the host page hands out (BRIDGE-NOTES §6 case 13)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from wopiproxy.control.v1 import audit_service_pb2 as audit_pb
from wopiproxy.control.v1 import audit_service_pb2_grpc as audit_grpc
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import editor_service_pb2_grpc as editor_grpc

from tests.support.api import ControlApi, new_tenant, session_pb
from tests.support.hocuspocus import HocuspocusServer, YjsUser, require_hocuspocus
from tests.support.processes import WopiProxyProcess, serve

API_KEY = "hp-api-key-for-the-bridge"
SECRET = "hp-webhook-secret-for-the-bridge"
EDITOR = "yjs"
DEADLINE_S = 60.0
# Fast timing so that saves and closes happen within a test (the control plane's bridge flags).
TIMING = ("--bridge-save-debounce", "1", "--bridge-save-max-wait", "3", "--bridge-poll-interval", "2",
          "--bridge-idle-poll-interval", "2", "--bridge-unlock-grace", "2")


@dataclass
class Bridge:
    edge: WopiProxyProcess
    hocuspocus: HocuspocusServer
    api: ControlApi

    def log(self) -> str:
        return f"--- serve ---\n{self.edge.log()[-6000:]}\n--- hocuspocus ---\n{self.hocuspocus.log()[-3000:]}"


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    require_hocuspocus()
    started = _start_bridge(tmp_path_factory.mktemp("hp-bridge"), *TIMING)
    yield started
    _stop_bridge(started)


def _start_bridge(workdir: Path, *flags: str) -> Bridge:
    edge = serve(workdir / "wopi-proxy", *flags)
    hocuspocus = HocuspocusServer(workdir / "hocuspocus", webhook_url=f"{edge.http_url}/bridge/hocuspocus/webhook",
                                  webhook_secret=SECRET, api_key=API_KEY).start()
    api = ControlApi(edge.grpc_address, (workdir / "wopi-proxy" / "data" / "admin.key").read_text().strip())
    editors = editor_grpc.EditorServiceStub(api.channel)
    # A pool editor (operator-configured: the egress policy binds tenants' own apps, not the operator's).
    editors.CreateEditor(editor_pb.CreateEditorRequest(
        name=EDITOR, kind="hocuspocus", app_url=hocuspocus.url, app_public_url="https://editor.example/yjs",
        api_key=API_KEY, webhook_secret=SECRET), metadata=api.metadata, timeout=30)
    return Bridge(edge=edge, hocuspocus=hocuspocus, api=api)


def _stop_bridge(bridge: Bridge) -> None:
    bridge.api.close()
    bridge.hocuspocus.stop()
    bridge.edge.stop()


@pytest.fixture(scope="module")
def webhook_only_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """Polls too rare to matter within a test: a save there is due only because a webhook said so."""
    require_hocuspocus()
    started = _start_bridge(tmp_path_factory.mktemp("hp-webhook-only"), *TIMING, "--bridge-poll-interval", "3600",
                            "--bridge-idle-poll-interval", "3600")
    yield started
    _stop_bridge(started)


@pytest.fixture
def users() -> Iterator[list[YjsUser]]:
    started: list[YjsUser] = []
    yield started
    for user in started:
        user.kill()


@dataclass(frozen=True)
class Opened:
    session_id: str
    document: str
    token: str


def _open(bridge: Bridge, tenant_id: str, path: str, user_id: str,
          permission: int = session_pb.PERMISSION_EDIT) -> Opened:
    reply = bridge.api.call(bridge.api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=tenant_id, storage="docs", path=path, user_id=user_id, user_name=user_id.title(),
        permission=permission, editor=EDITOR))
    assert reply.host_page_url, reply
    with httpx.Client(timeout=60, trust_env=False, follow_redirects=False) as client:
        page = client.get(reply.host_page_url)
    assert page.status_code in (302, 303), f"{page.status_code} {page.text[:500]}\n{bridge.log()}"
    location = urlsplit(page.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}".rstrip("/") == "https://editor.example/yjs"
    assert reply.access_token not in page.headers["Location"]
    fragment = parse_qs(location.fragment)
    return Opened(session_id=reply.session.id, document=fragment["document"][0], token=fragment["token"][0])


def _wait(condition: Callable[[], bool], what: str, bridge: Bridge, timeout: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{bridge.log()}")
        time.sleep(0.2)


def _audit(bridge: Bridge, tenant_id: str) -> list[audit_pb.AuditEvent]:
    stub = audit_grpc.AuditServiceStub(bridge.api.channel)
    reply = stub.ListAuditEvents(audit_pb.ListAuditEventsRequest(tenant_id=tenant_id, page_size=500),
                                 metadata=bridge.api.metadata, timeout=30)
    return list(reply.events)


def test_a_wrong_entry_code_is_refused(bridge: Bridge, users: list[YjsUser], tmp_path: Path) -> None:
    tenant_id, folder = new_tenant(bridge.api, tmp_path)
    (folder / "secret.md").write_bytes(b"# Secret\n")
    opened = _open(bridge, tenant_id, "secret.md", "ann")
    intruder = YjsUser.connect(bridge.hocuspocus, opened.document, token="not-" + opened.token)
    users.append(intruder)
    assert intruder.denied and intruder.text == "", intruder.describe()


def test_an_entry_code_opens_the_file_once(bridge: Bridge, users: list[YjsUser], tmp_path: Path) -> None:
    tenant_id, folder = new_tenant(bridge.api, tmp_path)
    (folder / "once.md").write_bytes("caf\u00e9\r\nline two".encode())
    opened = _open(bridge, tenant_id, "once.md", "ann")
    ann = YjsUser.connect(bridge.hocuspocus, opened.document, token=opened.token)
    users.append(ann)
    assert not ann.denied, f"{ann.describe()}\n{bridge.log()}"
    assert ann.text == "caf\u00e9\nline two"
    replay = YjsUser.connect(bridge.hocuspocus, opened.document, token=opened.token)
    users.append(replay)
    assert replay.denied, replay.describe()


def test_edits_are_saved_to_the_file_and_closing_unlocks_it(bridge: Bridge, users: list[YjsUser],
                                                            tmp_path: Path) -> None:
    tenant_id, folder = new_tenant(bridge.api, tmp_path)
    path = folder / "plan.md"
    path.write_bytes(b"# Plan\r\n\r\nfirst\r\n")
    opened = _open(bridge, tenant_id, "plan.md", "ann")
    ann = YjsUser.connect(bridge.hocuspocus, opened.document, token=opened.token)
    users.append(ann)
    assert ann.text == "# Plan\n\nfirst\n", f"{ann.describe()}\n{bridge.log()}"
    ann.insert("second by ann\n")
    # The file keeps its CRLF shape; the save is a normal PutFile (versioned, audited, attributed).
    _wait(lambda: path.read_bytes() == b"# Plan\r\n\r\nfirst\r\nsecond by ann\r\n", "the save", bridge)
    # The file is renamed into place before the save's records are written: wait for those, not the file.
    _wait(lambda: any(e.operation == "bridge.save" for e in _audit(bridge, tenant_id)), "the save's audit", bridge)
    saves = [e for e in _audit(bridge, tenant_id) if e.operation == "PutFile" and e.outcome == "ok"]
    assert saves and saves[-1].version_after > saves[-1].version_before, saves
    assert any(e.operation == "bridge.save" and "editors=ann" in e.detail for e in _audit(bridge, tenant_id)), \
        "\n".join(repr((e.operation, e.actor, e.outcome, e.editor, e.detail)) for e in _audit(bridge, tenant_id))
    ann.insert("last words")
    ann.leave()
    # Leaving: the final save, then (after the grace) the lock is released and the copy removed.
    # The file ended with a line ending, so it still does.
    _wait(lambda: path.read_bytes() == b"# Plan\r\n\r\nfirst\r\nsecond by ann\r\nlast words\r\n", "the final save", bridge)
    _wait(lambda: bridge.hocuspocus.doc(opened.document) is None, "the document's removal", bridge)
    # The worker removes the document, then reports it: the unlock is recorded after the removal.
    _wait(lambda: any(e.operation in ("Unlock", "bridge.unlock") for e in _audit(bridge, tenant_id)), "the unlock",
          bridge)


def test_opening_and_leaving_without_edits_leaves_the_file_untouched(bridge: Bridge, users: list[YjsUser],
                                                                     tmp_path: Path) -> None:
    tenant_id, folder = new_tenant(bridge.api, tmp_path)
    path = folder / "same.txt"
    path.write_bytes(b"no final newline\tand a tab")
    before = path.stat().st_mtime_ns
    opened = _open(bridge, tenant_id, "same.txt", "ann")
    ann = YjsUser.connect(bridge.hocuspocus, opened.document, token=opened.token)
    users.append(ann)
    ann.leave()
    _wait(lambda: bridge.hocuspocus.doc(opened.document) is None, "the document's removal", bridge)
    assert path.read_bytes() == b"no final newline\tand a tab" and path.stat().st_mtime_ns == before
    assert not [e for e in _audit(bridge, tenant_id) if e.operation == "PutFile"]


def test_a_viewer_gets_a_live_read_only_connection(bridge: Bridge, users: list[YjsUser], tmp_path: Path) -> None:
    tenant_id, folder = new_tenant(bridge.api, tmp_path)
    path = folder / "shared.md"
    path.write_bytes(b"shared\n")
    writer = _open(bridge, tenant_id, "shared.md", "ann")
    viewer = _open(bridge, tenant_id, "shared.md", "bob", permission=session_pb.PERMISSION_VIEW)
    assert viewer.document == writer.document
    ann = YjsUser.connect(bridge.hocuspocus, writer.document, token=writer.token)
    bob = YjsUser.connect(bridge.hocuspocus, viewer.document, token=viewer.token)
    users.extend([ann, bob])
    ann.insert("live")
    bob.wait_for_text("shared\nlive")
    bob.insert(" from bob", wait_acknowledged=False)  # dropped by Hocuspocus: a read-only connection
    # Ann would see Bob's text within milliseconds; the save comes seconds later (debounce).
    _wait(lambda: path.read_bytes() == b"shared\nlive\n", "the save", bridge)
    assert "from bob" not in ann.text and "from bob" not in path.read_text()


def test_a_document_hocuspocus_lost_is_given_the_file_by_the_create_webhook(bridge: Bridge, users: list[YjsUser],
                                                                            tmp_path: Path) -> None:
    """Hocuspocus holds nothing under the name (its storage lost, or a reset): when a user connects it
    asks `create`, and the edge answers the file's text read through WOPI, never an empty document
    that the next save would write over the file."""
    tenant_id, folder = new_tenant(bridge.api, tmp_path)
    path = folder / "lost.md"
    path.write_bytes(b"# Kept in the file\n")
    opened = _open(bridge, tenant_id, "lost.md", "ann")
    assert bridge.hocuspocus.delete(opened.document) == 200
    assert bridge.hocuspocus.doc(opened.document) is None
    ann = YjsUser.connect(bridge.hocuspocus, opened.document, token=opened.token)
    users.append(ann)
    assert ann.text == "# Kept in the file\n", f"{ann.describe()}\n{bridge.log()}"
    ann.insert("typed after the reload\n")
    _wait(lambda: path.read_bytes() == b"# Kept in the file\ntyped after the reload\n", "the save", bridge)


def test_a_closed_session_is_put_out_of_the_document(bridge: Bridge, users: list[YjsUser], tmp_path: Path) -> None:
    """A session closed by the business app (CloseSession) must not keep typing into the file through
    a connection it opened earlier: the bridge closes it in Hocuspocus, and its code is spent."""
    tenant_id, folder = new_tenant(bridge.api, tmp_path)
    path = folder / "closing.md"
    path.write_bytes(b"start\n")
    ann_opened = _open(bridge, tenant_id, "closing.md", "ann")
    bob_opened = _open(bridge, tenant_id, "closing.md", "bob")
    ann = YjsUser.connect(bridge.hocuspocus, ann_opened.document, token=ann_opened.token)
    bob = YjsUser.connect(bridge.hocuspocus, bob_opened.document, token=bob_opened.token)
    users.extend([ann, bob])
    bridge.api.call(bridge.api.sessions.CloseSession, session_pb.CloseSessionRequest(id=ann_opened.session_id))
    _wait(lambda: bridge.hocuspocus.doc(ann_opened.document) is not None
          and bridge.hocuspocus.doc(ann_opened.document).clients == 1, "ann's connection closed", bridge)
    ann.insert(" ann after close", wait_acknowledged=False)
    bob.insert("bob\n")
    _wait(lambda: path.read_bytes() == b"start\nbob\n", "bob's save", bridge)
    assert "ann after close" not in bob.text


def test_an_entry_code_opens_only_its_own_document(bridge: Bridge, users: list[YjsUser], tmp_path: Path) -> None:
    """A user with a code for one file connects to another file's document (its name learnt
    elsewhere): refused, and their own code still works afterwards."""
    tenant_id, folder = new_tenant(bridge.api, tmp_path)
    (folder / "mine.md").write_bytes(b"mine\n")
    (folder / "theirs.md").write_bytes(b"theirs\n")
    mine = _open(bridge, tenant_id, "mine.md", "mallory")
    theirs = _open(bridge, tenant_id, "theirs.md", "ann")
    intruder = YjsUser.connect(bridge.hocuspocus, theirs.document, token=mine.token)
    users.append(intruder)
    assert intruder.denied and intruder.text == "", intruder.describe()
    own = YjsUser.connect(bridge.hocuspocus, mine.document, token=mine.token)
    users.append(own)
    assert not own.denied and own.text == "mine\n", f"{own.describe()}\n{bridge.log()}"


def test_a_change_to_a_document_over_64_kib_reaches_the_file_through_its_webhook(
        webhook_only_bridge: Bridge, users: list[YjsUser], tmp_path: Path) -> None:
    """Its `change` webhook carries the whole document, past the 64 KiB every other bridge event
    is held to: the control plane takes it without parsing it (bridge_events.large_change). Polls
    are rare here, so the save comes only from that webhook."""
    bridge = webhook_only_bridge
    tenant_id, folder = new_tenant(bridge.api, tmp_path)
    path = folder / "long.md"
    text = b"".join(b"line %05d of a long document\n" % n for n in range(4000))
    assert len(text) > 100 * 1024
    path.write_bytes(text)
    opened = _open(bridge, tenant_id, "long.md", "ann")
    ann = YjsUser.connect(bridge.hocuspocus, opened.document, token=opened.token)
    users.append(ann)
    ann.insert("added by ann\n")
    _wait(lambda: path.read_bytes() == text + b"added by ann\n", "the save the change webhook made due", bridge)
