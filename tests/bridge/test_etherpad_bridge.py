"""The Etherpad bridge end to end: a real `wopi-proxy serve` (control plane, edge, bridge worker)
and a real Etherpad 1.8.14 with our plugin; people enter through the host page and type as
headless pad users. What a tenant's file goes through: loaded exactly, saved when changed (and
only then) through our own WOPI PutFile under one constant lock, closed and cleaned up."""

from __future__ import annotations

import json
import secrets
import signal
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from edge.bridge.apps.etherpad import pad_text
from edge.bridge.worker import worker_name
from shared import signatures
from tests.bridge.etherpad_flow import FAST_TIMING, BridgeFlow, add_etherpad_editor, wait_until
from tests.support.api import ControlApi, new_tenant, session_pb
from tests.support.deployment import Deployment
from tests.support.etherpad import EtherpadServer
from tests.support.processes import WopiProxyProcess, serve
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb
from wopiproxy.internal.v1 import edge_service_pb2_grpc as edge_grpc


@pytest.fixture(scope="module")
def bridge_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WopiProxyProcess]:
    workdir = tmp_path_factory.mktemp("bridge-serve")
    proc = serve(workdir, *FAST_TIMING)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def bridge_api(bridge_server: WopiProxyProcess) -> Iterator[ControlApi]:
    client = ControlApi(bridge_server.grpc_address, (bridge_server.workdir / "data" / "admin.key").read_text().strip())
    yield client
    client.close()


@pytest.fixture(scope="module")
def secret() -> str:
    return secrets.token_hex(16)


@pytest.fixture(scope="module")
def editor(bridge_api: ControlApi, etherpad: EtherpadServer, secret: str) -> str:
    return add_etherpad_editor(bridge_api, etherpad, secret)


@pytest.fixture
def flow(bridge_server: WopiProxyProcess, bridge_api: ControlApi, etherpad: EtherpadServer, editor: str,
         secret: str, tmp_path: Path) -> Iterator[BridgeFlow]:
    etherpad.configure(bridge_server.http_url, secret)  # the Etherpad is shared by the test session
    tenant_id, folder = new_tenant(bridge_api, tmp_path / "storage")
    with httpx.Client(timeout=30, trust_env=False) as http:
        flow = BridgeFlow(api=bridge_api, etherpad=etherpad, editor=editor, tenant_id=tenant_id, folder=folder,
                          http=http, log=lambda: bridge_server.log()[-6000:], edge_url=bridge_server.http_url)
        yield flow
        flow.close()


def _logs(flow: BridgeFlow) -> str:
    return f"{flow.log()}\n--- etherpad ---\n{flow.etherpad.log()[-3000:]}"


@pytest.mark.parametrize("content", [
    "Grüße 👋 from the file\nsecond line\n".encode(),
    b"windows\r\nline endings\r\n",
    b"no final newline",
    b"",
], ids=["utf8-emoji", "crlf", "no-final-newline", "empty"])
def test_the_pad_holds_exactly_the_file(flow: BridgeFlow, content: bytes) -> None:
    (flow.folder / "note.txt").write_bytes(content)
    ann = flow.join("note.txt", "ann")
    assert ann.user is not None
    assert ann.user.text == pad_text(content.decode().replace("\r\n", "\n")), _logs(flow)
    ann.user.leave()


def test_typing_is_saved_to_the_file_with_its_author(flow: BridgeFlow) -> None:
    (flow.folder / "note.txt").write_bytes(b"first line\n")
    ann = flow.join("note.txt", "ann")
    assert ann.user is not None
    file_id = ann.session.session.file_id
    before = flow.item_version(ann.session)
    ann.user.type(" and more")
    wait_until(lambda: (flow.folder / "note.txt").read_bytes() == b"first line and more\n", "the save",
               details=lambda: f"{(flow.folder / 'note.txt').read_bytes()!r}\n{_logs(flow)}")
    assert flow.item_version(ann.session) != before
    assert [v.version for v in flow.versions(file_id)], "the previous content is kept as a version"
    # The bridge records its save once the PutFile has answered: the file can be seen first.
    saves = wait_until(lambda: [e for e in flow.audit(file_id) if e.operation == "bridge.save"], "the save's audit",
                       details=lambda: repr([(e.operation, e.detail) for e in flow.audit(file_id)]))
    assert "editors=ann" in saves[-1].detail, [(e.operation, e.detail) for e in flow.audit(file_id)]
    ann.user.leave()


