"""edge/bridge/routes.py: the Hocuspocus webhook is unsigned until the control plane has read it, so
the edge reads no more of it than the control plane could ever take (one gRPC message, 16 MiB).
Over that, 413 from the Content-Length before a byte is read, and from a chunked body as soon as it
passes the bound. Against a real `wopi-proxy serve`, over raw sockets where "not read" is the point."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from edge.bridge.routes import CONTROL_MAX_MESSAGE, MAX_EVENT_BYTES, MAX_LARGE_BODIES, hocuspocus_body_limit
from shared import signatures
from tests.support.deployment import Deployment, start_deployment

PATH = "/bridge/hocuspocus/webhook"
FORGED = "sha256=" + "0" * 64
EDGE_DEFAULT_MAX_FILE_SIZE = 1 << 30  # edge/settings.py: what `serve` runs with here
LIMIT = hocuspocus_body_limit(EDGE_DEFAULT_MAX_FILE_SIZE)


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    deployment = start_deployment("serve", tmp_path_factory.mktemp("webhook-routes"))
    yield deployment
    deployment.stop()


def _open(deployment: Deployment, head: str, *, path: str = PATH,
          signature: tuple[str, str] = (signatures.HOCUSPOCUS_HEADER, FORGED), timeout: float = 30) -> socket.socket:
    """A connection with the request's head sent (the body is the test's to send, or not)."""
    url = urlsplit(deployment.http_url)
    assert url.hostname is not None and url.port is not None
    sock = socket.create_connection((url.hostname, url.port), timeout=timeout)
    sock.sendall((f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
                  f"{signature[0]}: {signature[1]}\r\n{head}\r\n").encode())
    return sock


def _status(sock: socket.socket) -> tuple[int, bytes]:
    """The answer's status and what came of it (the test fails by timeout if none comes)."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        data = sock.recv(65536)
        if not data:
            break
        answer += data
    return int(answer.split(b" ", 2)[1]), answer


def test_the_cap_is_a_file_plus_framing_but_never_more_than_the_control_plane_takes() -> None:
    assert hocuspocus_body_limit(1 << 20) == (1 << 20) + MAX_EVENT_BYTES
    assert hocuspocus_body_limit(EDGE_DEFAULT_MAX_FILE_SIZE) < CONTROL_MAX_MESSAGE


def test_an_unsigned_webhook_over_what_any_document_can_be_is_413(edge: Deployment) -> None:
    """Attack: anyone who reaches the edge posts a huge body; it used to be held in memory (up to
    1 GiB) before the control plane refused it as 503. It is refused by size, and says so."""
    size = 24 << 20
    with httpx.Client(timeout=120, trust_env=False) as client:
        reply = client.post(f"{edge.http_url}{PATH}", content=b"{" + b" " * (size - 2) + b"}",
                            headers={"Content-Type": "application/json", signatures.HOCUSPOCUS_HEADER: FORGED})
    assert reply.status_code == 413, (reply.status_code, reply.text[:300], edge.log()[-3000:])
    assert reply.json()["error"] == "PAYLOAD_TOO_LARGE", reply.text


def test_a_declared_oversized_body_is_refused_before_a_byte_of_it_is_read(edge: Deployment) -> None:
    """Content-Length over the cap: the answer comes without the body ever being sent."""
    with _open(edge, f"Content-Length: {LIMIT + 1}\r\n") as sock:
        sock.sendall(b"{")
        status, answer = _status(sock)
    assert status == 413, (answer, edge.log()[-3000:])


def test_a_chunked_body_is_not_read_past_the_cap(edge: Deployment) -> None:
    """No Content-Length: the edge reads up to the cap and answers 413 while the sender still has
    more to send (the chunked body is never terminated here)."""
    with _open(edge, "Transfer-Encoding: chunked\r\n") as sock:
        chunk = b" " * (1 << 20)
        sent = 0
        while sent <= LIMIT:
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        status, answer = _status(sock)
    assert status == 413, (answer, edge.log()[-3000:])


def test_a_body_at_the_cap_reaches_the_control_plane_and_is_judged_by_its_signature(edge: Deployment) -> None:
    """The cap is not smaller than what gRPC carries: a body of exactly LIMIT bytes is sent to the
    control plane (not refused as 503 RESOURCE_EXHAUSTED) and refused there as unsigned."""
    prefix = json.dumps({"event": "change", "payload": {"document": ""}})[:-3].encode()
    body = prefix + b"x" * (LIMIT - len(prefix) - 3) + b'"}}'
    assert len(body) == LIMIT
    with httpx.Client(timeout=120, trust_env=False) as client:
        reply = client.post(f"{edge.http_url}{PATH}", content=body,
                            headers={"Content-Type": "application/json", signatures.HOCUSPOCUS_HEADER: FORGED})
    assert (reply.status_code, reply.json()) == (401, {"error": "unauthorized"}), (reply.text, edge.log()[-3000:])


@pytest.mark.parametrize(("path", "header", "value"), [
    (PATH, signatures.HOCUSPOCUS_HEADER, "not-a-signature"),
    (PATH, signatures.HOCUSPOCUS_HEADER, "sha256=" + "g" * 64),
    ("/bridge/etherpad/events", signatures.HEADER, "t=1,v1=" + "0" * 64),  # signed in 1970: past the window
    ("/bridge/codimd/webhook", signatures.HEADER, "garbage"),
], ids=["hocuspocus-garbage", "hocuspocus-not-hex", "ours-stale", "ours-garbage"])
def test_a_request_no_app_could_have_signed_is_refused_before_its_body_is_read(
        edge: Deployment, path: str, header: str, value: str) -> None:
    """Attack: unsigned bodies, each held by the edge while it arrives: refused on their headers."""
    with _open(edge, "Content-Length: 60000\r\n", path=path, signature=(header, value)) as sock:
        status, answer = _status(sock)
    assert status == 401, (answer, edge.log()[-3000:])


def test_at_most_eight_large_bodies_are_read_at_once(edge: Deployment) -> None:
    """Attack: many connections each declaring a 10 MiB webhook body and sending it slowly, every
    one held whole in memory: past MAX_LARGE_BODIES the next is refused (503) before it is read."""
    head = f"Content-Length: {10 << 20}\r\n"
    arriving = [_open(edge, head) for _ in range(MAX_LARGE_BODIES)]
    try:
        for sock in arriving:
            sock.sendall(b"{" + b" " * 1023)
        deadline = time.monotonic() + 60
        while True:  # the held ones reach the handler in their own time: ask until one more is refused
            assert time.monotonic() < deadline, f"never refused\n{edge.log()[-3000:]}"
            with _open(edge, head, timeout=2) as extra:
                try:
                    status, answer = _status(extra)
                except TimeoutError:
                    continue  # read as one of the eight: closed now, which gives its place back
            break
        assert status == 503, answer
        assert b"\r\nretry-after: " in answer.lower(), answer
    finally:
        for sock in arriving:
            sock.close()
