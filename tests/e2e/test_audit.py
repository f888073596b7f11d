"""The audit trail of a real `wopi-proxy serve`: WOPI requests and API calls recorded with their
details, read over gRPC and the CLI, verified, and never holding a token or file content."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from wopiproxy.control.v1 import audit_service_pb2 as audit_pb
from wopiproxy.control.v1 import audit_service_pb2_grpc as audit_grpc
from wopiproxy.control.v1 import key_service_pb2 as key_pb
from wopiproxy.control.v1 import key_service_pb2_grpc as key_grpc

from tests.support.api import LOCK, ControlApi, OpenFile, new_tenant, open_file, put, session_pb
from tests.support.processes import WopiProxyProcess, serve
from tests.support.ports import unused_port


def lock_hash(lock_id: str) -> str:
    return hashlib.sha256(lock_id.encode()).hexdigest()[:12]


def events(api: ControlApi, key: str | None = None, **filters: Any) -> list[audit_pb.AuditEvent]:
    """Every page of ListAuditEvents (with `key`: as that API key)."""
    stub = audit_grpc.AuditServiceStub(api.channel)
    metadata = (("authorization", f"Bearer {key}"),) if key else api.metadata
    found: list[audit_pb.AuditEvent] = []
    token = ""
    while True:
        reply = stub.ListAuditEvents(audit_pb.ListAuditEventsRequest(page_token=token, page_size=1000, **filters),
                                     metadata=metadata, timeout=15)
        found += reply.events
        token = reply.next_page_token
        if not token:
            return found


def cli(server: WopiProxyProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs in the server's folder, so the default key file ./data/admin.key is found."""
    environment = {**os.environ, "WOPI_PROXY_CONTROL": server.grpc_address}
    environment.pop("WOPI_PROXY_API_KEY", None)
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=server.workdir, env=environment,
                          capture_output=True, text=True, timeout=120, check=False)


def wopi(http: httpx.Client, f: OpenFile, override: str, correlation_id: str, **headers: str) -> httpx.Response:
    return http.post(f.url(), headers={"X-WOPI-Override": override, "X-WOPI-CorrelationId": correlation_id,
                                       **headers})


@pytest.fixture
def edited(api: ControlApi, tenant: tuple[str, Path], http: httpx.Client) -> OpenFile:
    """A file that went through CheckFileInfo, Lock, PutFile, GetFile, Unlock, and a refused Lock."""
    f = open_file(api, *tenant, "report.docx", content=b"first")
    assert http.get(f.url(), headers={"X-WOPI-CorrelationId": "corr-check"}).status_code == 200
    assert wopi(http, f, "LOCK", "corr-lock", **{"X-WOPI-Lock": LOCK}).status_code == 200
    assert put(http, f, b"second", **{"X-WOPI-CorrelationId": "corr-put"}).status_code == 200
    assert http.get(f.url("/contents"), headers={"X-WOPI-CorrelationId": "corr-get"}).content == b"second"
    assert wopi(http, f, "LOCK", "corr-conflict", **{"X-WOPI-Lock": "another"}).status_code == 409
    assert wopi(http, f, "UNLOCK", "corr-unlock", **{"X-WOPI-Lock": LOCK}).status_code == 200
    return f


def _by_correlation(found: list[audit_pb.AuditEvent]) -> dict[str, list[audit_pb.AuditEvent]]:
    grouped: dict[str, list[audit_pb.AuditEvent]] = {}
    for event in found:
        grouped.setdefault(event.correlation_id, []).append(event)
    return grouped


# -- what is recorded ---------------------------------------------------------------------------


def test_wopi_operations_are_recorded_with_their_details(api: ControlApi, edited: OpenFile) -> None:
    found = _by_correlation(events(api, tenant_id=edited.tenant_id, session_id=edited.session_id))

    [check] = found["corr-check"]
    assert (check.operation, check.outcome, check.actor, check.file_id) == (
        "CheckFileInfo", "ok", "user:u1", edited.file_id)
    assert (check.tenant_id, check.client_address, check.version_before, check.version_after) == (
        edited.tenant_id, "127.0.0.1", 1, 1)
    [locked] = found["corr-lock"]
    assert (locked.operation, locked.outcome, locked.status, locked.lock_hash) == ("Lock", "ok", 200, lock_hash(LOCK))
    granted, written = found["corr-put"]  # the grant, then the write the edge reported
    assert (granted.operation, granted.status) == ("PutFile", 0)
    assert (written.operation, written.outcome, written.status, written.size) == ("PutFile", "ok", 200, 6)
    assert (written.version_before, written.version_after, written.lock_hash) == (1, 2, lock_hash(LOCK))
    [read] = found["corr-get"]
    assert (read.operation, read.version_before, read.version_after) == ("GetFile", 2, 2)
    [conflict] = found["corr-conflict"]
    assert (conflict.operation, conflict.outcome, conflict.status, conflict.lock_hash) == (
        "Lock", "conflict", 409, lock_hash(LOCK))
    [unlocked] = found["corr-unlock"]
    assert (unlocked.operation, unlocked.status) == ("Unlock", 200)
    assert all(e.editor for e in found["corr-check"])  # the client says what it is (here httpx)


