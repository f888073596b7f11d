"""Our Etherpad plugin ep_wopi_proxy, in a real Etherpad 1.8.14, against the bridge contract.

The wopi-proxy side is a test double of OUR edge's two Etherpad endpoints (`EdgeDouble`): a real
HTTP server on 127.0.0.1 that verifies every signature with shared/signatures.py, records the events
and answers code redemptions. Pad users are headless socket.io clients (tests/support/etherpad.py).
"""

from __future__ import annotations

import json
import math
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from shared import signatures
from shared.errors import BridgeSignatureInvalid
from tests.support.etherpad import EtherpadServer, PadUser, PadUserRefused

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "apps" / "etherpad" / "ep_wopi_proxy" / "index.js"


@dataclass
class EdgeDouble:
    """POST /bridge/etherpad/events and /bridge/etherpad/redeem as the contract defines them."""

    secret: bytes
    grants: dict[str, dict[str, Any]] = field(default_factory=dict)  # code -> redeem answer
    events: list[dict[str, Any]] = field(default_factory=list)
    redeemed: list[str] = field(default_factory=list)
    bad_signatures: list[str] = field(default_factory=list)
    redeem_delay_s: float = 0.0  # a slow edge
    server: ThreadingHTTPServer | None = None
    cond: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> EdgeDouble:
        edge = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    signatures.verify(edge.secret, body, self.headers.get(signatures.HEADER))
                except BridgeSignatureInvalid:
                    with edge.cond:
                        edge.bad_signatures.append(self.path)
                    return self._answer(401, {"error": "unauthorized"})
                payload = json.loads(body)
                if self.path == "/bridge/etherpad/events":
                    with edge.cond:
                        edge.events.append({**payload, "_received": time.monotonic()})
                        edge.cond.notify_all()
                    return self._answer(202, {})
                if self.path == "/bridge/etherpad/redeem":
                    time.sleep(edge.redeem_delay_s)
                    with edge.cond:
                        edge.redeemed.append(payload["code"])
                    grant = edge.grants.pop(payload["code"], None)  # one-time
                    return self._answer(200, grant) if grant else self._answer(401, {"error": "unauthorized"})
                self._answer(404, {})

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def of(self, pad: str, event: str) -> list[dict[str, Any]]:
        with self.cond:
            return [e for e in self.events if e["pad"] == pad and e["event"] == event]

    def wait_for(self, pad: str, event: str, where: Callable[[dict[str, Any]], bool] = lambda e: True,
                 timeout: float = 15.0, etherpad: EtherpadServer | None = None) -> dict[str, Any]:
        """The first `event` for `pad` matching `where`, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [e for e in self.events if e["pad"] == pad and e["event"] == event and where(e)]
                if found:
                    return found[0]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    log = etherpad.log()[-3000:] if etherpad else ""
                    raise AssertionError(f"no {event} event for {pad} within {timeout} s; events "
                                         f"{self.events}; bad signatures {self.bad_signatures}\n{log}")
                self.cond.wait(remaining)

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def new_edge(etherpad: EtherpadServer) -> EdgeDouble:
    secret = secrets.token_urlsafe(24)
    edge = EdgeDouble(secret.encode()).start()
    etherpad.configure(edge.url, secret)
    return edge


@pytest.fixture
def edge(etherpad: EtherpadServer) -> Iterator[EdgeDouble]:
    """A fresh edge double, the shared Etherpad's plugin pointed at it."""
    double = new_edge(etherpad)
    yield double
    double.close()
    assert not double.bad_signatures, f"the plugin sent badly signed requests: {double.bad_signatures}"


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, trust_env=False, follow_redirects=False) as client:
        yield client


def pad_name() -> str:
    return "doc" + secrets.token_hex(6)


def signed_post(http: httpx.Client, url: str, payload: dict[str, Any], secret: bytes,
                now: int | None = None) -> httpx.Response:
    body = json.dumps(payload).encode()
    return http.post(url, content=body, headers={"Content-Type": "application/json",
                                                 signatures.HEADER: signatures.sign(secret, body, now)})


# ---- loading and the signature scheme ----------------------------------------------------------

def test_plugin_is_loaded_by_etherpad(etherpad: EtherpadServer) -> None:
    log = etherpad.log()
    assert "Installed plugins: ep_wopi_proxy@" in log, log[-3000:]
    assert "[ep_wopi_proxy] routes /wopi-proxy/{enter,notify,kick} ready" in log, log[-3000:]


