"""The Etherpad bridge when things go wrong, end to end (a real `wopi-proxy serve`, a real Etherpad
1.8.14 with our plugin, headless pad users): a user's token expires while another keeps editing,
Etherpad is killed and restarted mid-editing, the file is changed by another WOPI client between
two generations. Nothing typed is ever lost; the lock stays one constant."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from edge.bridge.apps.etherpad import pad_text
from tests.bridge import test_etherpad_bridge as _bridge
from tests.bridge.etherpad_flow import FAST_TIMING, BridgeFlow, Entered, add_etherpad_editor, wait_until
from tests.support.api import ControlApi, new_tenant, session_pb
from tests.support.etherpad import EtherpadServer, PadUser
from tests.support.processes import serve

pytestmark = pytest.mark.timeout(300)

# The Etherpad bridge's fixtures (a `serve` with short timings, its API, the editor, a tenant per test).
bridge_server, bridge_api, secret, editor, flow = (_bridge.bridge_server, _bridge.bridge_api, _bridge.secret,
                                                   _bridge.editor, _bridge.flow)

MIN_SESSION_TTL_S = 60  # control/services/validation.py ttl_seconds: the shortest token a session gets


def _timing(**overrides: str) -> tuple[str, ...]:
    """FAST_TIMING with some flags changed ("save_debounce": "8" → --bridge-save-debounce 8)."""
    flags = dict(zip(FAST_TIMING[::2], FAST_TIMING[1::2], strict=True))
    for name, value in overrides.items():
        flags["--bridge-" + name.replace("_", "-")] = value
    return tuple(part for pair in flags.items() for part in pair)


@contextmanager
def own_flow(tmp_path: Path, etherpad: EtherpadServer, *args: str) -> Iterator[tuple[BridgeFlow, str]]:
    """A `serve` of this test's own (its timings), an etherpad editor on `etherpad`, a tenant;
    yields the flow and the plugin's signing secret."""
    proc = serve(tmp_path / "serve", *args)
    api = ControlApi(proc.grpc_address, (proc.workdir / "data" / "admin.key").read_text().strip())
    key = secrets.token_hex(16)
    try:
        etherpad.configure(proc.http_url, key)
        tenant_id, folder = new_tenant(api, tmp_path / "storage")
        with httpx.Client(timeout=30, trust_env=False) as http:
            flow = BridgeFlow(api=api, etherpad=etherpad, editor=add_etherpad_editor(api, etherpad, key),
                              tenant_id=tenant_id, folder=folder, http=http,
                              log=lambda: f"{proc.log()[-6000:]}\n--- etherpad ---\n{etherpad.log()[-3000:]}",
                              edge_url=proc.http_url)
            try:
                yield flow, key
            finally:
                flow.close()
    finally:
        api.close()
        proc.stop()


def _join_with(flow: BridgeFlow, session: session_pb.CreateSessionResponse, name: str) -> Entered:
    """flow.join for a session made by the test (its own ttl)."""
    entered = flow.enter(session)
    entered.user = PadUser.join(flow.etherpad, entered.pad_id, session_id=entered.app_session_id, name=name)
    flow.users.append(entered.user)
    assert not entered.user.denied, entered.user
    return entered


def _audit(flow: BridgeFlow, file_id: str) -> str:
    return "\n".join(f"{e.time.seconds}.{e.time.nanos // 1_000_000:03d} {e.operation} {e.outcome} {e.detail}"
                     for e in flow.audit(file_id))


