"""Session events over the real control plane and edge: WatchSessionEvents (order, cursors, resume,
tenant isolation), `wopi-proxy events watch`, and webhooks POSTed to a real HTTP receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import grpc
import httpx
import pytest
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2, status_pb2
from wopiproxy.control.v1 import key_service_pb2 as key_pb
from wopiproxy.control.v1 import key_service_pb2_grpc as key_grpc

from tests.support.api import (
    LOCK,
    ControlApi,
    OpenFile,
    error_reason,
    lock,
    new_tenant,
    open_file,
    put,
    session_pb,
    tenant_pb,
)
from tests.support.processes import WopiProxyProcess
from tests.support.ports import unused_port

OPENED = session_pb.SESSION_EVENT_TYPE_OPENED
LOCKED = session_pb.SESSION_EVENT_TYPE_LOCKED
SAVED = session_pb.SESSION_EVENT_TYPE_SAVED
UNLOCKED = session_pb.SESSION_EVENT_TYPE_UNLOCKED
CLOSED = session_pb.SESSION_EVENT_TYPE_CLOSED
WAIT_S = 10.0  # how long an expected event may take to arrive (they come within a second)

# -- local helpers --------------------------------------------------------------------------------


class EventStream:
    """WatchSessionEvents read by a thread into a queue, so a test can wait with a timeout."""

    def __init__(self, client: ControlApi, *, tenant_id: str = "", cursor: str = "") -> None:
        request = session_pb.WatchSessionEventsRequest(tenant_id=tenant_id, cursor=cursor)
        self._call = client.sessions.WatchSessionEvents(request, metadata=client.metadata)
        self._items: queue.Queue[session_pb.SessionEvent | grpc.RpcError] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            for event in self._call:
                self._items.put(event)
        except grpc.RpcError as error:
            self._items.put(error)

    def next(self, timeout: float = WAIT_S) -> session_pb.SessionEvent:
        item = self._items.get(timeout=timeout)
        if isinstance(item, grpc.RpcError):
            raise item
        return item

    def take(self, count: int) -> list[session_pb.SessionEvent]:
        return [self.next() for _ in range(count)]

    def close(self) -> None:
        self._call.cancel()
        self._thread.join(5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def unlock(http: httpx.Client, f: OpenFile) -> None:
    reply = http.post(f.url(), headers={"X-WOPI-Override": "UNLOCK", "X-WOPI-Lock": LOCK})
    assert reply.status_code == 200, reply.text


def close(api: ControlApi, f: OpenFile) -> None:
    api.call(api.sessions.CloseSession, session_pb.CloseSessionRequest(id=f.session_id))


def edit_and_close(api: ControlApi, http: httpx.Client, f: OpenFile) -> None:
    """What an editor and the application do after opening: lock, save, unlock, then close."""
    lock(http, f)
    assert put(http, f, b"saved by the editor").status_code == 200
    unlock(http, f)
    close(api, f)


def watch_error(client: ControlApi, **request: str) -> grpc.RpcError:
    with EventStream(client, **request) as stream, pytest.raises(grpc.RpcError) as caught:
        stream.next()
    return caught.value


def violated_fields(error: grpc.RpcError) -> list[str]:
    for key, value in error.trailing_metadata() or ():  # type: ignore[attr-defined]
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                bad_request = error_details_pb2.BadRequest()
                if detail.Unpack(bad_request):
                    return [v.field for v in bad_request.field_violations]
    return []


def set_webhook(api: ControlApi, tenant_id: str, url: str, secret: str = "") -> None:
    api.call(api.tenants.UpdateTenant, tenant_pb.UpdateTenantRequest(
        tenant=tenant_pb.Tenant(id=tenant_id, settings=tenant_pb.TenantSettings(webhook_url=url,
                                                                                webhook_secret=secret)),
        update_mask=field_mask_pb2.FieldMask(paths=["settings.webhook_url", "settings.webhook_secret"])))


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    arrived: float  # time.monotonic()

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1:0 recording the POSTs it gets. It answers `statuses` in turn
    (then 200); with `hang`, it holds every request until released."""

    statuses: list[int] = field(default_factory=list)
    hang: bool = False
    deliveries: list[Delivery] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.arrived:
                    receiver.deliveries.append(Delivery(dict(self.headers), body, time.monotonic()))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.arrived.notify_all()
                if receiver.hang:
                    receiver.released.wait(30)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/wopi"

    def wait_for(self, count: int, timeout: float = WAIT_S) -> list[Delivery]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.deliveries) >= count, timeout)
            assert len(self.deliveries) >= count, f"{len(self.deliveries)} of {count} deliveries arrived"
            return list(self.deliveries)

    def stop(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def webhook_tenant(api: ControlApi, tenant: tuple[str, Path]) -> Iterator[tuple[str, Path]]:
    """The `tenant` fixture's tenant; its webhook is switched off after the test."""
    yield tenant
    set_webhook(api, tenant[0], "")


def verify_signature(secret: str, delivery: Delivery) -> int:
    """Checks X-Wopi-Proxy-Signature "t=<ts>,v1=<hex>" as a receiver would; returns t."""
    parts = dict(item.split("=", 1) for item in delivery.headers["X-Wopi-Proxy-Signature"].split(","))
    signed = f"{parts['t']}.".encode() + delivery.body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    return int(parts["t"])


def tenant_key(api: ControlApi, tenant_id: str) -> str:
    reply = api.call(key_grpc.KeyServiceStub(api.channel).CreateApiKey,
                     key_pb.CreateApiKeyRequest(tenant_id=tenant_id))
    return str(reply.api_key)


# -- WatchSessionEvents ---------------------------------------------------------------------------


def test_watch_streams_a_sessions_events_in_order_each_with_a_cursor(api: ControlApi, tenant, http) -> None:
    with EventStream(api, tenant_id=tenant[0], cursor="0") as stream:
        f = open_file(api, *tenant, "a.docx")
        opened = stream.next()
        edit_and_close(api, http, f)
        events = [opened, *stream.take(4)]
    assert [e.type for e in events] == [OPENED, LOCKED, SAVED, UNLOCKED, CLOSED]
    assert {(e.tenant_id, e.session_id, e.file_id, e.user_id) for e in events} == {
        (tenant[0], f.session_id, f.file_id, "u1")}
    assert all(e.cursor for e in events) and len({e.cursor for e in events}) == 5
    assert events[2].version > events[0].version


def test_reconnecting_with_the_last_cursor_resumes_without_loss_or_duplicates(
    api: ControlApi, tenant, http
) -> None:
    with EventStream(api, tenant_id=tenant[0], cursor="0") as first:
        f = open_file(api, *tenant, "a.docx")
        last = first.next()
    lock(http, f)  # while nobody watches
    assert put(http, f, b"offline save").status_code == 200
    unlock(http, f)
    with EventStream(api, tenant_id=tenant[0], cursor=last.cursor) as second:
        missed = second.take(3)
        close(api, f)
        after = second.next()
    assert [e.type for e in missed] == [LOCKED, SAVED, UNLOCKED]
    assert after.type == CLOSED
    assert len({last.cursor, *(e.cursor for e in missed), after.cursor}) == 5


def test_cursor_zero_replays_from_the_start(api: ControlApi, tenant) -> None:
    f = open_file(api, *tenant, "a.docx")
    close(api, f)
    with EventStream(api, tenant_id=tenant[0], cursor="0") as stream:
        events = stream.take(2)
    assert [(e.type, e.session_id) for e in events] == [(OPENED, f.session_id), (CLOSED, f.session_id)]


def test_empty_cursor_starts_with_new_events_only(api: ControlApi, tenant) -> None:
    before = open_file(api, *tenant, "before.docx")
    with EventStream(api, tenant_id=tenant[0], cursor="") as stream:
        # The stream's starting point is fixed when the server starts it, which the client cannot
        # see: open sessions until one is reported; none opened before the call may be.
        for attempt in range(5):
            open_file(api, *tenant, f"after-{attempt}.docx")
            try:
                first = stream.next(timeout=2)
                break
            except queue.Empty:
                continue
        else:
            pytest.fail("no event arrived")
    assert first.session_id != before.session_id


def test_another_tenants_events_never_appear(api: ControlApi, tenant, tmp_path: Path) -> None:
    other = new_tenant(api, tmp_path / "other")
    close(api, open_file(api, *other, "theirs.docx"))
    with EventStream(api, tenant_id=tenant[0], cursor="0") as stream:
        close(api, open_file(api, *other, "theirs-again.docx"))
        mine = open_file(api, *tenant, "mine.docx")
        events = [stream.next()]
        close(api, mine)
        events.append(stream.next())
    assert [(e.tenant_id, e.session_id, e.type) for e in events] == [
        (tenant[0], mine.session_id, OPENED), (tenant[0], mine.session_id, CLOSED)]


def test_a_tenant_key_may_omit_the_tenant_id(server: WopiProxyProcess, api: ControlApi, tenant) -> None:
    backend = ControlApi(server.grpc_address, tenant_key(api, tenant[0]))
    try:
        with EventStream(backend, cursor="0") as stream:
            f = open_file(api, *tenant, "a.docx")
            event = stream.next()
    finally:
        backend.close()
    assert (event.type, event.tenant_id, event.session_id) == (OPENED, tenant[0], f.session_id)


def test_a_tenant_key_watching_another_tenant_gets_not_found(
    server: WopiProxyProcess, api: ControlApi, tenant, tmp_path: Path
) -> None:
    other = new_tenant(api, tmp_path / "other")
    backend = ControlApi(server.grpc_address, tenant_key(api, tenant[0]))
    try:
        error = watch_error(backend, tenant_id=other[0], cursor="0")
    finally:
        backend.close()
    assert (error.code(), error_reason(error)) == (grpc.StatusCode.NOT_FOUND, "TENANT_NOT_FOUND")


def test_the_admin_key_without_tenant_id_is_invalid_argument(api: ControlApi) -> None:
    error = watch_error(api, cursor="0")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["tenant_id"]


def test_a_cursor_this_server_did_not_issue_is_invalid_argument(api: ControlApi, tenant) -> None:
    error = watch_error(api, tenant_id=tenant[0], cursor="not-a-cursor")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["cursor"]


def test_a_cursor_with_one_character_changed_is_invalid_argument(api: ControlApi, tenant) -> None:
    with EventStream(api, tenant_id=tenant[0], cursor="0") as stream:
        open_file(api, *tenant, "a.docx")
        cursor = stream.next().cursor
    changed = cursor[:5] + ("B" if cursor[5] == "A" else "A") + cursor[6:]
    error = watch_error(api, tenant_id=tenant[0], cursor=changed)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["cursor"]


def test_a_tenants_cursors_do_not_count_other_tenants_events(server: WopiProxyProcess, api: ControlApi,
                                                              tenant, tmp_path: Path) -> None:
    """Attack: the gap between two of a tenant's cursors, were they the deployment-wide event ids,
    would count every other tenant's events in between (their volume and timing). Cursors are
    opaque: not numbers, nothing to subtract; resuming from one still works."""
    other = new_tenant(api, tmp_path / "other")
    mine = ControlApi(server.grpc_address, tenant_key(api, tenant[0]))
    try:
        with EventStream(mine, cursor="0") as stream:
            open_file(api, *tenant, "one.docx")
            first = stream.next()
            for i in range(7):
                open_file(api, *other, f"theirs-{i}.docx")
            open_file(api, *tenant, "two.docx")
            second = stream.next()
        assert not first.cursor.isdigit() and not second.cursor.isdigit(), (first.cursor, second.cursor)
        with EventStream(mine, cursor=first.cursor) as resumed:
            assert resumed.next().session_id == second.session_id
    finally:
        mine.close()


def test_events_carry_the_sessions_account_and_origin(api: ControlApi, tenant) -> None:
    (tenant[1] / "a.docx").write_bytes(b"x")
    with EventStream(api, tenant_id=tenant[0], cursor="0") as stream:
        api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
            tenant_id=tenant[0], storage="docs", path="a.docx", user_id="u1", account="erp-prod",
            origin={"page_id": "p-9"}, origin_connection_id="c-1"))
        event = stream.next()
    assert (event.account, dict(event.origin)) == ("erp-prod", {"page_id": "p-9", "connection_id": "c-1"})