def _node(script: str) -> str:
    result = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_plugin_signatures_verify_with_shared_signatures(etherpad_install: Path) -> None:
    """Same scheme both ways: the plugin's header passes shared.signatures.verify, and the plugin
    accepts shared.signatures.sign's header (and refuses it for another body)."""
    secret, body = "s3cret-ü", '{"pad":"p","message":"é"}'
    header = _node(f"process.stdout.write(require({json.dumps(str(PLUGIN))})._sign("
                   f"Buffer.from({json.dumps(secret)}), Buffer.from({json.dumps(body)})))")
    signatures.verify(secret.encode(), body.encode(), header)
    ours = signatures.sign(secret.encode(), body.encode())
    verdicts = _node(f"const p = require({json.dumps(str(PLUGIN))}); const s = Buffer.from({json.dumps(secret)});"
                     f"console.log(p._verify(s, Buffer.from({json.dumps(body)}), {json.dumps(ours)}),"
                     f" p._verify(s, Buffer.from('x'), {json.dumps(ours)}))")
    assert verdicts == "true false"


# ---- push events ---------------------------------------------------------------------------------

def test_typed_change_posts_signed_change_event(etherpad: EtherpadServer, edge: EdgeDouble,
                                                join_pad: Callable[..., PadUser]) -> None:
    pad = etherpad.new_group_pad(pad_name(), text="hello")
    session, author = etherpad.new_session(pad, "tenant:ann")
    ann = join_pad(pad, session)
    rev = ann.type(" world")
    event = edge.wait_for(pad, "change", etherpad=etherpad)
    assert (event["rev"], event["author"]) == (rev, author)
    assert isinstance(event["ts"], int) and abs(event["ts"] / 1000 - time.time()) < 60


def test_api_settext_posts_no_change_event(etherpad: EtherpadServer, edge: EdgeDouble,
                                           join_pad: Callable[..., PadUser]) -> None:
    """The bridge's own writes (author "") must not come back as changes (no save loop)."""
    pad = etherpad.new_group_pad(pad_name())
    etherpad.api("setText", padID=pad, text="from the file\n")
    api_rev = etherpad.api("getRevisionsCount", padID=pad)["revisions"]
    # A user change afterwards: its event is sent after any event setText could have caused, so
    # once it has arrived, a setText event would have too (loopback; throttle windows keep order).
    session, _ = etherpad.new_session(pad, "tenant:ann")
    typed_rev = join_pad(pad, session).type("!")
    edge.wait_for(pad, "change", lambda e: e["rev"] == typed_rev, etherpad=etherpad)
    assert [e["rev"] for e in edge.of(pad, "change")] == [typed_rev], f"setText was rev {api_rev}"


def test_join_and_leave_post_events(etherpad: EtherpadServer, edge: EdgeDouble,
                                    join_pad: Callable[..., PadUser]) -> None:
    pad = etherpad.new_group_pad(pad_name(), text="x")
    session, author = etherpad.new_session(pad, "tenant:ann")
    ann = join_pad(pad, session)
    join = edge.wait_for(pad, "join", etherpad=etherpad)
    assert (join["author"], join["rev"]) == (author, 0)
    ann.leave()
    leave = edge.wait_for(pad, "leave", etherpad=etherpad)
    assert leave["author"] == author


def test_read_only_join_reports_the_real_pad(etherpad: EtherpadServer, edge: EdgeDouble,
                                            join_pad: Callable[..., PadUser]) -> None:
    """A viewer enters by the pad's r.… id; the bridge knows pads by their real id."""
    pad = etherpad.new_group_pad(pad_name(), text="x")
    read_only_id = etherpad.api("getReadOnlyID", padID=pad)["readOnlyID"]
    session, author = etherpad.new_session(pad, "tenant:viewer")
    viewer = join_pad(read_only_id, session)
    assert viewer.readonly
    join = edge.wait_for(pad, "join", etherpad=etherpad)
    assert join["author"] == author
    assert edge.of(read_only_id, "join") == []


