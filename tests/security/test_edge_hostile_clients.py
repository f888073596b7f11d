"""What a hostile client can hold or slip through at the edge (review i): stalled bodies sent with
a made-up token, control characters in echoed headers, replies a cache could keep."""

from __future__ import annotations

import os
import socket
import time
from urllib.parse import urlsplit

import httpx

from tests.support.api import ControlApi, new_tenant, open_file

BODY_DEADLINE_S = 15.0  # edge.wopi.user_info's
SLACK_S = 30.0  # a loaded test machine


def _connect(url: str) -> tuple[socket.socket, str]:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    return sock, f"{parts.path}?{parts.query}" if parts.query else parts.path


def _raw(url: str, head: str) -> bytes:
    sock, target = _connect(url)
    with sock:
        sock.sendall((f"POST {target} HTTP/1.1\r\nHost: edge\r\n{head}"
                      "Content-Length: 0\r\nConnection: close\r\n\r\n").encode("latin-1"))
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def test_a_stalled_put_user_info_body_with_a_made_up_token_is_given_up(server, api: ControlApi, tenant) -> None:
    """PutUserInfo reads its few KiB before the token is checked (one call authorizes and stores):
    a body that never comes was held for ever, by anyone, one connection each."""
    f = open_file(api, *tenant, "ui.docx", b"x")
    sock, target = _connect(f.wopi_src + "?access_token=made-up-token")
    with sock:
        sock.sendall((f"POST {target} HTTP/1.1\r\nHost: edge\r\nX-WOPI-Override: PUT_USER_INFO\r\n"
                      "Content-Length: 1000\r\n\r\nab").encode())
        sock.settimeout(BODY_DEADLINE_S + SLACK_S)
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except TimeoutError:
            pass
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200] or "still held open"
    assert b"UPLOAD_STALLED" in reply, reply[:400]


def test_a_lock_id_with_a_del_character_is_refused_like_other_control_characters(
        server, api: ControlApi, tenant) -> None:
    """The lock is echoed in X-WOPI-Lock to the file's other editors: DEL is no header character."""
    f = open_file(api, *tenant, "del.docx", b"x")
    reply = _raw(f.url(), "X-WOPI-Override: LOCK\r\nX-WOPI-Lock: evil\x7flock\r\n")
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]


def test_a_put_relative_file_reply_carrying_a_new_access_token_is_not_cacheable(
        server, api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "rel.docx", b"x")
    reply = http.post(f.url(), content=b"copy", headers={"X-WOPI-Override": "PUT_RELATIVE",
                                                         "X-WOPI-SuggestedTarget": ".pdf"})
    assert reply.status_code == 200, reply.text
    assert "access_token=" in reply.json()["Url"]
    assert reply.headers.get("Cache-Control") == "no-store", dict(reply.headers)


def test_wopi_replies_with_file_bytes_or_user_data_are_not_cacheable(
        server, api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "cache.docx", b"x")
    replies = [http.get(f.url()), http.get(f.url("/contents")), http.get(f.url(token="made-up"))]
    assert [(r.status_code, r.headers.get("Cache-Control")) for r in replies] == [
        (200, "no-store"), (200, "no-store"), (401, "no-store")]


# -- HTTP/1.1 only ---------------------------------------------------------------------------------

def _reply_head(url: str, request: bytes) -> bytes:
    sock, _ = _connect(url)
    with sock:
        sock.sendall(request)
        sock.settimeout(30)
        reply = b""
        try:
            while len(reply) < 12 and (chunk := sock.recv(65536)):
                reply += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return reply


