"""edge/bridge/apps/hocuspocus.py against a real Hocuspocus 3.4.4 (apps/hocuspocus/server.mjs).

The webhook receiver here stands in for the edge (it admits one token, with the context our control
plane gives: an `author`); the end-to-end path through `wopi-proxy serve` is in
test_hocuspocus_bridge.py."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

from edge.bridge.apps.base import AppRefused, AppUnavailable
from edge.bridge.apps.hocuspocus import HocuspocusApp
from edge.bridge.text_profile import decode
from shared.signatures import HOCUSPOCUS_HEADER, verify_hocuspocus
from tests.support.hocuspocus import HocuspocusServer, YjsUser

SECRET = "adapter-webhook-secret"
API_KEY = "adapter-api-key"
TOKENS = {"code-ann": "author-ann", "code-bob": "author-bob"}
_names = itertools.count()


class _Receiver:
    """connect: 200 {"author": ...} for a known token, else 403; create: the file text set per name."""

    def __init__(self) -> None:
        self.contents: dict[str, str] = {}
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
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/bridge/hocuspocus/webhook"

    def handle(self, body: bytes, signature: str | None) -> tuple[int, Any]:
        verify_hocuspocus(SECRET.encode(), body, signature)
        message = json.loads(body)
        event, payload = message["event"], message["payload"]
        if event == "connect":
            author = TOKENS.get(payload.get("token"))
            return (200, {"author": author}) if author else (403, {"error": "forbidden"})
        if event == "create":
            text = self.contents.get(payload["documentName"])
            return (200, {"content": text}) if text is not None else (500, {"error": "unknown"})
        return 200, {}


@pytest.fixture(scope="module")
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(scope="module")
def hocuspocus(receiver: _Receiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HocuspocusServer]:
    server = HocuspocusServer(tmp_path_factory.mktemp("hocuspocus"), webhook_url=receiver.url,
                              webhook_secret=SECRET, api_key=API_KEY).start()
    yield server
    server.stop()


@pytest.fixture
def users() -> Iterator[list[YjsUser]]:
    started: list[YjsUser] = []
    yield started
    for user in started:
        user.kill()


@pytest.fixture
async def app(hocuspocus: HocuspocusServer) -> AsyncIterator[HocuspocusApp]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield HocuspocusApp(edge_pb.BridgeApp(kind="hocuspocus", url=hocuspocus.url, api_key=API_KEY), http)


def _document(data: bytes = b"", **fields: Any) -> edge_pb.BridgedDocumentRef:
    _, profile = decode(data)
    return edge_pb.BridgedDocumentRef(document_id="doc-1", app_doc_id=f"adapter-{next(_names)}",
                                      text_profile=profile.to_json(), **fields)


async def _eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30.0) -> None:
    """A user's leave ends its client; the server notices the closed socket a little later."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_a_load_is_read_back_exactly_and_counts_as_saved(app: HocuspocusApp, hocuspocus: HocuspocusServer) -> None:
    data = "# Title\r\ncaf\u00e9 \U0001F600\r\nno final newline".encode()
    text, _ = decode(data)
    document = _document(data, seen_rev=3)
    loaded = await app.load(document, text)
    assert loaded.rev == 3 and not loaded.kept
    assert hocuspocus.doc(document.app_doc_id).content == text, hocuspocus.log()
    document.saved_rev, document.saved_sha256 = 3, _sha(data)
    head = await app.head(document)
    assert head.rev == 3 and head.present_authors == []  # same bytes: nothing to save
    content = await app.read(document, head.rev, 0)
    assert content.text == text


async def test_a_change_no_webhook_reported_is_found_by_its_hash(app: HocuspocusApp, hocuspocus: HocuspocusServer,
                                                                   receiver: _Receiver, users: list[YjsUser]) -> None:
    """A lost `change` webhook (edge down) must not hide an edit from the reconcile poll."""
    document = _document(b"base\n", saved_rev=5, baseline_rev=5, seen_rev=5, saved_sha256=_sha(b"base\n"))
    receiver.contents[document.app_doc_id] = "base\n"
    user = YjsUser.connect(hocuspocus, document.app_doc_id, token="code-ann")
    users.append(user)
    assert not user.denied, user.describe()
    user.insert("typed")
    head = await app.head(document)
    assert head.rev == 6, (head, hocuspocus.log())
    assert head.present_authors == ["author-ann"]
    assert (await app.read(document, 6, 5)).text == "base\ntyped"


