"""A real Etherpad 1.8.14 with our plugin ep_wopi_proxy, and headless pad users, for the bridge tests.

Install once (keyed by version, shared by the checkout's test runs; several minutes the first time):
`tools/etherpad.sh` (or `install_etherpad()`), into `.cache/etherpad-1.8.14/`. Fixtures in
tests/bridge/conftest.py: `etherpad_install` (the folder), `etherpad` (one EtherpadServer per test
session, i.e. per xdist worker, shared: use your own pads and `configure()` your own edge) and
`join_pad(pad_id, session_id=None, name=...)` (PadUsers killed after the test). They skip when
Node/npm are missing, unless WOPI_PROXY_REQUIRE_ETHERPAD=1.
The plugin signs with the UTF-8 bytes of the secret given to `configure()`: verify with
`shared.signatures.verify(secret.encode(), body, header)`.

    server = EtherpadServer(tmp_path).start()        # 127.0.0.1, ephemeral port, dirty DB in tmp_path
    server.configure(edge_url, secret)               # the plugin's edgeUrl/secret; no restart needed
    pad = server.new_group_pad("doc", text="hello")  # a private group pad "g.…$doc"
    session_id, author_id = server.new_session(pad, "tenant:ann", name="Ann")
    server.api("getText", padID=pad)                 # any HTTP API 1.2.15 call; raises on code != 0

    ann = PadUser.join(server, pad, session_id=session_id, name="Ann")   # or .denied is True
    ann.type(" world")                               # appended before the final newline; waits for the
                                                     # ACK, returns the rev; PadUserRefused if denied
    bob.wait_for_text("world")                       # str: contained in the text; or a predicate
    ann.wait_for_custom_message(); ann.wait_for_disconnect()   # the plugin's notify / kick
    ann.leave(); bob.kill()                          # clean leave, or SIGKILL (the server sees a drop)
    server.restart(); server.kill()                  # same port, same DB / a crash
    server.log()                                     # for assertion messages

`EtherpadServer(workdir, plugin_settings={...})` puts the plugin's config in settings.json instead
(the file written by `configure()` then wins). Texts are Etherpad's own: they always end with "\\n".
Every wait has a deadline; failures carry the Etherpad log tail or the pad user's stderr.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from tests.support.ports import unused_port

__all__ = [
    "ETHERPAD_DIR", "ETHERPAD_VERSION", "EtherpadApiError", "EtherpadServer", "PadUser", "PadUserRefused",
    "etherpad_unavailable_reason", "install_etherpad",
]

ROOT = Path(__file__).resolve().parents[2]
ETHERPAD_VERSION = "1.8.14"
ETHERPAD_DIR = ROOT / ".cache" / f"etherpad-{ETHERPAD_VERSION}"
API_VERSION = "1.2.15"
START_TIMEOUT_S = 60.0
INSTALL_TIMEOUT_S = 900.0
USER_SCRIPT = Path(__file__).with_name("etherpad_user.js")


class PadUserRefused(AssertionError):
    """The server refused a pad user's change (accessStatus deny, or a disconnect while in flight)."""


class EtherpadApiError(RuntimeError):
    """An Etherpad HTTP API call answered code != 0 (or not JSON)."""

    def __init__(self, fn: str, code: int | None, message: str) -> None:
        super().__init__(f"Etherpad API {fn}: code {code}: {message}")
        self.fn, self.code, self.message = fn, code, message


