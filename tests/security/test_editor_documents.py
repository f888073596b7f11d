"""A tenant key's editors bring discovery documents of up to 5 MiB each (control/editors/fetch.py
MAX_BYTES), 50 editors per tenant. Attack: a tenant adds editors whose documents are that large
(valid discovery, padded), then has the control plane, which every tenant shares, read them again
and again: ListEditors loaded and hashed every document on each call, and every WOPI request of a
session opened with such an editor read its document with the grant, on the writer thread every
tenant's requests go through. A document is read and parsed once per fetch (the registry keeps it
by the editor's row and fetch time); the calls and requests after it read none. A document of
many elements (5 MiB of minimal actions parsed into ~100,000, ~50 MiB kept per document) is
refused at the first element past control.editors.discovery.MAX_ELEMENTS."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from control.editors.discovery import MAX_ELEMENTS
from tests.control.editors.support import document
from tests.support.api import ControlApi, new_tenant, session_pb
from tests.support.deployment import Deployment, start_deployment
from tests.support.http_stub import HttpStub
from tests.support.memory import peak_growth_mib
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import editor_service_pb2_grpc as editor_grpc
from wopiproxy.control.v1 import key_service_pb2 as key_pb
from wopiproxy.control.v1 import key_service_pb2_grpc as key_grpc

PADDING_BYTES = 4 * 1024 * 1024  # under the 5 MiB a fetch accepts
EDITORS = 8
ALLOWED_GROWTH_MIB = 16  # each round below read EDITORS x 4 MiB (and more for its copies) before: 36-71 MiB


def padded_discovery() -> bytes:
    """Collabora's real discovery document, made 4 MiB larger by a comment."""
    real = document("collabora")
    closing = b"</wopi-discovery>"
    assert closing in real
    return real.replace(closing, b"<!-- " + b"x" * PADDING_BYTES + b" -->" + closing)


def discovery_of_many_actions() -> bytes:
    """Collabora's real discovery document with 4 MiB more of minimal, valid actions."""
    real = document("collabora")
    closing = b"</app>"
    action = b'<action name="edit" ext="x%d" urlsrc="https://e/x?"/>'
    many = b"".join(action % n for n in range(PADDING_BYTES // len(action % 0)))
    return real.replace(closing, many + closing, 1)


@pytest.fixture
def discovery_server() -> Iterator[HttpStub]:
    stub = HttpStub()
    stub.routes["/hosting/discovery"] = (200, "text/xml", padded_discovery())
    stub.start()
    yield stub
    stub.stop()


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    deployed = start_deployment("split", tmp_path / "split", control_args=("--egress-allow", "127.0.0.1/32"))
    yield deployed
    deployed.stop()


def tenant(deployment: Deployment) -> tuple[ControlApi, str, Path]:
    """A new tenant: a client with its key, its id, its storage folder."""
    admin = deployment.api()
    tenant_id, folder = new_tenant(admin, deployment.workdir / "storage")
    key = admin.call(key_grpc.KeyServiceStub(admin.channel).CreateApiKey,
                     key_pb.CreateApiKeyRequest(tenant_id=tenant_id, description="tenant")).api_key
    return deployment.api(key), tenant_id, folder


def tenant_with_large_editors(deployment: Deployment, url: str) -> tuple[ControlApi, str, Path]:
    api, tenant_id, folder = tenant(deployment)
    stub = editor_grpc.EditorServiceStub(api.channel)
    for n in range(EDITORS):
        stub.CreateEditor(editor_pb.CreateEditorRequest(
            name=f"big-{n}", tenant_id=tenant_id, discovery_url=url, proof_policy=editor_pb.PROOF_POLICY_OFF),
            metadata=api.metadata, timeout=60)
    return api, tenant_id, folder


def open_sessions(api: ControlApi, tenant_id: str, folder: Path, editors: list[str]) -> list[str]:
    """A session on doc.docx with each editor named (one user each); their WOPI URLs with the token."""
    (folder / "doc.docx").write_bytes(b"hello")
    urls = []
    for n, editor in enumerate(editors):
        reply = api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
            tenant_id=tenant_id, storage="docs", path="doc.docx", user_id=f"u{n}", user_name="Ann",
            permission=session_pb.PERMISSION_EDIT, editor=editor))
        urls.append(f"{reply.session.wopi_src}?access_token={reply.access_token}")
    return urls