def test_killed_user_posts_leave_event(etherpad: EtherpadServer, edge: EdgeDouble,
                                       join_pad: Callable[..., PadUser]) -> None:
    """A browser that dies (kill -9) is reported as gone; the bridge's final save depends on it."""
    pad = etherpad.new_group_pad(pad_name())
    session, author = etherpad.new_session(pad, "tenant:ann")
    ann = join_pad(pad, session)
    edge.wait_for(pad, "join", etherpad=etherpad)
    ann.kill()
    assert edge.wait_for(pad, "leave", etherpad=etherpad)["author"] == author


def test_rapid_changes_are_throttled_and_the_last_rev_is_reported(
        etherpad: EtherpadServer, edge: EdgeDouble, join_pad: Callable[..., PadUser]) -> None:
    pad = etherpad.new_group_pad(pad_name())
    session, _ = etherpad.new_session(pad, "tenant:ann")
    ann = join_pad(pad, session)
    started = time.monotonic()
    revs = [ann.type(str(i % 10)) for i in range(20)]
    elapsed = time.monotonic() - started
    edge.wait_for(pad, "change", lambda e: e["rev"] == revs[-1], etherpad=etherpad)
    changes = edge.of(pad, "change")
    # One event per started second of typing, plus the trailing one; never one per change.
    assert len(changes) <= math.ceil(elapsed) + 1 < 20, (elapsed, changes)
    sent = sorted(e["ts"] for e in changes)
    assert all(b - a >= 990 for a, b in zip(sent, sent[1:])), sent
    assert max(e["rev"] for e in changes) == revs[-1]


def test_unreachable_edge_never_disturbs_editing(etherpad: EtherpadServer,
                                                 join_pad: Callable[..., PadUser]) -> None:
    """Events are fire-and-forget and hooks never throw (a throwing padUpdate hook kicks the
    user with badChangeset, as ep_sciencemesh does): with the edge down, users edit on."""
    etherpad.configure("http://127.0.0.1:9", "secret")  # nothing listens on port 9
    pad = etherpad.new_group_pad(pad_name())
    session, _ = etherpad.new_session(pad, "tenant:ann")
    ann = join_pad(pad, session)
    for word in ("one ", "two ", "three"):
        ann.type(word)
    assert ann.disconnect_reasons == [] and ann.errors == []
    assert etherpad.api("getText", padID=pad)["text"] == "one two three\n"
    ann.leave()


def test_deleted_pad_posts_remove_event(etherpad: EtherpadServer, edge: EdgeDouble) -> None:
    pad = etherpad.new_group_pad(pad_name(), text="bye")
    etherpad.api("deletePad", padID=pad)
    assert edge.wait_for(pad, "remove", etherpad=etherpad)["author"] == ""


# ---- entering a private pad with a one-time code ----------------------------------------------

def grant_code(etherpad: EtherpadServer, edge: EdgeDouble, pad: str, name: str = "Ann") -> tuple[str, str]:
    """An API session for the pad and a one-time code the edge double will redeem for it."""
    session, _ = etherpad.new_session(pad, f"tenant:{name.lower()}", name=name)
    code = secrets.token_urlsafe(24)
    edge.grants[code] = {"sessionID": session, "pad": pad, "userName": name,
                         "validUntil": int(time.time()) + 3600}
    return code, session


def session_cookie(answer: httpx.Response) -> str:
    """Our Set-Cookie (Etherpad's express-session adds its own express_sid cookie beside it)."""
    ours = [c for c in answer.headers.get_list("set-cookie") if c.startswith("sessionID=")]
    assert len(ours) == 1, answer.headers
    return ours[0]


def test_enter_redeems_code_sets_cookie_and_redirects_to_pad(
        etherpad: EtherpadServer, edge: EdgeDouble, http: httpx.Client) -> None:
    pad = etherpad.new_group_pad(pad_name())
    code, session = grant_code(etherpad, edge, pad, name="Ann Ö")
    answer = http.get(f"{etherpad.url}/wopi-proxy/enter", params={"code": code})
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"] == f"/p/{quote(pad, safe='')}?userName=Ann%20%C3%96"
    cookie = session_cookie(answer)
    assert cookie.startswith(f"sessionID={session}; Path=/; Expires=") and cookie.endswith("; SameSite=Lax")
    assert edge.redeemed == [code]  # signed (the double refuses anything else), server to server


