""".html files through the Etherpad bridge: loaded with setHTML (people see the text, not the
tags), saved from getHTML (Etherpad's own HTML, as UTF-8), and never rewritten when nobody typed.
The adapter against a real Etherpad 1.8.14, then end to end with a real `wopi-proxy serve`."""

from __future__ import annotations

import secrets
import time
from html.parser import HTMLParser

from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

from edge.bridge.apps.etherpad import EtherpadApp, import_html
from tests.bridge import test_etherpad_app as _adapter
from tests.bridge import test_etherpad_bridge as _bridge
from tests.bridge.etherpad_flow import BridgeFlow, wait_until
from tests.support.etherpad import EtherpadServer

# The adapter's fixture, and the Etherpad bridge's (a `serve` with short timings, its API, the
# editor, a tenant per test).
app = _adapter.app
bridge_server, bridge_api, secret, editor, flow = (_bridge.bridge_server, _bridge.bridge_api, _bridge.secret,
                                                   _bridge.editor, _bridge.flow)

PAGE = ("<!DOCTYPE html>\r\n<html><head><title>Minutes</title><style>p {color: red}</style></head>\r\n"
        "<body><h1>Minutes of the meeting</h1><p>Hello <b>bold</b> w\u00f6rld</p>"
        "<ul><li>first item</li><li>second item</li></ul><script>alert('x')</script></body></html>\r\n").encode()