def test_a_clients_save_headers_cannot_add_fields_to_the_record(
        api: ControlApi, tenant: tuple[str, Path], http: httpx.Client) -> None:
    f = open_file(api, *tenant, "forged.docx", content=b"first")
    assert wopi(http, f, "LOCK", "corr-lock", **{"X-WOPI-Lock": LOCK}).status_code == 200
    forged = {"X-WOPI-CorrelationId": "corr-forged", "X-WOPI-Editors": "ann version=99 lock=0 {version}",
              "X-COOL-WOPI-IsModifiedByUser": "true editor=trusted", "X-COOL-WOPI-IsAutosave": "TRUE"}
    assert put(http, f, b"second", **forged).status_code == 200

    [written] = [e for e in events(api, tenant_id=f.tenant_id, session_id=f.session_id)
                 if e.correlation_id == "corr-forged" and e.status == 200]
    fields = written.detail.split(" ")
    assert "editors=ann%20version%3D99%20lock%3D0%20%7Bversion%7D" in fields, written.detail
    assert [x for x in fields if x.startswith("version=")] == ["version=2"], written.detail
    assert "autosave=true" in fields and not any(x.startswith("modified_by_user") for x in fields), written.detail
    assert not any(x.startswith("editor=trusted") for x in fields), written.detail


def test_a_clients_user_agent_cannot_add_fields_to_the_record(
        api: ControlApi, tenant: tuple[str, Path], http: httpx.Client) -> None:
    f = open_file(api, *tenant, "agent.docx", content=b"first")
    assert wopi(http, f, "LOCK", "corr-lock", **{"X-WOPI-Lock": LOCK}).status_code == 200
    assert put(http, f, b"second", **{"X-WOPI-CorrelationId": "corr-agent",
                                      "User-Agent": "Office version=99"}).status_code == 200

    [written] = [e for e in events(api, tenant_id=f.tenant_id, session_id=f.session_id)
                 if e.correlation_id == "corr-agent" and e.status == 200]
    assert [x for x in written.detail.split(" ") if x.startswith("version=")] == ["version=2"], written.detail


def test_a_file_name_cannot_add_fields_to_the_record(
        api: ControlApi, tenant: tuple[str, Path], http: httpx.Client) -> None:
    f = open_file(api, *tenant, "plain.docx", content=b"first")
    name = "x version=9 {version}"
    renamed = wopi(http, f, "RENAME_FILE", "corr-rename", **{"X-WOPI-RequestedName": name.encode("utf-7").decode()})
    assert renamed.status_code == 200, renamed.text

    [record] = [e for e in events(api, tenant_id=f.tenant_id, session_id=f.session_id)
                if e.correlation_id == "corr-rename" and e.status == 200]
    assert "x%20version%3D9%20%7Bversion%7D.docx" in record.detail, record.detail
    assert not any(x.startswith("version=") for x in record.detail.split(" ")), record.detail


def test_an_editors_timestamp_cannot_add_fields_to_the_conflict_copy_record(
        api: ControlApi, tenant: tuple[str, Path], http: httpx.Client) -> None:
    f = open_file(api, *tenant, "stamp.docx", content=b"first")
    answer = put(http, f, b"second", lock_id=None, **{"X-WOPI-CorrelationId": "corr-stamp",
                                                      "X-COOL-WOPI-Timestamp": "x editors=mallory version=99 {version}"})
    assert answer.status_code == 409, answer.text  # refused: kept as a conflict copy

    [record] = [e for e in events(api, tenant_id=f.tenant_id, session_id=f.session_id)
                if e.correlation_id == "corr-stamp" and e.outcome == "conflict"]
    assert not any(x.startswith(("editors=", "version=")) for x in record.detail.split(" ")), record.detail
    assert "{version}" not in record.detail, record.detail


