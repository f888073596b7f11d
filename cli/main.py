"""Command line: `wopi-proxy [--control HOST:PORT] [--api-key KEY] <command> ...`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import grpc

from cli import client
from cli.audit_commands import add_audit_commands
from cli.bridge_commands import add_bridge_commands
from cli.db_commands import add_db_commands
from cli.doctor_commands import add_doctor_commands
from shared.file_size import DEFAULT_MAX_FILE_SIZE
from shared.grpc_channel import ServerTlsSettings, TlsSettings
from shared.logs import FORMATS as LOG_FORMATS
from shared.logs import configure as configure_logging
from shared.errors import StartupRefused
from shared.wopi_operation import MAX_GRANTS_PER_CALL

DEFAULT_CONTROL = "127.0.0.1:50051"
DEFAULT_KEY_FILE = Path("data") / "admin.key"
DEFAULT_EDGE_KEY_FILE = Path("data") / "edge.key"  # what `edge` reads without --api-key-file


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    try:
        return float(value) if value else default
    except ValueError:
        raise SystemExit(f"error: {name} must be a number of seconds, not {value!r}") from None


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in ("1", "true", "yes", "0", "false", "no"):
        raise SystemExit(f"error: {name} must be 1 or 0 (true/false, yes/no), not {value!r}")
    return value in ("1", "true", "yes")


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _add_tls_client_flags(parser: argparse.ArgumentParser, *, env: bool, who: str = "") -> None:
    """The client side of TLS to the control plane. On the top-level parser (CLI verbs) they default
    to the environment; on `edge` and `serve` (dest cmd_*) they fall back to the top-level values."""
    prefix = "" if env else "cmd_"
    suffix = f"; {who}" if who else ""
    flags = [("--tls-ca", "TLS_CA", "connect with TLS, verifying the control plane against this PEM CA bundle"),
             ("--tls-client-cert", "TLS_CLIENT_CERT", "mutual TLS: present this PEM client certificate"),
             ("--tls-client-key", "TLS_CLIENT_KEY", "the PEM private key of --tls-client-cert")]
    for flag, name, text in flags:
        parser.add_argument(flag, dest=prefix + flag[2:].replace("-", "_"), type=Path,
                            default=_env_path(f"WOPI_PROXY_{name}") if env else None,
                            help=f"{text} (env WOPI_PROXY_{name}{suffix})")
    parser.add_argument("--tls-server-name", dest=f"{prefix}tls_server_name",
                        default=os.environ.get("WOPI_PROXY_TLS_SERVER_NAME") if env else None,
                        help="the name the control plane's certificate must carry, when the address is not "
                             f"it, e.g. a certificate for control.internal reached at 127.0.0.1 "
                             f"(env WOPI_PROXY_TLS_SERVER_NAME{suffix})")


def _client_tls(args: argparse.Namespace) -> TlsSettings:
    """The TLS of a channel to the control plane: the command's flags, else the top-level ones / env."""
    def pick(name: str) -> Any:
        return getattr(args, f"cmd_{name}", None) or getattr(args, name)

    return TlsSettings(ca_file=pick("tls_ca"), client_cert_file=pick("tls_client_cert"),
                       client_key_file=pick("tls_client_key"), server_name=pick("tls_server_name"))


