"""The CodiMD kind end to end: the real `wopi-proxy serve` (control plane, edge, bridge worker) and
the CodiMD stand-in (profile codimd-cs3, tests/support/codimd_standin.py) whose save webhook calls the
edge (BRIDGE-NOTES §6 case 12)."""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from wopiproxy.control.v1 import audit_service_pb2 as audit_pb
from wopiproxy.control.v1 import audit_service_pb2_grpc as audit_grpc
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import editor_service_pb2_grpc as editor_grpc

from shared import signatures
from tests.support.api import ControlApi, new_tenant, session_pb
from tests.support.codimd_standin import CodimdStandin
from tests.support.processes import WopiProxyProcess, serve

API_KEY = "codimd-api-key-for-the-bridge"
SECRET = "codimd-webhook-secret-for-the-bridge"
EDITOR = "notes"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 24  # image bytes as CodiMD checks them (magic numbers)
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 24
DEADLINE_S = 60.0
TIMING = ("--bridge-save-debounce", "1", "--bridge-save-max-wait", "3", "--bridge-poll-interval", "2",
          "--bridge-idle-poll-interval", "2", "--bridge-unlock-grace", "2")


@dataclass
class Bridge:
    edge: WopiProxyProcess
    codimd: CodimdStandin
    api: ControlApi

    def log(self) -> str:
        return f"--- serve ---\n{self.edge.log()[-6000:]}\n--- codimd ---\n{json.dumps(self.codimd.dump())[-3000:]}"


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    workdir = tmp_path_factory.mktemp("codimd-bridge")
    edge = serve(workdir / "wopi-proxy", *TIMING)
    codimd = CodimdStandin("codimd-cs3", api_key=API_KEY, webhook_url=f"{edge.http_url}/bridge/codimd/webhook",
                           webhook_secret=SECRET).start()
    api = ControlApi(edge.grpc_address, (workdir / "wopi-proxy" / "data" / "admin.key").read_text().strip())
    editor_grpc.EditorServiceStub(api.channel).CreateEditor(editor_pb.CreateEditorRequest(
        name=EDITOR, kind="codimd", app_url=codimd.url, api_key=API_KEY, webhook_secret=SECRET),
        metadata=api.metadata, timeout=30)
    yield Bridge(edge=edge, codimd=codimd, api=api)
    api.close()
    codimd.stop()
    edge.stop()