class _Text(HTMLParser):
    """The text of an HTML document, and whether its tags are balanced the way Etherpad writes them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag not in ("br", "li"):  # void, and Etherpad leaves </li> out before </ul>
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag != "li":
            assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing open: {self.open}"

    def handle_data(self, data: str) -> None:
        self.text += data


def _text_of(html: bytes) -> str:
    parser = _Text()
    parser.feed(html.decode("utf-8"))
    parser.close()
    assert parser.open == [], parser.open
    return parser.text


def _document(name: str = "page.html") -> edge_pb.BridgedDocumentRef:
    return edge_pb.BridgedDocumentRef(document_id="d1", tenant_id="t-" + secrets.token_hex(3),
                                      app_doc_id=secrets.token_hex(8), file_name=name)


def _logs(flow: BridgeFlow) -> str:
    return f"{flow.log()}\n--- etherpad ---\n{flow.etherpad.log()[-3000:]}"


def test_import_drops_only_the_last_line_break_of_the_body() -> None:
    assert import_html("<html><body>a<br>b<br></body></html>") == "<html><body>a<br>b</body></html>"
    assert import_html("a<br>\n<BR/> \n</body>\n</html>\n") == "a<br>\n \n</body>\n</html>\n"
    assert import_html("<p>a</p>") == "<p>a</p>"
    assert import_html("<br>x") == "<br>x"


# -- the adapter ---------------------------------------------------------------------------------------


async def test_an_html_file_becomes_the_pads_text_and_comes_back_as_etherpads_html(
        app: EtherpadApp, etherpad: EtherpadServer) -> None:
    document = _document("Page.HTM")
    loaded = await app.load(document, PAGE.decode())
    entry = await app.enter(document, _adapter._participant("ann", "Ann"), True, int(time.time()) + 600)
    text = etherpad.api("getText", padID=entry.target)["text"]
    assert "Hello bold w\u00f6rld" in text and "first item" in text and "<" not in text, text
    assert "alert" not in text and "color" not in text and "Minutes</title>" not in text
    content = await app.read(document, loaded.rev, loaded.rev)
    assert content.text.startswith("<!DOCTYPE HTML><html><body>") and content.text.endswith("</body></html>")
    assert "Hello <strong>bold</strong> w&#246;rld" in content.text, content.text
    assert content.authors == []


async def test_html_that_etherpad_wrote_loads_back_unchanged(app: EtherpadApp) -> None:
    """Etherpad's import adds an empty line: without import_html every save-and-reopen would
    grow the document by one blank line."""
    first = _document()
    loaded = await app.load(first, PAGE.decode())
    exported = (await app.read(first, loaded.rev, loaded.rev)).text
    again = _document()
    reloaded = await app.load(again, exported)
    assert (await app.read(again, reloaded.rev, reloaded.rev)).text == exported
    # An older generation's pad nobody is in is set again, to the same HTML.
    replaced = await app.load(again, exported)
    assert replaced.rev > reloaded.rev
    assert (await app.read(again, replaced.rev, replaced.rev)).text == exported


async def test_an_empty_html_file_opens_as_an_empty_pad(app: EtherpadApp) -> None:
    document = _document()
    loaded = await app.load(document, "")
    assert (await app.read(document, loaded.rev, loaded.rev)).text == "<!DOCTYPE HTML><html><body><br></body></html>"


# -- end to end ----------------------------------------------------------------------------------------


def test_an_html_file_opens_with_its_text_visible_not_its_tags(flow: BridgeFlow) -> None:
    (flow.folder / "page.html").write_bytes(PAGE)
    ann = flow.join("page.html", "ann")
    assert ann.user is not None
    text = ann.user.text
    assert "Minutes of the meeting" in text and "Hello bold w\u00f6rld" in text and "second item" in text, _logs(flow)
    assert "<" not in text and "alert" not in text, text
    ann.user.leave()


def test_typing_saves_html_with_the_typed_and_the_original_words(flow: BridgeFlow) -> None:
    path = flow.folder / "page.html"
    path.write_bytes(PAGE)
    ann = flow.join("page.html", "ann")
    assert ann.user is not None
    file_id = ann.session.session.file_id
    ann.user.type("typed in the pad")
    wait_until(lambda: b"typed in the pad" in path.read_bytes(), "the save",
               details=lambda: f"{path.read_bytes()!r}\n{_logs(flow)}")
    saved = path.read_bytes()
    assert saved.startswith(b"<!DOCTYPE HTML><html><body>") and saved.endswith(b"</body></html>"), saved
    assert b"\r" not in saved and b"<strong>bold</strong>" in saved, saved
    words = _text_of(saved)
    for expected in ("Minutes of the meeting", "Hello bold w\u00f6rld", "first item", "typed in the pad"):
        assert expected in words, (expected, words)
    # The file is written before the worker reports the save: its audit event follows shortly.
    saves = wait_until(lambda: [e for e in flow.audit(file_id) if e.operation == "bridge.save"], "the save's audit",
                       details=lambda: str([(e.operation, e.detail) for e in flow.audit(file_id)]))
    assert "editors=ann" in saves[-1].detail, [(e.operation, e.detail) for e in flow.audit(file_id)]
    last_text = ann.user.text
    ann.user.leave()
    flow.wait_state(file_id, "closed", timeout=60)
    assert path.read_bytes() == saved

    # Opened again, the saved HTML shows the same text and is not rewritten. (Etherpad's import
    # always ends with an empty line for the caret: ann typed on it, so it comes back once.)
    bob = flow.join("page.html", "bob")
    assert bob.user is not None
    assert bob.user.text == last_text + "\n" and last_text.endswith("typed in the pad\n"), _logs(flow)
    bob.user.leave()
    flow.wait_state(file_id, "closed", timeout=60)
    assert path.read_bytes() == saved


def test_opening_and_leaving_an_html_file_without_typing_leaves_it_untouched(flow: BridgeFlow) -> None:
    path = flow.folder / "keep.html"
    path.write_bytes(PAGE)  # CRLF, <head>, a script: Etherpad's HTML differs, and must not be written
    modified = path.stat().st_mtime_ns
    ann = flow.join("keep.html", "ann")
    assert ann.user is not None
    file_id = ann.session.session.file_id
    flow.wait_state(file_id, "open")
    ann.user.leave()
    flow.wait_state(file_id, "closed", timeout=60)
    assert path.read_bytes() == PAGE and path.stat().st_mtime_ns == modified
    operations = [e.operation for e in flow.audit(file_id)]
    assert "bridge.save" not in operations and "PutFile" not in operations, operations


def test_an_htm_file_opens_in_etherpad_too(flow: BridgeFlow) -> None:
    (flow.folder / "old.htm").write_bytes(b"<p>an old page</p>")
    ann = flow.join("old.htm", "ann")
    assert ann.user is not None
    assert "an old page" in ann.user.text and "<p>" not in ann.user.text, _logs(flow)
    ann.user.leave()
