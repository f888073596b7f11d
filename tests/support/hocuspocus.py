"""Real Hocuspocus 3.4.4 (apps/hocuspocus/server.mjs) and headless Yjs users, for the bridge tests.

    require_hocuspocus()                    # installs once (tools/hocuspocus.sh); skips without Node
    server = HocuspocusServer(tmp_path, webhook_url=..., webhook_secret="s", api_key="k").start()
                                            # optional: max_document_bytes=, webhook_timeout_ms=
    server.url / server.ws_url              # http://127.0.0.1:<port>, ws://127.0.0.1:<port>
    server.doc("d1")                        # DocState(content, clients) or None (404); GET /doc/<name>
    server.put("d1", "text")                # HTTP status (200, or 409 while clients are connected)
    server.delete("d1")                     # HTTP status
    server.request("GET", "d1", api_key="wrong")  # (status, JSON body) for any call
    server.stored_state("d1")               # the SQLite row's Yjs update bytes, or None
    server.kill(); server.restart()         # kill -9; start again on the same port and SQLite file
    server.log()                            # its stdout+stderr so far, for assertion messages

    user = YjsUser.connect(server, "d1", token="code-1")   # waits until synced or denied
    user.denied / user.text / user.insert(" more") / user.wait_for_text("…") / user.leave() / user.kill()

Without Node/npm (or when the install fails) the tests skip, unless WOPI_PROXY_REQUIRE_HOCUSPOCUS=1
makes that a failure. Scripts are copied into the install directory before they run, because ES modules
resolve packages next to the importing file only (NODE_PATH does not apply to them).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

VERSION = "3.4.4"
ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / f"hocuspocus-{VERSION}"
SERVER_SCRIPT = ROOT / "apps" / "hocuspocus" / "server.mjs"
USER_SCRIPT = Path(__file__).with_name("hocuspocus_user.mjs")
REQUIRE_ENV = "WOPI_PROXY_REQUIRE_HOCUSPOCUS"
INSTALL_TIMEOUT_S = 600.0
START_TIMEOUT_S = 30.0
USER_TIMEOUT_S = 20.0


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"Hocuspocus required ({REQUIRE_ENV}=1) but {reason}")
    pytest.skip(f"Hocuspocus not available: {reason}")


_install_problem: list[str] = []  # the first answer of this process, so a failed install is tried once


def _install() -> str | None:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    try:
        result = subprocess.run(["bash", str(ROOT / "tools" / "hocuspocus.sh")], capture_output=True,
                                text=True, timeout=INSTALL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"tools/hocuspocus.sh took over {INSTALL_TIMEOUT_S:.0f} s"
    if result.returncode != 0:
        return f"tools/hocuspocus.sh failed:\n{result.stderr[-3000:]}"
    return None


def require_hocuspocus() -> Path:
    """Install (idempotent, cached, flock-serialised; tried once per process) and return the install
    directory; skip or fail when Node/npm are missing or the install fails."""
    if not _install_problem:
        _install_problem.append(_install() or "")
    if _install_problem[0]:
        _unavailable(_install_problem[0])
    return CACHE


def _stage(script: Path) -> Path:
    """A copy of `script` inside the install directory (named by content; atomic for parallel workers)."""
    data = script.read_bytes()
    target = CACHE / "staged" / f"{script.stem}-{hashlib.sha256(data).hexdigest()[:12]}.mjs"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(data)
        partial.replace(target)
    return target


@dataclass(frozen=True)
class DocState:
    content: str
    clients: int


@dataclass
class HocuspocusServer:
    """One `node server.mjs` child on 127.0.0.1; the port is chosen at the first start and kept."""

    workdir: Path
    webhook_url: str
    webhook_secret: str
    api_key: str
    port: int = 0
    max_document_bytes: int | None = None  # MAX_DOCUMENT_BYTES (server default 32 MiB)
    webhook_timeout_ms: int | None = None  # WEBHOOK_TIMEOUT_MS (server default 10000)
    process: subprocess.Popen[bytes] | None = None
    sqlite_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sqlite_path = self.workdir / "hocuspocus.sqlite"

    @property
    def log_path(self) -> Path:
        return self.workdir / "hocuspocus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> HocuspocusServer:
        require_hocuspocus()
        ready = self.workdir / f"ready-{time.monotonic_ns()}.json"
        env = {
            **os.environ, "HOCUSPOCUS_HOST": "127.0.0.1", "HOCUSPOCUS_PORT": str(self.port),
            "WEBHOOK_URL": self.webhook_url, "WEBHOOK_SECRET": self.webhook_secret, "API_KEY": self.api_key,
            "SQLITE_PATH": str(self.sqlite_path), "READY_FILE": str(ready), "NODE_ENV": "production",
        }
        if self.max_document_bytes is not None:
            env["MAX_DOCUMENT_BYTES"] = str(self.max_document_bytes)
        if self.webhook_timeout_ms is not None:
            env["WEBHOOK_TIMEOUT_MS"] = str(self.webhook_timeout_ms)
        for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            env.pop(proxy, None)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(["node", str(_stage(SERVER_SCRIPT))], cwd=CACHE, env=env,
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"hocuspocus exited early ({self.process.returncode}):\n{self.log()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"hocuspocus did not start in {START_TIMEOUT_S:.0f} s:\n{self.log()}")
            time.sleep(0.05)
        self.port = json.loads(ready.read_text())["port"]
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """kill -9: no store on the way out; what SQLite has is all that survives."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM: Hocuspocus closes its connections and stores its documents, then exits."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(f"hocuspocus ignored SIGTERM:\n{self.log()}") from None

    def restart(self) -> HocuspocusServer:
        """Start again on the same port with the same SQLite file (after kill() or stop())."""
        self.kill()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _port_free(self.port):  # a killed listener's port frees at once; poll to be sure
            if time.monotonic() > deadline:
                raise RuntimeError(f"port {self.port} still busy after the kill")
            time.sleep(0.05)
        return self.start()

    def request(self, method: str, name: str, body: Any = None, *,
                api_key: str | None = None, raw: bytes | None = None) -> tuple[int, Any]:
        """One /doc/<name> call; (status, parsed JSON body or None)."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(
            f"{self.url}/doc/{urllib.parse.quote(name, safe='')}", data=data, method=method,
            headers={"Authorization": f"Bearer {self.api_key if api_key is None else api_key}",
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        return status, (json.loads(payload) if payload else None)

    def doc(self, name: str) -> DocState | None:
        status, body = self.request("GET", name)
        if status == 404:
            return None
        if status != 200:
            raise AssertionError(f"GET /doc/{name} answered {status} {body}\n{self.log()}")
        return DocState(content=body["content"], clients=body["clients"])

    def put(self, name: str, text: str) -> int:
        return self.request("PUT", name, {"content": text})[0]

    def delete(self, name: str) -> int:
        return self.request("DELETE", name)[0]

    def stored_state(self, name: str) -> bytes | None:
        """The durable buffer's row for `name` (a Yjs update; its text is in there as UTF-8)."""
        import sqlite3
        if not self.sqlite_path.exists():
            return None
        with sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=5) as db:
            try:
                row = db.execute('SELECT data FROM "documents" WHERE name = ?', (name,)).fetchone()
            except sqlite3.OperationalError:
                return None
        return bytes(row[0]) if row else None


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class YjsUser:
    """A Node HocuspocusProvider in a child process; this object follows its events."""

    def __init__(self, process: subprocess.Popen[str], document: str) -> None:
        self.process = process
        self.document = document
        self.events: list[dict[str, Any]] = []
        self.denied_reason: str | None = None
        self.synced = False
        self._text = ""
        self._stderr: list[str] = []
        self._changed = threading.Condition()
        self._acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self._next_id = 0
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    @classmethod
    def connect(cls, server: HocuspocusServer, document: str, token: str, *,
                headers: dict[str, str] | None = None, timeout: float = USER_TIMEOUT_S) -> YjsUser:
        """Start a user (optionally with extra WebSocket upgrade headers, e.g. a Cookie) and wait until it
        is synced or denied (raises after `timeout`)."""
        options = json.dumps({"url": server.ws_url, "document": document, "token": token,
                              "headers": headers or {}})
        process = subprocess.Popen(["node", str(_stage(USER_SCRIPT)), options], cwd=CACHE, text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        user = cls(process, document)
        user._wait(lambda: user.synced or user.denied_reason is not None, timeout, "synced or denied")
        return user

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                self._stderr.append(f"(stdout) {line}")
                continue
            with self._changed:
                self.events.append(event)
                kind = event.get("event")
                if kind in ("synced", "text"):
                    self._text = event["text"]
                    self.synced = self.synced or kind == "synced"
                elif kind == "denied":
                    self.denied_reason = event.get("reason") or "denied"
                elif kind in ("ack", "error") and event.get("id") is not None:
                    self._acks.put(event)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)

    def describe(self) -> str:
        return (f"user of {self.document!r}: exit={self.process.poll()} events={self.events[-10:]}\n"
                f"stderr:\n{''.join(self._stderr)[-3000:]}")

    def _wait(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; {self.describe()}")
                if self.process.poll() is not None and not condition():
                    self._changed.wait(0.2)  # let the reader thread drain the last lines
                    if not condition():
                        raise AssertionError(f"user exited while waiting for {what}; {self.describe()}")
                    return
                self._changed.wait(min(remaining, 0.5))

    def _command(self, cmd: str, timeout: float = USER_TIMEOUT_S, **fields: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self._next_id += 1
        command_id = self._next_id
        self.process.stdin.write(json.dumps({"id": command_id, "cmd": cmd, **fields}) + "\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self._acks.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no answer to {cmd} in {timeout:.0f} s; {self.describe()}") from None
            if event.get("id") == command_id:
                if event["event"] == "error":
                    raise AssertionError(f"{cmd} failed: {event.get('message')}; {self.describe()}")
                return event

    @property
    def denied(self) -> bool:
        return self.denied_reason is not None

    @property
    def text(self) -> str:
        with self._changed:
            return self._text

    def insert(self, text: str, *, wait_acknowledged: bool = True) -> None:
        """Type `text` at the end; by default returns once the server acknowledged it (a read-only
        connection never gets that: pass wait_acknowledged=False)."""
        answer = self._command("insert", text=text, wait=wait_acknowledged)
        if wait_acknowledged and answer.get("unsynced"):
            raise AssertionError(f"server did not acknowledge the insert; {self.describe()}")

    def wait_for_text(self, expected: str | Callable[[str], bool], timeout: float = USER_TIMEOUT_S) -> str:
        check = expected if callable(expected) else (lambda text: text == expected)
        self._wait(lambda: check(self._text), timeout, f"text {expected!r} (have {self._text!r})")
        return self.text

    def leave(self, timeout: float = USER_TIMEOUT_S) -> None:
        """Close the connection cleanly (the server sees a disconnect) and end the process."""
        if self.process.poll() is None:
            self._command("leave", timeout=timeout)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
