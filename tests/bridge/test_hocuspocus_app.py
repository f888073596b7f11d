"""Real Hocuspocus 3.4.4 (apps/hocuspocus/server.mjs) against a tiny receiver standing in for the
wopi-proxy edge's `/bridge/hocuspocus/webhook`, answering as apps/hocuspocus/README.md says the edge
must. These pin the app side of the contract the edge is built against."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from shared.errors import BridgeSignatureInvalid
from shared.signatures import HOCUSPOCUS_HEADER, verify_hocuspocus
from tests.support.hocuspocus import DocState, HocuspocusServer, YjsUser, require_hocuspocus

SECRET = "webhook-secret-for-tests"
API_KEY = "api-key-for-tests"
GOOD_TOKEN = "launch-code-ann"
CONTEXT = {"user": "ann", "session": "s-1"}
VIEWER_TOKEN = "launch-code-bob"
VIEWER_CONTEXT = {"user": "bob", "session": "s-2", "readOnly": True}
EDITOR_TOKEN = "launch-code-cid"
EDITOR_CONTEXT = {"user": "cid", "session": "s-3"}
_names = itertools.count()


@dataclass
class Receiver:
    """Verifies every webhook's signature and answers: connect → 200 CONTEXT for GOOD_TOKEN (EDITOR_CONTEXT
    for EDITOR_TOKEN, VIEWER_CONTEXT, read-only, for VIEWER_TOKEN) else 403;
    create → 200 {"content": contents[name]} (500 for unknown names); change/disconnect → 200 {}."""

    contents: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    stalled: set[str] = field(default_factory=set)  # documents whose webhooks hang until `release`
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = receiver.handle(body, self.headers.get(HOCUSPOCUS_HEADER))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/bridge/hocuspocus/webhook"

    def handle(self, body: bytes, signature: str | None) -> tuple[int, Any]:
        try:
            verify_hocuspocus(SECRET.encode(), body, signature)
        except BridgeSignatureInvalid:
            with self.lock:
                self.bad_signatures += 1
            return 401, {"error": "unauthorized"}
        message = json.loads(body)
        event, payload = message["event"], message["payload"]
        with self.lock:
            self.events.append(message)
        if payload.get("documentName") in self.stalled:
            self.release.wait(30)
        if event == "connect":
            answers = {GOOD_TOKEN: CONTEXT, VIEWER_TOKEN: VIEWER_CONTEXT, EDITOR_TOKEN: EDITOR_CONTEXT}
            token = payload.get("token")
            return (200, answers[token]) if token in answers else (403, {"error": "forbidden"})
        if event == "create":
            name = payload["documentName"]
            return (200, {"content": self.contents[name]}) if name in self.contents else (500, {})
        return 200, {}

    def of(self, name: str, event: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m["payload"] for m in self.events
                    if m["event"] == event and m["payload"].get("documentName") == name]

    def wait_for(self, name: str, event: str, check: Callable[[dict[str, Any]], bool] = lambda _: True,
                 timeout: float = 30.0, log: Callable[[], str] = str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for payload in self.of(name, event):
                if check(payload):
                    return payload
            time.sleep(0.05)
        raise AssertionError(f"no matching {event} for {name} in {timeout:.0f} s; events: "
                             f"{[(m['event'], m['payload'].get('documentName')) for m in self.events]}\n{log()}")

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def hocuspocus(receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HocuspocusServer]:
    require_hocuspocus()
    server = HocuspocusServer(tmp_path_factory.mktemp("hocuspocus"), webhook_url=receiver.url,
                              webhook_secret=SECRET, api_key=API_KEY).start()
    yield server
    server.kill()
    assert receiver.bad_signatures == 0, server.log()


@pytest.fixture
def users() -> Iterator[list[YjsUser]]:
    started: list[YjsUser] = []
    yield started
    for user in started:
        user.kill()


def new_document(receiver: Receiver, content: str) -> str:
    name = f"doc-{next(_names)}"
    receiver.contents[name] = content
    return name


def join(server: HocuspocusServer, users: list[YjsUser], name: str, token: str = GOOD_TOKEN) -> YjsUser:
    user = YjsUser.connect(server, name, token)
    users.append(user)
    return user


def wait_until(check: Callable[[], bool], what: str, log: Callable[[], str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{log()}")
        time.sleep(0.05)


def test_bad_token_is_refused(hocuspocus: HocuspocusServer, receiver: Receiver, users: list[YjsUser]) -> None:
    """A client whose token the edge refuses (403 to `connect`) gets Forbidden and never sees the text."""
    name = new_document(receiver, "secret text")
    user = join(hocuspocus, users, name, token="stolen-or-expired")
    assert user.denied, user.describe()
    assert user.text == ""
    assert [p["token"] for p in receiver.of(name, "connect")] == ["stolen-or-expired"]
    assert receiver.of(name, "create") == [], "a refused client must not make Hocuspocus load the document"
    user.leave()
    assert hocuspocus.doc(name) is None
    assert receiver.of(name, "disconnect") == [], "a refused client was never connected"


def test_absurd_tokens_and_names_are_refused_without_asking_the_edge(
        hocuspocus: HocuspocusServer, receiver: Receiver, users: list[YjsUser]) -> None:
    """An empty or over-long token, or a document name the /doc routes could not address, is refused by
    Hocuspocus itself: the edge never sees it."""
    name = new_document(receiver, "x")
    for document, token in ((name, ""), (name, "t" * 4097), ("n" * 256, GOOD_TOKEN), ("a\u0001b", GOOD_TOKEN)):
        user = join(hocuspocus, users, document, token=token)
        assert user.denied, user.describe()
        assert receiver.of(document, "connect") == []


def test_good_token_loads_the_content_create_returns(hocuspocus: HocuspocusServer, receiver: Receiver,
                                                    users: list[YjsUser]) -> None:
    """An admitted client syncs the text our `create` answer gave (the file's content, here with emoji)."""
    name = new_document(receiver, "# Loaded from WOPI\nzwei 🐙\n")
    user = join(hocuspocus, users, name)
    assert not user.denied, user.describe()
    assert user.wait_for_text("# Loaded from WOPI\nzwei 🐙\n") == "# Loaded from WOPI\nzwei 🐙\n"
    (create,) = receiver.of(name, "create")
    assert create["context"] == CONTEXT


def test_typing_sends_a_signed_change_with_full_text_and_context(
        hocuspocus: HocuspocusServer, receiver: Receiver, users: list[YjsUser]) -> None:
    """Typing produces a (signed, debounced) `change` carrying the whole text and the connect context."""
    name = new_document(receiver, "start")
    user = join(hocuspocus, users, name)
    user.wait_for_text("start")
    user.insert(" typed by ann")
    change = receiver.wait_for(name, "change", lambda p: p["document"] == {"content": "start typed by ann"},
                               log=hocuspocus.log)
    assert change["context"] == CONTEXT


def test_change_carries_the_context_of_the_last_writer(hocuspocus: HocuspocusServer, receiver: Receiver,
                                                      users: list[YjsUser]) -> None:
    """`change` is debounced per document: when two clients type within the window, it carries the full
    text but only the context of the one who typed last (the edge tracks editors from `connect`)."""
    name = new_document(receiver, "")
    ann = join(hocuspocus, users, name)
    bob = join(hocuspocus, users, name, token=EDITOR_TOKEN)
    ann.insert("ann ")
    bob.wait_for_text("ann ")
    bob.insert("bob")
    change = receiver.wait_for(name, "change", lambda p: p["document"]["content"] == "ann bob",
                               log=hocuspocus.log)
    assert change["context"] == EDITOR_CONTEXT


def test_disconnect_arrives_with_the_context(hocuspocus: HocuspocusServer, receiver: Receiver,
                                             users: list[YjsUser]) -> None:
    """A user leaving produces `disconnect` with the context the edge gave at connect."""
    name = new_document(receiver, "x")
    join(hocuspocus, users, name).leave()
    disconnect = receiver.wait_for(name, "disconnect", log=hocuspocus.log)
    assert disconnect["context"] == CONTEXT


def test_read_only_answer_keeps_a_viewer_from_editing(hocuspocus: HocuspocusServer, receiver: Receiver,
                                                     users: list[YjsUser]) -> None:
    """`"readOnly": true` in the connect answer: the viewer sees the live text but its edits never
    reach the document (nor the edge)."""
    name = new_document(receiver, "look, don't touch")
    editor = join(hocuspocus, users, name)
    viewer = join(hocuspocus, users, name, token=VIEWER_TOKEN)
    viewer.wait_for_text("look, don't touch")
    viewer.insert(" vandalism", wait_acknowledged=False)
    editor.insert("!")
    viewer.wait_for_text(lambda text: "!" in text)
    state = hocuspocus.doc(name)
    assert state == DocState("look, don't touch!", 2), hocuspocus.log()
    assert editor.text == "look, don't touch!"
    receiver.wait_for(name, "change", lambda p: p["document"]["content"] == "look, don't touch!",
                      log=hocuspocus.log)
    assert not [p for p in receiver.of(name, "change") if "vandalism" in p["document"]["content"]]


def test_create_failure_refuses_the_document(hocuspocus: HocuspocusServer, receiver: Receiver,
                                             users: list[YjsUser]) -> None:
    """When `create` fails the client must not get an empty document (typing into it would overwrite the
    file at the next save): the load fails and nothing is served or stored."""
    name = f"doc-{next(_names)}"  # unknown to the receiver: create answers 500
    user = join(hocuspocus, users, name)
    wait_until(lambda: any(e.get("event") in ("closed", "denied") for e in user.events),
               "the client to be dropped", lambda: user.describe() + hocuspocus.log())
    assert user.text == ""
    assert hocuspocus.doc(name) is None


def test_get_doc_reflects_the_live_text(hocuspocus: HocuspocusServer, receiver: Receiver,
                                        users: list[YjsUser]) -> None:
    """`GET /doc/<name>` (the edge's reconcile poll) shows the live text and the connected clients."""
    name = new_document(receiver, "line 1\n")
    user = join(hocuspocus, users, name)
    user.wait_for_text("line 1\n")
    user.insert("line 2\n")
    wait_until(lambda: hocuspocus.doc(name) == DocState("line 1\nline 2\n", 1),
               "GET /doc to show the typed text", hocuspocus.log)


def test_put_is_refused_while_clients_are_connected(hocuspocus: HocuspocusServer, receiver: Receiver,
                                                    users: list[YjsUser]) -> None:
    """Replacing the text under a connected editor would discard their view: 409, text unchanged."""
    name = new_document(receiver, "being edited")
    user = join(hocuspocus, users, name)
    user.wait_for_text("being edited")
    assert hocuspocus.put(name, "replaced") == 409
    state = hocuspocus.doc(name)
    assert state is not None and state.content == "being edited", hocuspocus.log()


def test_put_without_clients_replaces_the_text(hocuspocus: HocuspocusServer, receiver: Receiver,
                                               users: list[YjsUser]) -> None:
    """With nobody connected, PUT replaces the stored text; the next client syncs it; the edge is not
    called back for its own write (no `change` for the API's edit)."""
    name = new_document(receiver, "old")
    join(hocuspocus, users, name).leave()
    # Loaded but never edited: nothing is buffered, so the document is simply gone once they leave.
    wait_until(lambda: hocuspocus.doc(name) is None, "the user to be gone", hocuspocus.log)
    assert hocuspocus.put(name, "new text\r\n") == 200, hocuspocus.log()
    assert hocuspocus.doc(name) == DocState("new text\r\n", 0)
    user = join(hocuspocus, users, name)
    assert user.wait_for_text("new text\r\n")
    assert not [p for p in receiver.of(name, "change") if p["document"]["content"] == "new text\r\n"]


def test_delete_without_clients_forgets_the_document(hocuspocus: HocuspocusServer, receiver: Receiver,
                                                     users: list[YjsUser]) -> None:
    """DELETE drops the document from memory and SQLite (the next open asks `create` again)."""
    name = new_document(receiver, "generation 1")
    user = join(hocuspocus, users, name)
    user.insert(", edited")
    user.leave()
    wait_until(lambda: hocuspocus.stored_state(name) is not None, "the document to be stored", hocuspocus.log)
    assert hocuspocus.delete(name) == 200, hocuspocus.log()
    assert hocuspocus.doc(name) is None
    assert hocuspocus.stored_state(name) is None
    receiver.contents[name] = "generation 2"
    assert join(hocuspocus, users, name).wait_for_text("generation 2")


def test_delete_is_refused_while_clients_are_connected(hocuspocus: HocuspocusServer, receiver: Receiver,
                                                      users: list[YjsUser]) -> None:
    """Dropping a document under a connected editor would lose what they type next: 409, still there."""
    name = new_document(receiver, "in use")
    join(hocuspocus, users, name).wait_for_text("in use")
    assert hocuspocus.delete(name) == 409
    assert hocuspocus.doc(name) == DocState("in use", 1)


def test_wrong_bearer_key_is_refused(hocuspocus: HocuspocusServer, receiver: Receiver,
                                     users: list[YjsUser]) -> None:
    """The /doc routes need the API key: a wrong or missing one gets 401 and no content."""
    name = new_document(receiver, "private")
    join(hocuspocus, users, name).wait_for_text("private")
    for key in ("wrong-key", "", API_KEY + "x"):
        status, body = hocuspocus.request("GET", name, api_key=key)
        assert status == 401 and "private" not in json.dumps(body)
    assert hocuspocus.request("PUT", name, {"content": "x"}, api_key="wrong-key")[0] == 401
    assert hocuspocus.request("DELETE", name, api_key="wrong-key")[0] == 401


def test_kill_and_restart_keeps_the_document(receiver: Receiver, tmp_path: Path, users: list[YjsUser]) -> None:
    """kill -9 while a user is editing: what SQLite buffered survives the restart (the edge can still
    reconcile it from GET /doc), without asking `create` again."""
    require_hocuspocus()
    server = HocuspocusServer(tmp_path / "hp", webhook_url=receiver.url, webhook_secret=SECRET,
                              api_key=API_KEY).start()
    try:
        name = new_document(receiver, "durable")
        user = join(server, users, name)
        user.wait_for_text("durable")
        user.insert(" edit before the crash")
        wait_until(lambda: b"edit before the crash" in (server.stored_state(name) or b""),
                   "SQLite to hold the edit", server.log)
        server.kill()
        user.kill()
        server.restart()
        state = server.doc(name)
        assert state is not None and state.content == "durable edit before the crash", server.log()
        assert len(receiver.of(name, "create")) == 1
    finally:
        server.kill()


def test_sigterm_stores_open_documents(receiver: Receiver, tmp_path: Path, users: list[YjsUser]) -> None:
    """A graceful stop (SIGTERM) disconnects the clients and stores their edits before exiting, so the
    restarted server has them even if they were typed a moment before."""
    require_hocuspocus()
    server = HocuspocusServer(tmp_path / "hp", webhook_url=receiver.url, webhook_secret=SECRET,
                              api_key=API_KEY).start()
    try:
        name = new_document(receiver, "draft")
        user = join(server, users, name)
        user.insert(" typed just before the stop")
        server.stop()
        assert server.process is not None and server.process.returncode == 0, server.log()
        server.restart()
        assert server.doc(name) == DocState("draft typed just before the stop", 0), server.log()
    finally:
        server.kill()


def test_put_over_the_size_cap_is_413(receiver: Receiver, tmp_path: Path) -> None:
    """A PUT body over MAX_DOCUMENT_BYTES (+ 64 KiB framing) is refused with 413 before it is buffered."""
    require_hocuspocus()
    server = HocuspocusServer(tmp_path / "hp", webhook_url=receiver.url, webhook_secret=SECRET,
                              api_key=API_KEY, max_document_bytes=1024).start()
    try:
        status, _ = server.request("PUT", "big", {"content": "x" * (1024 + 64 * 1024 + 1)})
        assert status == 413, server.log()
        assert server.doc("big") is None
        assert server.put("big", "x" * 1024) == 200, server.log()
    finally:
        server.kill()


def test_browser_credentials_do_not_reach_the_edge(hocuspocus: HocuspocusServer, receiver: Receiver,
                                                   users: list[YjsUser]) -> None:
    """Cookies and Authorization headers of the browser's WebSocket request (other sites' sessions on the
    same host name) are dropped from every webhook payload; other headers pass as upstream sends them."""
    name = new_document(receiver, "x")
    user = YjsUser.connect(hocuspocus, name, GOOD_TOKEN, headers={
        "Cookie": "other_app_session=abc", "Authorization": "Basic c2VjcmV0", "X-Forwarded-For": "192.0.2.7"})
    users.append(user)
    user.insert("y")
    user.leave()
    receiver.wait_for(name, "disconnect", log=hocuspocus.log)
    receiver.wait_for(name, "change", log=hocuspocus.log)
    for event in ("connect", "create", "change", "disconnect"):
        for payload in receiver.of(name, event):
            headers = {key.lower() for key in payload["requestHeaders"]}
            assert not headers & {"cookie", "authorization", "sec-websocket-key"}, (event, headers)
    assert receiver.of(name, "connect")[0]["requestHeaders"]["x-forwarded-for"] == "192.0.2.7"


def test_bad_document_names_are_400(hocuspocus: HocuspocusServer) -> None:
    """Names longer than SQLite's column (255), with control characters or badly encoded are refused."""
    for name in ("x" * 256, "a\nb", "a\u0000b"):
        assert hocuspocus.request("GET", name)[0] == 400, name
    status, _ = hocuspocus.request("GET", "%E0%A4%A")  # quoted again by request(): a literal, valid name
    assert status == 404
    assert hocuspocus.request("GET", "x" * 255)[0] == 404


def test_a_hung_edge_refuses_the_client(receiver: Receiver, tmp_path: Path, users: list[YjsUser]) -> None:
    """If the edge does not answer `connect` within WEBHOOK_TIMEOUT_MS the client is refused (upstream's
    axios call has no timeout: every connect would hang)."""
    require_hocuspocus()
    server = HocuspocusServer(tmp_path / "hp", webhook_url=receiver.url, webhook_secret=SECRET,
                              api_key=API_KEY, webhook_timeout_ms=1000).start()
    name = new_document(receiver, "never shown")
    receiver.stalled.add(name)
    try:
        user = join(server, users, name)
        assert user.denied and user.text == "", user.describe()
        assert "connect answered" not in server.log() and "refused" in server.log()
    finally:
        receiver.release.set()
        server.kill()


def test_logs_never_show_tokens_secrets_or_text(hocuspocus: HocuspocusServer, receiver: Receiver,
                                                users: list[YjsUser]) -> None:
    """Refused and admitted connects, edits and API calls leave no token, key, secret or document text in
    Hocuspocus's output."""
    name = new_document(receiver, "confidential body")
    join(hocuspocus, users, name, token="refused-launch-code")
    user = join(hocuspocus, users, name)
    user.insert(" more confidential")
    receiver.wait_for(name, "change", log=hocuspocus.log)
    hocuspocus.request("GET", name, api_key="guessed-api-key")
    log = hocuspocus.log()
    for secret in ("refused-launch-code", GOOD_TOKEN, SECRET, API_KEY, "guessed-api-key", "confidential"):
        assert secret not in log, f"{secret!r} in the log:\n{log}"


def test_a_webhook_signed_with_another_secret_admits_nobody(tmp_path: Path, users: list[YjsUser]) -> None:
    """The receiver (like the edge) checks X-Hocuspocus-Signature-256: a Hocuspocus configured with another
    secret gets 401 to `connect`, so its clients are refused — the signature is really verified."""
    require_hocuspocus()
    receiver = Receiver().start()
    server = HocuspocusServer(tmp_path / "hp", webhook_url=receiver.url, webhook_secret="not-the-secret",
                              api_key=API_KEY).start()
    try:
        name = new_document(receiver, "x")
        user = join(server, users, name)
        assert user.denied, user.describe()
        assert receiver.bad_signatures == 1 and receiver.events == []
    finally:
        server.kill()
        receiver.stop()
