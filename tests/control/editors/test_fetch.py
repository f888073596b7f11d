"""fetch_discovery against a real HTTP server on 127.0.0.1 (an ephemeral port): the document,
error statuses, bodies too large (declared, or only discovered while streaming), a server that
never answers, and responses that are not XML."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from control.editors.discovery import DiscoveryError, parse_discovery
from control.editors.fetch import fetch_discovery
from tests.control.editors.support import document

MiB = 1024 * 1024


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    release: threading.Event
    streamed: int  # bytes the endless route managed to send before the client hung up


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: a body without Content-Length runs until the server closes the connection.
    server: Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def reply(self, status: int, body: bytes, content_type: str = "text/xml; charset=utf-8",
              length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:
        path = self.path
        if path == "/hosting/discovery":
            body = document("collabora")
            self.reply(200, body, length=len(body))
        elif path.startswith("/status/"):
            self.reply(int(path.rsplit("/", 1)[1]), b"<html><body>Error</body></html>", "text/html")
        elif path == "/declared-too-large":
            self.reply(200, b"<wopi-discovery>", length=6 * MiB)
        elif path == "/endless":
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.end_headers()
            chunk = b"<wopi-discovery>" + b" " * (64 * 1024 - 16)
            try:
                while not self.server.release.is_set():
                    self.wfile.write(chunk)
                    self.server.streamed += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif path == "/drip":  # a byte now and then: never too large, never finished
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.end_headers()
            try:
                self.wfile.write(b"<wopi-discovery>")
                while not self.server.release.wait(0.05):
                    self.wfile.write(b" ")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif path == "/hangs":
            self.server.release.wait(30)
        elif path == "/html":
            self.reply(200, b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>", "text/html")
        elif path == "/html-as-xml":
            self.reply(200, b"\n<HTML><body>proxy error</body></HTML>")
        elif path == "/json":
            self.reply(200, b'{"error": "wopi disabled"}', "application/json")
        elif path == "/empty":
            self.reply(200, b"", length=0)
        else:
            self.reply(404, b"")


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.release, httpd.streamed = threading.Event(), 0
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()


def url(server: Server, path: str) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}{path}"


async def test_fetches_the_document(server: Server) -> None:
    async with httpx.AsyncClient() as client:
        body = await fetch_discovery(url(server, "/hosting/discovery"), client)
    assert body == document("collabora")
    assert parse_discovery(body).product == "collabora"


@pytest.mark.parametrize("status", [500, 404, 302, 204])
async def test_error_status(server: Server, status: int) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(DiscoveryError, match=f"HTTP status {status}"):
            await fetch_discovery(url(server, f"/status/{status}"), client)


async def test_declared_length_over_the_limit_is_refused_before_reading(server: Server) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(DiscoveryError, match="too large: 6291456 bytes declared"):
            await fetch_discovery(url(server, "/declared-too-large"), client)


async def test_a_body_growing_past_the_limit_is_cut_off_while_streaming(server: Server) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(DiscoveryError, match="too large: more than 1048576 bytes"):
            await fetch_discovery(url(server, "/endless"), client, max_bytes=MiB)


async def test_a_server_that_never_answers_times_out(server: Server) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(DiscoveryError, match="timed out after 0.5 s"):
            await fetch_discovery(url(server, "/hangs"), client, timeout_s=0.5)


async def test_a_body_that_drips_forever_times_out_too(server: Server) -> None:
    # Each read arrives well within httpx's read timeout; the one deadline for the whole
    # exchange is what ends it.
    async with httpx.AsyncClient() as client:
        with pytest.raises(DiscoveryError, match="timed out after 0.5 s"):
            await fetch_discovery(url(server, "/drip"), client, timeout_s=0.5)


@pytest.mark.parametrize(("path", "message"), [
    ("/html", "not XML: the response is an HTML page"),
    ("/html-as-xml", "not XML: the response is an HTML page"),
    ("/json", "not XML: the response does not start with '<'"),
    ("/empty", "not XML: the response body is empty"),
])
async def test_not_xml(server: Server, path: str, message: str) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(DiscoveryError, match=message):
            await fetch_discovery(url(server, path), client)


@pytest.mark.parametrize("bad_url", ["file:///etc/passwd", "ftp://127.0.0.1/hosting/discovery",
                                     "127.0.0.1/hosting/discovery", "http:///hosting/discovery", ""])
async def test_only_http_urls(bad_url: str) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(DiscoveryError, match="not an http"):
            await fetch_discovery(bad_url, client)


async def test_nothing_listening() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with httpx.AsyncClient() as client:
        with pytest.raises(DiscoveryError, match="failed: ConnectError"):
            await fetch_discovery(f"http://127.0.0.1:{port}/hosting/discovery", client)
