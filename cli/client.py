"""Client verbs: one gRPC call each against the control plane."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from cli.output import as_dict, print_json, print_record, print_table
from google.protobuf import field_mask_pb2
from shared.grpc_channel import PLAINTEXT, TlsSettings, secure_or_insecure_channel

from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import editor_service_pb2_grpc as editor_grpc
from wopiproxy.control.v1 import file_service_pb2 as file_pb
from wopiproxy.control.v1 import file_service_pb2_grpc as file_grpc
from wopiproxy.control.v1 import key_service_pb2 as key_pb
from wopiproxy.control.v1 import key_service_pb2_grpc as key_grpc
from wopiproxy.control.v1 import session_service_pb2 as session_pb
from wopiproxy.control.v1 import session_service_pb2_grpc as session_grpc
from wopiproxy.control.v1 import storage_service_pb2 as storage_pb
from wopiproxy.control.v1 import storage_service_pb2_grpc as storage_grpc
from wopiproxy.control.v1 import tenant_service_pb2 as tenant_pb
from wopiproxy.control.v1 import tenant_service_pb2_grpc as tenant_grpc


PERMISSIONS = {"view": session_pb.PERMISSION_VIEW, "edit": session_pb.PERMISSION_EDIT}
CALL_TIMEOUT_S = 30


class Api:
    def __init__(self, address: str, api_key: str, tls: TlsSettings = PLAINTEXT) -> None:
        self.channel = secure_or_insecure_channel(address, tls)
        self.metadata = (("authorization", f"Bearer {api_key}"),)
        self.tenants = tenant_grpc.TenantServiceStub(self.channel)
        self.storages = storage_grpc.StorageServiceStub(self.channel)
        self.sessions = session_grpc.SessionServiceStub(self.channel)
        self.files = file_grpc.FileServiceStub(self.channel)
        self.keys = key_grpc.KeyServiceStub(self.channel)
        self.editors = editor_grpc.EditorServiceStub(self.channel)

    def call(self, method: Callable[..., Any], request: Any) -> Any:
        return method(request, metadata=self.metadata, timeout=CALL_TIMEOUT_S)


def _parse_options(pairs: list[str], flag: str = "--option") -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: {flag} wants KEY=VALUE, got {pair!r}")
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


SETTING_FLAGS = {  # CLI flag attribute -> TenantSettings field
    "post_message_origin": "post_message_origin",
    "default_ttl": "default_session_ttl_seconds",
    "webhook_url": "webhook_url",
    "webhook_secret": "webhook_secret",
    "audit_retention_days": "audit_retention_days",
    "editor_mode": "editor_mode",
    "max_file_size_cap": "max_file_size_cap",
    "conflict_copy_quota": "conflict_copy_quota",
}


def tenants_update(api: Api, args: argparse.Namespace) -> None:
    tenant = tenant_pb.Tenant(id=args.id)
    paths: list[str] = []
    if args.name is not None:
        tenant.name, paths = args.name, [*paths, "name"]
    if args.enabled is not None:
        tenant.enabled, paths = args.enabled, [*paths, "enabled"]
    for flag, field in SETTING_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            setattr(tenant.settings, field, value)
            paths.append(f"settings.{field}")
    if not paths:
        raise SystemExit("error: nothing to update (see --help)")
    request = tenant_pb.UpdateTenantRequest(tenant=tenant, update_mask=field_mask_pb2.FieldMask(paths=paths))
    data = as_dict(api.call(api.tenants.UpdateTenant, request))
    print_json(data) if args.json else print_record(data)


def tenants_delete(api: Api, args: argparse.Namespace) -> None:
    api.call(api.tenants.DeleteTenant, tenant_pb.DeleteTenantRequest(id=args.id, force=args.force))
    print_json({"deleted": args.id}) if args.json else print(f"deleted tenant {args.id}")


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


STORAGE_FLAGS = ("protocol", "root", "max_file_size", "version_retention")  # CLI flag = Storage field


def storages_update(api: Api, args: argparse.Namespace) -> None:
    storage = storage_pb.Storage(tenant_id=args.tenant_id, name=args.name)
    paths = []
    for flag in STORAGE_FLAGS:
        value = getattr(args, flag)
        if value is not None:
            setattr(storage, flag, value)
            paths.append(flag)
    if args.option is not None:
        storage.options.update(_parse_options(args.option))
        paths.append("options")
    if not paths:
        raise SystemExit("error: nothing to update (see --help)")
    request = storage_pb.UpdateStorageRequest(storage=storage, update_mask=field_mask_pb2.FieldMask(paths=paths))
    data = as_dict(api.call(api.storages.UpdateStorage, request))
    print_json(data) if args.json else print_record(data)


def storages_delete(api: Api, args: argparse.Namespace) -> None:
    api.call(api.storages.DeleteStorage, storage_pb.DeleteStorageRequest(tenant_id=args.tenant_id, name=args.name,
                                                                         force=args.force))
    print_json({"deleted": args.name}) if args.json else print(f"deleted storage {args.name}")


# -- sessions -------------------------------------------------------------------------------------

def _session_fields(session: session_pb.Session) -> dict[str, Any]:
    data = as_dict(session)
    return {"session_id": data.pop("id"), **data}


def sessions_create(api: Api, args: argparse.Namespace) -> None:
    request = session_pb.CreateSessionRequest(
        tenant_id=args.tenant_id or "", storage=args.storage, path=args.path, user_id=args.user_id,
        user_name=args.user_name or "", permission=PERMISSIONS[args.permission], ttl_seconds=args.ttl or 0,
        account=args.account or "", origin=_parse_options(args.origin, flag="--origin"), create=args.create,
        template_path=args.template or "", editor=args.editor or "", language=args.language or "",
    )
    reply = api.call(api.sessions.CreateSession, request)
    data = _session_fields(reply.session)
    data["access_token"] = reply.access_token
    data["access_token_ttl"] = reply.access_token_ttl
    if reply.editor_action_url:
        data["editor_action_url"] = reply.editor_action_url
        data["editor_form"] = dict(reply.editor_form)
        data["host_page_url"] = reply.host_page_url
    print_json(data) if args.json else print_record(data)


def sessions_get(api: Api, args: argparse.Namespace) -> None:
    data = _session_fields(api.call(api.sessions.GetSession, session_pb.GetSessionRequest(id=args.id)))
    print_json(data) if args.json else print_record(data)


def sessions_list(api: Api, args: argparse.Namespace) -> None:
    state = session_pb.SessionState.Value(f"SESSION_STATE_{args.state.upper()}") if args.state else None
    rows = [_session_fields(s) for s in _all_pages(lambda tok: api.call(
        api.sessions.ListSessions,
        session_pb.ListSessionsRequest(tenant_id=args.tenant_id or "", page_token=tok, user_id=args.user_id or "",
                                       file_id=args.file_id or "", state=state,
                                       created_by_key=args.created_by_key or "")), "sessions")]
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


def sessions_cleanup(api: Api, args: argparse.Namespace) -> None:
    request = session_pb.CleanupSessionsRequest(tenant_id=args.tenant_id or "", dry_run=args.dry_run)
    rows = [_session_fields(s) for s in api.call(api.sessions.CleanupSessions, request).sessions]
    if args.json:
        print_json({"dry_run": args.dry_run, "sessions": rows})
        return
    print_table(rows, ["session_id", "tenant_id", "path", "user_id", "expire_time"])
    print(f"{len(rows)} expired session(s) {'would be' if args.dry_run else 'were'} cleaned up")


# -- keys -----------------------------------------------------------------------------------------

def keys_create(api: Api, args: argparse.Namespace) -> None:
    role = {"admin": key_pb.KEY_ROLE_ADMIN, "tenant": key_pb.KEY_ROLE_TENANT,
            "edge": key_pb.KEY_ROLE_EDGE}.get(args.role or "", key_pb.KEY_ROLE_UNSPECIFIED)
    reply = api.call(api.keys.CreateApiKey, key_pb.CreateApiKeyRequest(tenant_id=args.tenant_id or "",
                                                                       description=args.description or "",
                                                                       role=role))
    data = {"key_id": reply.key_id, "api_key": reply.api_key, **as_dict(reply.key)}
    data.pop("id", None)
    print_json(data) if args.json else print_record(data)
    if not args.json:
        print("\nThe api_key is shown only now: store it safely.", file=sys.stderr)


def keys_list(api: Api, args: argparse.Namespace) -> None:
    rows = [as_dict(k) for k in _all_pages(lambda tok: api.call(
        api.keys.ListApiKeys, key_pb.ListApiKeysRequest(tenant_id=args.tenant_id or "", page_token=tok)), "keys")]
    print_json(rows) if args.json else print_table(rows, ["id", "role", "tenant_id", "description", "create_time",
                                                          "revoke_time"])


def keys_revoke(api: Api, args: argparse.Namespace) -> None:
    data = as_dict(api.call(api.keys.RevokeApiKey, key_pb.RevokeApiKeyRequest(
        id=args.id, close_sessions=args.close_sessions)))
    print_json(data) if args.json else print_record(data)


# -- events ---------------------------------------------------------------------------------------

def events_watch(api: Api, args: argparse.Namespace) -> None:
    """Streams until Ctrl-C; --json prints one JSON object per line (with its resume cursor)."""
    request = session_pb.WatchSessionEventsRequest(tenant_id=args.tenant_id or "", cursor=args.cursor or "")
    stream = api.sessions.WatchSessionEvents(request, metadata=api.metadata)
    try:
        for event in stream:
            data = as_dict(event)
            if args.json:
                print(json.dumps(data), flush=True)
            else:
                print(f"{data['time']}  {data['type'].removeprefix('SESSION_EVENT_TYPE_').lower():9}  "
                      f"session={data['session_id']} user={data['user_id']} file={data['file_id']} "
                      f"cursor={data['cursor']}", flush=True)
    except KeyboardInterrupt:
        stream.cancel()


# -- editors --------------------------------------------------------------------------------------

PROOF_POLICIES = {"required": editor_pb.PROOF_POLICY_REQUIRED, "if-advertised": editor_pb.PROOF_POLICY_IF_ADVERTISED,
                  "off": editor_pb.PROOF_POLICY_OFF}


BRIDGE_KINDS = ["etherpad", "codimd", "hocuspocus"]


def _secret_file(path: Any, flag: str) -> str:
    if path is None:
        raise SystemExit(f"error: a bridged app needs {flag}")
    try:
        return str(path.read_text()).strip()
    except OSError as exc:
        raise SystemExit(f"error: {flag}: {exc.strerror}: {path}") from None


def editors_add(api: Api, args: argparse.Namespace) -> None:
    if args.kind == "wopi":
        if not args.discovery_url:
            raise SystemExit("error: --discovery-url is required (or --kind etherpad|codimd|hocuspocus --url URL)")
        request = editor_pb.CreateEditorRequest(name=args.name, tenant_id=args.tenant_id or "",
                                                discovery_url=args.discovery_url,
                                                proof_policy=PROOF_POLICIES[args.proof])
    else:
        if not args.url:
            raise SystemExit(f"error: --kind {args.kind} needs --url")
        request = editor_pb.CreateEditorRequest(
            name=args.name, tenant_id=args.tenant_id or "", kind=args.kind, app_url=args.url,
            app_public_url=args.public_url or "", api_key=_secret_file(args.api_key_file, "--api-key-file"),
            webhook_secret=_secret_file(args.webhook_secret_file, "--webhook-secret-file"))
    data = as_dict(api.call(api.editors.CreateEditor, request))
    print_json(data) if args.json else print_record(data)


def editors_list(api: Api, args: argparse.Namespace) -> None:
    reply = api.call(api.editors.ListEditors, editor_pb.ListEditorsRequest(tenant_id=args.tenant_id or ""))
    rows = [as_dict(e) for e in reply.editors]
    for row in rows:
        row["extensions"] = len(row.get("extensions", []))
    print_json([as_dict(e) for e in reply.editors]) if args.json else print_table(
        rows, ["name", "tenant_id", "kind", "product", "proof_policy", "proof_keys_advertised", "extensions",
               "discovery_fetch_time", "discovery_error"])


def editors_refresh(api: Api, args: argparse.Namespace) -> None:
    request = editor_pb.RefreshEditorRequest(name=args.name, tenant_id=args.tenant_id or "")
    data = as_dict(api.call(api.editors.RefreshEditor, request))
    print_json(data) if args.json else print_record(data)


def editors_delete(api: Api, args: argparse.Namespace) -> None:
    api.call(api.editors.DeleteEditor, editor_pb.DeleteEditorRequest(name=args.name, tenant_id=args.tenant_id or "",
                                                                      force=args.force))
    print_json({"deleted": args.name}) if args.json else print(f"deleted editor {args.name}")