def test_opening_and_leaving_without_typing_leaves_the_file_untouched(flow: BridgeFlow) -> None:
    content = b"untouched\ttabbed\r\nand\xc2\xa0nbsp\r\n"  # what Etherpad normalises must not be written back
    path = flow.folder / "keep.txt"
    path.write_bytes(content)
    modified = path.stat().st_mtime_ns
    ann = flow.join("keep.txt", "ann")
    assert ann.user is not None
    file_id = ann.session.session.file_id
    flow.wait_state(file_id, "open")
    ann.user.leave()
    flow.wait_state(file_id, "closed", timeout=60)
    assert path.read_bytes() == content and path.stat().st_mtime_ns == modified
    operations = [e.operation for e in flow.audit(file_id)]
    assert "bridge.save" not in operations and "PutFile" not in operations, operations


def test_two_writers_share_one_pad_and_one_constant_lock(flow: BridgeFlow) -> None:
    (flow.folder / "shared.txt").write_bytes(b"shared\n")
    ann = flow.join("shared.txt", "ann")
    lock = flow.wopi_lock(ann.session)
    assert lock.startswith("wopi-proxy-bridge/etherpad/") and len(lock) < 100, lock
    bob = flow.join("shared.txt", "bob")
    assert ann.user is not None and bob.user is not None
    assert bob.pad_id == ann.pad_id
    ann.user.type(" A")
    bob.user.wait_for_text("A")
    bob.user.type(" B")
    wait_until(lambda: b"A B" in (flow.folder / "shared.txt").read_bytes(), "both changes saved",
               details=lambda: _logs(flow))
    assert flow.wopi_lock(bob.session) == lock
    ann.user.leave()
    assert flow.wopi_lock(bob.session) == lock


def test_a_view_session_gets_the_live_read_only_pad(flow: BridgeFlow) -> None:
    (flow.folder / "live.txt").write_bytes(b"live\n")
    ann = flow.join("live.txt", "ann")
    vic = flow.join("live.txt", "vic", view=True)
    assert ann.user is not None and vic.user is not None
    assert vic.pad_id.startswith("r.") and vic.user.readonly
    ann.user.type(" update")
    vic.user.wait_for_text("live update")


def test_a_file_locked_by_another_editor_opens_read_only(flow: BridgeFlow) -> None:
    (flow.folder / "busy.txt").write_bytes(b"busy\n")
    other = flow.api.call(flow.api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=flow.tenant_id, storage="docs", path="busy.txt", user_id="carol",
        permission=session_pb.PERMISSION_EDIT))
    locked = flow.http.post(f"{other.session.wopi_src}?access_token={other.access_token}",
                            headers={"X-WOPI-Override": "LOCK", "X-WOPI-Lock": "collabora-lock"})
    assert locked.status_code == 200, locked.text
    ann = flow.join("busy.txt", "ann")
    assert ann.user is not None
    assert ann.pad_id.startswith("r.") and ann.user.readonly, _logs(flow)
    assert flow.wopi_lock(other) == "collabora-lock"


def test_the_last_leave_saves_then_unlocks_and_removes_the_pad(flow: BridgeFlow) -> None:
    (flow.folder / "bye.txt").write_bytes(b"bye")
    ann = flow.join("bye.txt", "ann")
    assert ann.user is not None
    ann.user.type("!")
    ann.user.leave()
    file_id = ann.session.session.file_id
    flow.wait_state(file_id, "closed", timeout=60)
    assert (flow.folder / "bye.txt").read_bytes() == b"bye!"
    assert flow.wopi_lock(ann.session) == ""
    # Asked of the group itself: Etherpad's list of all groups is a read-modify-write record that
    # concurrent creates and deletes (other tests' pads) can overwrite with a stale copy.
    with pytest.raises(Exception, match="groupID does not exist"):
        flow.etherpad.api("listPads", groupID=ann.pad_id.split("$", 1)[0])
    assert ann.pad_id not in flow.etherpad.api("listAllPads")["padIDs"]