def test_enter_behind_https_proxy_sets_secure_cross_site_cookie(
        etherpad: EtherpadServer, edge: EdgeDouble, http: httpx.Client) -> None:
    pad = etherpad.new_group_pad(pad_name())
    code, session = grant_code(etherpad, edge, pad)
    answer = http.get(f"{etherpad.url}/wopi-proxy/enter", params={"code": code},
                      headers={"X-Forwarded-Proto": "https"})
    assert answer.status_code == 302
    assert session_cookie(answer).endswith("; Secure; SameSite=None")


def test_session_from_enter_opens_the_private_pad(
        etherpad: EtherpadServer, edge: EdgeDouble, http: httpx.Client,
        join_pad: Callable[..., PadUser]) -> None:
    pad = etherpad.new_group_pad(pad_name(), text="private")
    code, _ = grant_code(etherpad, edge, pad)
    answer = http.get(f"{etherpad.url}/wopi-proxy/enter", params={"code": code})
    session = session_cookie(answer).split(";")[0].removeprefix("sessionID=")
    ann = join_pad(pad, session)
    assert not ann.denied and ann.text == "private\n"


def test_enter_keeps_the_browsers_other_sessions(
        etherpad: EtherpadServer, edge: EdgeDouble, http: httpx.Client,
        join_pad: Callable[..., PadUser]) -> None:
    """Two documents of two tenants (two groups) in one browser: entering the second must not
    lock the first one out (Etherpad takes a comma-separated session list from the cookie)."""
    first = etherpad.new_group_pad(pad_name(), text="first", group_mapper="tenant-a")
    second = etherpad.new_group_pad(pad_name(), text="second", group_mapper="tenant-b")
    code_a, session_a = grant_code(etherpad, edge, first)
    code_b, session_b = grant_code(etherpad, edge, second)
    assert http.get(f"{etherpad.url}/wopi-proxy/enter", params={"code": code_a}).status_code == 302
    answer = http.get(f"{etherpad.url}/wopi-proxy/enter", params={"code": code_b},
                      headers={"Cookie": f"sessionID={session_a}; other=x"})
    cookie_value = session_cookie(answer).split(";")[0].removeprefix("sessionID=")
    assert cookie_value == f"{session_b},{session_a}"
    assert join_pad(first, cookie_value).text == "first\n"
    assert join_pad(second, cookie_value).text == "second\n"


def test_private_pad_refuses_user_without_session(
        etherpad: EtherpadServer, join_pad: Callable[..., PadUser]) -> None:
    pad = etherpad.new_group_pad(pad_name(), text="private")
    intruder = join_pad(pad, None)
    assert intruder.denied and not intruder.ready


def test_enter_with_refused_code_shows_403_without_cookie(
        etherpad: EtherpadServer, edge: EdgeDouble, http: httpx.Client) -> None:
    answer = http.get(f"{etherpad.url}/wopi-proxy/enter", params={"code": "not-a-granted-code"})
    assert answer.status_code == 403
    assert "This link is no longer valid" in answer.text
    assert not [c for c in answer.headers.get_list("set-cookie") if c.startswith("sessionID=")]
    assert edge.redeemed == ["not-a-granted-code"]


def test_enter_gives_up_on_a_hanging_edge(etherpad: EtherpadServer, edge: EdgeDouble,
                                          http: httpx.Client) -> None:
    """The redeem call has a 5 s deadline: a stuck edge yields the 403 page, not a hung request."""
    pad = etherpad.new_group_pad(pad_name())
    code, _ = grant_code(etherpad, edge, pad)
    edge.redeem_delay_s = 8
    started = time.monotonic()
    answer = http.get(f"{etherpad.url}/wopi-proxy/enter", params={"code": code})
    assert answer.status_code == 403 and 4.5 < time.monotonic() - started < 7.5


def test_enter_flood_is_capped(etherpad: EtherpadServer, edge: EdgeDouble) -> None:
    """Random codes cost the plugin one edge call each: at most 50 wait at once, the rest get 503."""
    edge.redeem_delay_s = 8

    def enter(i: int) -> int:
        with httpx.Client(timeout=30, trust_env=False) as client:
            return client.get(f"{etherpad.url}/wopi-proxy/enter", params={"code": f"guess{i}"}).status_code

    with ThreadPoolExecutor(60) as pool:
        statuses = list(pool.map(enter, range(60)))
    assert set(statuses) <= {403, 503} and statuses.count(403) <= 50 and 503 in statuses, statuses