def test_a_users_token_expiring_while_another_keeps_editing_drops_nothing(tmp_path: Path,
                                                                         etherpad: EtherpadServer) -> None:
    """Ann's session gets the shortest token there is; she types just before it expires (the save
    of that text comes after the expiry), Bob goes on typing after it. The bridge saves with its own
    token, so both are saved, Ann's text attributed to her, under the same lock; Ann, expired,
    can change nothing more."""
    # A save 8 s after a change: what Ann types a few seconds before her expiry is saved after it.
    timing = (*_timing(save_debounce="8", save_max_wait="20"), "--session-expiry-interval", "1")
    with own_flow(tmp_path, etherpad, *timing) as (flow, _key):
        path = flow.folder / "shared.txt"
        path.write_bytes(b"shared\n")
        short = flow.api.call(flow.api.sessions.CreateSession, session_pb.CreateSessionRequest(
            tenant_id=flow.tenant_id, storage="docs", path="shared.txt", user_id="ann", user_name="Ann",
            permission=session_pb.PERMISSION_EDIT, editor=flow.editor, ttl_seconds=MIN_SESSION_TTL_S))
        ann = _join_with(flow, short, "Ann")
        bob = flow.join("shared.txt", "bob")
        assert ann.user is not None and bob.user is not None and bob.pad_id == ann.pad_id
        file_id = ann.session.session.file_id
        lock = flow.wopi_lock(bob.session)
        assert lock.startswith("wopi-proxy-bridge/etherpad/"), lock
        ann.user.type(" ann-early")
        wait_until(lambda: b"ann-early" in path.read_bytes(), "ann's first save", details=flow.log)

        expiry_ms = short.access_token_ttl  # absolute, ms
        wait_until(lambda: time.time() * 1000 >= expiry_ms - 4000, "ann's last seconds", timeout=MIN_SESSION_TTL_S + 30)
        ann.user.type(" ann-late")
        bob.user.wait_for_text("ann-late")
        assert b"ann-late" not in path.read_bytes(), "saved before the expiry: the test proves nothing"

        def ended() -> list:
            return [e for e in flow.audit(file_id) if e.operation == "bridge.leave"
                    and e.session_id == short.session.id and "session ended" in e.detail]
        leave = wait_until(ended, "ann's session ended", timeout=60,
                           details=lambda: f"{_audit(flow, file_id)}\n{flow.log()}")[0]
        wait_until(lambda: b"ann-late" in path.read_bytes(), "ann's text saved after her expiry", timeout=60,
                   details=lambda: f"{path.read_bytes()!r}\n{_audit(flow, file_id)}\n{flow.log()}")

        def late_saves() -> list:
            # The bridge records its save once the PutFile has answered: the file can be seen first.
            return [e for e in flow.audit(file_id) if e.operation == "bridge.save"
                    and (e.time.seconds, e.time.nanos) > (leave.time.seconds, leave.time.nanos)]
        late = wait_until(late_saves, "the bridge's record of ann's late save", timeout=60,
                          details=lambda: _audit(flow, file_id))
        assert "editors=ann" in late[0].detail, _audit(flow, file_id)

        bob.user.type(" bob-after")
        wait_until(lambda: b"bob-after" in path.read_bytes(), "bob's change saved", timeout=60,
                   details=lambda: f"{path.read_bytes()!r}\n{_audit(flow, file_id)}\n{flow.log()}")
        assert path.read_bytes() == b"shared ann-early ann-late bob-after\n"
        assert path.read_bytes().decode() == bob.user.text, "the file is exactly the pad"
        assert flow.wopi_lock(bob.session) == lock, "one lock for the document's whole life"
        document = flow.document(file_id)
        assert document is not None and document.state == "open" and document.generation == 1, document

        def refused() -> bool:
            try:
                ann.user.type("x", timeout=3)  # type: ignore[union-attr]
            except AssertionError:  # refused, or disconnected by Etherpad
                return True
            return False
        wait_until(refused, "ann's changes refused after her expiry", timeout=30, details=flow.log)


@pytest.fixture
def own_etherpad(etherpad_install: Path, tmp_path: Path) -> Iterator[EtherpadServer]:
    """An Etherpad of this test's own: it gets killed (the session's shared one must not be)."""
    server = EtherpadServer(tmp_path / "etherpad", install_dir=etherpad_install).start()
    try:
        yield server
    finally:
        server.close()