def test_cli_events_watch_prints_json_lines(server: WopiProxyProcess, api: ControlApi, tenant) -> None:
    f = open_file(api, *tenant, "a.docx")
    close(api, f)
    environment = {**os.environ, "WOPI_PROXY_CONTROL": server.grpc_address}
    environment.pop("WOPI_PROXY_API_KEY", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "events", "watch", "--tenant-id", tenant[0], "--cursor", "0",
         "--json"],
        cwd=server.workdir, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    def pump() -> None:
        for line in process.stdout or ():
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        printed = [json.loads(lines.get(timeout=30)) for _ in range(2)]
    finally:
        process.kill()
        process.wait(10)
    assert [(e["type"], e["session_id"], e["tenant_id"]) for e in printed] == [
        ("SESSION_EVENT_TYPE_OPENED", f.session_id, tenant[0]),
        ("SESSION_EVENT_TYPE_CLOSED", f.session_id, tenant[0])]
    assert all(e["cursor"] for e in printed)


# -- webhooks -------------------------------------------------------------------------------------


def test_webhook_posts_a_signed_json_event(api: ControlApi, webhook_tenant, receiver: Receiver) -> None:
    set_webhook(api, webhook_tenant[0], receiver.url, "s3cret")
    f = open_file(api, *webhook_tenant, "a.docx")
    delivery = receiver.wait_for(1)[0]
    assert delivery.headers["Content-Type"] == "application/json"
    assert {k: delivery.event[k] for k in ("type", "tenant_id", "session_id", "file_id", "user_id")} == {
        "type": "opened", "tenant_id": webhook_tenant[0], "session_id": f.session_id, "file_id": f.file_id,
        "user_id": "u1"}
    assert delivery.event["cursor"]
    assert abs(verify_signature("s3cret", delivery) - time.time()) < 300