def _open(bridge: Bridge, tenant_id: str, path: str, user_id: str) -> str:
    """The note the host page sends the user to."""
    reply = bridge.api.call(bridge.api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=tenant_id, storage="docs", path=path, user_id=user_id, user_name=user_id.title(),
        permission=session_pb.PERMISSION_EDIT, editor=EDITOR))
    with httpx.Client(timeout=60, trust_env=False, follow_redirects=False) as client:
        page = client.get(reply.host_page_url)
    assert page.status_code in (302, 303), f"{page.status_code} {page.text[:500]}\n{bridge.log()}"
    location = urlsplit(page.headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == bridge.codimd.url
    assert reply.access_token not in page.headers["Location"]
    return location.path.strip("/")


def _wait(condition: Callable[[], bool], what: str, bridge: Bridge, timeout: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{bridge.log()}")
        time.sleep(0.2)


def _audit(bridge: Bridge, tenant_id: str) -> list[audit_pb.AuditEvent]:
    reply = audit_grpc.AuditServiceStub(bridge.api.channel).ListAuditEvents(
        audit_pb.ListAuditEventsRequest(tenant_id=tenant_id, page_size=500), metadata=bridge.api.metadata, timeout=30)
    return list(reply.events)


def _post_webhook(bridge: Bridge, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[signatures.HEADER] = signature
    with httpx.Client(timeout=30, trust_env=False) as client:
        return client.post(f"{bridge.edge.http_url}/bridge/codimd/webhook", content=body, headers=headers)


def test_a_markdown_file_round_trips_through_its_note(bridge: Bridge, tmp_path: Path) -> None:
    tenant_id, folder = new_tenant(bridge.api, tmp_path)
    path = folder / "minutes.md"
    path.write_bytes("# Minutes\r\n\r\n- caf\u00e9 \U0001F600\r\n".encode())
    note = _open(bridge, tenant_id, "minutes.md", "ann")
    assert bridge.codimd.note(note)["content"] == "# Minutes\n\n- caf\u00e9 \U0001F600\n", bridge.log()
    bridge.codimd.join(note, "ann")
    bridge.codimd.edit(note, "# Minutes\n\n- caf\u00e9 \U0001F600\n- decided: ship it\n")
    assert bridge.codimd.fire_webhook(note, close=False) in (200, 202)
    expected = "# Minutes\r\n\r\n- caf\u00e9 \U0001F600\r\n- decided: ship it\r\n".encode()
    _wait(lambda: path.read_bytes() == expected, "the save", bridge)
    # The file is renamed into place before the save's records are written: wait for those, not the file.
    _wait(lambda: any(e.operation == "bridge.save" for e in _audit(bridge, tenant_id)), "the save's audit", bridge)
    saves = [e for e in _audit(bridge, tenant_id) if e.operation == "PutFile" and e.outcome == "ok"]
    assert saves and saves[-1].version_after > saves[-1].version_before
    # The last user leaves: the note is closed, the final save done, the file unlocked after the grace.
    bridge.codimd.edit(note, "# Minutes\n\n- caf\u00e9 \U0001F600\n- decided: ship it\n- done\n")
    bridge.codimd.leave(note, "ann")
    assert bridge.codimd.fire_webhook(note, close=True) in (200, 202)
    _wait(lambda: path.read_bytes().endswith(b"- done\r\n"), "the final save", bridge)
    _wait(lambda: any(e.operation in ("Unlock", "bridge.unlock") for e in _audit(bridge, tenant_id)), "the unlock",
          bridge)


def test_an_edit_not_yet_in_codimds_database_is_saved_later(bridge: Bridge, tmp_path: Path) -> None:
    """CodiMD writes its database copy ~1 s after an edit, and only that copy can be read: a webhook
    that comes first finds nothing new; the edit must still reach the file (reconcile polling)."""
    tenant_id, folder = new_tenant(bridge.api, tmp_path)
    path = folder / "lag.md"
    path.write_bytes(b"before\n")
    note = _open(bridge, tenant_id, "lag.md", "ann")
    bridge.codimd.join(note, "ann")
    bridge.codimd.edit(note, "before\nafter\n", lag=True)
    assert bridge.codimd.fire_webhook(note, close=False) in (200, 202)
    _wait(lambda: path.read_bytes() == b"before\nafter\n", "the late save", bridge)


def test_a_zmd_bundle_keeps_its_pictures_on_every_save(bridge: Bridge, tmp_path: Path) -> None:
    """Pictures are in the file after each save, not only at close (cs3 lost those of a crash)."""
    from edge.bridge import zmd

    tenant_id, folder = new_tenant(bridge.api, tmp_path)
    path = folder / "trip.zmd"
    first = "upload_" + "1" * 32 + ".png"
    path.write_bytes(zmd.pack(f"# Trip\n![map](/uploads/{first})\n", "trip.md", {first: PNG + b"one"}))
    note = _open(bridge, tenant_id, "trip.zmd", "ann")
    assert bridge.codimd.note(note)["content"] == f"# Trip\n![map](/uploads/{first})\n", bridge.log()
    # Ann adds a picture (CodiMD's editor uploads it and inserts the link it got back), and saves.
    with httpx.Client(timeout=30, trust_env=False) as client:
        link = client.post(f"{bridge.codimd.url}/uploadimage", files={"image": ("photo.jpg", JPEG + b"two")}).json()["link"]
    second = link.rsplit("/", 1)[-1]
    bridge.codimd.join(note, "ann")
    bridge.codimd.edit(note, f"# Trip\n![map](/uploads/{first})\n![photo]({link})\n")
    assert bridge.codimd.fire_webhook(note, close=False) in (200, 202)

    def saved() -> bool:
        try:
            bundle = zmd.unpack(path.read_bytes())
        except zmd.NotABundle:
            return False
        return bundle.pictures == {first: PNG + b"one", second: JPEG + b"two"}

    _wait(saved, "the bundle with both pictures", bridge)
    bundle = zmd.unpack(path.read_bytes())
    assert bundle.markdown == f"# Trip\n![map](/uploads/{first})\n![photo]({link})\n"
    assert zipfile.ZipFile(path).namelist() == sorted([first, second]) + ["trip.md"]


def test_a_viewer_is_not_sent_into_the_note(bridge: Bridge, tmp_path: Path) -> None:
    """The note id is the key to edit; CodiMD publishes our (aliased) notes under that same id, so a
    view session gets no way into the note rather than the key."""
    tenant_id, folder = new_tenant(bridge.api, tmp_path)
    (folder / "view.md").write_bytes(b"read me\n")
    note = _open(bridge, tenant_id, "view.md", "ann")
    reply = bridge.api.call(bridge.api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=tenant_id, storage="docs", path="view.md", user_id="bob", permission=session_pb.PERMISSION_VIEW,
        editor=EDITOR))
    with httpx.Client(timeout=60, trust_env=False, follow_redirects=False) as client:
        page = client.get(reply.host_page_url)
    assert page.status_code not in (301, 302, 303, 307, 308), page.headers
    assert note not in page.text, page.text


def test_a_webhook_with_a_bad_signature_is_refused(bridge: Bridge, tmp_path: Path) -> None:
    """An attacker who knows a note id forges CodiMD's save webhook (signed with a guessed secret)."""
    tenant_id, folder = new_tenant(bridge.api, tmp_path)
    (folder / "target.md").write_bytes(b"x\n")
    note = _open(bridge, tenant_id, "target.md", "ann")
    body = json.dumps({"id": note, "close": True}).encode()
    for signature in (signatures.sign(b"guessed", body), None, "t=1,v1=00"):
        reply = _post_webhook(bridge, body, signature)
        assert (reply.status_code, reply.json()) == (401, {"error": "unauthorized"}), bridge.log()


def test_an_unknown_note_answers_like_a_bad_signature(bridge: Bridge) -> None:
    """Probing note ids with the right secret (a leaked one) tells nothing about which exist."""
    body = json.dumps({"id": "wp" + "0" * 32, "close": False}).encode()
    reply = _post_webhook(bridge, body, signatures.sign(SECRET.encode(), body))
    assert (reply.status_code, reply.json()) == (401, {"error": "unauthorized"}), bridge.log()


def test_hedgedoc1_without_update_api_or_webhook_still_saves(tmp_path_factory: pytest.TempPathFactory,
                                                             tmp_path: Path) -> None:
    """HedgeDoc 1.x: the note is created with the file's text (POST /new/<alias>), and with no
    webhook at all, edits reach the file through the reconcile poll."""
    workdir = tmp_path_factory.mktemp("hedgedoc1-bridge")
    edge = serve(workdir / "wopi-proxy", *TIMING)
    hedgedoc = CodimdStandin("hedgedoc1", api_key=API_KEY).start()
    api = ControlApi(edge.grpc_address, (workdir / "wopi-proxy" / "data" / "admin.key").read_text().strip())
    try:
        editor_grpc.EditorServiceStub(api.channel).CreateEditor(editor_pb.CreateEditorRequest(
            name="hd1", kind="codimd", app_url=hedgedoc.url, api_key=API_KEY, webhook_secret=SECRET),
            metadata=api.metadata, timeout=30)
        bridge = Bridge(edge=edge, codimd=hedgedoc, api=api)
        tenant_id, folder = new_tenant(api, tmp_path)
        path = folder / "hd.md"
        path.write_bytes(b"# HedgeDoc\n")
        reply = api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
            tenant_id=tenant_id, storage="docs", path="hd.md", user_id="ann", permission=session_pb.PERMISSION_EDIT,
            editor="hd1"))
        with httpx.Client(timeout=60, trust_env=False, follow_redirects=False) as client:
            page = client.get(reply.host_page_url)
        assert page.status_code in (302, 303), f"{page.status_code} {page.text[:300]}\n{bridge.log()}"
        note = urlsplit(page.headers["Location"]).path.strip("/")
        assert hedgedoc.note(note)["content"] == "# HedgeDoc\n"
        hedgedoc.join(note, "ann")
        hedgedoc.edit(note, "# HedgeDoc\nedited without any webhook\n")
        _wait(lambda: path.read_bytes() == b"# HedgeDoc\nedited without any webhook\n", "the polled save", bridge)
    finally:
        api.close()
        hedgedoc.stop()
        edge.stop()