def test_etherpad_killed_before_the_save_and_restarted_loses_nothing(tmp_path: Path,
                                                                     own_etherpad: EtherpadServer) -> None:
    """Ann types; the plugin's push is lost and Etherpad is killed (SIGKILL) before the debounced
    save. While it is down the worker's attempts fail as retries (the document is not failed and
    the file not touched); restarted on its own DB, the reconcile poll finds the revision and saves
    it. Ann's browser reconnects, types again, and that is saved too: same generation, same lock."""
    etherpad = own_etherpad
    dirty_db = etherpad.workdir / "dirty.db"
    # A save 10 s after a change: Etherpad is surely down before it; unlock grace long enough for
    # Ann's reconnection after the restart (a browser reconnects by itself).
    with own_flow(tmp_path, etherpad, *_timing(save_debounce="10", save_max_wait="30", unlock_grace="60")) as (flow, key):
        path = flow.folder / "restart.txt"
        path.write_bytes(b"before\n")
        ann = flow.join("restart.txt", "ann")
        assert ann.user is not None
        file_id = ann.session.session.file_id
        lock = flow.wopi_lock(ann.session)
        generation = flow.wait_state(file_id, "open").generation

        etherpad.configure("http://127.0.0.1:9", key)  # the plugin's pushes are lost
        ann.user.type(" typed-before-the-crash")
        wait_until(lambda: dirty_db.exists() and b"typed-before-the-crash" in dirty_db.read_bytes(),
                   "the revision on Etherpad's disk", details=etherpad.log)
        etherpad.kill()
        assert path.read_bytes() == b"before\n", "saved before the crash: the test proves nothing"

        def retrying() -> object:
            document = flow.document(file_id)
            return document if document is not None and document.attempts >= 1 else None
        down = wait_until(retrying, "a failed attempt while Etherpad is down", timeout=60,
                          details=lambda: f"{flow.document(file_id)}\n{_audit(flow, file_id)}\n{flow.log()}")
        assert down.state in ("open", "closing") and "etherpad" in down.last_error, down
        errors = [e for e in flow.audit(file_id) if e.operation == "bridge.app_error"]
        assert errors and all("attempt" in e.detail for e in errors), _audit(flow, file_id)
        assert path.read_bytes() == b"before\n"

        etherpad.configure(flow.edge_url, key)
        etherpad.restart()  # same port, same DB
        wait_until(lambda: path.read_bytes() == b"before typed-before-the-crash\n", "the save after the restart",
                   timeout=120, details=lambda: f"{path.read_bytes()!r}\n{_audit(flow, file_id)}\n{flow.log()}")

        assert ann.user.exited, "the headless user saw its server die"
        back = PadUser.join(etherpad, ann.pad_id, session_id=ann.app_session_id, name="Ann")
        flow.users.append(back)
        assert not back.denied and back.text == "before typed-before-the-crash\n", back.text
        back.type(" typed-after-the-restart")
        wait_until(lambda: path.read_bytes() == b"before typed-before-the-crash typed-after-the-restart\n",
                   "the rejoined user's change saved", timeout=60,
                   details=lambda: f"{path.read_bytes()!r}\n{_audit(flow, file_id)}\n{flow.log()}")
        document = flow.wait_state(file_id, "open", timeout=60)
        assert document.generation == generation and document.attempts == 0 and not document.last_error, document
        assert flow.wopi_lock(ann.session) == lock


def test_a_file_changed_by_another_client_between_generations_is_loaded_anew(flow: BridgeFlow) -> None:
    """The pad is closed (and removed) after the last leave; another WOPI client then writes the
    file. The next bridged open is a new generation whose pad holds the file as it is now, not the
    old pad's text; saving from it builds on the other client's content."""
    path = flow.folder / "between.txt"
    path.write_bytes(b"first\n")
    ann = flow.join("between.txt", "ann")
    assert ann.user is not None
    file_id = ann.session.session.file_id
    ann.user.type(" by-ann")
    ann.user.leave()
    first = flow.wait_state(file_id, "closed", timeout=60)
    assert path.read_bytes() == b"first by-ann\n"

    carol = flow.api.call(flow.api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=flow.tenant_id, storage="docs", path="between.txt", user_id="carol",
        permission=session_pb.PERMISSION_EDIT))
    url = f"{carol.session.wopi_src}?access_token={carol.access_token}"
    assert flow.http.post(url, headers={"X-WOPI-Override": "LOCK", "X-WOPI-Lock": "carol"}).status_code == 200
    put = flow.http.post(f"{carol.session.wopi_src}/contents?access_token={carol.access_token}",
                         content=b"rewritten by carol\n", headers={"X-WOPI-Override": "PUT", "X-WOPI-Lock": "carol"})
    assert put.status_code == 200, put.text
    assert flow.http.post(url, headers={"X-WOPI-Override": "UNLOCK", "X-WOPI-Lock": "carol"}).status_code == 200

    bob = flow.join("between.txt", "bob")
    assert bob.user is not None
    assert bob.user.text == pad_text("rewritten by carol\n"), f"{bob.user.text!r}\n{flow.log()}"
    assert bob.pad_id != ann.pad_id
    second = flow.wait_state(file_id, "open")
    assert second.generation > first.generation, (first, second)
    bob.user.type(" and-bob")
    wait_until(lambda: path.read_bytes() == b"rewritten by carol and-bob\n", "bob's save",
               details=lambda: f"{path.read_bytes()!r}\n{_audit(flow, file_id)}\n{flow.log()}")
    bob.user.leave()