def test_a_file_name_cannot_add_fields_to_the_conflict_copy_record(
        api: ControlApi, tenant: tuple[str, Path], http: httpx.Client) -> None:
    f = open_file(api, *tenant, "a editors=mallory version=99.docx", content=b"first")
    assert wopi(http, f, "LOCK", "corr-lock", **{"X-WOPI-Lock": LOCK}).status_code == 200
    answer = put(http, f, b"second", lock_id="another-lock", **{"X-WOPI-CorrelationId": "corr-name"})
    assert answer.status_code == 409, answer.text

    [record] = [e for e in events(api, tenant_id=f.tenant_id, session_id=f.session_id)
                if e.correlation_id == "corr-name" and e.outcome == "conflict"]
    assert not any(x.startswith(("editors=", "version=")) for x in record.detail.split(" ")), record.detail
    assert "content kept at a%20editors%3Dmallory%20version%3D99%20(conflict%20" in record.detail, record.detail


def test_control_plane_changes_are_recorded(api: ControlApi, edited: OpenFile) -> None:
    found = events(api, tenant_id=edited.tenant_id)

    operations = [e.operation for e in found if e.actor.startswith("key:")]
    assert operations[:3] == ["CreateTenant", "CreateStorage", "CreateSession"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WopiProxyProcess]:
    """This module's server closes its invalid-token audit windows every second, not every minute."""
    proc = serve(tmp_path_factory.mktemp("serve"), "--invalid-token-audit-window", "1")
    yield proc
    proc.stop()


