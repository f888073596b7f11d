"""The edge's settings, built by the CLI (flags, then WOPI_PROXY_* environment)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.egress import IPNetwork
from shared.file_size import DEFAULT_MAX_FILE_SIZE
from shared.grpc_channel import PLAINTEXT, TlsSettings


@dataclass(frozen=True)
class EdgeSettings:
    control_address: str  # HOST:PORT of the control plane
    api_key: str  # the key the edge presents to the control plane
    host: str = "127.0.0.1"
    port: int = 8000
    max_file_size: int = DEFAULT_MAX_FILE_SIZE  # default per-storage upload limit (bytes)
    chunk_size: int = 1 << 20  # GetFile/PutFile streaming unit
    upload_idle_timeout_s: float = 120.0  # a body that sends nothing this long is abandoned
    # Bodies (PutFile, PutRelativeFile) received at once, per access token, per tenant (None: half
    # of max_uploads) and in all (0: no cap): each holds up to ~1.5 MiB while it arrives (edge/upload_slots.py).
    max_uploads_per_token: int = 4
    max_uploads_per_tenant: int | None = None
    max_uploads: int = 256
    # Replies with file bytes (GetFile) on their way at once, the same way: each holds up to ~2.4 MiB
    # until its client has read it (edge/upload_slots.py, edge/reply_guard.py).
    max_downloads_per_token: int = 32
    max_downloads_per_tenant: int | None = None
    max_downloads: int = 256
    # Deadlines of control-plane calls: reads (CheckFileInfo, GetFile, GetLock, PutUserInfo) are
    # cheap and fail fast; writes and lock changes may queue behind other writers of the database.
    # The control plane commits nothing once a call's deadline has passed.
    control_read_timeout_s: float = 5.0
    control_write_timeout_s: float = 15.0
    # Grants of concurrent requests share one call, this many at most (edge/call_batching.py); 1: no sharing.
    control_batch_size: int = 64
    # Grants asked at once (0: no limit), and how many a tenant may have out beyond the busiest
    # other tenant while others are active too (edge/tenant_fairness.py).
    grant_slots: int = 64
    grant_slots_lead: int = 2
    # How the edge learns the URL an editor called (proof keys sign it): a configured public base
    # URL wins; else X-Forwarded-Proto/Host/Prefix when the proxy in front is trusted; else Host.
    public_url: str | None = None
    trust_forwarded_headers: bool = False
    # Requests without a valid token, per client address (edge/wopi/flood.py): BURST at once, then
    # LIMIT per minute; past it 429. 0 disables the limit.
    invalid_token_limit: int = 60
    invalid_token_burst: int = 20
    refusal_report_interval_s: float = 5.0  # how often the edge reports its own refusals for the audit
    max_tracked_addresses: int = 100_000  # bound of the limiter's tables
    control_tls: TlsSettings = PLAINTEXT  # how the channel to the control plane is secured
    # Networks that tenants' storage endpoints may reach although internal (--egress-allow).
    egress_allow: tuple[IPNetwork, ...] = ()
    # The bridge (docs/BRIDGE.md): run its worker in this process, and the edge its WOPI calls go
    # to (None: this edge's own listening address; set it when that address is not reachable as is).
    bridge_worker: bool = True
    bridge_wopi_url: str | None = None
    # The worker's name, the same at every start in the same place (edge/bridge/worker.worker_name;
    # None: a name of this run only, so an earlier run's leases are left to run out).
    bridge_worker_name: str | None = None
