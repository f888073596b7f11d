"""A victim for SSRF tests: an HTTP server on loopback (127.0.0.1 and, where the machine has
IPv6, ::1 on the same port) that counts every connection and request it receives. A refused
egress leaves it at zero; anything else (a request, or a connection that sent nothing) counts."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MARKER = b"INTERNAL-ONLY-7f3c9e"  # a body no error message or log line may ever contain


class _V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Listener:
    """`reply(handler) -> (status, headers, body)`; the default answers 200 with MARKER."""

    host: str = "127.0.0.1"
    reply: Callable[[BaseHTTPRequestHandler], Reply] | None = None
    requests: list[str] = field(default_factory=list)
    connections: int = 0
    servers: list[ThreadingHTTPServer] = field(default_factory=list)
    port: int = 0
    has_ipv6: bool = False

    def start(self) -> Listener:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                listener.connections += 1
                super().setup()

            def _handle(self) -> None:
                listener.requests.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, headers, body = (listener.reply(self) if listener.reply
                                         else (200, {"Content-Type": "text/plain"}, MARKER))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in headers:  # a HEAD states the length of what GET would send
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _handle

            def log_message(self, *args: object) -> None:
                pass

        first = ThreadingHTTPServer((self.host, 0), Handler)
        self.port = int(first.server_address[1])
        self.servers.append(first)
        if self.host == "127.0.0.1":
            try:
                self.servers.append(_V6Server(("::1", self.port), Handler))
                self.has_ipv6 = True
            except OSError:
                pass
        for server in self.servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def touched(self) -> int:
        return self.connections + len(self.requests)

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