def _invalid_token_record(api: ControlApi, **filters: Any) -> audit_pb.AuditEvent | None:
    """Polls for the per-address, per-window record of invalid tokens (written when the window closes)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = events(api, operation="InvalidTokenRequests", **filters)
        if found:
            return found[-1]
        time.sleep(0.2)
    return None


def test_a_request_with_a_bad_token_is_counted_not_recorded_one_by_one(
    api: ControlApi, edited: OpenFile, http: httpx.Client
) -> None:
    reply = http.get(edited.url(token="not-a-real-token"), headers={"X-WOPI-CorrelationId": "corr-bad-token"})
    assert reply.status_code == 401

    record = _invalid_token_record(api)
    assert record is not None
    assert (record.actor, record.tenant_id, record.status, record.client_address) == ("token", "", 401, "127.0.0.1")
    assert "CheckFileInfo:" in record.detail and "not-a-real-token" not in record.detail
    assert not [e for e in events(api, outcome="denied") if e.correlation_id == "corr-bad-token"]


def test_an_expired_token_is_counted_in_its_tenant(
    api: ControlApi, tenant: tuple[str, Path], http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "closed.docx")
    api.call(api.sessions.CloseSession, session_pb.CloseSessionRequest(id=f.session_id))
    assert http.get(f.url(), headers={"X-WOPI-CorrelationId": "corr-closed"}).status_code == 401

    record = _invalid_token_record(api, tenant_id=f.tenant_id)
    assert record is not None
    assert (record.actor, record.status, record.client_address) == ("token", 401, "127.0.0.1")
    assert "count=1 refused=1" in record.detail


# -- reading ------------------------------------------------------------------------------------


def test_a_tenant_key_sees_only_its_tenant(api: ControlApi, edited: OpenFile, tmp_path: Path) -> None:
    other, _ = new_tenant(api, tmp_path / "other")
    keys = key_grpc.KeyServiceStub(api.channel)
    key = keys.CreateApiKey(key_pb.CreateApiKeyRequest(tenant_id=edited.tenant_id), metadata=api.metadata,
                            timeout=15).api_key

    own = events(api, key)

    assert own and {e.tenant_id for e in own} == {edited.tenant_id}
    assert [e.id for e in own] == [e.id for e in events(api, tenant_id=edited.tenant_id)]
    for foreign in (other, "no-such-tenant"):
        with pytest.raises(grpc.RpcError) as refused:
            events(api, key, tenant_id=foreign)
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND


def test_filters_and_pages(api: ControlApi, edited: OpenFile, tenant: tuple[str, Path]) -> None:
    stranger = open_file(api, *tenant, "other.docx", user_id="u2")
    everything = events(api, tenant_id=edited.tenant_id)
    stub = audit_grpc.AuditServiceStub(api.channel)
    paged: list[int] = []
    token = ""
    while True:
        reply = stub.ListAuditEvents(audit_pb.ListAuditEventsRequest(tenant_id=edited.tenant_id, page_size=2,
                                                                     page_token=token), metadata=api.metadata)
        assert len(reply.events) <= 2
        paged += [e.id for e in reply.events]
        token = reply.next_page_token
        if not token:
            break

    assert paged == [e.id for e in everything] == sorted(paged)
    assert {e.operation for e in events(api, tenant_id=edited.tenant_id, user_id="u1", operation="Lock")} == {"Lock"}
    assert {e.file_id for e in events(api, file_id=stranger.file_id)} == {stranger.file_id}
    assert not [e for e in events(api, tenant_id=edited.tenant_id, user_id="u2") if e.actor != "user:u2"]
    later = Timestamp()
    later.FromSeconds(int(time.time()) + 3600)
    assert events(api, tenant_id=edited.tenant_id, start_time=later) == []
    assert len(events(api, tenant_id=edited.tenant_id, end_time=later)) == len(everything)
    with pytest.raises(grpc.RpcError) as bad:
        stub.ListAuditEvents(audit_pb.ListAuditEventsRequest(page_token="garbage"), metadata=api.metadata)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_audit_list_prints_a_table_or_json(server: WopiProxyProcess, edited: OpenFile) -> None:
    table = cli(server, "audit", "list", "--tenant-id", edited.tenant_id, "--operation", "Lock")
    listed = json.loads(cli(server, "audit", "list", "--tenant-id", edited.tenant_id, "--outcome", "conflict",
                            "--json").stdout)

    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:4] == ["ID", "TIME", "TENANT_ID", "ACTOR"]
    assert "Lock" in table.stdout and "Unlock" not in table.stdout
    assert [(e["operation"], e["status"], e["correlation_id"]) for e in listed] == [("Lock", 409, "corr-conflict")]


def test_audit_export_jsonl_and_csv_hold_the_same_events(
    api: ControlApi, server: WopiProxyProcess, edited: OpenFile, tmp_path: Path
) -> None:
    expected = [e.id for e in events(api, tenant_id=edited.tenant_id)]

    jsonl = cli(server, "audit", "export", "--format", "jsonl", "--tenant-id", edited.tenant_id)
    exported_csv = tmp_path / "audit.csv"
    to_file = cli(server, "audit", "export", "--format", "csv", "--tenant-id", edited.tenant_id,
                  "--output", str(exported_csv))

    assert jsonl.returncode == 0 and to_file.returncode == 0, jsonl.stderr + to_file.stderr
    lines = [json.loads(line) for line in jsonl.stdout.splitlines()]
    rows = list(csv.DictReader(io.StringIO(exported_csv.read_text())))
    assert [r["id"] for r in lines] == expected
    assert [int(r["id"]) for r in rows] == expected
    assert [r["hash"] for r in rows] == [r["hash"] for r in lines]
    put_line = next(r for r in lines if r["correlation_id"] == "corr-put" and r["status"] == 200)
    assert (put_line["version_before"], put_line["version_after"], put_line["time"][-1]) == (1, 2, "Z")


def test_an_exported_record_can_be_checked_without_the_database(
    server: WopiProxyProcess, edited: OpenFile
) -> None:
    """The canonical form (control/services/audit.py), rebuilt from an export alone."""
    import datetime as dt

    lines = [json.loads(line) for line in cli(server, "audit", "export", "--tenant-id",
                                              edited.tenant_id).stdout.splitlines()]
    previous = ""
    for record in lines:
        document = {k: v for k, v in record.items() if k not in ("id", "hash")}
        document["time"] = int(dt.datetime.fromisoformat(record["time"]).timestamp() * 1000)
        document["v"] = 1
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
        assert hashlib.sha256(canonical).hexdigest() == record["hash"], record
        assert record["previous_hash"] == previous
        previous = record["hash"]


# -- verification and tampering -----------------------------------------------------------------


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[WopiProxyProcess]:
    """A server of this test's own: tampering must not break the module's shared one."""
    proc = serve(tmp_path / "serve")
    yield proc
    proc.stop()


def _activity(proc: WopiProxyProcess, http: httpx.Client, root: Path,
              content: bytes = b"content") -> tuple[ControlApi, OpenFile]:
    api = ControlApi(proc.grpc_address, (proc.workdir / "data" / "admin.key").read_text().strip())
    tenant_id, folder = new_tenant(api, root)
    f = open_file(api, tenant_id, folder, "doc.docx", content=content)
    assert http.get(f.url("/contents")).content == content
    assert wopi(http, f, "LOCK", "c1", **{"X-WOPI-Lock": LOCK}).status_code == 200
    assert put(http, f, content + b"!").status_code == 200
    assert http.get(f.url("/contents")).content == content + b"!"
    assert wopi(http, f, "UNLOCK", "c2", **{"X-WOPI-Lock": LOCK}).status_code == 200
    return api, f


def test_a_time_filter_no_database_can_hold_is_invalid_argument(api: ControlApi, edited: OpenFile) -> None:
    """A well-formed Timestamp far outside the years any record has (here 2^62 s) is the caller's
    mistake: INVALID_ARGUMENT naming the field, never an internal error."""
    stub = audit_grpc.AuditServiceStub(api.channel)
    for field in ("start_time", "end_time"):
        with pytest.raises(grpc.RpcError) as bad:
            stub.ListAuditEvents(audit_pb.ListAuditEventsRequest(
                tenant_id=edited.tenant_id, **{field: Timestamp(seconds=1 << 62)}), metadata=api.metadata, timeout=15)
        assert (bad.value.code(), field in (bad.value.details() or "")) == (grpc.StatusCode.INVALID_ARGUMENT, True)


def test_audit_verify_names_a_record_tampered_in_the_database(
    own_server: WopiProxyProcess, http: httpx.Client, tmp_path: Path
) -> None:
    api, f = _activity(own_server, http, tmp_path / "storage")
    intact = cli(own_server, "audit", "verify")
    assert (intact.returncode, intact.stdout.startswith("audit chain intact")) == (0, True), intact.stdout
    victim = [e for e in events(api, tenant_id=f.tenant_id)][3]
    api.close()

    with sqlite3.connect(own_server.workdir / "data" / "wopi-proxy.db", timeout=30) as db:
        db.execute("UPDATE audit_events SET outcome = 'ok', detail = 'nothing to see' WHERE id = ?", (victim.id,))

    broken = cli(own_server, "audit", "verify")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"record #{victim.id} (tenant {f.tenant_id})" in broken.stdout
    assert "hash mismatch" in broken.stdout
    as_json = cli(own_server, "audit", "verify", "--tenant-id", f.tenant_id, "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["broken_event_id"] == victim.id


def test_no_token_or_file_content_reaches_the_database_or_the_log(
    own_server: WopiProxyProcess, http: httpx.Client, tmp_path: Path
) -> None:
    content = b"CONTENT-" + secrets.token_hex(16).encode()
    api, f = _activity(own_server, http, tmp_path / "storage", content=content)
    assert http.get(f.url(token=f.token + "x")).status_code == 401  # a near miss is refused and audited
    assert len(events(api, tenant_id=f.tenant_id)) > 5
    api.close()

    data = own_server.workdir / "data"
    stored = b"".join(p.read_bytes() for p in data.glob("wopi-proxy.db*"))  # the file, its WAL
    own_server.stop()
    stored += b"".join(p.read_bytes() for p in data.glob("wopi-proxy.db*"))  # after the checkpoint
    logged = own_server.log().encode()
    for secret in (f.token.encode(), content):
        assert secret not in stored
        assert secret not in logged


# -- REST ---------------------------------------------------------------------------------------


def test_list_audit_events_over_rest(server: WopiProxyProcess, admin_key: str, edited: OpenFile,
                                     http: httpx.Client) -> None:
    # The gateway serves its OpenAPI document wherever it is mounted (gateway/app.py).
    if http.get(f"{server.http_url}/openapi.json").status_code != 200:
        pytest.skip("the REST gateway is not mounted in `wopi-proxy serve` (no /openapi.json on its HTTP port), "
                    "so GET /audit/list has nowhere to go")
    reply = http.get(f"{server.http_url}/audit/list", params={"tenant_id": edited.tenant_id},
                     headers={"Authorization": f"Bearer {admin_key}"})
    assert reply.status_code == 200, reply.text
    found = reply.json()["events"]
    assert {e["tenant_id"] for e in found} == {edited.tenant_id}
    assert "corr-conflict" in {e.get("correlation_id", e.get("correlationId")) for e in found}


@pytest.fixture
def gateway(server: WopiProxyProcess, tmp_path: Path) -> Iterator[str]:
    """The REST gateway as its own process (`python -m gateway`) in front of the server's control plane."""
    port = unused_port()
    with open(tmp_path / "gateway.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "gateway", "--control", server.grpc_address, "--port",
                                    str(port)], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "gateway.log").read_text()) from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(20)


def test_list_and_verify_over_the_standalone_gateway(
    gateway: str, admin_key: str, edited: OpenFile, http: httpx.Client
) -> None:
    auth = {"Authorization": f"Bearer {admin_key}"}

    listed = http.get(f"{gateway}/audit/list", params={"tenant_id": edited.tenant_id, "outcome": "conflict"},
                      headers=auth)
    verified = http.post(f"{gateway}/audit/verify", json={"tenant_id": edited.tenant_id}, headers=auth)

    assert listed.status_code == 200, listed.text
    [conflict] = listed.json()["events"]
    assert conflict.get("correlation_id", conflict.get("correlationId")) == "corr-conflict"
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is True