def test_a_closed_session_can_change_nothing_more(flow: BridgeFlow) -> None:
    (flow.folder / "closed.txt").write_bytes(b"x\n")
    ann = flow.join("closed.txt", "ann")
    bob = flow.join("closed.txt", "bob")
    assert ann.user is not None and bob.user is not None
    ann.user.type("1")
    flow.api.call(flow.api.sessions.CloseSession,
                  session_pb.CloseSessionRequest(id=ann.session.session.id))

    def refused() -> bool:
        try:
            ann.user.type("2", timeout=3)  # type: ignore[union-attr]
        except AssertionError:
            return True
        return False
    wait_until(refused, "ann's changes refused", timeout=30, details=lambda: _logs(flow))
    bob.user.type(" bob")  # the others go on
    wait_until(lambda: b"bob" in (flow.folder / "closed.txt").read_bytes(), "bob's change saved",
               details=lambda: _logs(flow))


def test_the_bridge_does_not_save_its_own_load(flow: BridgeFlow) -> None:
    """The load's setText reaches the plugin as a change with no author: it must not start a save."""
    (flow.folder / "loop.txt").write_bytes(b"loop\n")
    ann = flow.join("loop.txt", "ann")
    assert ann.user is not None
    file_id = ann.session.session.file_id
    ann.user.type(" once")
    wait_until(lambda: b"once" in (flow.folder / "loop.txt").read_bytes(), "the save", details=lambda: _logs(flow))
    document = flow.wait_state(file_id, "open")
    # Several poll rounds later, still exactly one save.
    wait_until(lambda: [e for e in flow.audit(file_id) if e.operation == "bridge.save"]
               and (d := flow.document(file_id)) is not None and d.next_attempt_time.seconds > document.create_time.seconds + 5,
               "a few reconcile polls", timeout=30)
    saves = [e for e in flow.audit(file_id) if e.operation == "bridge.save"]
    assert len(saves) == 1, [(e.operation, e.detail) for e in flow.audit(file_id)]


def test_an_event_for_an_unknown_pad_is_refused_like_a_bad_signature(flow: BridgeFlow, secret: str) -> None:
    """Correctly signed with the app's secret, but about a pad we never made."""
    body = json.dumps({"event": "change", "pad": "g.abc$" + secrets.token_hex(8), "rev": 1, "author": "a.x",
                       "ts": 1}).encode()
    reply = flow.http.post(f"{flow.edge_url}/bridge/etherpad/events", content=body,
                           headers={signatures.HEADER: signatures.sign(secret.encode(), body)})
    assert (reply.status_code, reply.json()) == (401, {"error": "unauthorized"})


def test_a_killed_edge_saves_what_it_missed_once_restarted(tmp_path: Path, etherpad: EtherpadServer,
                                                            secret: str) -> None:
    """kill -9 while someone types: the plugin's pushes are lost, the pad keeps the text; the
    restarted process finds the unsaved revisions by its reconcile poll and saves them. It listens
    on a new port, so its bridge worker has a new name: a lease the killed run held (a poll in
    flight) lapses on its own, after the 10 s given here."""
    proc = serve(tmp_path / "serve", *FAST_TIMING, "--bridge-lease", "10")
    api = ControlApi(proc.grpc_address, (proc.workdir / "data" / "admin.key").read_text().strip())
    try:
        etherpad.configure(proc.http_url, secret)
        tenant_id, folder = new_tenant(api, tmp_path / "storage")
        with httpx.Client(timeout=30, trust_env=False) as http:
            flow = BridgeFlow(api=api, etherpad=etherpad, editor=add_etherpad_editor(api, etherpad, secret),
                              tenant_id=tenant_id, folder=folder, http=http, log=lambda: proc.log()[-6000:],
                              edge_url=proc.http_url)
            (folder / "crash.txt").write_bytes(b"before\n")
            ann = flow.join("crash.txt", "ann")
            assert ann.user is not None
            proc.stop(signal.SIGKILL)
            ann.user.type(" typed while the edge was down")
            proc.start()  # same data dir; new ports
            etherpad.configure(proc.http_url, secret)
            api.close()
            api = ControlApi(proc.grpc_address, (proc.workdir / "data" / "admin.key").read_text().strip())
            wait_until(lambda: b"while the edge was down" in (folder / "crash.txt").read_bytes(),
                       "the missed revisions saved", timeout=60, details=lambda: proc.log()[-6000:])
            flow.close()
    finally:
        api.close()
        proc.stop()


