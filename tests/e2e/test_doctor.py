"""`wopi-proxy doctor`: a real `serve` (public URL http://127.0.0.1:<port>) diagnosing stand-in
editors that serve real discovery documents, and the timeline of a session after real WOPI traffic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import editor_service_pb2_grpc as editor_grpc

from tests.support.api import LOCK, ControlApi, lock, new_tenant, open_file, put, session_pb
from tests.support.http_stub import HttpStub
from tests.support.processes import WopiProxyProcess

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "discovery"


def _document(name: str, old_base: str, new_base: str) -> bytes:
    return (FIXTURES / f"{name}.xml").read_bytes().replace(old_base.encode(), new_base.encode())


@pytest.fixture
def editor() -> Iterator[HttpStub]:
    """A stand-in editor on 127.0.0.1 whose discovery names itself by its own address."""
    stub = HttpStub().start()
    stub.routes["/hosting/discovery"] = (200, "text/xml", _document(
        "validator", "https://wopi-validator.invalid/", f"{stub.url}/editor/"))
    yield stub
    stub.stop()


def cli(server: WopiProxyProcess, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "WOPI_PROXY_CONTROL": server.grpc_address}
    environment.pop("WOPI_PROXY_API_KEY", None)
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=server.workdir, env=environment,
                          capture_output=True, text=True, timeout=120, check=False)


def _add(api: ControlApi, tenant_id: str, url: str, policy: int = editor_pb.PROOF_POLICY_IF_ADVERTISED) -> None:
    editor_grpc.EditorServiceStub(api.channel).CreateEditor(editor_pb.CreateEditorRequest(
        name="office", tenant_id=tenant_id, discovery_url=url, proof_policy=policy), metadata=api.metadata, timeout=30)


def _doctor(server: WopiProxyProcess, tenant_id: str) -> tuple[subprocess.CompletedProcess[str], dict[str, dict]]:
    run = cli(server, "doctor", "editor", "office", "--tenant-id", tenant_id, "--json")
    assert run.stdout.strip().startswith("["), f"{run.stdout}\n{run.stderr}\n{server.log()[-3000:]}"
    return run, {f["check"]: f for f in json.loads(run.stdout)}


def test_a_healthy_local_editor_has_no_failure(server, api, editor, tmp_path) -> None:
    tenant_id, _ = new_tenant(api, tmp_path)
    _add(api, tenant_id, f"{editor.url}/hosting/discovery")
    run, found = _doctor(server, tenant_id)
    assert run.returncode == 0, run.stdout
    assert {f["severity"] for k, f in found.items() if k != "actions"} == {"ok"}, run.stdout
    text = cli(server, "doctor", "editor", "office", "--tenant-id", tenant_id)
    assert text.returncode == 0 and "OK    clock-skew" in text.stdout and "0 failed" in text.stdout, text.stdout


def test_an_editor_clock_ten_minutes_ahead_fails_with_the_ntp_fix(server, api, editor, tmp_path) -> None:
    tenant_id, _ = new_tenant(api, tmp_path)
    _add(api, tenant_id, f"{editor.url}/hosting/discovery")
    editor.date_offset_s = 600
    run, found = _doctor(server, tenant_id)
    assert run.returncode == 1, run.stdout
    assert found["clock-skew"]["severity"] == "fail" and "ahead" in found["clock-skew"]["summary"], found
    assert "NTP" in found["clock-skew"]["fix"]
    text = cli(server, "doctor", "editor", "office", "--tenant-id", tenant_id)
    assert text.returncode == 1 and "FAIL  clock-skew" in text.stdout and "fix: sync the clocks" in text.stdout


def test_an_editor_that_dropped_its_proof_keys_fails_under_policy_required(server, api, editor, tmp_path) -> None:
    tenant_id, _ = new_tenant(api, tmp_path)
    _add(api, tenant_id, f"{editor.url}/hosting/discovery", editor_pb.PROOF_POLICY_REQUIRED)
    # Reinstalled without a key: Collabora's own document (no proof-key), on the same address.
    editor.routes["/hosting/discovery"] = (200, "text/xml", _document(
        "collabora", "http://collabora.test:9980", editor.url))
    run, found = _doctor(server, tenant_id)
    assert run.returncode == 1, run.stdout
    assert found["proof-keys"]["severity"] == "fail" and "proof_key" in found["proof-keys"]["fix"], found
    assert found["stored-discovery"]["severity"] == "warn"  # the stored copy still has the old keys
    assert found["host-allow-list"]["severity"] == "ok" and "coolwsd.xml" in found["host-allow-list"]["fix"]


def test_a_loopback_public_url_fails_for_an_editor_that_names_a_public_host(server, api, tmp_path) -> None:
    """Served from 127.0.0.1, but its action URLs name https://office.example.org: the editor runs
    there, and cannot call back to http://127.0.0.1:<port>."""
    stub = HttpStub().start()
    try:
        stub.routes["/hosting/discovery"] = (200, "text/xml", _document(
            "collabora", "http://collabora.test:9980", "https://office.example.org"))
        tenant_id, _ = new_tenant(api, tmp_path)
        _add(api, tenant_id, f"{stub.url}/hosting/discovery")
        run, found = _doctor(server, tenant_id)
    finally:
        stub.stop()
    assert run.returncode == 1, run.stdout
    assert found["public-url"]["severity"] == "fail", found
    assert "office.example.org" in found["public-url"]["summary"]
    assert "--public-url https://" in found["public-url"]["fix"]
    assert found["mixed-content"]["severity"] == "warn"  # https editor, http host page
    assert found["proof-keys"]["severity"] == "warn"  # Collabora without a key, policy if-advertised


