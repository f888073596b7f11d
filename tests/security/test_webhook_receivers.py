"""Session events and webhooks from a tenant's side: its webhook receiver is the tenant's own
server (its answer is hostile input: the control plane reads at most MAX_ANSWER_BYTES of it, and a
delivery ends within DELIVERY_S however it trickles), and its key can watch events (a stream ends
when the key is revoked). Real processes: `wopi-proxy serve`, a raw TCP receiver, gRPC streams."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from google.protobuf import field_mask_pb2
from wopiproxy.control.v1 import key_service_pb2 as key_pb
from wopiproxy.control.v1 import key_service_pb2_grpc as key_grpc

from tests.support.api import ControlApi, error_reason, new_tenant, open_file, session_pb, tenant_pb
from tests.support.processes import WopiProxyProcess, serve

MiB = 1 << 20


# -- helpers ----------------------------------------------------------------------------------------


def set_webhook(api: ControlApi, tenant_id: str, url: str, secret: str = "s3cret") -> None:
    api.call(api.tenants.UpdateTenant, tenant_pb.UpdateTenantRequest(
        tenant=tenant_pb.Tenant(id=tenant_id, settings=tenant_pb.TenantSettings(webhook_url=url,
                                                                                webhook_secret=secret)),
        update_mask=field_mask_pb2.FieldMask(paths=["settings.webhook_url", "settings.webhook_secret"])))


def tenant_key(api: ControlApi, tenant_id: str) -> tuple[str, str]:
    reply = api.call(key_grpc.KeyServiceStub(api.channel).CreateApiKey,
                     key_pb.CreateApiKeyRequest(tenant_id=tenant_id))
    return str(reply.key_id), str(reply.api_key)


def status_kib(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise AssertionError(field_name)


@dataclass
class HostileReceiver:
    """A raw TCP webhook receiver that reads a POST and then answers with `body_size` bytes sent as
    fast as the control plane takes them (`trickle_s` = 0), or one byte every `trickle_s` seconds
    for ever. It counts what the control plane accepted and notices when it hangs up."""

    body_size: int = 0
    trickle_s: float = 0.0
    sent: int = 0
    requests: int = 0
    hung_up: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    stop_event: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/hook"

    def _accept(self) -> None:
        while not self.stop_event.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            self.requests += 1
            try:
                if self.trickle_s:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    while not self.stop_event.is_set():
                        conn.sendall(b"1\r\nx\r\n")
                        self.sent += 1
                        if self.stop_event.wait(self.trickle_s):
                            return
                else:
                    conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\n"
                                 + f"Content-Length: {self.body_size}\r\n\r\n".encode())
                    block = b"\0" * MiB
                    left = self.body_size
                    while left and not self.stop_event.is_set():
                        n = min(left, len(block))
                        conn.sendall(block[:n])
                        self.sent += n
                        left -= n
                    self.finished.set()
                    conn.settimeout(30)
                    conn.recv(1)  # until the control plane hangs up
            except OSError:
                pass
            self.hung_up.set()

    def stop(self) -> None:
        self.stop_event.set()
        self._sock.close()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[tuple[WopiProxyProcess, ControlApi]]:
    """A server of our own, so that its memory is measured alone."""
    proc = serve(tmp_path / "serve")
    client = ControlApi(proc.grpc_address, (proc.workdir / "data" / "admin.key").read_text().strip())
    yield proc, client
    client.close()
    proc.stop()


# -- a receiver's answer is hostile input ----------------------------------------------------------


def test_a_webhook_receivers_huge_answer_is_not_buffered_by_the_control_plane(
    own_server: tuple[WopiProxyProcess, ControlApi], tmp_path: Path
) -> None:
    proc, api = own_server
    assert proc.process is not None
    pid = proc.process.pid
    hostile = HostileReceiver(body_size=768 * MiB)
    try:
        tenant_id, folder = new_tenant(api, tmp_path / "storage")
        set_webhook(api, tenant_id, hostile.url)
        before = status_kib(pid, "VmRSS")
        open_file(api, tenant_id, folder, "a.docx")  # the "opened" event is POSTed to the receiver
        deadline = time.monotonic() + 60
        while not (hostile.finished.is_set() or hostile.hung_up.is_set()) and time.monotonic() < deadline:
            hostile.finished.wait(0.2)
        peak_growth_mib = (status_kib(pid, "VmHWM") - before) / 1024
    finally:
        hostile.stop()
    # A delivery needs the status line only; the control plane should stop reading after a small cap
    # (socket buffers on loopback hold a few MiB) and its memory should not follow the receiver.
    assert hostile.sent < 32 * MiB and peak_growth_mib < 128, (
        f"the control plane accepted {hostile.sent / MiB:.0f} MiB of a webhook answer and its peak RSS "
        f"grew by {peak_growth_mib:.0f} MiB")


def test_a_trickling_webhook_receiver_is_cut_off_by_a_total_deadline(
    own_server: tuple[WopiProxyProcess, ControlApi], tmp_path: Path
) -> None:
    """httpx's timeout is per read: a receiver sending a byte every 2 s would hold the delivery (and
    its pooled connection) for ever without the delivery's own deadline."""
    proc, api = own_server
    hostile = HostileReceiver(trickle_s=2.0)
    try:
        tenant_id, folder = new_tenant(api, tmp_path / "storage")
        set_webhook(api, tenant_id, hostile.url)
        open_file(api, tenant_id, folder, "a.docx")
        # TIMEOUT_S is 10 s; allow 25 s for a whole delivery to be given up.
        hung_up = hostile.hung_up.wait(25)
    finally:
        sent = hostile.sent
        hostile.stop()
    assert hung_up, f"after 25 s the control plane still reads the trickle ({sent} bytes so far)"


# -- a stream of events, read in a thread ----------------------------------------------------------


class Stream:
    def __init__(self, client: ControlApi, cursor: str = "") -> None:
        self.call = client.sessions.WatchSessionEvents(
            session_pb.WatchSessionEventsRequest(cursor=cursor), metadata=client.metadata)
        self.items: queue.Queue[object] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        try:
            for event in self.call:
                self.items.put(event)
        except grpc.RpcError as error:
            self.items.put(error)

    def next(self, timeout: float = 10.0) -> session_pb.SessionEvent:
        item = self.items.get(timeout=timeout)
        if isinstance(item, grpc.RpcError):
            raise item
        return item  # type: ignore[return-value]


# -- checked and sound (pass): a running stream ends when its own key is revoked ---------------------


def test_a_running_stream_ends_when_its_key_is_revoked(
    server: WopiProxyProcess, api: ControlApi, tenant: tuple[str, Path]
) -> None:
    key_id, secret = tenant_key(api, tenant[0])
    mine = ControlApi(server.grpc_address, secret)
    try:
        stream = Stream(mine)
        open_file(api, *tenant, "a.docx")
        stream.next()
        api.call(key_grpc.KeyServiceStub(api.channel).RevokeApiKey, key_pb.RevokeApiKeyRequest(id=key_id))
        deadline = time.monotonic() + 10
        ended: grpc.RpcError | None = None
        while ended is None and time.monotonic() < deadline:
            open_file(api, *tenant, f"more-{time.monotonic_ns()}.docx")
            try:
                stream.next(timeout=0.5)
            except queue.Empty:
                continue
            except grpc.RpcError as error:
                ended = error
    finally:
        mine.close()
    assert ended is not None and ended.code() == grpc.StatusCode.UNAUTHENTICATED, ended
    assert error_reason(ended) in ("API_KEY_INVALID", "UNAUTHENTICATED"), error_reason(ended)