def test_an_h2c_upgrade_is_ignored_and_answered_in_http_1_1(server, api: ControlApi, tenant) -> None:
    """Over HTTP/2 the reply waits on the client's flow-control window with no timer: a client that
    never opens it would hold its download, its slot and its file for ever."""
    f = open_file(api, *tenant, "h2c.docx", b"x")
    _, target = _connect(f.url())
    reply = _reply_head(f.url(), (f"GET {target} HTTP/1.1\r\nHost: edge\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                                  "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n").encode())
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]


def test_the_http2_preface_gets_no_http2_reply(server, api: ControlApi, tenant) -> None:
    f = open_file(api, *tenant, "h2.docx", b"x")
    settings = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # an empty SETTINGS frame
    reply = _reply_head(f.url(), b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + settings)
    assert reply == b"" or reply.startswith(b"HTTP/1.1 4"), reply[:200]


# -- downloads a client never reads ---------------------------------------------------------------

IDLE_S = 3.0  # --body-idle-timeout of these deployments


def _stalled_download(url: str) -> socket.socket:
    """A GetFile whose client reads its status line and nothing more."""
    sock, target = _connect(url)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: edge\r\n\r\n".encode())
    sock.settimeout(30)
    assert sock.recv(12) == b"HTTP/1.1 200"
    return sock


def _ended(sock: socket.socket) -> bool:
    """Whether the connection is over: what is buffered ends with a reset or an end of stream."""
    sock.settimeout(10)
    try:
        while sock.recv(1 << 20):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def test_a_token_past_its_download_cap_is_refused_before_the_file_is_opened(deploy, tmp_path) -> None:
    """Attack (any token holder, a viewer is enough): many GetFiles it never reads, each holding a
    read buffer, a file descriptor and the socket's send buffer (~2.4 MiB) in the edge."""
    deployment = deploy("serve", edge_args=("--max-downloads-per-token", "2", "--body-idle-timeout", "60"))
    api = deployment.api()
    f = open_file(api, *new_tenant(api, tmp_path / "storage"), "big.bin", os.urandom(8 << 20))
    stalled = [_stalled_download(f.url("/contents")) for _ in range(2)]
    try:
        with httpx.Client(timeout=30) as http:
            refused = http.get(f.url("/contents"))
    finally:
        for sock in stalled:
            sock.close()
    assert refused.status_code == 429, refused.text[:300]
    assert refused.json()["error"] == "TOO_MANY_DOWNLOADS" and refused.headers["Retry-After"]


def test_a_download_its_client_stops_reading_is_given_up_and_its_place_comes_back(deploy, tmp_path) -> None:
    deployment = deploy("serve", edge_args=("--max-downloads-per-token", "1", "--body-idle-timeout", str(IDLE_S)))
    api = deployment.api()
    f = open_file(api, *new_tenant(api, tmp_path / "storage"), "big.bin", os.urandom(8 << 20))
    stalled = _stalled_download(f.url("/contents"))
    with stalled:
        deadline = time.monotonic() + IDLE_S + SLACK_S
        while "read nothing of the reply" not in deployment.log() and time.monotonic() < deadline:
            time.sleep(0.1)  # polling the edge's log for the condition
        assert "read nothing of the reply" in deployment.log(), "the edge still holds the unread download"
        assert _ended(stalled), "the connection of the given-up download is still open"
    with httpx.Client(timeout=30) as http:
        again = http.get(f.url("/contents"))
    assert again.status_code == 200 and len(again.content) == 8 << 20, deployment.log()[-2000:]


# -- made-up launch codes -------------------------------------------------------------------------


def test_a_flood_of_made_up_launch_codes_is_limited_like_made_up_tokens(deploy) -> None:
    """Each made-up code reached the control plane (a transaction there) without limit, while the
    same address's made-up WOPI tokens were refused at the edge past their burst."""
    deployment = deploy("serve", edge_args=("--invalid-token-limit", "1", "--invalid-token-burst", "3"))
    with httpx.Client(timeout=30) as http:
        replies = [http.get(f"{deployment.http_url}/host/{os.urandom(24).hex()}") for _ in range(10)]
    statuses = [r.status_code for r in replies]
    assert statuses[:3] == [404, 404, 404] and set(statuses[3:]) == {429}, statuses
    limited = replies[-1]
    assert int(limited.headers["Retry-After"]) > 0 and "text/html" in limited.headers["Content-Type"]
    assert limited.headers["Cache-Control"] == "no-store"
