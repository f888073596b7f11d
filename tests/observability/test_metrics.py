"""Prometheus metrics of real deployments: exact increments after real WOPI traffic (deltas of two
scrapes), bounded labels only, and both processes' series reachable in both shapes."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from control.editors.proof import dotnet_ticks
from tests.observability.scrape import delta, label_values, names, poll, scrape, value
from tests.observability.traffic import CONTENT, SAVED, open_one, send
from tests.support.api import new_tenant, session_pb
from tests.support.deployment import Deployment
from tests.support.http_stub import HttpStub
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import editor_service_pb2_grpc as editor_grpc

EDGE_SERVICE = "EdgeService"


def _pages(deployment: Deployment) -> tuple[str, str]:
    """(the edge's /metrics, the control plane's --metrics-port page)."""
    control = deployment.processes[0]
    return f"{deployment.http_url}/metrics", f"http://127.0.0.1:{control.ports['metrics_port']}/metrics"


def test_wopi_traffic_counts_exactly(shape: str, deploy: Callable[..., Deployment]) -> None:
    """After CheckFileInfo, LOCK, PutFile, GetFile, a lock conflict and a bad token, every series
    moved by exactly what that traffic did."""
    deployment = deploy(shape, control_args=("--metrics-port", "0"))
    edge_page, control_page = _pages(deployment)
    f = open_one(deployment)
    edge_before, control_before = scrape(edge_page), scrape(control_page)
    send(deployment, f)
    edge, control = scrape(edge_page), scrape(control_page)
    log = deployment.log()

    requests = "wopi_proxy_wopi_requests_total"
    for operation, status, count in [("CheckFileInfo", "200", 1), ("CheckFileInfo", "401", 1), ("Lock", "200", 1),
                                     ("Lock", "409", 1), ("PutFile", "200", 1), ("GetFile", "200", 1)]:
        assert delta(edge_before, edge, requests, operation=operation, status=status) == count, (operation, status, log)
    assert delta(edge_before, edge, "wopi_proxy_wopi_request_duration_seconds_count", operation="CheckFileInfo") == 2
    assert delta(edge_before, edge, "wopi_proxy_wopi_request_duration_seconds_count", operation="Lock") == 2
    assert delta(edge_before, edge, "wopi_proxy_wopi_received_bytes_total", operation="PutFile") == len(SAVED)
    assert delta(edge_before, edge, "wopi_proxy_wopi_sent_bytes_total", operation="GetFile") == len(SAVED)
    assert delta(edge_before, edge, "wopi_proxy_wopi_lock_conflicts_total", operation="Lock") == 1
    assert delta(edge_before, edge, "wopi_proxy_wopi_lock_conflicts_total", operation="PutFile") == 0

    # The edge's side of the control-plane calls: 6 authorizations, 1 write (begun, then committed), 2 refused.
    rpc = "wopi_proxy_edge_control_rpc_duration_seconds_count"
    assert delta(edge_before, edge, rpc, method="AuthorizeWopiRequest") == 6, log
    assert delta(edge_before, edge, rpc, method="BeginWrite") == 1, log
    assert delta(edge_before, edge, rpc, method="CommitWrite") == 1, log
    errors = "wopi_proxy_edge_control_rpc_errors_total"
    assert delta(edge_before, edge, errors, method="AuthorizeWopiRequest", code="PERMISSION_DENIED") == 1
    assert delta(edge_before, edge, errors, method="AuthorizeWopiRequest", code="FAILED_PRECONDITION") == 1

    # The control plane's side of the same calls.
    rpcs = "wopi_proxy_control_rpcs_total"
    for method, code, count in [("AuthorizeWopiRequest", "OK", 4), ("AuthorizeWopiRequest", "PERMISSION_DENIED", 1),
                                ("AuthorizeWopiRequest", "FAILED_PRECONDITION", 1), ("BeginWrite", "OK", 1),
                                ("CommitWrite", "OK", 1)]:
        assert delta(control_before, control, rpcs, service=EDGE_SERVICE, method=method, code=code) == count, (
            method, code, log)
    assert delta(control_before, control, "wopi_proxy_control_rpc_duration_seconds_count", service=EDGE_SERVICE,
                 method="AuthorizeWopiRequest") == 6
    assert len(CONTENT) != len(SAVED)  # the byte counts above cannot pass by counting the old content


def test_open_sessions_gauge_follows_open_and_close(shape: str, deploy: Callable[..., Deployment]) -> None:
    """wopi_proxy_control_sessions_open counts the sessions open now: up on open, down on close."""
    deployment = deploy(shape, control_args=("--metrics-port", "0"))
    _, control_page = _pages(deployment)
    gauge = "wopi_proxy_control_sessions_open"
    assert value(scrape(control_page), gauge) == 0
    f = open_one(deployment)
    g = open_one(deployment)
    samples = poll(lambda: scrape(control_page), lambda s: value(s, gauge) == 2)
    assert value(samples, gauge) == 2, deployment.log()
    api = deployment.api()
    api.call(api.sessions.CloseSession, session_pb.CloseSessionRequest(id=f.session_id))
    samples = poll(lambda: scrape(control_page), lambda s: value(s, gauge) == 1)
    assert value(samples, gauge) == 1, deployment.log()
    assert g.session_id
    assert value(samples, "wopi_proxy_control_webhook_backlog_events") == 0


def test_no_label_names_a_tenant_file_session_or_token(shape: str, deploy: Callable[..., Deployment]) -> None:
    """Labels are bounded sets: after traffic (an unknown override included) no label value is a
    tenant id, file id, session id, user id or token, and a made-up override counts as unknown."""
    deployment = deploy(shape, control_args=("--metrics-port", "0"))
    edge_page, control_page = _pages(deployment)
    f = open_one(deployment)
    before = scrape(edge_page)
    send(deployment, f)
    reply = httpx.post(f.url(), headers={"X-WOPI-Override": f"MADE_UP_{f.tenant_id}"}, timeout=15)
    assert reply.status_code == 501, reply.text
    edge, control = scrape(edge_page), scrape(control_page)
    assert delta(before, edge, "wopi_proxy_wopi_requests_total", operation="unknown", status="501") == 1
    secrets = {f.tenant_id, f.file_id, f.session_id, f.token, "u1", f"MADE_UP_{f.tenant_id}"}
    for page in (edge, control):
        found = {v for v in label_values(page) if any(s in v for s in secrets)}
        assert not found, found


def test_each_shape_exposes_both_processes_series(shape: str, deploy: Callable[..., Deployment]) -> None:
    """`serve` shows edge and control series on the edge's /metrics (one process); the split
    control plane shows its own on --metrics-port, the split edge its own on /metrics."""
    deployment = deploy(shape, control_args=("--metrics-port", "0"))
    edge_page, control_page = _pages(deployment)
    edge, control = names(scrape(edge_page)), names(scrape(control_page))
    assert "wopi_proxy_control_sessions_open" in control
    assert "process_cpu_seconds_total" in edge and "process_cpu_seconds_total" in control
    assert any(n.startswith("wopi_proxy_wopi_") for n in edge) or "wopi_proxy_edge_control_rpc_errors_total" in edge
    if shape == "serve":
        assert "wopi_proxy_control_sessions_open" in edge
    else:
        assert "wopi_proxy_control_sessions_open" not in edge
        assert not any(n.startswith("wopi_proxy_wopi_") for n in control)


def test_metrics_port_is_off_unless_asked(deploy: Callable[..., Deployment]) -> None:
    """Without --metrics-port the control plane opens no listener beyond gRPC."""
    deployment = deploy("split")
    assert "metrics_port" not in deployment.processes[0].ports


VALIDATOR = Path(__file__).resolve().parents[3] / "shared" / "wopi-validator" / "validator.py"


@pytest.fixture
def discovery() -> Iterator[HttpStub]:
    """A discovery document advertising proof keys (the WOPI validator's)."""
    stub = HttpStub().start()
    xml = subprocess.run([sys.executable, str(VALIDATOR), "--print-discovery"], capture_output=True,
                         check=True).stdout
    stub.routes["/hosting/discovery"] = (200, "text/xml", xml)
    yield stub
    stub.stop()


def test_proof_failures_count_by_reason(shape: str, deploy: Callable[..., Deployment], discovery: HttpStub) -> None:
    """Requests of an editor that must sign: unsigned, badly signed and stale ones each count under
    their own reason (and as 500s of their operation, as Office expects)."""
    deployment = deploy(shape)
    api = deployment.api()
    tenant_id, folder = new_tenant(api, deployment.workdir / "storage")
    editor_grpc.EditorServiceStub(api.channel).CreateEditor(editor_pb.CreateEditorRequest(
        name="signing", tenant_id=tenant_id, discovery_url=f"{discovery.url}/hosting/discovery",
        proof_policy=editor_pb.PROOF_POLICY_REQUIRED), metadata=api.metadata, timeout=30)
    (folder / "signed.wopitest").write_bytes(b"")
    session = api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=tenant_id, storage="docs", path="signed.wopitest", user_id="u1", editor="signing"))
    url = f"{session.session.wopi_src}?access_token={session.access_token}"
    page = f"{deployment.http_url}/metrics"
    now = dotnet_ticks(dt.datetime.now(dt.UTC))
    stale = dotnet_ticks(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    before = scrape(page)
    with httpx.Client(timeout=30) as http:
        for headers in ({}, {"X-WOPI-Proof": "AAAA", "X-WOPI-TimeStamp": str(now)},
                        {"X-WOPI-Proof": "AAAA", "X-WOPI-TimeStamp": str(stale)}):
            reply = http.get(url, headers=headers)
            assert reply.status_code == 500, f"{reply.text}\n{deployment.log()}"
    after = scrape(page)
    failures = "wopi_proxy_wopi_proof_failures_total"
    for reason in ("missing_proof", "signature_mismatch", "timestamp_too_old"):
        assert delta(before, after, failures, reason=reason) == 1, (reason, deployment.log())
    assert delta(before, after, failures, reason="other") == 0
    assert delta(before, after, "wopi_proxy_wopi_requests_total", operation="CheckFileInfo", status="500") == 3
    assert delta(before, after, "wopi_proxy_storage_errors_total", protocol="file", kind="internal") == 0


def test_storage_errors_count_by_protocol(shape: str, deploy: Callable[..., Deployment]) -> None:
    """A storage that breaks under the edge (its root folder replaced by a file) counts its failed
    requests under the storage's protocol, not under anything naming the tenant."""
    deployment = deploy(shape)
    f = open_one(deployment)
    page = f"{deployment.http_url}/metrics"
    before = scrape(page)
    root = f.local_path.parent
    shutil.rmtree(root)
    root.write_bytes(b"not a folder any more")
    reply = httpx.get(f.url(), timeout=15)
    assert reply.status_code >= 500, reply.text
    after = scrape(page)
    errors = [(labels, after[(name, labels)] - before.get((name, labels), 0)) for name, labels in after
              if name == "wopi_proxy_storage_errors_total" and after[(name, labels)] != before.get((name, labels), 0)]
    assert len(errors) == 1 and errors[0][1] == 1, (errors, deployment.log())
    assert dict(errors[0][0])["protocol"] == "file", errors