def test_a_webhooks_event_id_is_the_events_opaque_cursor(api: ControlApi, webhook_tenant,
                                                         receiver: Receiver) -> None:
    """The idempotency key is the cursor a stream shows for the same event, and like it tells the
    receiver nothing of other tenants' events (no deployment-wide number)."""
    set_webhook(api, webhook_tenant[0], receiver.url)
    f = open_file(api, *webhook_tenant, "a.docx")
    with EventStream(api, tenant_id=webhook_tenant[0], cursor="0") as stream:
        streamed = stream.next()
        while streamed.session_id != f.session_id:
            streamed = stream.next()
    delivery = receiver.wait_for(1)[0]
    assert delivery.headers["X-Wopi-Proxy-Event-Id"] == delivery.event["cursor"] == streamed.cursor
    assert not streamed.cursor.isdigit()


def _set_enabled(api: ControlApi, tenant_id: str, enabled: bool) -> None:
    api.call(api.tenants.UpdateTenant, tenant_pb.UpdateTenantRequest(
        tenant=tenant_pb.Tenant(id=tenant_id, enabled=enabled),
        update_mask=field_mask_pb2.FieldMask(paths=["enabled"])))


def test_a_disabled_tenants_webhooks_are_held_and_resume_in_order_when_it_is_enabled(
        api: ControlApi, webhook_tenant, receiver: Receiver, tmp_path: Path) -> None:
    """An operator who disables a tenant stops what is sent on its behalf; nothing is lost."""
    other = new_tenant(api, tmp_path / "other")
    set_webhook(api, webhook_tenant[0], receiver.url)
    set_webhook(api, other[0], receiver.url)
    try:
        f = open_file(api, *webhook_tenant, "a.docx")
        receiver.wait_for(1)
        _set_enabled(api, webhook_tenant[0], False)
        close(api, f)  # the operator closes the disabled tenant's session: an event to hold
        # Two later delivery rounds reach the other tenant (rounds are at least 0.25 s apart).
        for i in range(2):
            open_file(api, *other, f"theirs-{i}.docx")
            receiver.wait_for(2 + i)
        held = [(d.event["tenant_id"], d.event["type"]) for d in receiver.deliveries]
        assert (webhook_tenant[0], "closed") not in held, held
        _set_enabled(api, webhook_tenant[0], True)
        receiver.wait_for(4)
        mine = [(d.event["type"], d.event["session_id"]) for d in receiver.deliveries
                if d.event["tenant_id"] == webhook_tenant[0]]
        assert mine == [("opened", f.session_id), ("closed", f.session_id)]
    finally:
        set_webhook(api, other[0], "")


