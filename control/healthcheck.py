"""`python -m control.healthcheck [HOST:PORT]` (default 127.0.0.1:$WOPI_PROXY_GRPC_PORT, else 50051): exit 0 when the control plane's health service says
SERVING. The container's HEALTHCHECK; it reaches the control plane as `serve`'s own edge does, so
it keeps working when WOPI_PROXY_TLS_CERT/_KEY/_CLIENT_CA turn TLS (or mutual TLS) on."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from grpc_health.v1 import health_pb2, health_pb2_grpc

from shared.grpc_channel import (
    ServerTlsSettings,
    TlsSettings,
    loopback_client_tls,
    secure_or_insecure_channel,
)


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def main(argv: list[str]) -> int:
    address = argv[0] if argv else f"127.0.0.1:{os.environ.get('WOPI_PROXY_GRPC_PORT') or 50051}"
    server = ServerTlsSettings(cert_file=_env_path("WOPI_PROXY_TLS_CERT"), key_file=_env_path("WOPI_PROXY_TLS_KEY"),
                               client_ca_file=_env_path("WOPI_PROXY_TLS_CLIENT_CA"))
    given = TlsSettings(ca_file=_env_path("WOPI_PROXY_TLS_CA"),
                        client_cert_file=_env_path("WOPI_PROXY_TLS_CLIENT_CERT"),
                        client_key_file=_env_path("WOPI_PROXY_TLS_CLIENT_KEY"),
                        server_name=os.environ.get("WOPI_PROXY_TLS_SERVER_NAME"))
    with secure_or_insecure_channel(address, loopback_client_tls(server, given)) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=4)
        except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy", said in one line
            print(f"unhealthy: {exc}", file=sys.stderr)
            return 1
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