def etherpad_unavailable_reason() -> str | None:
    """Why a real Etherpad cannot run here (None when Node and npm are on PATH)."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not installed" if missing else None


def install_etherpad(timeout: float = INSTALL_TIMEOUT_S) -> Path:
    """Runs tools/etherpad.sh (a no-op once installed; serialised by flock) and returns the folder."""
    result = subprocess.run(
        ["bash", str(ROOT / "tools" / "etherpad.sh")], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"tools/etherpad.sh failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


class EtherpadServer:
    """One Etherpad process; all its files (settings, keys, dirty DB, log, plugin config) in `workdir`."""

    def __init__(self, workdir: Path, *, install_dir: Path = ETHERPAD_DIR,
                 plugin_settings: dict[str, str] | None = None) -> None:
        """`plugin_settings`: the settings.json block "ep_wopi_proxy" (then no plugin config file is
        written until `configure()`, since that file wins over the block)."""
        self.workdir = workdir
        self.install_dir = install_dir
        self.plugin_settings = plugin_settings
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.api_key = secrets.token_hex(24)
        self.plugin_config_path = workdir / "ep_wopi_proxy.json"
        self.log_path = workdir / "etherpad.log"
        self._http = httpx.Client(timeout=30, trust_env=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = START_TIMEOUT_S) -> EtherpadServer:
        """Writes the settings and starts Etherpad; returns when GET /api/ answers."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "APIKEY.txt").write_text(self.api_key)
        if self.plugin_settings is None and not self.plugin_config_path.exists():
            self._write_plugin_config({})  # the plugin stays idle until configure()
        for attempt in range(3):  # a free port can be taken between choosing and binding it
            self.port = self.port or unused_port()
            self._write_settings()
            self._spawn()
            try:
                self._wait_ready(timeout)
                return self
            except _PortTaken:
                self.port = 0
        raise RuntimeError(f"Etherpad found no free port:\n{self.log()}")

    def _write_settings(self) -> None:
        settings = {
            "title": "wopi-proxy test Etherpad",
            "ip": "127.0.0.1",
            "port": self.port,
            "dbType": "dirty",
            "dbSettings": {"filename": str(self.workdir / "dirty.db")},
            "defaultPadText": "",
            "editOnly": True,  # only the bridge (API) creates pads
            "requireSession": False,
            "sessionKey": secrets.token_hex(16),  # else Etherpad writes SESSIONKEY.txt into the install
            "socketTransportProtocols": ["websocket", "polling"],
            "minify": False,
            "loglevel": "INFO",
            # Every test user comes from 127.0.0.1: the per-IP limits must not throttle them.
            "commitRateLimiting": {"duration": 1, "points": 1000},
            "importExportRateLimiting": {"windowMs": 90000, "max": 1000},
            "ep_wopi_proxy": self.plugin_settings or {},
        }
        (self.workdir / "settings.json").write_text(json.dumps(settings, indent=2))

    def _spawn(self) -> None:
        env = {
            **os.environ,
            # Etherpad 1.8.14 fetches an update URL at start: make it fail locally.
            "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
            "EP_WOPI_PROXY_CONFIG": str(self.plugin_config_path),
            "NODE_ENV": "production",
        }
        w = self.workdir
        command = ["node", str(self.install_dir / "src" / "node" / "server.js"),
                   "--settings", str(w / "settings.json"),
                   "--sessionkey", str(w / "SESSIONKEY.txt"), "--apikey", str(w / "APIKEY.txt")]
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start on port {self.port} =====\n".encode())
            self.process = subprocess.Popen(command, cwd=self.install_dir, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                if "EADDRINUSE" in self.log()[-4096:]:
                    raise _PortTaken()
                raise RuntimeError(f"Etherpad exited ({self.process.returncode}):\n{self.log()[-4096:]}")
            try:
                answer = self._http.get(f"{self.url}/api/", timeout=2)
                if answer.status_code == 200 and "currentVersion" in answer.json():
                    return
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"Etherpad not ready after {timeout:.0f} s:\n{self.log()[-4096:]}")
            time.sleep(0.2)

    def log(self) -> str:
        """Everything Etherpad printed (all its runs), for assertion messages."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # ---- plugin configuration ----

    def _write_plugin_config(self, config: dict[str, str]) -> None:
        # Written aside then renamed: the plugin never reads half a file, and the new inode is seen.
        temp = self.plugin_config_path.with_suffix(f".{secrets.token_hex(4)}.tmp")
        temp.write_text(json.dumps(config))
        os.replace(temp, self.plugin_config_path)

    def configure(self, edge_url: str, secret: str) -> None:
        """Points the plugin at an edge (`{edge_url}/bridge/etherpad/...`) with this signing secret."""
        self._write_plugin_config({"edgeUrl": edge_url, "secret": secret})

    # ---- HTTP API ----

    def api(self, fn: str, **params: Any) -> Any:
        """Calls /api/1.2.15/<fn> (POSTed, so the key stays out of Etherpad's access log); returns
        `data`; raises EtherpadApiError when `code` is not 0."""
        form = {"apikey": self.api_key, **{k: str(v) for k, v in params.items()}}
        answer = self._http.post(f"{self.url}/api/{API_VERSION}/{fn}", data=form)
        try:
            body = answer.json()
        except ValueError:
            raise EtherpadApiError(fn, None, f"HTTP {answer.status_code}: {answer.text[:200]}") from None
        if body.get("code") != 0:
            raise EtherpadApiError(fn, body.get("code"), str(body.get("message")))
        return body.get("data")

    def new_group_pad(self, name: str, *, text: str = "", group_mapper: str = "wopi-proxy-tests") -> str:
        """A private group pad ("g.<group>$<name>"), optionally with text; returns its id."""
        group = self.api("createGroupIfNotExistsFor", groupMapper=group_mapper)["groupID"]
        pad_id = f"{group}${name}"
        self.api("createGroupPad", groupID=group, padName=name, text=text)
        return pad_id

    def new_session(self, pad_id: str, author_mapper: str, *, name: str = "Ann",
                    valid_s: int = 3600) -> tuple[str, str]:
        """An API session on the pad's group for a mapped author; returns (sessionID, authorID)."""
        author = self.api("createAuthorIfNotExistsFor", authorMapper=author_mapper, name=name)["authorID"]
        group = pad_id.split("$", 1)[0]
        session = self.api("createSession", groupID=group, authorID=author,
                           validUntil=int(time.time()) + valid_s)["sessionID"]
        return session, author

    # ---- process control ----

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (Etherpad flushes its DB), SIGKILL if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def restart(self, timeout: float = START_TIMEOUT_S) -> EtherpadServer:
        """Stops (if running) and starts again on the same port with the same DB and keys."""
        self.stop()
        self._spawn()
        self._wait_ready(timeout)
        return self

    def close(self) -> None:
        self.stop()
        self._http.close()


class _PortTaken(Exception):
    pass


class PadUser:
    """A headless browser-like pad user (tests/support/etherpad_user.js), one Node process."""

    def __init__(self, server: EtherpadServer, pad_id: str, session_id: str | None, name: str | None) -> None:
        self.pad_id = pad_id
        options = {"etherpadDir": str(server.install_dir), "url": server.url, "pad": pad_id,
                   "sessionID": session_id, "name": name}
        self._cond = threading.Condition()
        self._text: str | None = None
        self._rev = -1
        self.author: str | None = None
        self.readonly = False
        self.ready = False
        self.denied = False
        self._refusals = 0  # accessStatus answers and disconnects seen, to fail a type() at once
        self.received_custom_messages: list[Any] = []
        self.disconnect_reasons: list[str] = []
        self.errors: list[str] = []
        self._accepted: dict[int, int] = {}
        self._next_id = 0
        self._stderr: list[str] = []
        self.process = subprocess.Popen(
            ["node", str(USER_SCRIPT), json.dumps(options)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    @classmethod
    def join(cls, server: EtherpadServer, pad_id: str, session_id: str | None = None,
             name: str | None = "Test user", timeout: float = 30.0) -> PadUser:
        """Connects and waits for the pad (CLIENT_VARS) or a refusal (`.denied` is then True)."""
        user = cls(server, pad_id, session_id, name)
        user._wait(lambda: user.ready or user.denied, timeout, "CLIENT_VARS or accessStatus")
        return user

    # ---- state ----

    @property
    def text(self) -> str:
        with self._cond:
            if self._text is None:
                raise AssertionError(f"pad user never joined {self.pad_id}{self._details()}")
            return self._text

    @property
    def rev(self) -> int:
        with self._cond:
            return self._rev

    @property
    def exited(self) -> bool:
        return self.process.poll() is not None

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "error", "message": f"unparsable output: {line.strip()}"}
            with self._cond:
                self._apply(event)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def _apply(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "ready":
            self._text, self._rev, self.author = event["text"], event["rev"], event["author"]
            self.readonly, self.ready = event["readonly"], True
        elif kind == "text":
            self._text, self._rev = event["text"], event["rev"]
        elif kind == "accepted":
            self._accepted[event["id"]] = event["rev"]
        elif kind == "denied":
            self.denied = True
            self._refusals += 1
        elif kind == "custom":
            self.received_custom_messages.append(event["payload"])
        elif kind == "disconnect":
            self.disconnect_reasons.append(str(event["reason"]))
            self._refusals += 1
        else:
            self.errors.append(str(event.get("message")))

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)
            del self._stderr[:-200]

    def _details(self) -> str:
        stderr = "".join(self._stderr)[-4000:]
        return (f"\n  pad={self.pad_id} ready={self.ready} denied={self.denied} rev={self._rev}"
                f" disconnects={self.disconnect_reasons} errors={self.errors}"
                f" exit={self.process.poll()}\n  stderr:\n{stderr}")

    def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"pad user: no {what} within {timeout} s{self._details()}")
                if self.process.poll() is not None and not predicate():
                    # Exited: let the reader drain what is left, then judge once more.
                    self._cond.wait(min(remaining, 0.5))
                    if not predicate():
                        raise AssertionError(f"pad user exited before {what}{self._details()}")
                    return
                self._cond.wait(remaining)

    # ---- actions ----

    def _send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise AssertionError(f"pad user gone ({exc}){self._details()}") from None

    def type(self, text: str, timeout: float = 15.0) -> int:
        """Appends `text` before the pad's final newline; returns the revision the server accepted.
        Raises PadUserRefused when the server denies it or drops the connection meanwhile. (On a
        read-only pad Etherpad drops changes silently: use `send_change` there.)"""
        with self._cond:
            self._next_id += 1
            command_id, refusals = self._next_id, self._refusals
        self._send({"cmd": "type", "id": command_id, "text": text})
        self._wait(lambda: command_id in self._accepted or self._refusals > refusals
                   or self.process.poll() is not None, timeout, f"ACCEPT_COMMIT for {text!r}")
        with self._cond:
            if command_id not in self._accepted:
                raise PadUserRefused(f"change {text!r} refused{self._details()}")
            return self._accepted[command_id]

    def send_change(self, text: str) -> None:
        """Sends the same change as `type` without waiting for any answer."""
        with self._cond:
            self._next_id += 1
            command_id = self._next_id
        self._send({"cmd": "type", "id": command_id, "text": text})

    def wait_for_text(self, expected: str | Callable[[str], bool], timeout: float = 15.0) -> str:
        """Waits until the pad text contains `expected` (or the predicate holds); returns the text."""
        test = expected if callable(expected) else (lambda text: expected in text)
        self._wait(lambda: self._text is not None and test(self._text), timeout, f"text {expected!r}")
        return self.text

    def wait_for_disconnect(self, timeout: float = 15.0) -> list[str]:
        """Waits until the server disconnected this user; returns the reasons seen."""
        self._wait(lambda: bool(self.disconnect_reasons), timeout, "disconnect")
        return list(self.disconnect_reasons)

    def wait_for_custom_message(self, timeout: float = 15.0) -> Any:
        """Waits for a COLLABROOM CUSTOM message (the plugin's notify) and returns its payload."""
        self._wait(lambda: bool(self.received_custom_messages), timeout, "CUSTOM message")
        return self.received_custom_messages[-1]

    def leave(self, timeout: float = 10.0) -> None:
        """Closes the socket like a closed tab and waits for the process to end."""
        if self.process.poll() is None:
            try:
                self._send({"cmd": "leave"})
            except AssertionError:
                pass
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"pad user did not leave{self._details()}") from None

    def kill(self) -> None:
        """SIGKILL: the connection drops without a goodbye."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def close(self) -> None:
        """For cleanup: gone, one way or another."""
        self.kill()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