def assert_little_memory_held(deployment: Deployment, threads: int, work: Callable[[], None], what: str) -> None:
    """Runs `work` in `threads` threads at once; the control plane's peak memory must stay near."""
    grown = peak_growth_mib(deployment.processes[0].process.pid, lambda: in_threads(threads, work))
    assert grown < ALLOWED_GROWTH_MIB, (
        f"{what} raised the control plane's peak memory by {grown:.0f} MiB\n{deployment.log()}")


def in_threads(count: int, work: Callable[[], None]) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # noqa: BLE001  (re-raised below, in the test's thread)
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    if errors:
        raise errors[0]


def test_listing_a_tenants_large_editors_reads_none_of_their_documents(
    deployment: Deployment, discovery_server: HttpStub
) -> None:
    api, tenant_id, _ = tenant_with_large_editors(deployment, f"{discovery_server.url}/hosting/discovery")
    stub = editor_grpc.EditorServiceStub(api.channel)

    def list_three_times() -> None:
        for _ in range(3):
            listed = stub.ListEditors(editor_pb.ListEditorsRequest(tenant_id=tenant_id), metadata=api.metadata,
                                      timeout=120)
            assert sorted(e.name for e in listed.editors if e.tenant_id) == [f"big-{n}" for n in range(EDITORS)]
            assert all("docx" in e.extensions for e in listed.editors if e.tenant_id), "parsed as before"

    assert_little_memory_held(deployment, 4, list_three_times,
                              f"12 ListEditors calls (4 at a time) over {EDITORS} editors with 4 MiB documents")


def test_wopi_requests_of_a_session_with_a_large_editor_read_none_of_its_document(
    deployment: Deployment, discovery_server: HttpStub
) -> None:
    api, tenant_id, folder = tenant_with_large_editors(deployment, f"{discovery_server.url}/hosting/discovery")
    # One session each: a batch of grants reads each token's rows once.
    urls = open_sessions(api, tenant_id, folder, ["big-0"] * 16)

    def check_file_info_ten_times() -> None:
        url = urls.pop()
        with httpx.Client(timeout=60) as http:
            for _ in range(10):
                answer = http.get(url)
                assert answer.status_code == 200, answer.text

    assert_little_memory_held(deployment, 16, check_file_info_ten_times,
                              "160 CheckFileInfo (16 sessions at a time) of sessions whose editor has a 4 MiB document")


def test_listing_sessions_opened_with_large_editors_reads_none_of_their_documents(
    deployment: Deployment, discovery_server: HttpStub
) -> None:
    """ListSessions names each session's editor: the names only, not the rows with their documents."""
    api, tenant_id, folder = tenant_with_large_editors(deployment, f"{discovery_server.url}/hosting/discovery")
    open_sessions(api, tenant_id, folder, [f"big-{n}" for n in range(EDITORS)])

    def list_three_times() -> None:
        for _ in range(3):
            listed = api.call(api.sessions.ListSessions, session_pb.ListSessionsRequest(tenant_id=tenant_id))
            assert sorted(s.editor for s in listed.sessions) == [f"big-{n}" for n in range(EDITORS)]

    assert_little_memory_held(deployment, 4, list_three_times,
                              f"12 ListSessions calls (4 at a time) over sessions of {EDITORS} editors with 4 MiB documents")


def test_an_editor_whose_document_is_megabytes_of_actions_is_refused(deployment: Deployment) -> None:
    """Parsed, such a document held ~50 MiB in the control plane for as long as it was cached."""
    stub = HttpStub()
    stub.routes["/hosting/discovery"] = (200, "text/xml", discovery_of_many_actions())
    stub.start()
    try:
        api, tenant_id, _ = tenant(deployment)
        editors = editor_grpc.EditorServiceStub(api.channel)
        with pytest.raises(grpc.RpcError) as refused:
            editors.CreateEditor(editor_pb.CreateEditorRequest(
                name="many", tenant_id=tenant_id, discovery_url=f"{stub.url}/hosting/discovery"),
                metadata=api.metadata, timeout=60)
    finally:
        stub.stop()
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION, refused.value.details()
    assert f"more than {MAX_ELEMENTS} elements" in str(refused.value.details())
    listed = editors.ListEditors(editor_pb.ListEditorsRequest(tenant_id=tenant_id), metadata=api.metadata, timeout=60)
    assert not [e for e in listed.editors if e.tenant_id], "nothing was stored"
