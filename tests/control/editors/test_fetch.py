"""fetch_discovery against a real HTTP server on 127.0.0.1 (an ephemeral port): the document,
error statuses, bodies too large (declared, only discovered while streaming, or once decoded: a
gzip bomb), a server that never answers, responses that are not XML, redirects, and errors that
never quote the response."""

from __future__ import annotations

import gzip
import threading
import tracemalloc
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from control.editors.discovery import DiscoveryError, parse_discovery
from control.editors.fetch import fetch_discovery
from shared.egress import EgressPolicy, parse_networks
from shared.egress_http import restricted_client
from shared.errors import EgressRefused
from tests.control.editors.support import document
from tests.support.ports import unused_port

MiB = 1024 * 1024
MARKER = b"INTERNAL-ONLY-MARKER-5e1f"


def _gzip_bomb(size: int) -> bytes:
    """`size` zero bytes, gzipped (about a thousandth of it), made without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MiB)
    return b"".join([packer.compress(block) for _ in range(size // MiB)] + [packer.flush()])


BOMB = _gzip_bomb(512 * MiB)


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
        elif path in ("/gzip-bomb", "/gzip-document"):
            body = BOMB if path == "/gzip-bomb" else gzip.compress(document("collabora"))
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif path == "/brotli":
            self.send_response(200)
            self.send_header("Content-Encoding", "br")
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"\x0b\x00\x80\x03")
        elif path.startswith("/redirect/"):  # /redirect/<n>: n more hops, then the document
            hops = int(path.rsplit("/", 1)[1])
            self.send_response(302)
            self.send_header("Location", f"/redirect/{hops - 1}" if hops > 1 else "/hosting/discovery")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/redirect-to":  # Location from the query: ?<url>
            self.send_response(302)
            self.send_header("Location", self.headers.get("X-Target", ""))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path.startswith("/marker/"):
            kind = path.rsplit("/", 1)[1]
            body = {"json": b'{"secret": "' + MARKER + b'"}', "html": b"<html>" + MARKER + b"</html>",
                    "xml": b"<" + MARKER + b"/>", "status": MARKER}[kind]
            self.reply(500 if kind == "status" else 200, body, "application/octet-stream", length=len(body))
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
    port = unused_port()  # nothing listens on it
    async with httpx.AsyncClient() as client:
        with pytest.raises(DiscoveryError, match="failed: ConnectError"):
            await fetch_discovery(f"http://127.0.0.1:{port}/hosting/discovery", client)


async def test_a_gzip_document_is_decoded(server: Server) -> None:
    async with httpx.AsyncClient() as client:
        assert await fetch_discovery(url(server, "/gzip-document"), client) == document("collabora")


async def test_a_gzip_bomb_costs_no_more_than_the_cap(server: Server) -> None:
    """Decompression bomb: 512 MiB of zeros in half a MiB of gzip. Decoded in bounded steps, it
    is refused at the cap with memory near the cap (httpx's own decoder would inflate each
    64 KiB network chunk to 64 MiB at once)."""
    tracemalloc.start()
    try:
        async with httpx.AsyncClient() as client:
            with pytest.raises(DiscoveryError, match="too large: more than 1048576 bytes once decoded"):
                await fetch_discovery(url(server, "/gzip-bomb"), client, max_bytes=MiB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB"


async def test_an_encoding_not_asked_for_is_refused(server: Server) -> None:
    """Brotli and zstd decoders have no output bound here: only gzip and deflate are accepted."""
    async with httpx.AsyncClient() as client:
        with pytest.raises(DiscoveryError, match="unsupported Content-Encoding"):
            await fetch_discovery(url(server, "/brotli"), client)


async def test_redirects_are_followed_up_to_the_limit(server: Server) -> None:
    async with httpx.AsyncClient() as client:
        assert await fetch_discovery(url(server, "/redirect/3"), client) == document("collabora")
        with pytest.raises(DiscoveryError, match="more than 2 redirects"):
            await fetch_discovery(url(server, "/redirect/3"), client, max_redirects=2)


async def test_a_redirect_to_another_scheme_is_refused(server: Server) -> None:
    async with httpx.AsyncClient(headers={"X-Target": "file:///etc/passwd"}) as client:
        with pytest.raises(DiscoveryError, match="not http"):
            await fetch_discovery(url(server, "/redirect-to"), client)


async def test_with_a_policy_a_redirect_to_a_refused_address_is_not_followed(server: Server) -> None:
    """SSRF by redirect: the first server is allowed, the hop it names (the server itself under
    another name, localhost) is refused before any connection to it."""
    policy = EgressPolicy(allow=parse_networks(["127.0.0.1/32"]))
    port = server.server_address[1]
    async with restricted_client(policy, timeout_s=5) as client:
        client.headers["X-Target"] = f"http://user:pw@127.0.0.1:{port}/hosting/discovery"
        with pytest.raises(EgressRefused, match="user:password@"):
            await fetch_discovery(url(server, "/redirect-to"), client, policy=policy)
    narrow = EgressPolicy(allow=parse_networks(["127.0.0.1/32"]))
    async with restricted_client(narrow, timeout_s=5) as client:
        client.headers["X-Target"] = f"http://[::ffff:127.0.0.2]:{port}/hosting/discovery"
        with pytest.raises(EgressRefused, match="IPv4-mapped form of a loopback address"):
            await fetch_discovery(url(server, "/redirect-to"), client, policy=narrow)


@pytest.mark.parametrize("kind", ["json", "html", "xml", "status"])
async def test_errors_never_quote_the_response(server: Server, kind: str) -> None:
    """Reading an internal service through error messages: status and a fixed reason only."""
    async with httpx.AsyncClient() as client:
        with pytest.raises(DiscoveryError) as refused:
            body = await fetch_discovery(url(server, f"/marker/{kind}"), client)
            parse_discovery(body)
    assert MARKER.decode() not in str(refused.value)