def test_unsigned_requests_under_policy_required_show_as_recent_proof_failures(server, api, editor,
                                                                              tmp_path) -> None:
    tenant_id, folder = new_tenant(api, tmp_path)
    _add(api, tenant_id, f"{editor.url}/hosting/discovery", editor_pb.PROOF_POLICY_REQUIRED)
    _, found = _doctor(server, tenant_id)
    assert found["proof-failures"]["severity"] == "ok", found
    (folder / "signed.docx").write_bytes(b"x")
    reply = api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=tenant_id, storage="docs", path="signed.docx", user_id="u1", editor="office"))
    for _ in range(2):  # an editor (or a proxy) that drops the proof headers
        assert httpx.get(reply.session.wopi_src, params={"access_token": reply.access_token}).status_code == 500
    _, found = _doctor(server, tenant_id)
    assert found["proof-failures"]["severity"] == "warn", found
    assert "2 × " in found["proof-failures"]["detail"] and "missing X-WOPI-Proof" in found["proof-failures"]["detail"]
    assert "give it a proof key" in found["proof-failures"]["fix"]


def test_an_unreachable_editor_fails_the_fetch_and_still_checks_the_stored_copy(server, api, editor,
                                                                                  tmp_path) -> None:
    tenant_id, _ = new_tenant(api, tmp_path)
    _add(api, tenant_id, f"{editor.url}/hosting/discovery")
    editor.routes["/hosting/discovery"] = (503, "text/plain", b"down for maintenance")
    run, found = _doctor(server, tenant_id)
    assert run.returncode == 1
    assert found["discovery-fetch"]["severity"] == "fail" and "503" in found["discovery-fetch"]["detail"]
    assert found["proof-keys"]["severity"] == "ok"  # from the stored document


def test_doctor_editor_of_an_unknown_editor_says_not_found(server, api, tmp_path) -> None:
    tenant_id, _ = new_tenant(api, tmp_path)
    run = cli(server, "doctor", "editor", "nope", "--tenant-id", tenant_id)
    assert run.returncode == 1 and "NOT_FOUND" in run.stderr, run.stderr


# -- doctor session ----------------------------------------------------------------------------------