@contextmanager
def split_flow(deployment: Deployment, etherpad: EtherpadServer, secret: str, tmp_path: Path) -> Iterator[BridgeFlow]:
    """A tenant with an Etherpad editor on a split deployment, driven through its edge."""
    api = deployment.api()
    etherpad.configure(deployment.http_url, secret)
    tenant_id, folder = new_tenant(api, tmp_path / "storage")
    with httpx.Client(timeout=30, trust_env=False) as http:
        flow = BridgeFlow(api=api, etherpad=etherpad, editor=add_etherpad_editor(api, etherpad, secret),
                          tenant_id=tenant_id, folder=folder, http=http, log=deployment.log,
                          edge_url=deployment.http_url)
        try:
            yield flow
        finally:
            flow.close()


def test_a_killed_edge_of_a_split_deployment_resumes_from_the_control_plane(
        deploy: Callable[..., Deployment], etherpad: EtherpadServer, secret: str, tmp_path: Path) -> None:
    """Production's shape: the control plane stays up while its only edge is killed mid-editing;
    the edge restarted on the same address (the plugin's pushes meanwhile were lost) saves what
    was typed, and the document's lock is the same constant."""
    deployment = deploy("split", control_args=FAST_TIMING)
    _, edge = deployment.processes
    with split_flow(deployment, etherpad, secret, tmp_path) as flow:
        (flow.folder / "split.txt").write_bytes(b"split\n")
        ann = flow.join("split.txt", "ann")
        assert ann.user is not None
        lock = flow.wopi_lock(ann.session)
        ann.user.type(" one")
        wait_until(lambda: b"one" in (flow.folder / "split.txt").read_bytes(), "the first save",
                   details=deployment.log)
        edge.stop(signal.SIGKILL)
        ann.user.type(" two")
        edge.start()
        wait_until(lambda: (flow.folder / "split.txt").read_bytes() == b"split one two\n", "the missed save",
                   timeout=60, details=deployment.log)
        assert flow.wopi_lock(ann.session) == lock


def test_an_edge_started_again_in_the_same_place_takes_its_killed_runs_leases_back_at_once(
        deploy: Callable[..., Deployment], etherpad: EtherpadServer, secret: str, tmp_path: Path) -> None:
    """An edge killed while it held a document's lease (mid-save, say) and started again on the same
    address resumes that document at once: with leases of 10 minutes, only the hand-back can save
    what was typed meanwhile within the wait."""
    deployment = deploy("split", control_args=(*FAST_TIMING, "--bridge-lease", "600"))
    _, edge = deployment.processes
    url = httpx.URL(deployment.http_url)
    killed_run = f"{worker_name(url.host, url.port or 80)}#killed"
    as_edge = ControlApi(deployment.grpc_address, deployment.edge_key)
    claim = edge_grpc.EdgeServiceStub(as_edge.channel).ClaimBridgeWork
    with split_flow(deployment, etherpad, secret, tmp_path) as flow, closing(as_edge):
        held = flow.folder / "held.txt"
        held.write_bytes(b"held\n")
        ann = flow.join("held.txt", "ann")
        assert ann.user is not None
        ann.user.type(" one")
        wait_until(lambda: b"one" in held.read_bytes(), "the first save", details=deployment.log)
        edge.stop(signal.SIGKILL)
        ann.user.type(" two")
        # The killed run's lease on the document (taken here under its name: its polls are due every second).
        wait_until(lambda: as_edge.call(claim, edge_pb.ClaimBridgeWorkRequest(
            worker_id=killed_run, max_items=8, first_claim=True)).items, "a lease held by the killed run",
            details=deployment.log)
        edge.start()
        wait_until(lambda: held.read_bytes() == b"held one two\n", "the save after the restart",
                   timeout=60, details=deployment.log)
        assert "lease(s) of its earlier run let go" in deployment.log()


