"""Driving the Etherpad bridge end to end as a business app and a browser would: a session on a
file with an Etherpad editor, its host page, the plugin's entry route, then a headless pad user.
Helpers of tests/bridge/test_etherpad_bridge.py; every wait polls with a deadline."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
from wopiproxy.control.v1 import audit_service_pb2 as audit_pb
from wopiproxy.control.v1 import audit_service_pb2_grpc as audit_grpc
from wopiproxy.control.v1 import bridge_service_pb2 as bridge_pb
from wopiproxy.control.v1 import bridge_service_pb2_grpc as bridge_grpc
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import editor_service_pb2_grpc as editor_grpc
from wopiproxy.control.v1 import file_service_pb2 as file_pb
from wopiproxy.control.v1 import file_service_pb2_grpc as file_grpc

from tests.support.api import ControlApi, session_pb
from tests.support.etherpad import EtherpadServer, PadUser

# Short timings for the tests (control-plane flags): saves 1 s after a change, polls every second.
FAST_TIMING = ("--bridge-save-debounce", "1", "--bridge-save-max-wait", "3", "--bridge-poll-interval", "1",
               "--bridge-idle-poll-interval", "1", "--bridge-unlock-grace", "2")


def wait_until(check: Callable[[], Any], what: str, timeout: float = 30.0, details: Callable[[], str] = str) -> Any:
    """Polls `check` until it returns something truthy; fails with `what` and `details()`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s\n{details()}")
        time.sleep(0.1)


def add_etherpad_editor(api: ControlApi, etherpad: EtherpadServer, secret: str) -> str:
    """A pool editor of kind etherpad (operator-made: its loopback URL is not a tenant's)."""
    name = "pad-" + secrets.token_hex(3)
    stub = editor_grpc.EditorServiceStub(api.channel)
    stub.CreateEditor(editor_pb.CreateEditorRequest(name=name, kind="etherpad", app_url=etherpad.url,
                                                    api_key=etherpad.api_key, webhook_secret=secret),
                      metadata=api.metadata, timeout=30)
    return name


@dataclass
class Entered:
    """One person inside the pad through our host page."""

    session: session_pb.CreateSessionResponse
    pad_id: str
    app_session_id: str
    user: PadUser | None = None


@dataclass
class BridgeFlow:
    api: ControlApi
    etherpad: EtherpadServer
    editor: str
    tenant_id: str
    folder: Path
    http: httpx.Client
    log: Callable[[], str]
    edge_url: str
    users: list[PadUser] = field(default_factory=list)  # killed after the test

    def close(self) -> None:
        for user in self.users:
            user.close()

    def session(self, path: str, user_id: str, *, view: bool = False, name: str = "") -> session_pb.CreateSessionResponse:
        return self.api.call(self.api.sessions.CreateSession, session_pb.CreateSessionRequest(
            tenant_id=self.tenant_id, storage="docs", path=path, user_id=user_id, user_name=name or user_id.title(),
            permission=session_pb.PERMISSION_VIEW if view else session_pb.PERMISSION_EDIT, editor=self.editor))

    def enter(self, session: session_pb.CreateSessionResponse) -> Entered:
        """The host page (302 to the plugin's entry route with a code), then the plugin (cookie + 302)."""
        page = self.http.get(session.host_page_url, follow_redirects=False)
        assert page.status_code == 302, f"{page.status_code} {page.text[:500]}\n{self.log()}"
        location = page.headers["Location"]
        assert location.startswith(f"{self.etherpad.url}/wopi-proxy/enter?code="), location
        assert session.access_token not in location
        entry = self.http.get(location, follow_redirects=False)
        assert entry.status_code == 302, f"{entry.status_code} {entry.text[:300]}\n{self.etherpad.log()[-3000:]}"
        cookie = entry.headers.get("set-cookie", "")
        session_id = cookie.split("sessionID=", 1)[1].split(";", 1)[0] if "sessionID=" in cookie else ""
        target = urlsplit(entry.headers["Location"])
        pad_id = unquote(target.path.removeprefix("/p/"))
        assert session_id and pad_id, entry.headers
        assert parse_qs(target.query).get("userName")
        return Entered(session=session, pad_id=pad_id, app_session_id=session_id)

    def join(self, path: str, user_id: str, *, view: bool = False) -> Entered:
        entered = self.enter(self.session(path, user_id, view=view))
        entered.user = PadUser.join(self.etherpad, entered.pad_id, session_id=entered.app_session_id,
                                    name=user_id.title())
        self.users.append(entered.user)
        assert not entered.user.denied, entered.user
        return entered

    def documents(self, state: str = "") -> list[bridge_pb.BridgedDocument]:
        """The tenant's live documents (closed ones only when `state` is "closed")."""
        stub = bridge_grpc.BridgeServiceStub(self.api.channel)
        reply = stub.ListBridgedDocuments(bridge_pb.ListBridgedDocumentsRequest(tenant_id=self.tenant_id,
                                                                               state=state, page_size=100),
                                          metadata=self.api.metadata, timeout=15)
        return list(reply.documents)

    def document(self, file_id: str, state: str = "") -> bridge_pb.BridgedDocument | None:
        found = [d for d in self.documents(state) if d.file_id == file_id]
        return max(found, key=lambda d: d.generation) if found else None

    def wait_state(self, file_id: str, state: str, timeout: float = 30.0) -> bridge_pb.BridgedDocument:
        shown = "closed" if state == "closed" else ""
        return wait_until(lambda: (d if (d := self.document(file_id, shown)) and d.state == state else None),
                          f"document in state {state}", timeout, lambda: f"{self.document(file_id)}\n{self.log()}")

    def audit(self, file_id: str) -> list[audit_pb.AuditEvent]:
        stub = audit_grpc.AuditServiceStub(self.api.channel)
        found: list[audit_pb.AuditEvent] = []
        token = ""
        while True:
            reply = stub.ListAuditEvents(audit_pb.ListAuditEventsRequest(tenant_id=self.tenant_id, file_id=file_id,
                                                                         page_size=1000, page_token=token),
                                         metadata=self.api.metadata, timeout=15)
            found += reply.events
            token = reply.next_page_token
            if not token:
                return found

    def versions(self, file_id: str) -> list[file_pb.FileVersion]:
        stub = file_grpc.FileServiceStub(self.api.channel)
        return list(stub.ListFileVersions(file_pb.ListFileVersionsRequest(tenant_id=self.tenant_id, file_id=file_id),
                                          metadata=self.api.metadata, timeout=15).versions)

    def wopi_lock(self, session: session_pb.CreateSessionResponse) -> str:
        """GET_LOCK through WOPI with a session's own token: what any editor would see."""
        reply = self.http.post(f"{session.session.wopi_src}?access_token={session.access_token}",
                               headers={"X-WOPI-Override": "GET_LOCK"})
        assert reply.status_code == 200, reply.text
        return reply.headers.get("X-WOPI-Lock", "")

    def item_version(self, session: session_pb.CreateSessionResponse) -> str:
        reply = self.http.get(f"{session.session.wopi_src}/contents?access_token={session.access_token}")
        assert reply.status_code == 200, reply.text
        return reply.headers.get("X-WOPI-ItemVersion", "")
