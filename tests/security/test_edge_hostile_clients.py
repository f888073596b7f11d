"""What a hostile client can hold or slip through at the edge (review i): stalled bodies sent with
a made-up token, control characters in echoed headers, replies a cache could keep."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx

from tests.support.api import ControlApi, open_file

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