def test_a_file_that_is_not_text_gets_a_page_saying_so(flow: BridgeFlow) -> None:
    (flow.folder / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    session = flow.session("image.txt", "ann")
    page = flow.http.get(session.host_page_url, follow_redirects=False)
    assert page.status_code == 415 and "not plain text" in page.text, page.text
    assert session.access_token not in page.text
    assert flow.wopi_lock(session) == "", "nothing stays locked for a file that was never opened"


def test_a_lost_lock_turns_the_save_into_a_conflict_copy_and_editing_goes_on(flow: BridgeFlow) -> None:
    """Another WOPI client breaks the bridge's lock and takes its own: the pad's text is kept beside
    the file (never lost, never written over the other client's file), the people are told."""
    (flow.folder / "race.txt").write_bytes(b"race\n")
    ann = flow.join("race.txt", "ann")
    assert ann.user is not None
    lock = flow.wopi_lock(ann.session)
    other = flow.api.call(flow.api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=flow.tenant_id, storage="docs", path="race.txt", user_id="carol",
        permission=session_pb.PERMISSION_EDIT))
    url = f"{other.session.wopi_src}?access_token={other.access_token}"
    assert flow.http.post(url, headers={"X-WOPI-Override": "UNLOCK", "X-WOPI-Lock": lock}).status_code == 200
    assert flow.http.post(url, headers={"X-WOPI-Override": "LOCK", "X-WOPI-Lock": "carol"}).status_code == 200
    ann.user.type(" by ann")
    copies = wait_until(lambda: [p for p in flow.folder.iterdir() if "conflict" in p.name], "a conflict copy",
                        details=lambda: _logs(flow))
    assert copies[0].read_bytes() == b"race by ann\n"
    assert (flow.folder / "race.txt").read_bytes() == b"race\n"
    file_id = ann.session.session.file_id
    recorded = wait_until(lambda: [e for e in flow.audit(file_id) if e.operation == "bridge.conflict"
                                   and f"copy={quote(copies[0].name, safe='()')}" in e.detail],
                          "the copy's path recorded for the operator (percent-encoded, audit.detail_value)",
                          details=lambda: str([(e.operation, e.detail) for e in flow.audit(file_id)]))
    assert recorded
    assert ann.user.wait_for_custom_message(), "the pad is told"
    ann.user.type(" still typing")  # editing goes on


def test_a_wopi_save_made_while_only_a_viewer_was_in_is_never_overwritten_by_the_pad(flow: BridgeFlow) -> None:
    """A viewer opens first (the pad is loaded, no lock is taken); a WOPI editor then locks, saves
    and unlocks. The pad now holds an older text than the file: a writer who joins is not handed
    it to save over the WOPI editor's work (no lock taken, the pad read-only, the document flagged
    conflicted), and the file keeps the WOPI save."""
    path = flow.folder / "plan.txt"
    path.write_bytes(b"base\n")
    vic = flow.join("plan.txt", "vic", view=True)
    assert vic.user is not None and vic.user.readonly
    file_id = vic.session.session.file_id
    flow.wait_state(file_id, "open")

    carol = flow.api.call(flow.api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=flow.tenant_id, storage="docs", path="plan.txt", user_id="carol",
        permission=session_pb.PERMISSION_EDIT))
    url = f"{carol.session.wopi_src}?access_token={carol.access_token}"
    assert flow.http.post(url, headers={"X-WOPI-Override": "LOCK", "X-WOPI-Lock": "carol"}).status_code == 200
    put = flow.http.post(f"{carol.session.wopi_src}/contents?access_token={carol.access_token}",
                         headers={"X-WOPI-Override": "PUT", "X-WOPI-Lock": "carol"}, content=b"carol's work\n")
    assert put.status_code == 200, put.text
    assert flow.http.post(url, headers={"X-WOPI-Override": "UNLOCK", "X-WOPI-Lock": "carol"}).status_code == 200

    ann = flow.join("plan.txt", "ann")
    assert ann.user is not None
    assert ann.pad_id.startswith("r.") and ann.user.readonly, _logs(flow)
    document = flow.wait_state(file_id, "conflicted")
    assert not document.locked, document
    assert flow.wopi_lock(carol) == "", "the bridge took the lock on a pad older than the file"
    assert any(e.operation == "bridge.conflict" for e in flow.audit(file_id)), _logs(flow)
    assert path.read_bytes() == b"carol's work\n"
    # Carol can go on: the file is not the bridge's.
    assert flow.http.post(url, headers={"X-WOPI-Override": "LOCK", "X-WOPI-Lock": "carol"}).status_code == 200


