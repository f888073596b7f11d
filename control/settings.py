"""The control plane's settings, built by the CLI (flags, then WOPI_PROXY_* environment)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from control.db.engine import sqlite_file, sqlite_url
from shared.grpc_channel import ServerTlsSettings
from shared.egress import IPNetwork


@dataclass(frozen=True)
class ControlSettings:
    data_dir: Path
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    database_url: str | None = None  # default: SQLite file in data_dir
    wopi_base_url: str = "http://127.0.0.1:8000"  # the edge's public URL, for WOPISrc
    default_session_ttl_s: int = 10 * 3600
    # The key that encrypts stored storage options (control.secrets): a file holding a Fernet
    # key. None: <data_dir>/secret.key, generated on the first start. WOPI_PROXY_SECRET_KEY
    # (the key itself) overrides both.
    secret_key_file: Path | None = None
    # Abuse limits: refusals of invalid tokens are audited once per client address and window
    # (control.services.invalid_tokens); launch codes live this long and are purged this often.
    invalid_token_audit_window_s: float = 60.0
    launch_code_ttl_s: int = 300
    launch_code_purge_interval_s: float = 60.0
    # Storage policy (control.services.storage_policy). Tenant keys' local roots must lie in
    # <tenant_file_base>/<tenant_id>; None: tenant keys get no local storages.
    tenant_file_base: Path | None = None
    # Protocols tenant keys may use; None: s3, plus file when tenant_file_base is set.
    tenant_storage_protocols: frozenset[str] | None = None
    # Tenants whose storages may use the process's ambient credentials (AWS_* environment, ...).
    allow_ambient_credentials: tuple[str, ...] = ()
    # gRPC over TLS (and mutual TLS with a client CA); the default is plaintext.
    tls: ServerTlsSettings = ServerTlsSettings()
    # Background jobs (faults): how often expired sessions get their "expired" event (tests shorten
    # it), how often the database is probed for the gRPC health status, and how old a staging
    # object must be before the sweep removes it (a save in progress is younger).
    session_expiry_interval_s: float = 30.0
    health_check_interval_s: float = 5.0
    staging_max_age_s: float = 3600.0
    staging_sweep_interval_s: float = 900.0
    # An older database schema is upgraded at start when True, refused when False (control.db.schema);
    # an empty database gets the schema either way.
    migrate: bool = False
    # Several replicas over one database: a background job runs on the replica holding its lease;
    # a dead holder's lease passes to another replica after this many seconds.
    lease_ttl_s: float = 15.0
    # Port of the Prometheus /metrics listener (on grpc_host); 0: ephemeral; None: none.
    metrics_port: int | None = None
    # Per-tenant caps on tenant keys (control.services.tenant_limits; 0: none): storages and editors a
    # tenant may have, and WatchSessionEvents streams and VerifyAuditChain calls it may have running
    # at once in one process.
    max_storages_per_tenant: int = 100
    max_editors_per_tenant: int = 50
    max_open_sessions_per_tenant: int = 10_000
    max_event_streams_per_tenant: int = 16
    max_audit_verifications_per_tenant: int = 1
    max_discovery_fetches_per_tenant: int = 2
    # Networks that URLs set by tenant keys may reach although internal (--egress-allow).
    egress_allow: tuple[IPNetwork, ...] = ()
    # The write protocol (control.services.write_intents): an unconfirmed write that storage does
    # not hold is abandoned after this; a sweep resolves forgotten ones this often.
    write_intent_ttl_s: float = 60.0
    intent_sweep_interval_s: float = 30.0
    # The bridge's timing (control.services.context.BridgeSettings, seconds): save debounce and
    # maximum wait, reconcile poll intervals (people present / nobody), unlock grace, work lease.
    bridge_save_debounce_s: int = 5
    bridge_save_max_wait_s: int = 60
    bridge_poll_interval_s: int = 30
    bridge_idle_poll_interval_s: int = 300
    bridge_unlock_grace_s: int = 60
    bridge_lease_s: int = 60
    bridge_entry_ttl_s: int = 120  # a single-use entry code into the app

    @property
    def effective_database_url(self) -> str:
        return self.database_url or sqlite_url(str(self.data_dir / "wopi-proxy.db"))

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None for another database (or SQLite in memory)."""
        return sqlite_file(self.effective_database_url)