def test_webhook_signature_does_not_verify_with_another_secret(
    api: ControlApi, webhook_tenant, receiver: Receiver
) -> None:
    set_webhook(api, webhook_tenant[0], receiver.url, "right")
    open_file(api, *webhook_tenant, "a.docx")
    with pytest.raises(AssertionError):
        verify_signature("wrong", receiver.wait_for(1)[0])


def test_webhook_delivers_a_sessions_events_in_order(
    api: ControlApi, webhook_tenant, receiver: Receiver, http
) -> None:
    set_webhook(api, webhook_tenant[0], receiver.url, "s3cret")
    f = open_file(api, *webhook_tenant, "a.docx")
    edit_and_close(api, http, f)
    deliveries = receiver.wait_for(5)
    assert [d.event["type"] for d in deliveries] == ["opened", "locked", "saved", "unlocked", "closed"]
    assert {d.event["session_id"] for d in deliveries} == {f.session_id}


def test_webhook_receives_only_events_after_it_was_set(api: ControlApi, webhook_tenant,
                                                       receiver: Receiver) -> None:
    f = open_file(api, *webhook_tenant, "a.docx")
    set_webhook(api, webhook_tenant[0], receiver.url, "s3cret")
    close(api, f)
    first = receiver.wait_for(1)[0]
    assert (first.event["type"], first.event["session_id"]) == ("closed", f.session_id)