@pytest.mark.parametrize(("content", "saved"), [
    (b"crlf\r\nfile\r\n", b"crlf\r\nfile typed\r\n"),
    (b"no newline", b"no newline typed"),
    ("emoji 👋\n".encode(), "emoji 👋 typed\n".encode()),
    (b"\xef\xbb\xbfbom\n", b"\xef\xbb\xbfbom typed\n"),
], ids=["crlf", "no-final-newline", "utf8-emoji", "byte-order-mark"])
def test_a_save_keeps_the_shape_of_the_file(flow: BridgeFlow, content: bytes, saved: bytes) -> None:
    (flow.folder / "shape.txt").write_bytes(content)
    ann = flow.join("shape.txt", "ann")
    assert ann.user is not None
    ann.user.type(" typed")
    wait_until(lambda: (flow.folder / "shape.txt").read_bytes() == saved, "the save",
               details=lambda: f"{(flow.folder / 'shape.txt').read_bytes()!r}\n{_logs(flow)}")


def test_a_lone_surrogate_typed_in_the_pad_is_saved_as_a_replacement_character(flow: BridgeFlow) -> None:
    """Attack: a participant sends a lone UTF-16 surrogate (JSON "\\ud800" is valid over socket.io;
    Etherpad keeps it and getText returns it). UTF-8 cannot hold it: it used to fail every later
    save of the pad, so a co-editor's text never reached the file. It is saved as U+FFFD."""
    path = flow.folder / "note.txt"
    path.write_bytes(b"first line\n")
    mallory = flow.join("note.txt", "mallory")
    ann = flow.join("note.txt", "ann")
    assert mallory.user is not None and ann.user is not None
    mallory.user.type(" evil\ud800")
    ann.user.type(" and ann's work")
    wait_until(lambda: b"ann's work" in path.read_bytes(), "ann's text saved", timeout=40,
               details=lambda: f"{path.read_bytes()!r}\n{_logs(flow)[-4000:]}")
    assert " evil\ufffd" in path.read_bytes().decode("utf-8"), path.read_bytes()


def test_an_edge_killed_in_the_middle_of_a_save_loses_nothing(
        deploy: Callable[..., Deployment], etherpad: EtherpadServer, secret: str, tmp_path: Path) -> None:
    """The edge dies between publishing the bridge's bytes and confirming them (kill -9 at the
    failpoint): the control plane resolves the write from storage, the lease ends, and the edge
    restarted saves again (the same bytes: the file stays exactly the pad's text)."""
    deployment = deploy("split", control_args=(*FAST_TIMING, "--bridge-lease", "3"),
                        env={"WOPI_PROXY_FAILPOINTS": "putfile.after_publish=kill"})
    _, edge = deployment.processes  # only the edge hits the point (the control plane has none such)
    with split_flow(deployment, etherpad, secret, tmp_path) as flow:
        (flow.folder / "kill.txt").write_bytes(b"kill\n")
        ann = flow.join("kill.txt", "ann")
        assert ann.user is not None
        ann.user.type(" saved once")
        wait_until(lambda: edge.process is not None and edge.process.poll() is not None, "the edge's death",
                   details=deployment.log)
        edge.env = {}
        edge.start()
        file_id = ann.session.session.file_id
        wait_until(lambda: (d := flow.document(file_id)) is not None and d.seen_rev <= d.saved_rev
                   and d.last_save_time.seconds > 0, "the save recorded", timeout=60, details=deployment.log)
        assert (flow.folder / "kill.txt").read_bytes() == b"kill saved once\n"


def test_two_people_opening_at_once_load_the_file_once_into_one_pad(flow: BridgeFlow) -> None:
    """The second opener waits for the first one's load (never loads a second copy over it)."""
    (flow.folder / "rush.txt").write_bytes(b"rush\n")
    sessions = [flow.session("rush.txt", user) for user in ("ann", "bob", "cat")]
    with ThreadPoolExecutor(max_workers=3) as pool:
        entered = list(pool.map(flow.enter, sessions))
    assert len({e.pad_id for e in entered}) == 1, [e.pad_id for e in entered]
    loads = [e for e in flow.audit(sessions[0].session.file_id) if e.operation == "bridge.load"]
    assert len(loads) == 1, [(e.operation, e.detail) for e in flow.audit(sessions[0].session.file_id)]