def test_enter_code_is_single_use(etherpad: EtherpadServer, edge: EdgeDouble, http: httpx.Client) -> None:
    """The edge refuses a second redemption; the plugin then sets no cookie."""
    pad = etherpad.new_group_pad(pad_name())
    code, _ = grant_code(etherpad, edge, pad)
    assert http.get(f"{etherpad.url}/wopi-proxy/enter", params={"code": code}).status_code == 302
    again = http.get(f"{etherpad.url}/wopi-proxy/enter", params={"code": code})
    assert again.status_code == 403
    assert not [c for c in again.headers.get_list("set-cookie") if c.startswith("sessionID=")]


# ---- notify and kick (edge -> Etherpad) ---------------------------------------------------------

BAD_SIGNATURES = {
    "missing": lambda body, secret: None,
    "wrong secret": lambda body, secret: signatures.sign(b"not the secret", body),
    "other body": lambda body, secret: signatures.sign(secret, body + b" "),
    "replayed after 5 minutes": lambda body, secret: signatures.sign(secret, body, int(time.time()) - 301),
    "garbage": lambda body, secret: "t=1,v1=zz",
}


@pytest.mark.parametrize("route", ["notify", "kick"])
@pytest.mark.parametrize("signature", list(BAD_SIGNATURES))
def test_unsigned_or_badly_signed_edge_call_is_401(
        etherpad: EtherpadServer, edge: EdgeDouble, http: httpx.Client, route: str, signature: str) -> None:
    pad = etherpad.new_group_pad(pad_name())
    body = json.dumps({"pad": pad, "message": "saved"}).encode()
    header = BAD_SIGNATURES[signature](body, edge.secret)
    answer = http.post(f"{etherpad.url}/wopi-proxy/{route}", content=body,
                       headers={signatures.HEADER: header} if header else {})
    assert (answer.status_code, answer.json()) == (401, {"error": "unauthorized"})


@pytest.mark.parametrize("route", ["notify", "kick"])
def test_unknown_pad_answers_like_a_bad_signature(
        etherpad: EtherpadServer, edge: EdgeDouble, http: httpx.Client, route: str) -> None:
    answer = signed_post(http, f"{etherpad.url}/wopi-proxy/{route}",
                         {"pad": "g.AAAAAAAAAAAAAAAA$nothing", "message": "x"}, edge.secret)
    assert (answer.status_code, answer.json()) == (401, {"error": "unauthorized"})


def test_oversized_edge_call_is_refused(etherpad: EtherpadServer, edge: EdgeDouble, http: httpx.Client) -> None:
    pad = etherpad.new_group_pad(pad_name())
    answer = signed_post(http, f"{etherpad.url}/wopi-proxy/notify",
                         {"pad": pad, "message": "x" * (64 * 1024)}, edge.secret)
    assert answer.status_code == 413


def test_signed_notify_reaches_pad_users(etherpad: EtherpadServer, edge: EdgeDouble, http: httpx.Client,
                                         join_pad: Callable[..., PadUser]) -> None:
    pad = etherpad.new_group_pad(pad_name())
    session, _ = etherpad.new_session(pad, "tenant:ann")
    ann = join_pad(pad, session)
    answer = signed_post(http, f"{etherpad.url}/wopi-proxy/notify", {"pad": pad, "message": "Saved ✓"},
                         edge.secret)
    assert answer.status_code == 204, answer.text
    payload = ann.wait_for_custom_message()
    assert (payload["padId"], payload["message"]) == (pad, "Saved ✓")


def test_signed_kick_disconnects_pad_users(etherpad: EtherpadServer, edge: EdgeDouble, http: httpx.Client,
                                           join_pad: Callable[..., PadUser]) -> None:
    pad = etherpad.new_group_pad(pad_name())
    session, author = etherpad.new_session(pad, "tenant:ann")
    ann = join_pad(pad, session)
    answer = signed_post(http, f"{etherpad.url}/wopi-proxy/kick", {"pad": pad}, edge.secret)
    assert answer.status_code == 204, answer.text
    assert "deleted" in ann.wait_for_disconnect()
    # The server also drops the socket: Etherpad sees the user leave.
    assert edge.wait_for(pad, "leave", etherpad=etherpad)["author"] == author