def _env_optional_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wopi-proxy", description="A multi-tenant WOPI host.")
    parser.add_argument("--control", default=None,
                        help=f"control plane HOST:PORT (env WOPI_PROXY_CONTROL, default {DEFAULT_CONTROL})")
    parser.add_argument("--api-key", default=None,
                        help="API key (env WOPI_PROXY_API_KEY, default: the contents of ./data/admin.key)")
    _add_tls_client_flags(parser, env=True)
    parser.add_argument("--log-level", default=os.environ.get("WOPI_PROXY_LOG_LEVEL", "INFO"),
                        help="DEBUG, INFO (default), WARNING or ERROR (env WOPI_PROXY_LOG_LEVEL)")
    parser.add_argument("--log-format", choices=LOG_FORMATS, default=os.environ.get("WOPI_PROXY_LOG_FORMAT", "text"),
                        help="text (default) or json: one JSON object per line (env WOPI_PROXY_LOG_FORMAT)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fmt = argparse.ArgumentParser(add_help=False)
    fmt.add_argument("--json", action="store_true", help="print JSON (snake_case field names)")

    # Also accepted after the service commands (`wopi-proxy serve --log-format json`).
    service = argparse.ArgumentParser(add_help=False)
    service.add_argument("--log-format", choices=LOG_FORMATS, default=argparse.SUPPRESS,
                         help="text or json (env WOPI_PROXY_LOG_FORMAT, default text)")

    # Where the control plane's state is (serve, control, db).
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument("--data-dir", type=Path, default=Path(os.environ.get("WOPI_PROXY_DATA_DIR", "data")),
                          help="state folder: SQLite database, admin.key, edge.key (env WOPI_PROXY_DATA_DIR, "
                               "default ./data)")
    database.add_argument("--database-url", default=os.environ.get("WOPI_PROXY_DATABASE_URL"),
                          help="e.g. postgresql+psycopg://user@host/db (env WOPI_PROXY_DATABASE_URL, "
                               "default: SQLite in the data dir)")
    database.add_argument("--secret-key-file", type=Path, default=None,
                          help="Fernet key encrypting stored secrets (env WOPI_PROXY_SECRET_KEY; "
                               "default <data-dir>/secret.key, generated on first start)")

    store = argparse.ArgumentParser(add_help=False, parents=[service, database])
    store.add_argument("--grpc-port", type=int, default=_env_int("WOPI_PROXY_GRPC_PORT", 50051),
                       help="port of the gRPC control API (env WOPI_PROXY_GRPC_PORT, default 50051; "
                            "0: any free port, reported in --ready-file)")
    store.add_argument("--ready-file", help="write the bound ports as JSON here once serving")
    store.add_argument("--metrics-port", type=int, default=_env_optional_int("WOPI_PROXY_METRICS_PORT"),
                       help="serve Prometheus metrics of the control plane at http://HOST:PORT/metrics "
                            "(env WOPI_PROXY_METRICS_PORT; 0: any free port, reported in --ready-file as "
                            "metrics_port; default: no such listener)")
    store.add_argument("--invalid-token-audit-window", type=float, metavar="SECONDS",
                       default=_env_float("WOPI_PROXY_INVALID_TOKEN_AUDIT_WINDOW", 60.0),
                       help="requests with invalid tokens are audited as one record per client address and "
                            "window (env WOPI_PROXY_INVALID_TOKEN_AUDIT_WINDOW, default 60)")
    store.add_argument("--launch-code-ttl", type=int, metavar="SECONDS",
                       default=_env_int("WOPI_PROXY_LAUNCH_CODE_TTL", 300),
                       help="lifetime of a host page's launch code (env WOPI_PROXY_LAUNCH_CODE_TTL, default 300)")
    store.add_argument("--launch-code-purge-interval", type=float, metavar="SECONDS",
                       default=_env_float("WOPI_PROXY_LAUNCH_CODE_PURGE_INTERVAL", 60.0),
                       help="how often expired launch codes are deleted (env WOPI_PROXY_LAUNCH_CODE_PURGE_INTERVAL, "
                            "default 60)")
    # The storage policy (README "Storage policy"): what tenant keys may make storages of.
    store.add_argument("--tenant-file-base", type=Path, default=_env_path("WOPI_PROXY_TENANT_FILE_BASE"),
                       metavar="DIR", help="tenant keys may create local (file) storages only inside DIR/<tenant_id> "
                                           "(env WOPI_PROXY_TENANT_FILE_BASE; default: no local storages for "
                                           "tenant keys)")
    store.add_argument("--tenant-storage-protocols", metavar="LIST",
                       default=os.environ.get("WOPI_PROXY_TENANT_STORAGE_PROTOCOLS"),
                       help="comma-separated protocols tenant keys may use (env WOPI_PROXY_TENANT_STORAGE_PROTOCOLS;"
                            " default s3, plus file with --tenant-file-base)")
    store.add_argument("--allow-ambient-credentials", action="append", metavar="TENANT_ID",
                       default=_env_list("WOPI_PROXY_ALLOW_AMBIENT_CREDENTIALS"),
                       help="let this tenant's storages use the server's own cloud credentials (AWS_* "
                            "environment, instance role, profiles); repeatable (env "
                            "WOPI_PROXY_ALLOW_AMBIENT_CREDENTIALS, comma-separated)")
    # Per-tenant caps on tenant keys (README "Abuse limits and quotas"); admin keys are not capped.
    for flag, env, default, text in (
            ("--max-storages-per-tenant", "MAX_STORAGES_PER_TENANT", 100, "storages a tenant may have; a tenant "
             "key's CreateStorage beyond it is RESOURCE_EXHAUSTED"),
            ("--max-editors-per-tenant", "MAX_EDITORS_PER_TENANT", 50, "editors a tenant may have; a tenant key's "
             "CreateEditor beyond it is RESOURCE_EXHAUSTED"),
            ("--max-open-sessions-per-tenant", "MAX_OPEN_SESSIONS_PER_TENANT", 10_000, "sessions neither closed nor "
             "expired a tenant may have; a tenant key's CreateSession beyond it is RESOURCE_EXHAUSTED"),
            ("--max-event-streams-per-tenant", "MAX_EVENT_STREAMS_PER_TENANT", 16, "WatchSessionEvents streams a "
             "tenant's keys may hold open at once in one control-plane process; one more is RESOURCE_EXHAUSTED"),
            ("--max-audit-verifications-per-tenant", "MAX_AUDIT_VERIFICATIONS_PER_TENANT", 1, "VerifyAuditChain "
             "calls a tenant's keys may have running at once in one control-plane process; one more is "
             "RESOURCE_EXHAUSTED"),
            ("--max-discovery-fetches-per-tenant", "MAX_DISCOVERY_FETCHES_PER_TENANT", 2, "discovery fetches "
             "(CreateEditor, RefreshEditor, DiagnoseEditor) a tenant's keys may have running at once in one "
             "control-plane process; one more is RESOURCE_EXHAUSTED")):
        store.add_argument(flag, type=int, metavar="N", default=_env_int(f"WOPI_PROXY_{env}", default),
                           help=f"{text} (env WOPI_PROXY_{env}, default {default}; 0: no limit)")
    store.add_argument("--tls-cert", type=Path, default=_env_path("WOPI_PROXY_TLS_CERT"),
                       help="serve gRPC over TLS with this PEM certificate (chain) (env WOPI_PROXY_TLS_CERT)")
    store.add_argument("--tls-key", type=Path, default=_env_path("WOPI_PROXY_TLS_KEY"),
                       help="the PEM private key of --tls-cert (env WOPI_PROXY_TLS_KEY)")
    store.add_argument("--tls-client-ca", type=Path, default=_env_path("WOPI_PROXY_TLS_CLIENT_CA"),
                       help="mutual TLS: require client certificates issued by this CA bundle "
                            "(env WOPI_PROXY_TLS_CLIENT_CA)")
    store.add_argument("--session-expiry-interval", type=float,
                       default=_env_float("WOPI_PROXY_SESSION_EXPIRY_INTERVAL", 30.0),
                       help="seconds between rounds that end expired sessions and emit their 'expired' event "
                            "(env WOPI_PROXY_SESSION_EXPIRY_INTERVAL, default 30)")
    store.add_argument("--lease-ttl", type=float, metavar="SECONDS", default=_env_float("WOPI_PROXY_LEASE_TTL", 15.0),
                       help="control-plane replicas over one database run each background job (webhooks, "
                            "retention, expiry, ...) on the replica holding its lease; a dead replica's "
                            "leases pass to another after this long (env WOPI_PROXY_LEASE_TTL, default 15)")
    store.add_argument("--health-check-interval", type=float,
                       default=_env_float("WOPI_PROXY_HEALTH_CHECK_INTERVAL", 5.0),
                       help="seconds between database probes that set the gRPC health status "
                            "(env WOPI_PROXY_HEALTH_CHECK_INTERVAL, default 5)")
    store.add_argument("--staging-max-age", type=float, default=_env_float("WOPI_PROXY_STAGING_MAX_AGE", 3600.0),
                       help="staging objects (.wopi-staging/) older than this many seconds are removed, at start "
                            "and every 15 minutes (env WOPI_PROXY_STAGING_MAX_AGE, default 3600)")
    store.add_argument("--write-intent-ttl", type=float, default=_env_float("WOPI_PROXY_WRITE_INTENT_TTL_S", 60.0),
                       help="seconds after which a write that storage does not hold is abandoned; writers "
                            "publish within half of it (env WOPI_PROXY_WRITE_INTENT_TTL_S, default 60)")
    store.add_argument("--intent-sweep-interval", type=float,
                       default=_env_float("WOPI_PROXY_INTENT_SWEEP_INTERVAL_S", 30.0),
                       help="seconds between sweeps resolving unconfirmed writes from storage "
                            "(env WOPI_PROXY_INTENT_SWEEP_INTERVAL_S, default 30)")
    # The bridge's timing (README "Bridged apps (control plane)").
    for flag, env, default, text in (
            ("--bridge-save-debounce", "BRIDGE_SAVE_DEBOUNCE", 5, "a bridged document is saved this long after its "
             "last change"),
            ("--bridge-save-max-wait", "BRIDGE_SAVE_MAX_WAIT", 60, "... and no later than this after its first "
             "unsaved change"),
            ("--bridge-poll-interval", "BRIDGE_POLL_INTERVAL", 30, "the bridge asks the app for changes and presence "
             "this often while people are in a document"),
            ("--bridge-idle-poll-interval", "BRIDGE_IDLE_POLL_INTERVAL", 300, "... and this often while nobody is"),
            ("--bridge-unlock-grace", "BRIDGE_UNLOCK_GRACE", 60, "after the last person left and the final save, "
             "the file is unlocked and the app's copy removed this much later"),
            ("--bridge-lease", "BRIDGE_LEASE", 60, "a bridge worker's hold on a document; a crashed worker's work is "
             "handed out again after it"),
            ("--bridge-entry-ttl", "BRIDGE_ENTRY_TTL", 120, "lifetime of the single-use code that lets a user's "
             "browser into a bridged app")):
        store.add_argument(flag, type=int, metavar="SECONDS", default=_env_int(f"WOPI_PROXY_{env}", default),
                           help=f"{text} (env WOPI_PROXY_{env}, default {default})")

    # The edge's invalid-token flood limit (serve and edge).
    flood = argparse.ArgumentParser(add_help=False)
    flood.add_argument("--invalid-token-limit", type=int, metavar="N",
                       default=_env_int("WOPI_PROXY_INVALID_TOKEN_LIMIT", 60),
                       help="WOPI requests without a valid token per minute and client address before 429 "
                            "(env WOPI_PROXY_INVALID_TOKEN_LIMIT, default 60; 0 disables)")
    flood.add_argument("--invalid-token-burst", type=int, metavar="N",
                       default=_env_int("WOPI_PROXY_INVALID_TOKEN_BURST", 20),
                       help="how many of them an address may send at once (env WOPI_PROXY_INVALID_TOKEN_BURST, "
                            "default 20)")
    flood.add_argument("--refusal-report-interval", type=float, metavar="SECONDS",
                       default=_env_float("WOPI_PROXY_REFUSAL_REPORT_INTERVAL", 5.0),
                       help="how often the edge reports its own refusals for the audit "
                            "(env WOPI_PROXY_REFUSAL_REPORT_INTERVAL, default 5)")
    # How the edge's grant calls share gRPC calls under load (edge/call_batching.py; serve and edge).
    flood.add_argument("--control-batch-size", type=int, metavar="N",
                       default=_env_int("WOPI_PROXY_CONTROL_BATCH_SIZE", 64),
                       help="most WOPI requests whose grants share one control-plane call when calls are "
                            "already in flight (env WOPI_PROXY_CONTROL_BATCH_SIZE, default 64; 1 gives every "
                            "request a call of its own)")
    # How tenants share the edge's grant calls (edge/tenant_fairness.py; serve and edge).
    flood.add_argument("--grant-slots", type=int, metavar="N",
                       default=_env_int("WOPI_PROXY_GRANT_SLOTS", 64),
                       help="most grants the edge asks of the control plane at once (env WOPI_PROXY_GRANT_SLOTS, "
                            "default 64; 0: no limit and no per-tenant shares)")
    flood.add_argument("--grant-slots-lead", type=int, metavar="N",
                       default=_env_int("WOPI_PROXY_GRANT_SLOTS_LEAD", 2),
                       help="most grants one tenant has out beyond the busiest other tenant while others are "
                            "active too, so that one tenant's flood does not queue the others' requests (env "
                            "WOPI_PROXY_GRANT_SLOTS_LEAD, default 2)")
    flood.add_argument("--body-idle-timeout", type=float, metavar="SECONDS",
                       default=_env_float("WOPI_PROXY_BODY_IDLE_TIMEOUT", 120.0),
                       help="an upload whose client sends nothing this long is abandoned (408), and a reply "
                            "whose client reads nothing this long is given up and its connection closed (env "
                            "WOPI_PROXY_BODY_IDLE_TIMEOUT, default 120)")
    # Bodies received at once, each up to ~1.5 MiB of the edge's memory (edge/upload_slots.py; serve and edge).
    flood.add_argument("--max-uploads-per-token", type=int, metavar="N",
                       default=_env_int("WOPI_PROXY_MAX_UPLOADS_PER_TOKEN", 4),
                       help="most PutFile/PutRelativeFile bodies one access token may send at once; past it 429 "
                            "with Retry-After (env WOPI_PROXY_MAX_UPLOADS_PER_TOKEN, default 4; 0: no cap)")
    flood.add_argument("--max-uploads-per-tenant", type=int, metavar="N",
                       default=_env_int("WOPI_PROXY_MAX_UPLOADS_PER_TENANT", -1),
                       help="most PutFile/PutRelativeFile bodies one tenant may send to an edge process at once, "
                            "whatever its tokens; past it 429 with Retry-After (env "
                            "WOPI_PROXY_MAX_UPLOADS_PER_TENANT, default half of --max-uploads; 0: no cap)")
    flood.add_argument("--max-uploads", type=int, metavar="N",
                       default=_env_int("WOPI_PROXY_MAX_UPLOADS", 256),
                       help="most PutFile/PutRelativeFile bodies an edge process receives at once; past it 503 "
                            "with Retry-After (env WOPI_PROXY_MAX_UPLOADS, default 256; 0: no cap)")
    # Replies with file bytes sent at once, each up to ~2.4 MiB until its client has read it (edge/upload_slots.py).
    flood.add_argument("--max-downloads-per-token", type=int, metavar="N",
                       default=_env_int("WOPI_PROXY_MAX_DOWNLOADS_PER_TOKEN", 32),
                       help="most GetFile replies one access token may have on their way at once; past it 429 "
                            "with Retry-After (env WOPI_PROXY_MAX_DOWNLOADS_PER_TOKEN, default 32; 0: no cap)")
    flood.add_argument("--max-downloads-per-tenant", type=int, metavar="N",
                       default=_env_int("WOPI_PROXY_MAX_DOWNLOADS_PER_TENANT", -1),
                       help="most GetFile replies one tenant may have on their way from an edge process at once, "
                            "whatever its tokens; past it 429 with Retry-After (env "
                            "WOPI_PROXY_MAX_DOWNLOADS_PER_TENANT, default half of --max-downloads; 0: no cap)")
    flood.add_argument("--max-downloads", type=int, metavar="N",
                       default=_env_int("WOPI_PROXY_MAX_DOWNLOADS", 256),
                       help="most GetFile replies an edge process sends at once; past it 503 with Retry-After "
                            "(env WOPI_PROXY_MAX_DOWNLOADS, default 256; 0: no cap)")

    egress = argparse.ArgumentParser(add_help=False)
    egress.add_argument("--egress-allow", action="append", metavar="CIDR",
                        default=[os.environ["WOPI_PROXY_EGRESS_ALLOW"]] if os.environ.get("WOPI_PROXY_EGRESS_ALLOW")
                        else [],
                        help="a network that URLs set by tenant keys (discovery URLs, S3 endpoints) may reach "
                             "although internal, e.g. 10.20.0.0/16; repeatable (env WOPI_PROXY_EGRESS_ALLOW, "
                             "comma separated)")

    # The bridge's worker in the edge (serve and edge; docs/BRIDGE.md).
    bridge = argparse.ArgumentParser(add_help=False)
    bridge.add_argument("--bridge-worker", action=argparse.BooleanOptionalAction,
                        default=_env_bool("WOPI_PROXY_BRIDGE_WORKER", True),
                        help="run the bridge worker in the edge: it loads, saves and closes documents of "
                             "bridged apps (Etherpad, ...) (env WOPI_PROXY_BRIDGE_WORKER=1/0, default yes)")
    bridge.add_argument("--bridge-wopi-url", metavar="URL", default=os.environ.get("WOPI_PROXY_BRIDGE_WOPI_URL"),
                        help="the edge the bridge worker reads and saves files through (WOPI), e.g. "
                             "http://edge.internal:8000 (env WOPI_PROXY_BRIDGE_WOPI_URL; default: this edge's "
                             "own listening address)")

    serve = commands.add_parser("serve", parents=[store, flood, egress, bridge], help="control plane and edge together (one machine)")
    serve.add_argument("--host", default=os.environ.get("WOPI_PROXY_HOST", "127.0.0.1"),
                       help="address of both listeners (env WOPI_PROXY_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=_env_int("WOPI_PROXY_PORT", 8000),
                       help="WOPI HTTP port (env WOPI_PROXY_PORT, default 8000)")
    serve.add_argument("--public-url", default=os.environ.get("WOPI_PROXY_PUBLIC_URL"),
                       help="the edge's URL as editors reach it, the base of WOPISrc "
                            "(env WOPI_PROXY_PUBLIC_URL, default http://HOST:PORT)")
    serve.add_argument("--max-file-size", type=int, default=_env_int("WOPI_PROXY_MAX_FILE_SIZE", DEFAULT_MAX_FILE_SIZE),
                       help="default upload limit in bytes (env WOPI_PROXY_MAX_FILE_SIZE, default 1 GiB)")
    serve.add_argument("--trust-forwarded-headers", action="store_true",
                       default=bool(os.environ.get("WOPI_PROXY_TRUST_FORWARDED_HEADERS")),
                       help="behind a trusted proxy: public URL from X-Forwarded-Proto/Host/Prefix, client address "
                            "from the rightmost X-Forwarded-For hop (env WOPI_PROXY_TRUST_FORWARDED_HEADERS)")
    _add_tls_client_flags(serve, env=False, who="serve's own edge and REST gateway (defaults from --tls-cert)")
    serve.add_argument("--migrate", action=argparse.BooleanOptionalAction, default=_env_bool("WOPI_PROXY_MIGRATE", True),
                       help="upgrade an older database schema at start (env WOPI_PROXY_MIGRATE=1/0; default: yes, "
                            "for the single-machine setup)")

    control = commands.add_parser("control", parents=[store, egress], help="the control plane alone")
    control.add_argument("--host", default=os.environ.get("WOPI_PROXY_HOST", "127.0.0.1"),
                         help="address of the gRPC listener (env WOPI_PROXY_HOST, default 127.0.0.1)")
    control.add_argument("--public-url", default=os.environ.get("WOPI_PROXY_PUBLIC_URL", "http://127.0.0.1:8000"),
                         help="the edges' public URL, used in WOPISrc: editors must reach it "
                              "(env WOPI_PROXY_PUBLIC_URL, default http://127.0.0.1:8000)")
    control.add_argument("--migrate", action=argparse.BooleanOptionalAction,
                         default=_env_bool("WOPI_PROXY_MIGRATE", False),
                         help="upgrade an older database schema at start (env WOPI_PROXY_MIGRATE=1; default: "
                              "refuse to start, see `wopi-proxy db upgrade`)")

    edge = commands.add_parser("edge", parents=[flood, service, egress, bridge], help="a WOPI edge alone (scale out: run several)")
    edge.add_argument("--control", dest="edge_control", default=None,
                      help="control plane HOST:PORT; several replicas as IP:PORT,IP:PORT or one DNS name with "
                           "several addresses: calls go round robin, reads are retried on another replica "
                           "(env WOPI_PROXY_CONTROL)")
    edge.add_argument("--api-key-file", type=Path,
                      help="read the edge's API key (role edge, e.g. <data-dir>/edge.key of the control plane) "
                           "from this file")
    _add_tls_client_flags(edge, env=False)
    edge.add_argument("--host", default=os.environ.get("WOPI_PROXY_HOST", "127.0.0.1"),
                      help="address to listen on (env WOPI_PROXY_HOST, default 127.0.0.1)")
    edge.add_argument("--port", type=int, default=_env_int("WOPI_PROXY_PORT", 8000),
                      help="WOPI HTTP port (env WOPI_PROXY_PORT, default 8000)")
    edge.add_argument("--max-file-size", type=int, default=_env_int("WOPI_PROXY_MAX_FILE_SIZE", DEFAULT_MAX_FILE_SIZE),
                      help="default upload limit in bytes (env WOPI_PROXY_MAX_FILE_SIZE, default 1 GiB)")
    edge.add_argument("--ready-file", help="write the bound port as JSON here once serving")
    edge.add_argument("--workers", type=int, metavar="N", default=_env_int("WOPI_PROXY_WORKERS", 1),
                      help="serve the port with N edge processes, each with its own control-plane channel "
                           "(env WOPI_PROXY_WORKERS, default 1)")
    edge.add_argument("--public-url", default=os.environ.get("WOPI_PROXY_PUBLIC_URL"),
                      help="the edge's URL as editors reach it (proof keys sign it) "
                           "(env WOPI_PROXY_PUBLIC_URL; default: the Host header)")
    edge.add_argument("--rest-gateway", action="store_true",
                      help="also serve the REST gateway of the control API on this port")
    edge.add_argument("--trust-forwarded-headers", action="store_true",
                      default=bool(os.environ.get("WOPI_PROXY_TRUST_FORWARDED_HEADERS")),
                      help="behind a trusted proxy: public URL from X-Forwarded-Proto/Host/Prefix, client address "
                           "from the rightmost X-Forwarded-For hop (env WOPI_PROXY_TRUST_FORWARDED_HEADERS)")
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
    p.add_argument("--id", required=True, help="the tenant's id, chosen by you (e.g. acme)")
    p.add_argument("--name", required=True, help="display name")
    p.set_defaults(handler=client.tenants_add)
    p = tenants.add_parser("get", parents=[fmt])
    p.add_argument("id", help="the tenant's id")
    p.set_defaults(handler=client.tenants_get)
    tenants.add_parser("list", parents=[fmt]).set_defaults(handler=client.tenants_list)
    p = tenants.add_parser("update", parents=[fmt], help="change name, enabled, settings")
    p.add_argument("id", help="the tenant's id")
    p.add_argument("--name", help="new display name")
    p.add_argument("--enable", dest="enabled", action="store_const", const=True,
                   help="enable a disabled tenant")
    p.add_argument("--disable", dest="enabled", action="store_const", const=False,
                   help="the tenant's tokens stop working at once")
    p.add_argument("--post-message-origin", help="exact origin of the page hosting the editor")
    p.add_argument("--default-ttl", type=int, help="default session TTL in seconds (0: 10 hours)")
    p.add_argument("--webhook-url", help="receives session events as signed POSTs ('' to disable)")
    p.add_argument("--webhook-secret", help="HMAC key of the webhook signature")
    p.add_argument("--audit-retention-days", type=int, help="0 keeps audit events forever")
    p.add_argument("--editor-mode", choices=["pool", "own", "disabled"],
                   help="which editors sessions use: the shared pool, the tenant's own, or none")
    p.add_argument("--max-file-size-cap", type=int, metavar="BYTES",
                   help="operator only: largest file any of the tenant's storages accepts (0: no cap)")
    p.add_argument("--conflict-copy-quota", type=int, metavar="BYTES",
                   help="operator only: bytes the tenant's conflict copies may take; past it a refused "
                        "save answers 507 (0: no quota)")
    p.set_defaults(handler=client.tenants_update)
    p = tenants.add_parser("delete", parents=[fmt], help="delete a tenant's records (not its files)")
    p.add_argument("id", help="the tenant's id")
    p.add_argument("--force", action="store_true", help="even with open sessions")
    p.set_defaults(handler=client.tenants_delete)

    keys = commands.add_parser("keys", help="API keys").add_subparsers(dest="verb", required=True)
    p = keys.add_parser("create", parents=[fmt], help="a tenant key (--tenant-id), an admin key or an edge key")
    p.add_argument("--tenant-id", help="a tenant key of this tenant (without it: an admin key)")
    p.add_argument("--role", choices=["admin", "tenant", "edge"],
                   help="default: tenant with --tenant-id, else admin; edge keys call only the EdgeService "
                        "(give one to each `wopi-proxy edge --api-key-file`)")
    p.add_argument("--description", help="a note: who or what uses the key")
    p.set_defaults(handler=client.keys_create)
    p = keys.add_parser("list", parents=[fmt])
    p.add_argument("--tenant-id", help="only this tenant's keys")
    p.set_defaults(handler=client.keys_list)
    p = keys.add_parser("revoke", parents=[fmt], help="revoke a key at once (its sessions stay open unless "
                                                      "--close-sessions)")
    p.add_argument("id", help="the key's id (from keys list)")
    p.add_argument("--close-sessions", action="store_true",
                   help="also close every open session the key created (a leaked key; not for rotation)")
    p.set_defaults(handler=client.keys_revoke)

    storages = commands.add_parser("storages", help="manage storages").add_subparsers(dest="verb", required=True)
    p = storages.add_parser("add", parents=[fmt])
    p.add_argument("--tenant-id", required=True, help="the storage's tenant")
    p.add_argument("--name", required=True, help="the storage's name, unique in its tenant")
    p.add_argument("--protocol", default="file", help="fsspec protocol (default file)")
    p.add_argument("--root", required=True, help="folder (file) or bucket/prefix (s3)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="fsspec option, repeatable")
    p.add_argument("--max-file-size", type=int, help="largest file a save may write, in bytes")
    p.add_argument("--version-retention", type=int,
                   help="previous versions kept per file (default 10; -1 keeps none)")
    p.set_defaults(handler=client.storages_add)
    p = storages.add_parser("get", parents=[fmt])
    p.add_argument("--tenant-id", required=True, help="the storage's tenant")
    p.add_argument("--name", required=True, help="the storage's name, unique in its tenant")
    p.set_defaults(handler=client.storages_get)
    p = storages.add_parser("list", parents=[fmt])
    p.add_argument("--tenant-id", required=True, help="the storage's tenant")
    p.set_defaults(handler=client.storages_list)
    p = storages.add_parser("update", parents=[fmt], help="rotate credentials, change options, root or limits")
    p.add_argument("--tenant-id", required=True, help="the storage's tenant")
    p.add_argument("--name", required=True, help="the storage's name, unique in its tenant")
    p.add_argument("--protocol", help="fsspec protocol")
    p.add_argument("--root", help="folder (file) or bucket/prefix (s3)")
    p.add_argument("--option", action="append", default=None, metavar="KEY=VALUE",
                   help="replaces ALL options (repeat for each; VALUE *** keeps the stored one)")
    p.add_argument("--max-file-size", type=int, help="largest file a save may write, in bytes")
    p.add_argument("--version-retention", type=int, help="previous versions kept per file (-1 keeps none)")
    p.set_defaults(handler=client.storages_update)
    p = storages.add_parser("delete", parents=[fmt], help="delete a storage's records (not its files)")
    p.add_argument("--tenant-id", required=True, help="the storage's tenant")
    p.add_argument("--name", required=True, help="the storage's name, unique in its tenant")
    p.add_argument("--force", action="store_true", help="even with open sessions (they end at once)")
    p.set_defaults(handler=client.storages_delete)

    sessions = commands.add_parser("sessions", help="open and close editing sessions").add_subparsers(
        dest="verb", required=True)
    p = sessions.add_parser("create", parents=[fmt])
    p.add_argument("--tenant-id", help="required with the admin key")
    p.add_argument("--storage", required=True, help="storage name")
    p.add_argument("--path", required=True, help="file path relative to the storage root")
    p.add_argument("--user-id", required=True, help="the user's stable id in your application (WOPI UserId)")
    p.add_argument("--user-name", help="the name editors show (WOPI UserFriendlyName)")
    p.add_argument("--permission", choices=sorted(client.PERMISSIONS), default="view",
                   help="view (default: least privilege) or edit")
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
    p.add_argument("--tenant-id", help="only this tenant's (required with the admin key)")
    p.add_argument("--user-id", help="only this user's")
    p.add_argument("--file-id", help="only sessions of this file")
    p.add_argument("--state", choices=["open", "closed", "expired"], help="only sessions in this state")
    p.add_argument("--created-by-key", help="only sessions this API key created (its id, from keys list)")
    p.set_defaults(handler=client.sessions_list)
    p = sessions.add_parser("cleanup", parents=[fmt], help="end expired sessions")
    p.add_argument("--tenant-id", help="only this tenant's (required with the admin key)")
    p.add_argument("--dry-run", action="store_true", help="only list what would be cleaned up")
    p.set_defaults(handler=client.sessions_cleanup)
    p = sessions.add_parser("get", parents=[fmt])
    p.add_argument("id", help="the session's id")
    p.set_defaults(handler=client.sessions_get)
    p = sessions.add_parser("close", parents=[fmt])
    p.add_argument("id", help="the session's id")
    p.set_defaults(handler=client.sessions_close)

    editors = commands.add_parser("editors", help="WOPI clients (Collabora, OnlyOffice, ...)").add_subparsers(
        dest="verb", required=True)
    p = editors.add_parser("add", parents=[fmt], help="add an editor by its discovery URL, or a bridged app "
                                                      "(--kind etherpad|codimd|hocuspocus) by its URL")
    p.add_argument("--name", required=True, help="the editor's name, e.g. collabora")
    p.add_argument("--kind", choices=["wopi", *client.BRIDGE_KINDS], default="wopi",
                   help="wopi (default: a WOPI client, by --discovery-url) or a bridged app (by --url)")
    p.add_argument("--discovery-url", help="e.g. https://office.example.com/hosting/discovery (kind wopi)")
    p.add_argument("--url", help="a bridged app's base URL as the edge calls it, e.g. http://etherpad:9001")
    p.add_argument("--public-url", help="a bridged app's base URL as browsers open it (default: --url)")
    p.add_argument("--api-key-file", type=Path, help="a file holding the bridged app's API key (Etherpad's "
                                                      "APIKEY.txt); stored encrypted, never shown again")
    p.add_argument("--webhook-secret-file", type=Path,
                   help="a file holding the secret the app and the edge sign their requests with (at least 16 "
                        "characters); stored encrypted, never shown again")
    p.add_argument("--tenant-id", help="the tenant's own editor (default: the shared pool)")
    p.add_argument("--proof", choices=sorted(client.PROOF_POLICIES), default="if-advertised",
                   help="proof-key checks on the editor's WOPI requests (default if-advertised)")
    p.set_defaults(handler=client.editors_add)
    p = editors.add_parser("list", parents=[fmt])
    p.add_argument("--tenant-id", help="the tenant's own editors (default: the shared pool)")
    p.set_defaults(handler=client.editors_list)
    p = editors.add_parser("refresh", parents=[fmt], help="fetch the discovery document again now")
    p.add_argument("name", help="the editor's name")
    p.add_argument("--tenant-id", help="the tenant's own editors (default: the shared pool)")
    p.set_defaults(handler=client.editors_refresh)
    p = editors.add_parser("delete", parents=[fmt], help="delete an editor (refused while its sessions are open)")
    p.add_argument("name", help="the editor's name")
    p.add_argument("--tenant-id", help="the tenant's own editors (default: the shared pool)")
    p.add_argument("--force", action="store_true", help="even with open sessions (they are closed at once)")
    p.set_defaults(handler=client.editors_delete)

    events = commands.add_parser("events", help="session events").add_subparsers(dest="verb", required=True)
    p = events.add_parser("watch", parents=[fmt], help="stream session events until Ctrl-C")
    p.add_argument("--tenant-id", help="required with the admin key")
    p.add_argument("--cursor", help="resume after this cursor ('0': from the oldest kept)")
    p.set_defaults(handler=client.events_watch)

    files = commands.add_parser("files", help="files, their kept versions, restore").add_subparsers(
        dest="verb", required=True)
    p = files.add_parser("get", parents=[fmt])
    p.add_argument("--tenant-id", required=True, help="the file's tenant")
    p.add_argument("file_id", help="the file's id (file_id of a session)")
    p.set_defaults(handler=client.files_get)
    p = files.add_parser("versions", parents=[fmt], help="list a file's kept versions, newest first")
    p.add_argument("--tenant-id", required=True, help="the file's tenant")
    p.add_argument("file_id", help="the file's id (file_id of a session)")
    p.set_defaults(handler=client.files_versions)
    p = files.add_parser("restore", parents=[fmt], help="make a kept version current again")
    p.add_argument("--tenant-id", required=True, help="the file's tenant")
    p.add_argument("file_id", help="the file's id (file_id of a session)")
    p.add_argument("--version", type=int, required=True, help="the version to restore (files versions)")
    p.set_defaults(handler=client.files_restore)
    add_audit_commands(commands, fmt)
    add_bridge_commands(commands, fmt)
    add_doctor_commands(commands, fmt)
    add_db_commands(commands, database)
    return parser


def _api_key(args: argparse.Namespace, default_file: Path = DEFAULT_KEY_FILE) -> str:
    if args.api_key:
        return str(args.api_key)
    if os.environ.get("WOPI_PROXY_API_KEY"):
        return os.environ["WOPI_PROXY_API_KEY"]
    if default_file.exists():
        return default_file.read_text().strip()
    raise SystemExit(f"error: no API key: pass --api-key, set WOPI_PROXY_API_KEY, or run where {default_file} exists")


def _control_address(args: argparse.Namespace, override: str | None = None) -> str:
    return override or args.control or os.environ.get("WOPI_PROXY_CONTROL") or DEFAULT_CONTROL


def _run_service(args: argparse.Namespace) -> None:
    # What a command imports is what it runs: an edge never loads the control plane (about a second
    # of start-up: SQLAlchemy, SQLModel, Alembic and the services), nor a client verb either.
    from cli import run
    from shared import failpoints

    failpoints.check_environment()
    from edge.settings import EdgeSettings
    from shared.egress import parse_networks
    from shared.grpc_targets import control_target

    try:
        egress_allow = parse_networks(args.egress_allow)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    if args.command in ("edge", "serve"):
        if not 1 <= args.control_batch_size <= MAX_GRANTS_PER_CALL:
            raise SystemExit(f"error: --control-batch-size must be between 1 and {MAX_GRANTS_PER_CALL}")
        if args.grant_slots < 0 or args.grant_slots_lead < 1:
            raise SystemExit("error: --grant-slots must be 0 (no limit) or more, --grant-slots-lead at least 1")
        if args.max_uploads_per_token < 0 or args.max_uploads < 0 or args.max_uploads_per_tenant < -1:
            raise SystemExit("error: --max-uploads-per-token, --max-uploads-per-tenant and --max-uploads must be "
                             "0 (no cap) or more")
        if args.max_downloads_per_token < 0 or args.max_downloads < 0 or args.max_downloads_per_tenant < -1:
            raise SystemExit("error: --max-downloads-per-token, --max-downloads-per-tenant and --max-downloads must "
                             "be 0 (no cap) or more")
        if not args.body_idle_timeout > 0:
            raise SystemExit("error: --body-idle-timeout must be more than 0")
        edge_options = {"invalid_token_limit": args.invalid_token_limit, "invalid_token_burst": args.invalid_token_burst,
                        "refusal_report_interval_s": args.refusal_report_interval,
                        "control_batch_size": args.control_batch_size, "grant_slots": args.grant_slots,
                        "grant_slots_lead": args.grant_slots_lead,
                        "max_uploads_per_token": args.max_uploads_per_token, "max_uploads": args.max_uploads,
                        "max_uploads_per_tenant": None if args.max_uploads_per_tenant == -1
                        else args.max_uploads_per_tenant,
                        "max_downloads_per_token": args.max_downloads_per_token,
                        "max_downloads": args.max_downloads,
                        "max_downloads_per_tenant": None if args.max_downloads_per_tenant == -1
                        else args.max_downloads_per_tenant,
                        "upload_idle_timeout_s": args.body_idle_timeout,
                        "trust_forwarded_headers": args.trust_forwarded_headers,
                        "bridge_worker": args.bridge_worker, "bridge_wopi_url": args.bridge_wopi_url or None}
    if args.command == "edge":
        key = run.read_key_file(args.api_key_file) if args.api_key_file else _api_key(args, DEFAULT_EDGE_KEY_FILE)
        settings = EdgeSettings(control_address=_control_address(args, args.edge_control), api_key=key,
                                host=args.host, port=args.port, max_file_size=args.max_file_size,
                                public_url=args.public_url, control_tls=_client_tls(args),
                                control_read_timeout_s=args.control_read_timeout,
                                control_write_timeout_s=args.control_write_timeout, egress_allow=egress_allow,
                                **edge_options)
        try:
            control_target(settings.control_address)
        except ValueError as exc:
            raise SystemExit(f"error: --control: {exc}") from None
        if args.workers != 1:
            from cli.workers import run_workers
            sys.exit(run_workers(settings, args.workers, args.ready_file, rest_gateway=args.rest_gateway,
                                 log_level=args.log_level, log_format=args.log_format))
        asyncio.run(run.edge_only(settings, args.ready_file, rest_gateway=args.rest_gateway))
        return
    from control.services.storage_policy import parse_protocol_list
    from control.settings import ControlSettings

    if not args.lease_ttl > 0:
        raise SystemExit("error: --lease-ttl must be a positive number of seconds")
    if min(args.bridge_save_debounce, args.bridge_save_max_wait, args.bridge_poll_interval,
           args.bridge_idle_poll_interval, args.bridge_unlock_grace) < 0 or min(args.bridge_lease, args.bridge_entry_ttl) <= 0:
        raise SystemExit("error: the --bridge-* times must not be negative (--bridge-lease and --bridge-entry-ttl positive)")
    if min(args.max_storages_per_tenant, args.max_editors_per_tenant, args.max_open_sessions_per_tenant,
           args.max_event_streams_per_tenant, args.max_audit_verifications_per_tenant,
           args.max_discovery_fetches_per_tenant) < 0:
        raise SystemExit("error: the --max-*-per-tenant limits must not be negative (0: no limit)")
    control = ControlSettings(
        data_dir=args.data_dir, grpc_host=args.host, grpc_port=args.grpc_port, database_url=args.database_url,
        secret_key_file=args.secret_key_file,
        invalid_token_audit_window_s=args.invalid_token_audit_window, launch_code_ttl_s=args.launch_code_ttl,
        launch_code_purge_interval_s=args.launch_code_purge_interval,
        tenant_file_base=args.tenant_file_base.absolute() if args.tenant_file_base else None,
        tenant_storage_protocols=parse_protocol_list(args.tenant_storage_protocols),
        allow_ambient_credentials=tuple(args.allow_ambient_credentials),
        session_expiry_interval_s=args.session_expiry_interval, staging_max_age_s=args.staging_max_age,
        health_check_interval_s=args.health_check_interval, lease_ttl_s=args.lease_ttl,
        write_intent_ttl_s=args.write_intent_ttl, intent_sweep_interval_s=args.intent_sweep_interval,
        metrics_port=args.metrics_port, egress_allow=egress_allow, migrate=args.migrate,
        bridge_save_debounce_s=args.bridge_save_debounce, bridge_save_max_wait_s=args.bridge_save_max_wait,
        bridge_poll_interval_s=args.bridge_poll_interval, bridge_idle_poll_interval_s=args.bridge_idle_poll_interval,
        bridge_unlock_grace_s=args.bridge_unlock_grace, bridge_lease_s=args.bridge_lease,
        bridge_entry_ttl_s=args.bridge_entry_ttl,
        max_storages_per_tenant=args.max_storages_per_tenant, max_editors_per_tenant=args.max_editors_per_tenant,
        max_open_sessions_per_tenant=args.max_open_sessions_per_tenant,
        max_event_streams_per_tenant=args.max_event_streams_per_tenant,
        max_audit_verifications_per_tenant=args.max_audit_verifications_per_tenant,
        max_discovery_fetches_per_tenant=args.max_discovery_fetches_per_tenant,
        tls=ServerTlsSettings(cert_file=args.tls_cert, key_file=args.tls_key, client_ca_file=args.tls_client_ca),
    )
    if args.command == "serve":
        asyncio.run(run.serve(control, args.host, args.port, args.public_url, args.ready_file, args.max_file_size,
                              own_tls=_client_tls(args), **edge_options))
    else:
        control = ControlSettings(**{**control.__dict__, "wopi_base_url": args.public_url})
        asyncio.run(run.control_only(control, args.ready_file))


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.log_format not in LOG_FORMATS:  # from the environment: argparse checks only flags
        parser.error(f"WOPI_PROXY_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {args.log_format!r}")
    configure_logging(args.log_level, args.log_format)
    if args.command in ("serve", "control", "edge", "db"):
        try:
            args.db_handler(args) if args.command == "db" else _run_service(args)
        except (OSError, StartupRefused) as exc:
            raise SystemExit(f"error: {exc}") from None
        return
    address = _control_address(args)
    try:
        api = client.Api(address, _api_key(args), _client_tls(args))
    except OSError as exc:
        raise SystemExit(f"error: {exc}") from None
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