def test_doctor_session_prints_the_timeline_in_order_with_a_summary(server, api, tmp_path) -> None:
    tenant_id, folder = new_tenant(api, tmp_path)
    f = open_file(api, tenant_id, folder, "report.docx", content=b"first")
    with httpx.Client(timeout=30) as http:
        assert http.get(f.url()).status_code == 200
        lock(http, f)
        assert put(http, f, b"second version").status_code == 200
        refused_lock = http.post(f.url(), headers={"X-WOPI-Override": "LOCK", "X-WOPI-Lock": "someone-else"})
        assert refused_lock.status_code == 409
        assert put(http, f, b"saved under a lost lock", lock_id="stale-lock").status_code == 409
        assert http.post(f.url(), headers={"X-WOPI-Override": "UNLOCK", "X-WOPI-Lock": LOCK}).status_code == 200
        stale = put(http, f, b"edited on an old copy", lock_id=None,
                    **{"X-COOL-WOPI-Timestamp": "2001-01-01T00:00:00.000000Z"})
        assert stale.status_code == 409
    api.call(api.sessions.CloseSession, session_pb.CloseSessionRequest(id=f.session_id))

    run = cli(server, "doctor", "session", f.session_id)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    lines = run.stdout.splitlines()
    body = [line for line in lines if line[:4].isdigit()]  # the timeline: lines starting with a time
    operations = [line.split()[1] for line in body]
    expected = ["CreateSession", "CheckFileInfo", "Lock", "PutFile", "Lock", "PutFile", "Unlock", "PutFile",
                "CloseSession"]
    cursor = 0
    for op in expected:  # in this order (a refused save may add a conflict-copy line between)
        assert op in operations[cursor:], f"{op} missing after {operations[:cursor]}:\n{run.stdout}"
        cursor = operations.index(op, cursor) + 1
    assert [line.split()[0] for line in body] == sorted(line.split()[0] for line in body)
    save = next(line for line in body if " PutFile " in line and " 200 " in line)
    assert "v1->v2" in save and "14 B" in save, save
    refused = [line for line in body if " PutFile " in line and " 409 " in line]
    assert "another lock id" in refused[0] and "last saw 2001-01-01" in refused[-1], run.stdout
    summary = "\n".join(lines[lines.index("summary:"):])
    assert "1 save written" in summary, summary
    assert "1 save refused with 409 lock mismatch" in summary, summary
    assert "1 save refused because the file changed in storage" in summary, summary
    assert "2 refused saves kept as conflict copies" in summary, summary
    assert "1 lock request refused with 409 (Lock)" in summary, summary
    assert "the session was closed" in summary, summary

    data = json.loads(cli(server, "doctor", "session", f.session_id, "--json").stdout)
    assert data["session"]["state"] == "closed" and data["summary"] and data["timeline"][0]["operation"] == \
        "CreateSession"


def test_a_tenant_key_cannot_diagnose_another_tenants_editor(server, api, editor, tmp_path) -> None:
    """The attack: tenant B's key asks DiagnoseEditor about tenant A's editor, to learn its URL and
    make the control plane fetch it. Refused before anything is fetched."""
    from wopiproxy.control.v1 import key_service_pb2 as key_pb
    from wopiproxy.control.v1 import key_service_pb2_grpc as key_grpc

    victim, _ = new_tenant(api, tmp_path / "a")
    attacker, _ = new_tenant(api, tmp_path / "b")
    _add(api, victim, f"{editor.url}/hosting/discovery")
    fetches = len(editor.requests)
    key = key_grpc.KeyServiceStub(api.channel).CreateApiKey(key_pb.CreateApiKeyRequest(tenant_id=attacker),
                                                            metadata=api.metadata, timeout=15).api_key
    stub = editor_grpc.EditorServiceStub(api.channel)
    for tenant_id in (victim, ""):
        with pytest.raises(grpc.RpcError) as refused:
            stub.DiagnoseEditor(editor_pb.DiagnoseEditorRequest(name="office", tenant_id=tenant_id),
                                metadata=(("authorization", f"Bearer {key}"),), timeout=30)
        assert refused.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)
    assert len(editor.requests) == fetches