# ---- configuration ---------------------------------------------------------------------------------

def test_config_file_change_is_picked_up_without_restart(
        etherpad: EtherpadServer, edge: EdgeDouble, http: httpx.Client,
        join_pad: Callable[..., PadUser]) -> None:
    """Operators rotate the secret (and tests move the edge) by rewriting the file."""
    pad = etherpad.new_group_pad(pad_name())
    session, _ = etherpad.new_session(pad, "tenant:ann")
    ann = join_pad(pad, session)
    edge.wait_for(pad, "join", etherpad=etherpad)
    rotated = new_edge(etherpad)
    try:
        rev = ann.type("after rotation")
        rotated.wait_for(pad, "change", lambda e: e["rev"] == rev, etherpad=etherpad)
        assert edge.of(pad, "change") == []
        notify = f"{etherpad.url}/wopi-proxy/notify"
        assert signed_post(http, notify, {"pad": pad, "message": "m"}, edge.secret).status_code == 401
        assert signed_post(http, notify, {"pad": pad, "message": "m"}, rotated.secret).status_code == 204
    finally:
        rotated.close()
    assert not rotated.bad_signatures


def test_settings_json_block_configures_until_the_config_file_appears(
        etherpad_install: Path, tmp_path: Path) -> None:
    """Operators may configure in settings.json; the EP_WOPI_PROXY_CONFIG file, once written, wins."""
    from_settings = EdgeDouble(b"settings-secret").start()
    server = EtherpadServer(tmp_path, install_dir=etherpad_install,
                            plugin_settings={"edgeUrl": from_settings.url, "secret": "settings-secret"})
    server.start()
    from_file = None
    try:
        pad = server.new_group_pad("doc")
        server.api("deletePad", padID=pad)
        from_settings.wait_for(pad, "remove", etherpad=server)
        from_file = new_edge(server)
        pad = server.new_group_pad("doc2")
        server.api("deletePad", padID=pad)
        from_file.wait_for(pad, "remove", etherpad=server)
        assert from_settings.of(pad, "remove") == []
        assert not from_settings.bad_signatures and not from_file.bad_signatures
    finally:
        server.close()
        from_settings.close()
        if from_file:
            from_file.close()


# ---- the kit itself (what the bridge tests rely on) -------------------------------------------

def test_pad_users_see_each_others_changes(etherpad: EtherpadServer, join_pad: Callable[..., PadUser]) -> None:
    pad = etherpad.new_group_pad(pad_name(), text="shared")
    ann = join_pad(pad, etherpad.new_session(pad, "tenant:ann")[0])
    bob = join_pad(pad, etherpad.new_session(pad, "tenant:bob")[0])
    ann.type(" by ann")
    assert bob.wait_for_text(" by ann") == "shared by ann\n"
    rev = bob.type(" and bob")
    ann.wait_for_text(lambda text: text == "shared by ann and bob\n")
    assert ann.rev == bob.rev == rev
    assert etherpad.api("getText", padID=pad)["text"] == "shared by ann and bob\n"


def test_deleted_session_refuses_the_next_change(etherpad: EtherpadServer,
                                                 join_pad: Callable[..., PadUser]) -> None:
    """Etherpad re-checks access per message: deleteSession (the bridge's close) stops a user."""
    pad = etherpad.new_group_pad(pad_name())
    session, _ = etherpad.new_session(pad, "tenant:ann")
    ann = join_pad(pad, session)
    ann.type("before")
    etherpad.api("deleteSession", sessionID=session)
    with pytest.raises(PadUserRefused):
        ann.type("after")
    assert ann.denied
    assert etherpad.api("getText", padID=pad)["text"] == "before\n"


def test_restarted_etherpad_keeps_port_and_pads(etherpad_install: Path, tmp_path: Path) -> None:
    """EtherpadServer.kill()/restart(): what crash tests of the bridge rely on."""
    server = EtherpadServer(tmp_path, install_dir=etherpad_install).start()
    try:
        pad = server.new_group_pad("kept", text="durable")
        url = server.url
        server.restart()  # SIGTERM: Etherpad flushes its dirty DB (a SIGKILL may lose its last writes)
        assert server.url == url
        assert server.api("getText", padID=pad)["text"] == "durable\n"
        server.kill()
        assert server.process is not None and server.process.returncode == -9
    finally:
        server.close()
