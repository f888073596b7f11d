"""Client verbs: one gRPC call each against the control plane."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import grpc

from cli.output import as_dict, print_json, print_record, print_table
from wopiproxy.control.v1 import file_service_pb2 as file_pb
from wopiproxy.control.v1 import file_service_pb2_grpc as file_grpc
from wopiproxy.control.v1 import session_service_pb2 as session_pb
from wopiproxy.control.v1 import session_service_pb2_grpc as session_grpc
from wopiproxy.control.v1 import storage_service_pb2 as storage_pb
from wopiproxy.control.v1 import storage_service_pb2_grpc as storage_grpc
from wopiproxy.control.v1 import tenant_service_pb2 as tenant_pb
from wopiproxy.control.v1 import tenant_service_pb2_grpc as tenant_grpc

PERMISSIONS = {"view": session_pb.PERMISSION_VIEW, "edit": session_pb.PERMISSION_EDIT}
CALL_TIMEOUT_S = 30


class Api:
    def __init__(self, address: str, api_key: str) -> None:
        self.channel = grpc.insecure_channel(address)
        self.metadata = (("authorization", f"Bearer {api_key}"),)
        self.tenants = tenant_grpc.TenantServiceStub(self.channel)
        self.storages = storage_grpc.StorageServiceStub(self.channel)
        self.sessions = session_grpc.SessionServiceStub(self.channel)
        self.files = file_grpc.FileServiceStub(self.channel)

    def call(self, method: Callable[..., Any], request: Any) -> Any:
        return method(request, metadata=self.metadata, timeout=CALL_TIMEOUT_S)


def _parse_options(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: --option wants KEY=VALUE, got {pair!r}")
        options[key] = value
    return options


def _all_pages(fetch: Callable[[str], Any], field: str) -> list[Any]:
    items, token = [], ""
    while True:
        reply = fetch(token)
        items.extend(getattr(reply, field))
        token = reply.next_page_token
        if not token:
            return items


# -- tenants --------------------------------------------------------------------------------------

def tenants_add(api: Api, args: argparse.Namespace) -> None:
    tenant = api.call(api.tenants.CreateTenant, tenant_pb.CreateTenantRequest(id=args.id, name=args.name))
    print_json(as_dict(tenant)) if args.json else print_record(as_dict(tenant))


def tenants_get(api: Api, args: argparse.Namespace) -> None:
    tenant = api.call(api.tenants.GetTenant, tenant_pb.GetTenantRequest(id=args.id))
    print_json(as_dict(tenant)) if args.json else print_record(as_dict(tenant))


def tenants_list(api: Api, args: argparse.Namespace) -> None:
    rows = [as_dict(t) for t in _all_pages(
        lambda tok: api.call(api.tenants.ListTenants, tenant_pb.ListTenantsRequest(page_token=tok)), "tenants")]
    print_json(rows) if args.json else print_table(rows, ["id", "name", "enabled", "create_time"])


# -- storages -------------------------------------------------------------------------------------

def storages_add(api: Api, args: argparse.Namespace) -> None:
    request = storage_pb.CreateStorageRequest(tenant_id=args.tenant_id, name=args.name, protocol=args.protocol,
                                              root=args.root, options=_parse_options(args.option),
                                              max_file_size=args.max_file_size or 0,
                                              version_retention=args.version_retention or 0)
    storage = api.call(api.storages.CreateStorage, request)
    print_json(as_dict(storage)) if args.json else print_record(as_dict(storage))


def storages_get(api: Api, args: argparse.Namespace) -> None:
    storage = api.call(api.storages.GetStorage, storage_pb.GetStorageRequest(tenant_id=args.tenant_id, name=args.name))
    print_json(as_dict(storage)) if args.json else print_record(as_dict(storage))


def storages_list(api: Api, args: argparse.Namespace) -> None:
    rows = [as_dict(s) for s in _all_pages(lambda tok: api.call(
        api.storages.ListStorages, storage_pb.ListStoragesRequest(tenant_id=args.tenant_id, page_token=tok)),
        "storages")]
    print_json(rows) if args.json else print_table(rows, ["tenant_id", "name", "protocol", "root"])


# -- sessions -------------------------------------------------------------------------------------

def _session_fields(session: session_pb.Session) -> dict[str, Any]:
    data = as_dict(session)
    return {"session_id": data.pop("id"), **data}


def sessions_create(api: Api, args: argparse.Namespace) -> None:
    request = session_pb.CreateSessionRequest(
        tenant_id=args.tenant_id, storage=args.storage, path=args.path, user_id=args.user_id,
        user_name=args.user_name or "", permission=PERMISSIONS[args.permission], ttl_seconds=args.ttl or 0,
    )
    reply = api.call(api.sessions.CreateSession, request)
    data = _session_fields(reply.session)
    data["access_token"] = reply.access_token
    data["access_token_ttl"] = reply.access_token_ttl
    print_json(data) if args.json else print_record(data)


def sessions_get(api: Api, args: argparse.Namespace) -> None:
    data = _session_fields(api.call(api.sessions.GetSession, session_pb.GetSessionRequest(id=args.id)))
    print_json(data) if args.json else print_record(data)


def sessions_list(api: Api, args: argparse.Namespace) -> None:
    rows = [_session_fields(s) for s in _all_pages(lambda tok: api.call(
        api.sessions.ListSessions,
        session_pb.ListSessionsRequest(tenant_id=args.tenant_id or "", page_token=tok)), "sessions")]
    print_json(rows) if args.json else print_table(
        rows, ["session_id", "tenant_id", "storage", "path", "user_id", "permission", "state", "expire_time"])


def sessions_close(api: Api, args: argparse.Namespace) -> None:
    data = _session_fields(api.call(api.sessions.CloseSession, session_pb.CloseSessionRequest(id=args.id)))
    print_json(data) if args.json else print_record(data)


# -- files ----------------------------------------------------------------------------------------

def files_get(api: Api, args: argparse.Namespace) -> None:
    data = as_dict(api.call(api.files.GetFile, file_pb.GetFileRequest(tenant_id=args.tenant_id, file_id=args.file_id)))
    print_json(data) if args.json else print_record(data)


def files_versions(api: Api, args: argparse.Namespace) -> None:
    rows = [as_dict(v) for v in _all_pages(lambda tok: api.call(
        api.files.ListFileVersions,
        file_pb.ListFileVersionsRequest(tenant_id=args.tenant_id, file_id=args.file_id, page_token=tok)), "versions")]
    print_json(rows) if args.json else print_table(rows, ["version", "size", "reason", "replaced_by", "create_time"])


def files_restore(api: Api, args: argparse.Namespace) -> None:
    request = file_pb.RestoreFileVersionRequest(tenant_id=args.tenant_id, file_id=args.file_id, version=args.version)
    data = as_dict(api.call(api.files.RestoreFileVersion, request))
    print_json(data) if args.json else print_record(data)
