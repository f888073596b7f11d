"""The REST routes answer what the gRPC API answers (compared in the proto JSON mapping)."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import httpx
from google.protobuf.json_format import MessageToDict
from wopiproxy.control.v1 import file_service_pb2 as file_pb
from wopiproxy.control.v1 import file_service_pb2_grpc as file_grpc

from tests.support.api import ControlApi, session_pb, storage_pb, tenant_pb

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def as_json(message: Any) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True)


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/json"
    return reply.json()


def open_session(rest: httpx.Client, tenant_id: str, folder: Path, path: str = "a.txt") -> dict[str, Any]:
    (folder / path).write_bytes(b"hello")
    return ok(rest.post("/sessions/create", json={
        "tenant_id": tenant_id, "storage": "docs", "path": path, "user_id": "u1", "user_name": "Ann",
        "permission": "PERMISSION_VIEW",
    }))


def test_tenant_create_replies_the_tenant_grpc_shows(rest: httpx.Client, grpc_api: ControlApi) -> None:
    tenant_id = "t-" + secrets.token_hex(4)
    created = ok(rest.post("/tenants/create", json={"id": tenant_id, "name": "Rest Create"}))
    stored = grpc_api.call(grpc_api.tenants.GetTenant, tenant_pb.GetTenantRequest(id=tenant_id))
    assert created == as_json(stored)
    assert created["name"] == "Rest Create" and RFC3339.match(created["create_time"])


def test_tenant_get_equals_grpc_get(rest: httpx.Client, grpc_api: ControlApi, tenant_id: str) -> None:
    over_rest = ok(rest.get("/tenants/get", params={"id": tenant_id}))
    assert over_rest == as_json(grpc_api.call(grpc_api.tenants.GetTenant, tenant_pb.GetTenantRequest(id=tenant_id)))


def test_tenant_list_equals_grpc_list(rest: httpx.Client, grpc_api: ControlApi, tenant_id: str) -> None:
    over_rest = ok(rest.get("/tenants/list", params={"page_size": 1000}))
    over_grpc = grpc_api.call(grpc_api.tenants.ListTenants, tenant_pb.ListTenantsRequest(page_size=1000))
    assert over_rest == as_json(over_grpc)
    assert tenant_id in [t["id"] for t in over_rest["tenants"]]


def test_list_query_accepts_json_names(rest: httpx.Client, grpc_api: ControlApi, tenant_id: str) -> None:
    first = ok(rest.get("/tenants/list", params={"pageSize": 1}))
    assert len(first["tenants"]) == 1
    second = ok(rest.get("/tenants/list", params={"pageSize": 1, "pageToken": first["next_page_token"]}))
    over_grpc = grpc_api.call(grpc_api.tenants.ListTenants, tenant_pb.ListTenantsRequest(
        page_size=1, page_token=first["next_page_token"]))
    assert second == as_json(over_grpc)


def test_storage_create_get_list_equal_grpc(rest: httpx.Client, grpc_api: ControlApi, tenant_id: str,
                                            tmp_path: Path) -> None:
    # int64 accepted as a JSON number on input, answered as a string.
    created = ok(rest.post("/storages/create", json={
        "tenantId": tenant_id, "name": "big", "root": str(tmp_path), "maxFileSize": 1048576}))
    assert created["max_file_size"] == "1048576"
    got = ok(rest.get("/storages/get", params={"tenant_id": tenant_id, "name": "big"}))
    listed = ok(rest.get("/storages/list", params={"tenant_id": tenant_id}))
    over_grpc = grpc_api.call(grpc_api.storages.GetStorage, storage_pb.GetStorageRequest(tenant_id=tenant_id, name="big"))
    assert created == got == as_json(over_grpc)
    assert listed == as_json(grpc_api.call(grpc_api.storages.ListStorages,
                                           storage_pb.ListStoragesRequest(tenant_id=tenant_id)))


def test_session_create_equals_what_grpc_get_session_shows(rest: httpx.Client, grpc_api: ControlApi, tenant_id: str,
                                                           storage_folder: Path) -> None:
    created = open_session(rest, tenant_id, storage_folder)
    session = created["session"]
    stored = grpc_api.call(grpc_api.sessions.GetSession, session_pb.GetSessionRequest(id=session["id"]))
    assert session == as_json(stored)
    assert session["permission"] == "PERMISSION_VIEW" and session["state"] == "SESSION_STATE_OPEN"
    assert created["access_token"] and created["access_token_ttl"].isdigit()  # int64: a string


def test_session_get_and_list_equal_grpc(rest: httpx.Client, grpc_api: ControlApi, tenant_id: str,
                                         storage_folder: Path) -> None:
    session_id = open_session(rest, tenant_id, storage_folder)["session"]["id"]
    got = ok(rest.get("/sessions/get", params={"id": session_id}))
    listed = ok(rest.get("/sessions/list", params={"tenant_id": tenant_id}))
    assert got == as_json(grpc_api.call(grpc_api.sessions.GetSession, session_pb.GetSessionRequest(id=session_id)))
    assert listed == as_json(grpc_api.call(grpc_api.sessions.ListSessions,
                                           session_pb.ListSessionsRequest(tenant_id=tenant_id)))
    assert [s["id"] for s in listed["sessions"]] == [session_id]


def test_session_close_replies_the_closed_session(rest: httpx.Client, grpc_api: ControlApi, tenant_id: str,
                                                  storage_folder: Path) -> None:
    session_id = open_session(rest, tenant_id, storage_folder)["session"]["id"]
    closed = ok(rest.post("/sessions/close", json={"id": session_id}))
    assert closed["state"] == "SESSION_STATE_CLOSED" and RFC3339.match(closed["close_time"])
    assert closed == as_json(grpc_api.call(grpc_api.sessions.GetSession, session_pb.GetSessionRequest(id=session_id)))


def test_file_get_and_versions_equal_grpc(rest: httpx.Client, grpc_api: ControlApi, tenant_id: str,
                                          storage_folder: Path) -> None:
    file_id = open_session(rest, tenant_id, storage_folder)["session"]["file_id"]
    files = file_grpc.FileServiceStub(grpc_api.channel)
    got = ok(rest.get("/files/get", params={"tenant_id": tenant_id, "file_id": file_id}))
    versions = ok(rest.get("/files/versions", params={"tenant_id": tenant_id, "file_id": file_id}))
    assert got == as_json(grpc_api.call(files.GetFile, file_pb.GetFileRequest(tenant_id=tenant_id, file_id=file_id)))
    assert versions == as_json(grpc_api.call(files.ListFileVersions, file_pb.ListFileVersionsRequest(
        tenant_id=tenant_id, file_id=file_id)))


def test_session_create_takes_the_original_product_body(rest: httpx.Client, tenant_id: str,
                                                        storage_folder: Path) -> None:
    (storage_folder / "b.txt").write_bytes(b"hello")
    created = ok(rest.post("/sessions/create", json={
        "tenant_id": tenant_id, "storage_name": "docs", "file_path": "b.txt", "user": "u2",
        "permissions": ["view"], "origin_connection_id": "c-1", "origin_page_id": "p-1",
    }))
    session = ok(rest.get("/sessions/get", params={"session_id": created["session_id"]}))
    assert (session["path"], session["user_id"], session["permission"]) == ("b.txt", "u2", "PERMISSION_VIEW")
    assert session["origin"] == {"connection_id": "c-1", "page_id": "p-1"}


def test_session_events_stream_from_the_control_plane(rest: httpx.Client, tenant_id: str,
                                                      storage_folder: Path) -> None:
    session_id = open_session(rest, tenant_id, storage_folder)["session"]["id"]
    with rest.stream("GET", "/sessions/events", params={"tenant_id": tenant_id, "cursor": "0"}) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"] == "application/x-ndjson"
        first = json.loads(next(reply.iter_lines()))
    assert (first["type"], first["session_id"]) == ("SESSION_EVENT_TYPE_OPENED", session_id)
