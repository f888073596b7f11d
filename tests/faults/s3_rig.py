"""A control plane and an edge as real processes (with extra arguments), and a TCP proxy in front
of the S3 server that can hold one matching request (a slow S3 operation) or refuse every
connection (S3 unreachable): the rig of the S3 outage tests."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy

from tests.support.api import ControlApi
from tests.support.ports import unused_port
from tests.support.processes import WopiProxyProcess

DEADLINE_S = 60.0


def poll(condition: Callable[[], object], *, timeout: float = DEADLINE_S, what: str = "condition",
         log: Callable[[], str] = lambda: "", interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{log()}")
        time.sleep(interval)


@dataclass
class Procs:
    workdir: Path
    database_url: str | None = None
    control_extra: tuple[str, ...] = ()
    edge_extra: tuple[str, ...] = ()
    grpc_port: int = field(default_factory=unused_port)
    http_port: int = field(default_factory=unused_port)
    control: WopiProxyProcess | None = None
    edge: WopiProxyProcess | None = None

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    def start(self) -> Procs:
        args = ["control", "--grpc-port", str(self.grpc_port), "--data-dir", str(self.data_dir),
                "--public-url", f"http://127.0.0.1:{self.http_port}", *self.control_extra]
        if self.database_url:
            args += ["--database-url", self.database_url]
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.control = WopiProxyProcess(args=args, workdir=self.workdir).start()
        edge_dir = self.workdir / "edge"
        edge_dir.mkdir(exist_ok=True)
        self.edge = WopiProxyProcess(args=["edge", "--control", f"127.0.0.1:{self.grpc_port}", "--api-key-file",
                                           str(self.data_dir / "edge.key"), "--port", str(self.http_port),
                                           *self.edge_extra], workdir=edge_dir).start()
        return self

    def log(self) -> str:
        return "\n".join(f"--- {p.args[0]} log ---\n{p.log()[-12000:]}" for p in (self.control, self.edge) if p)

    def stop(self) -> None:
        for proc in (self.edge, self.control):
            if proc is not None:
                try:
                    proc.stop()
                except RuntimeError:
                    pass

    def api(self) -> ControlApi:
        return ControlApi(f"127.0.0.1:{self.grpc_port}", (self.data_dir / "admin.key").read_text().strip())

    def rows(self, sql: str, **params: Any) -> list[Any]:
        url = self.database_url or f"sqlite:///{self.data_dir / 'wopi-proxy.db'}"
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        try:
            with engine.connect() as db:
                return list(db.execute(sqlalchemy.text(sql), params))
        finally:
            engine.dispose()


class HoldingProxy:
    """A TCP proxy to `upstream`. `hold_when(first_bytes_of_a_request)` -> True holds that
    connection's client-to-server bytes (the request does not reach the server) until release();
    only the first match is held. `refuse` makes every new connection close at once."""

    def __init__(self, upstream: tuple[str, int], hold_when: Callable[[bytes], bool] | None = None) -> None:
        self.upstream = upstream
        self.hold_when = hold_when
        self.held = threading.Event()
        self._release = threading.Event()
        self._matched = False
        self._lock = threading.Lock()
        self.refuse = False
        self._drop = False
        self.seen: list[bytes] = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._closed = False
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def release(self, *, drop: bool = False) -> None:
        """Lets the held request through, or (drop) closes its connection: it never arrives."""
        self._drop = drop
        self._release.set()

    def close(self) -> None:
        self._closed = True
        self._release.set()
        self._listener.close()
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.refuse:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            self._sockets += [client, server]
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, to_server: bool) -> None:
        try:
            while True:
                data = source.recv(1 << 16)
                if not data:
                    break
                if to_server:
                    self.seen.append(data[:300])
                    if self.hold_when is not None:
                        with self._lock:
                            match = not self._matched and self.hold_when(data)
                            if match:
                                self._matched = True
                        if match:
                            self.held.set()
                            self._release.wait()
                            if self._drop:
                                source.close()
                                sink.close()
                                return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (sink,):
                try:
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass


def token() -> str:
    return secrets.token_hex(4)