async def test_presence_lists_every_connected_author(app: HocuspocusApp, hocuspocus: HocuspocusServer,
                                                    receiver: _Receiver, users: list[YjsUser]) -> None:
    document = _document(b"x")
    receiver.contents[document.app_doc_id] = "x"
    for token in ("code-ann", "code-bob"):
        users.append(YjsUser.connect(hocuspocus, document.app_doc_id, token=token))
    assert (await app.head(document)).present_authors == ["author-ann", "author-bob"]
    users[0].leave()

    async def only_bob() -> bool:
        return (await app.head(document)).present_authors == ["author-bob"]
    await _eventually(only_bob, "ann's leave seen by the server")


async def test_a_bad_entry_code_is_not_let_in(hocuspocus: HocuspocusServer, receiver: _Receiver,
                                             users: list[YjsUser]) -> None:
    document = _document(b"secret")
    receiver.contents[document.app_doc_id] = "secret"
    user = YjsUser.connect(hocuspocus, document.app_doc_id, token="code-mallory")
    users.append(user)
    assert user.denied and user.text == "", user.describe()


async def test_load_never_overwrites_a_live_document(app: HocuspocusApp, hocuspocus: HocuspocusServer,
                                                   receiver: _Receiver, users: list[YjsUser]) -> None:
    """People typing in the document (from `create`): load keeps their text and marks it kept, so the
    worker takes the file as baseline and the live text gets saved."""
    document = _document(b"file v1\n")
    receiver.contents[document.app_doc_id] = "file v1\n"
    user = YjsUser.connect(hocuspocus, document.app_doc_id, token="code-ann")
    users.append(user)
    user.insert("live edit")
    loaded = await app.load(document, "file v2\n")
    assert loaded.kept
    assert hocuspocus.doc(document.app_doc_id).content == "file v1\nlive edit"
    same = await app.load(document, "file v1\nlive edit")
    assert not same.kept


async def test_remove_waits_for_people_to_leave(app: HocuspocusApp, hocuspocus: HocuspocusServer,
                                               receiver: _Receiver, users: list[YjsUser]) -> None:
    document = _document(b"bye")
    receiver.contents[document.app_doc_id] = "bye"
    user = YjsUser.connect(hocuspocus, document.app_doc_id, token="code-ann")
    users.append(user)
    with pytest.raises(AppUnavailable):
        await app.remove(document)
    user.leave()

    async def nobody() -> bool:
        state = hocuspocus.doc(document.app_doc_id)
        return state is None or state.clients == 0
    await _eventually(nobody, "the leave seen by the server")
    await app.remove(document)
    assert hocuspocus.doc(document.app_doc_id) is None
    await app.remove(document)  # already gone: fine


async def test_a_read_of_a_lost_document_fails_loudly(app: HocuspocusApp) -> None:
    document = _document(b"", seen_rev=2, saved_rev=1)
    assert (await app.head(document)).rev == 2
    with pytest.raises(AppRefused):
        await app.read(document, 2, 1)


async def test_a_wrong_api_key_is_a_lasting_refusal(hocuspocus: HocuspocusServer) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        app = HocuspocusApp(edge_pb.BridgeApp(kind="hocuspocus", url=hocuspocus.url, api_key="wrong"), http)
        with pytest.raises(AppRefused, match="API key"):
            await app.head(_document(b""))


async def test_an_unreachable_server_is_transient(tmp_path: Path) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        app = HocuspocusApp(edge_pb.BridgeApp(kind="hocuspocus", url="http://127.0.0.1:9", api_key="k"), http)
        with pytest.raises(AppUnavailable):
            await app.head(_document(b""))


async def test_entry_is_the_document_name_and_no_app_session(app: HocuspocusApp) -> None:
    document = _document(b"")
    participant = edge_pb.BridgeParticipant(session_id="sess-1", app_author_id="")
    entry = await app.enter(document, participant, True, 0)
    assert (entry.author_id, entry.app_session_id, entry.target) == ("sess-1", "sess-1", document.app_doc_id)


async def test_a_notice_reaches_everyone_in_the_document(app: HocuspocusApp, hocuspocus: HocuspocusServer,
                                                        receiver: _Receiver, users: list[YjsUser]) -> None:
    document = _document(b"x")
    receiver.contents[document.app_doc_id] = "x"
    user = YjsUser.connect(hocuspocus, document.app_doc_id, token="code-ann")
    users.append(user)
    await app.notify(document, "Someone else changed the file: your text was kept as a copy.")
    user._wait(lambda: any(e.get("event") == "stateless" for e in user.events), 20, "the notice")
    [notice] = [json.loads(e["payload"]) for e in user.events if e.get("event") == "stateless"]
    assert notice == {"type": "wopi-proxy/notice", "message": "Someone else changed the file: your text was kept as a copy."}
    await app.notify(_document(b""), "nobody there")  # no such document loaded: nothing happens
