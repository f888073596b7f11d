"""Strict input: what a client leaves out or misspells never widens what a request does, and a
request whose HTTP framing two servers could read differently is refused.

Each test names the attack; the ones crossing the network run in both deployment shapes.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from tests.support.api import lock, new_tenant, open_file, put, session_pb
from tests.support.deployment import Deployment

READ_TIMEOUT_S = 15.0


def _rest_deployment(shape: str, deploy: Callable[..., Deployment]) -> Deployment:
    """`serve` has the REST gateway on its HTTP port; a split edge only with --rest-gateway."""
    return deploy(shape, edge_args=("--rest-gateway",) if shape == "split" else ())


def test_misspelt_rest_field_is_refused_not_ignored(shape: str, deploy: Callable[..., Deployment]) -> None:
    """A misspelt member ("permision") dropped in silence would run the request with the default
    in its place; the gateway answers 400 naming it, and nothing is created."""
    deployment = _rest_deployment(shape, deploy)
    api = deployment.api()
    tenant_id, folder = new_tenant(api, deployment.workdir / "storage")
    (folder / "a.docx").write_bytes(b"x")
    reply = httpx.post(f"{deployment.http_url}/sessions/create", timeout=30,
                       headers={"Authorization": f"Bearer {deployment.admin_key}"},
                       json={"tenant_id": tenant_id, "storage": "docs", "path": "a.docx", "user_id": "u1",
                             "permision": "PERMISSION_EDIT"})
    assert reply.status_code == 400, reply.text + deployment.log()
    error = reply.json()["error"]
    assert "permision" in error["message"]
    violations = next(d for d in error["details"] if d["@type"].endswith("BadRequest"))["field_violations"]
    assert violations[0]["field"] == "permision"
    listed = api.call(api.sessions.ListSessions, session_pb.ListSessionsRequest(tenant_id=tenant_id))
    assert list(listed.sessions) == []


def test_session_without_a_permission_cannot_write(shape: str, deploy: Callable[..., Deployment]) -> None:
    """Least privilege: an application that forgets the permission opens a view session, so the
    token it hands to an editor (or leaks) cannot overwrite the file."""
    deployment = deploy(shape)
    api = deployment.api()
    f = open_file(api, *new_tenant(api, deployment.workdir / "storage"), "a.docx", b"original",
                  permission=session_pb.PERMISSION_UNSPECIFIED)
    info = httpx.get(f.url(), timeout=30)
    assert info.status_code == 200, info.text + deployment.log()
    assert info.json()["UserCanWrite"] is False and info.json()["ReadOnly"] is True
    with httpx.Client(timeout=30) as http:
        assert http.post(f.url(), headers={"X-WOPI-Override": "LOCK", "X-WOPI-Lock": "L"}).status_code == 401
        refused = put(http, f, b"overwritten", lock_id="L")
    assert refused.status_code == 401, refused.text
    assert f.local_path.read_bytes() == b"original"
    session = api.call(api.sessions.GetSession, session_pb.GetSessionRequest(id=f.session_id))
    assert session.permission == session_pb.PERMISSION_VIEW


def test_rest_and_cli_sessions_without_a_permission_are_view(deploy: Callable[..., Deployment]) -> None:
    """The same least-privilege default through the REST gateway and the CLI (no --permission)."""
    deployment = deploy("serve")
    api = deployment.api()
    tenant_id, folder = new_tenant(api, deployment.workdir / "storage")
    (folder / "a.docx").write_bytes(b"x")
    created = httpx.post(f"{deployment.http_url}/sessions/create", timeout=30,
                         headers={"Authorization": f"Bearer {deployment.admin_key}"},
                         json={"tenant_id": tenant_id, "storage": "docs", "path": "a.docx", "user_id": "u1"})
    assert created.status_code == 200, created.text + deployment.log()
    assert created.json()["session"]["permission"] == "PERMISSION_VIEW"
    cli = subprocess.run([sys.executable, "-m", "cli.main", "--control", deployment.grpc_address, "--api-key",
                          deployment.admin_key, "sessions", "create", "--tenant-id", tenant_id, "--storage", "docs",
                          "--path", "a.docx", "--user-id", "u2", "--json"],
                         cwd=deployment.workdir, capture_output=True, text=True, timeout=60, check=False)
    assert cli.returncode == 0, cli.stderr
    assert '"permission": "PERMISSION_VIEW"' in cli.stdout, cli.stdout


def _raw_exchange(http_url: str, raw: bytes) -> tuple[bytes, bool]:
    """Sends `raw` and reads until the server closes; (what came back, whether it closed)."""
    address = urlsplit(http_url)
    with socket.create_connection((address.hostname, address.port), timeout=READ_TIMEOUT_S) as sock:
        sock.sendall(raw)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            return received, False
    return received, True


def _smuggling_request(f_url: str, framing: bytes, body: bytes) -> bytes:
    target = f_url.split("://", 1)[1].split("/", 1)[1]
    return (f"POST /{target} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-WOPI-Override: PUT\r\nX-WOPI-Lock: test-lock-1\r\n"
            ).encode() + framing + b"\r\n" + body


def test_content_length_with_transfer_encoding_is_refused(shape: str, deploy: Callable[..., Deployment]) -> None:
    """Request smuggling (CL.TE): a front proxy going by Content-Length and the edge by the chunked
    encoding disagree on where the request ends; the rest would be read as a second, smuggled
    request. Refused with 400, the connection closed, the smuggled request never answered."""
    deployment = deploy(shape)
    api = deployment.api()
    f = open_file(api, *new_tenant(api, deployment.workdir / "storage"), "a.docx", b"original")
    with httpx.Client(timeout=30) as http:
        lock(http, f)
    smuggled = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    body = b"b\r\noverwritten\r\n0\r\n\r\n" + smuggled
    raw = _smuggling_request(f.url("/contents"), f"Content-Length: {len(body)}\r\nTransfer-Encoding: chunked\r\n"
                             .encode(), body)
    received, closed = _raw_exchange(deployment.http_url, raw)
    assert received.startswith(b"HTTP/1.1 400"), received[:300] + deployment.log().encode()
    assert received.count(b"HTTP/1.1 ") == 1, received  # the smuggled GET got no answer
    assert closed, f"the connection was kept open after {received[:300]!r}"
    assert f.local_path.read_bytes() == b"original"


def test_conflicting_content_lengths_are_refused(shape: str, deploy: Callable[..., Deployment]) -> None:
    """Request smuggling (CL.CL): two Content-Length values, each server picking another one."""
    deployment = deploy(shape)
    api = deployment.api()
    f = open_file(api, *new_tenant(api, deployment.workdir / "storage"), "a.docx", b"original")
    with httpx.Client(timeout=30) as http:
        lock(http, f)
    raw = _smuggling_request(f.url("/contents"), b"Content-Length: 4\r\nContent-Length: 11\r\n", b"overwritten")
    received, closed = _raw_exchange(deployment.http_url, raw)
    assert received.startswith(b"HTTP/1.1 400"), received[:300] + deployment.log().encode()
    assert closed, f"the connection was kept open after {received[:300]!r}"
    assert f.local_path.read_bytes() == b"original"
