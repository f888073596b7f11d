"""The edge's Prometheus series, in a registry of their own per app (tests start several apps in
one process; the global registry would collide).

Labels are bounded sets only: WOPI operation names (edge.wopi.operations), HTTP status codes,
gRPC method and code names of our own EdgeService, storage protocols from a fixed list, proof
failure reasons from a fixed list. Never a tenant, user, file, session or token.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Seconds; WOPI requests range from a cached CheckFileInfo to a multi-GiB PutFile.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
RPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

# fsspec protocols reported by name; any other a storage may name is "other".
KNOWN_PROTOCOLS = frozenset({"file", "local", "memory", "s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl",
                             "sftp", "ftp", "smb", "webdav", "http", "https", "hdfs", "oss"})

# verify_proof's and check_proof's reasons (control/editors/proof.py, control/services/editors.py),
# matched by their start; anything else is "other".
PROOF_REASONS = (
    ("the editor's discovery has no proof key", "no_proof_key"),
    ("missing X-WOPI-Proof", "missing_proof"),
    ("missing X-WOPI-TimeStamp", "missing_timestamp"),
    ("timestamp malformed", "timestamp_malformed"),
    ("timestamp too old", "timestamp_too_old"),
    ("timestamp in the future", "timestamp_in_future"),
    ("signature does not match", "signature_mismatch"),
)


def protocol_label(protocol: str) -> str:
    return protocol if protocol in KNOWN_PROTOCOLS else "other"


def proof_reason_label(detail: str) -> str:
    return next((label for prefix, label in PROOF_REASONS if detail.startswith(prefix)), "other")


class EdgeMetrics:
    """Every series the edge exports; one instance per app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("wopi_proxy_wopi_requests", "WOPI requests answered, by operation and HTTP status.",
                                ["operation", "status"], registry=r)
        self.duration = Histogram("wopi_proxy_wopi_request_duration_seconds",
                                  "Time from request to response headers, by WOPI operation.", ["operation"],
                                  buckets=REQUEST_BUCKETS, registry=r)
        self.bytes_received = Counter("wopi_proxy_wopi_received_bytes",
                                      "Request body bytes received on WOPI endpoints, by operation.",
                                      ["operation"], registry=r)
        self.bytes_sent = Counter("wopi_proxy_wopi_sent_bytes",
                                  "Response body bytes sent on WOPI endpoints, by operation.", ["operation"],
                                  registry=r)
        self.lock_conflicts = Counter("wopi_proxy_wopi_lock_conflicts",
                                      "409 lock mismatches answered (X-WOPI-Lock), by operation.", ["operation"],
                                      registry=r)
        self.proof_failures = Counter("wopi_proxy_wopi_proof_failures",
                                      "WOPI requests refused because the proof-key check failed, by reason.",
                                      ["reason"], registry=r)
        self.storage_errors = Counter("wopi_proxy_storage_errors",
                                      "WOPI requests that failed (5xx) after reaching storage, by storage protocol "
                                      "and error kind (an error reason, or internal).", ["protocol", "kind"],
                                      registry=r)
        self.control_rpc_duration = Histogram("wopi_proxy_edge_control_rpc_duration_seconds",
                                              "Latency of the edge's calls to the control plane, by method.",
                                              ["method"], buckets=RPC_BUCKETS, registry=r)
        self.control_rpc_errors = Counter("wopi_proxy_edge_control_rpc_errors",
                                          "The edge's calls to the control plane that failed, by method and gRPC "
                                          "code (refusals such as PERMISSION_DENIED included).", ["method", "code"],
                                          registry=r)
        # Fair shares of grants (edge/tenant_fairness.py): requests queued because their tenant is
        # past its lead while others are active, or because every slot is taken.
        self.grant_slots_taken = Gauge("wopi_proxy_edge_grant_slots_taken",
                                       "Grants the edge has asked of the control plane and not had back yet.",
                                       registry=r)
        self.grants_waiting = Gauge("wopi_proxy_edge_grants_waiting",
                                    "WOPI requests waiting for a grant slot (their tenant past its lead while "
                                    "other tenants are active, or every slot taken).", registry=r)
        for label in ("other", *(label for _, label in PROOF_REASONS)):
            self.proof_failures.labels(label)