def test_a_failed_delivery_is_retried_with_backoff_and_order_is_kept(
    api: ControlApi, webhook_tenant, receiver: Receiver
) -> None:
    receiver.statuses = [500, 500]
    set_webhook(api, webhook_tenant[0], receiver.url, "s3cret")
    f = open_file(api, *webhook_tenant, "a.docx")
    close(api, f)
    deliveries = receiver.wait_for(4, timeout=20)
    assert [d.event["type"] for d in deliveries] == ["opened", "opened", "opened", "closed"]
    assert deliveries[0].body == deliveries[1].body == deliveries[2].body
    for delivery in deliveries:
        verify_signature("s3cret", delivery)
    # 1 s, then 2 s, after each failure (lower bounds only: a busy machine may be later).
    assert deliveries[1].arrived - deliveries[0].arrived >= 0.9
    assert deliveries[2].arrived - deliveries[1].arrived >= 1.9


def test_a_receiver_that_is_down_never_blocks_wopi_requests(api: ControlApi, webhook_tenant, http) -> None:
    set_webhook(api, webhook_tenant[0], f"http://127.0.0.1:{unused_port()}/hooks", "s3cret")
    f = open_file(api, *webhook_tenant, "a.docx")
    assert http.get(f.url()).status_code == 200
    edit_and_close(api, http, f)
    assert f.local_path.read_bytes() == b"saved by the editor"


def test_a_hanging_receiver_never_blocks_wopi_requests(api: ControlApi, webhook_tenant, http) -> None:
    hanging = Receiver(hang=True)
    try:
        set_webhook(api, webhook_tenant[0], hanging.url, "s3cret")
        f = open_file(api, *webhook_tenant, "a.docx")
        hanging.wait_for(1)  # the "opened" POST is now held by the receiver
        assert http.get(f.url()).status_code == 200
        edit_and_close(api, http, f)
        assert f.local_path.read_bytes() == b"saved by the editor"
    finally:
        set_webhook(api, webhook_tenant[0], "")
        hanging.stop()


def test_a_hanging_receiver_of_one_tenant_does_not_hold_up_another_tenants_webhooks(
    api: ControlApi, webhook_tenant, receiver: Receiver, tmp_path: Path
) -> None:
    other = new_tenant(api, tmp_path / "other")
    hanging = Receiver(hang=True)
    try:
        set_webhook(api, other[0], hanging.url, "s3cret")
        set_webhook(api, webhook_tenant[0], receiver.url, "s3cret")
        open_file(api, *other, "theirs.docx")
        hanging.wait_for(1)
        f = open_file(api, *webhook_tenant, "mine.docx")
        # Deliveries take well under a second (8 s allows for a loaded machine); the dispatcher
        # waits 10 s for a hanging receiver, so a delivery held up behind it still fails this.
        assert receiver.wait_for(1, timeout=8)[0].event["session_id"] == f.session_id
    finally:
        set_webhook(api, other[0], "")
        hanging.stop()
