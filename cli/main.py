"""Command line: `wopi-proxy [--control HOST:PORT] [--api-key KEY] <command> ...`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import grpc

from cli import client
from cli.audit_commands import add_audit_commands
from control.secrets import SecretKeyError
from shared.logs import configure as configure_logging

DEFAULT_CONTROL = "127.0.0.1:50051"
DEFAULT_KEY_FILE = Path("data") / "admin.key"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    try:
        return float(value) if value else default
    except ValueError:
        raise SystemExit(f"error: {name} must be a number of seconds, not {value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wopi-proxy", description="A multi-tenant WOPI host.")
    parser.add_argument("--control", default=None,
                        help=f"control plane HOST:PORT (env WOPI_PROXY_CONTROL, default {DEFAULT_CONTROL})")
    parser.add_argument("--api-key", default=None,
                        help="API key (env WOPI_PROXY_API_KEY, default: the contents of ./data/admin.key)")
    parser.add_argument("--log-level", default=os.environ.get("WOPI_PROXY_LOG_LEVEL", "INFO"))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fmt = argparse.ArgumentParser(add_help=False)
    fmt.add_argument("--json", action="store_true", help="print JSON (snake_case field names)")

    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--data-dir", type=Path, default=Path(os.environ.get("WOPI_PROXY_DATA_DIR", "data")),
                       help="state folder: SQLite database, admin.key (default ./data)")
    store.add_argument("--database-url", default=os.environ.get("WOPI_PROXY_DATABASE_URL"),
                       help="e.g. postgresql+psycopg://user@host/db (default: SQLite in the data dir)")
    store.add_argument("--grpc-port", type=int, default=_env_int("WOPI_PROXY_GRPC_PORT", 50051))
    store.add_argument("--ready-file", help="write the bound ports as JSON here once serving")
    store.add_argument("--secret-key-file", type=Path, default=None,
                       help="Fernet key encrypting stored secrets (env WOPI_PROXY_SECRET_KEY; "
                            "default <data-dir>/secret.key, generated on first start)")
    store.add_argument("--write-intent-ttl", type=float, default=_env_float("WOPI_PROXY_WRITE_INTENT_TTL_S", 60.0),
                       help="seconds after which a write that storage does not hold is abandoned; writers "
                            "publish within half of it (env WOPI_PROXY_WRITE_INTENT_TTL_S, default 60)")
    store.add_argument("--intent-sweep-interval", type=float,
                       default=_env_float("WOPI_PROXY_INTENT_SWEEP_INTERVAL_S", 30.0),
                       help="seconds between sweeps resolving unconfirmed writes from storage "
                            "(env WOPI_PROXY_INTENT_SWEEP_INTERVAL_S, default 30)")

    serve = commands.add_parser("serve", parents=[store], help="control plane and edge together (one machine)")
    serve.add_argument("--host", default=os.environ.get("WOPI_PROXY_HOST", "127.0.0.1"),
                       help="address of both listeners (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=_env_int("WOPI_PROXY_PORT", 8000), help="WOPI HTTP port")
    serve.add_argument("--public-url", default=os.environ.get("WOPI_PROXY_PUBLIC_URL"),
                       help="the edge's URL as editors reach it (default http://HOST:PORT)")
    serve.add_argument("--max-file-size", type=int, default=_env_int("WOPI_PROXY_MAX_FILE_SIZE", 1 << 30),
                       help="default upload limit in bytes (default 1 GiB)")

    control = commands.add_parser("control", parents=[store], help="the control plane alone")
    control.add_argument("--host", default=os.environ.get("WOPI_PROXY_HOST", "127.0.0.1"))
    control.add_argument("--public-url", default=os.environ.get("WOPI_PROXY_PUBLIC_URL", "http://127.0.0.1:8000"),
                         help="the edges' public URL, used in WOPISrc")

    edge = commands.add_parser("edge", help="a WOPI edge alone (scale out: run several)")
    edge.add_argument("--control", dest="edge_control", default=None, help="control plane HOST:PORT")
    edge.add_argument("--api-key-file", type=Path, help="read the edge's API key from this file")
    edge.add_argument("--host", default=os.environ.get("WOPI_PROXY_HOST", "127.0.0.1"))
    edge.add_argument("--port", type=int, default=_env_int("WOPI_PROXY_PORT", 8000))
    edge.add_argument("--max-file-size", type=int, default=_env_int("WOPI_PROXY_MAX_FILE_SIZE", 1 << 30),
                      help="default upload limit in bytes")
    edge.add_argument("--ready-file", help="write the bound port as JSON here once serving")
    edge.add_argument("--public-url", default=os.environ.get("WOPI_PROXY_PUBLIC_URL"),
                      help="the edge's URL as editors reach it (proof keys sign it); default: the Host header")
    edge.add_argument("--rest-gateway", action="store_true",
                      help="also serve the REST gateway of the control API on this port")
    edge.add_argument("--trust-forwarded-headers", action="store_true",
                      help="take the public URL from X-Forwarded-Proto/Host/Prefix (behind a trusted proxy)")
    edge.add_argument("--control-read-timeout", type=float,
                      default=_env_float("WOPI_PROXY_CONTROL_READ_TIMEOUT_S", 5.0),
                      help="deadline in seconds of control-plane calls for reads (CheckFileInfo, GetFile, "
                           "GetLock) (env WOPI_PROXY_CONTROL_READ_TIMEOUT_S, default 5)")
    edge.add_argument("--control-write-timeout", type=float,
                      default=_env_float("WOPI_PROXY_CONTROL_WRITE_TIMEOUT_S", 15.0),
                      help="deadline in seconds of control-plane calls for writes and lock changes "
                           "(env WOPI_PROXY_CONTROL_WRITE_TIMEOUT_S, default 15)")

    tenants = commands.add_parser("tenants", help="manage tenants").add_subparsers(dest="verb", required=True)
    p = tenants.add_parser("add", parents=[fmt])
    p.add_argument("--id", required=True)
    p.add_argument("--name", required=True)
    p.set_defaults(handler=client.tenants_add)
    p = tenants.add_parser("get", parents=[fmt])
    p.add_argument("id")
    p.set_defaults(handler=client.tenants_get)
    tenants.add_parser("list", parents=[fmt]).set_defaults(handler=client.tenants_list)
    p = tenants.add_parser("update", parents=[fmt], help="change name, enabled, settings")
    p.add_argument("id")
    p.add_argument("--name")
    p.add_argument("--enable", dest="enabled", action="store_const", const=True)
    p.add_argument("--disable", dest="enabled", action="store_const", const=False,
                   help="the tenant's tokens stop working at once")
    p.add_argument("--post-message-origin", help="exact origin of the page hosting the editor")
    p.add_argument("--default-ttl", type=int, help="default session TTL in seconds (0: 10 hours)")
    p.add_argument("--webhook-url", help="receives session events as signed POSTs ('' to disable)")
    p.add_argument("--webhook-secret", help="HMAC key of the webhook signature")
    p.add_argument("--audit-retention-days", type=int, help="0 keeps audit events forever")
    p.add_argument("--editor-mode", choices=["pool", "own", "disabled"],
                   help="which editors sessions use: the shared pool, the tenant's own, or none")
    p.set_defaults(handler=client.tenants_update)
    p = tenants.add_parser("delete", parents=[fmt], help="delete a tenant's records (not its files)")
    p.add_argument("id")
    p.add_argument("--force", action="store_true", help="even with open sessions")
    p.set_defaults(handler=client.tenants_delete)

    keys = commands.add_parser("keys", help="API keys").add_subparsers(dest="verb", required=True)
    p = keys.add_parser("create", parents=[fmt], help="a tenant key (--tenant-id) or an admin key")
    p.add_argument("--tenant-id")
    p.add_argument("--description")
    p.set_defaults(handler=client.keys_create)
    p = keys.add_parser("list", parents=[fmt])
    p.add_argument("--tenant-id")
    p.set_defaults(handler=client.keys_list)
    p = keys.add_parser("revoke", parents=[fmt])
    p.add_argument("id")
    p.set_defaults(handler=client.keys_revoke)

    storages = commands.add_parser("storages", help="manage storages").add_subparsers(dest="verb", required=True)
    p = storages.add_parser("add", parents=[fmt])
    p.add_argument("--tenant-id", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--protocol", default="file", help="fsspec protocol (default file)")
    p.add_argument("--root", required=True, help="folder (file) or bucket/prefix (s3)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="fsspec option, repeatable")
    p.add_argument("--max-file-size", type=int, help="largest file a save may write, in bytes")
    p.add_argument("--version-retention", type=int,
                   help="previous versions kept per file (default 10; -1 keeps none)")
    p.set_defaults(handler=client.storages_add)
    p = storages.add_parser("get", parents=[fmt])
    p.add_argument("--tenant-id", required=True)
    p.add_argument("--name", required=True)
    p.set_defaults(handler=client.storages_get)
    p = storages.add_parser("list", parents=[fmt])
    p.add_argument("--tenant-id", required=True)
    p.set_defaults(handler=client.storages_list)

    sessions = commands.add_parser("sessions", help="open and close editing sessions").add_subparsers(
        dest="verb", required=True)
    p = sessions.add_parser("create", parents=[fmt])
    p.add_argument("--tenant-id", help="required with the admin key")
    p.add_argument("--storage", required=True, help="storage name")
    p.add_argument("--path", required=True, help="file path relative to the storage root")
    p.add_argument("--user-id", required=True)
    p.add_argument("--user-name")
    p.add_argument("--permission", choices=sorted(client.PERMISSIONS), default="edit")
    p.add_argument("--ttl", type=int, help="token lifetime in seconds (default: the tenant's, else 10 hours)")
    p.add_argument("--account", help="label for the audit")
    p.add_argument("--origin", action="append", default=[], metavar="KEY=VALUE",
                   help="context returned in events and webhooks, repeatable")
    p.add_argument("--create", action="store_true", help="create the file when missing (empty or --template)")
    p.add_argument("--template", help="with --create: copy this file of the storage")
    p.add_argument("--editor", help="open with this editor (default: chosen by the file's extension)")
    p.add_argument("--language", help="the editor's UI language, e.g. de-DE (default en-US)")
    p.set_defaults(handler=client.sessions_create)
    p = sessions.add_parser("list", parents=[fmt])
    p.add_argument("--tenant-id")
    p.add_argument("--user-id")
    p.add_argument("--file-id")
    p.add_argument("--state", choices=["open", "closed", "expired"])
    p.set_defaults(handler=client.sessions_list)
    p = sessions.add_parser("cleanup", parents=[fmt], help="end expired sessions")
    p.add_argument("--tenant-id")
    p.add_argument("--dry-run", action="store_true", help="only list what would be cleaned up")
    p.set_defaults(handler=client.sessions_cleanup)
    p = sessions.add_parser("get", parents=[fmt])
    p.add_argument("id")
    p.set_defaults(handler=client.sessions_get)
    p = sessions.add_parser("close", parents=[fmt])
    p.add_argument("id")
    p.set_defaults(handler=client.sessions_close)

    editors = commands.add_parser("editors", help="WOPI clients (Collabora, OnlyOffice, ...)").add_subparsers(
        dest="verb", required=True)
    p = editors.add_parser("add", parents=[fmt], help="add an editor by its discovery URL")
    p.add_argument("--name", required=True)
    p.add_argument("--discovery-url", required=True, help="e.g. https://office.example.com/hosting/discovery")
    p.add_argument("--tenant-id", help="the tenant's own editor (default: the shared pool)")
    p.add_argument("--proof", choices=sorted(client.PROOF_POLICIES), default="if-advertised",
                   help="proof-key checks on the editor's WOPI requests (default if-advertised)")
    p.set_defaults(handler=client.editors_add)
    p = editors.add_parser("list", parents=[fmt])
    p.add_argument("--tenant-id")
    p.set_defaults(handler=client.editors_list)
    p = editors.add_parser("refresh", parents=[fmt], help="fetch the discovery document again now")
    p.add_argument("name")
    p.add_argument("--tenant-id")
    p.set_defaults(handler=client.editors_refresh)
    p = editors.add_parser("delete", parents=[fmt])
    p.add_argument("name")
    p.add_argument("--tenant-id")
    p.set_defaults(handler=client.editors_delete)

    events = commands.add_parser("events", help="session events").add_subparsers(dest="verb", required=True)
    p = events.add_parser("watch", parents=[fmt], help="stream session events until Ctrl-C")
    p.add_argument("--tenant-id", help="required with the admin key")
    p.add_argument("--cursor", help="resume after this cursor ('0': from the oldest kept)")
    p.set_defaults(handler=client.events_watch)

    files = commands.add_parser("files", help="files, their kept versions, restore").add_subparsers(
        dest="verb", required=True)
    p = files.add_parser("get", parents=[fmt])
    p.add_argument("--tenant-id", required=True)
    p.add_argument("file_id")
    p.set_defaults(handler=client.files_get)
    p = files.add_parser("versions", parents=[fmt], help="list a file's kept versions, newest first")
    p.add_argument("--tenant-id", required=True)
    p.add_argument("file_id")
    p.set_defaults(handler=client.files_versions)
    p = files.add_parser("restore", parents=[fmt], help="make a kept version current again")
    p.add_argument("--tenant-id", required=True)
    p.add_argument("file_id")
    p.add_argument("--version", type=int, required=True)
    p.set_defaults(handler=client.files_restore)
    add_audit_commands(commands, fmt)
    return parser


def _api_key(args: argparse.Namespace) -> str:
    if args.api_key:
        return str(args.api_key)
    if os.environ.get("WOPI_PROXY_API_KEY"):
        return os.environ["WOPI_PROXY_API_KEY"]
    if DEFAULT_KEY_FILE.exists():
        return DEFAULT_KEY_FILE.read_text().strip()
    raise SystemExit(f"error: no API key: pass --api-key, set WOPI_PROXY_API_KEY, or run where {DEFAULT_KEY_FILE} exists")


def _control_address(args: argparse.Namespace, override: str | None = None) -> str:
    return override or args.control or os.environ.get("WOPI_PROXY_CONTROL") or DEFAULT_CONTROL


def _run_service(args: argparse.Namespace) -> None:
    from cli import run
    from shared import failpoints

    failpoints.check_environment()
    from control.settings import ControlSettings
    from edge.settings import EdgeSettings

    if args.command == "edge":
        key = run.read_key_file(args.api_key_file) if args.api_key_file else _api_key(args)
        settings = EdgeSettings(control_address=_control_address(args, args.edge_control), api_key=key,
                                host=args.host, port=args.port, max_file_size=args.max_file_size,
                                public_url=args.public_url, trust_forwarded_headers=args.trust_forwarded_headers,
                                control_read_timeout_s=args.control_read_timeout,
                                control_write_timeout_s=args.control_write_timeout)
        asyncio.run(run.edge_only(settings, args.ready_file, rest_gateway=args.rest_gateway))
        return
    control = ControlSettings(data_dir=args.data_dir, grpc_host=args.host, grpc_port=args.grpc_port,
                              database_url=args.database_url, secret_key_file=args.secret_key_file,
                              write_intent_ttl_s=args.write_intent_ttl,
                              intent_sweep_interval_s=args.intent_sweep_interval)
    if args.command == "serve":
        asyncio.run(run.serve(control, args.host, args.port, args.public_url, args.ready_file, args.max_file_size))
    else:
        control = ControlSettings(**{**control.__dict__, "wopi_base_url": args.public_url})
        asyncio.run(run.control_only(control, args.ready_file))


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    if args.command in ("serve", "control", "edge"):
        try:
            _run_service(args)
        except (OSError, SecretKeyError) as exc:
            raise SystemExit(f"error: {exc}") from None
        return
    address = _control_address(args)
    api = client.Api(address, _api_key(args))
    try:
        args.handler(api, args)
    except grpc.RpcError as error:
        code = error.code()  # type: ignore[attr-defined]
        detail = error.details()  # type: ignore[attr-defined]
        if code == grpc.StatusCode.UNAVAILABLE:
            detail = f"cannot reach the control plane at {address} ({detail})"
        print(f"error: {code.name}: {detail}", file=sys.stderr)
        sys.exit(1)
    finally:
        api.channel.close()


if __name__ == "__main__":
    main()
