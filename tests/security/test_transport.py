"""Transport between the processes: gRPC over TLS (and mutual TLS), and one process per port.

The certificates are made here (tests/support/certs.py). Each test names the attack: a network
attacker reading or impersonating the control plane, a client without a certificate, a second
process answering on a port that is already served.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import pytest

from shared.grpc_channel import TlsSettings
from tests.support.api import ControlApi, new_tenant, open_file, tenant_pb
from tests.support.certs import Pki, make_pki, other_ca_client
from tests.support.deployment import Deployment
from tests.support.processes import WopiProxyProcess

CLI_TIMEOUT_S = 60


def _tls_server_args(pki: Pki, *, mutual: bool = False) -> tuple[str, ...]:
    args = ("--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key))
    return (*args, "--tls-client-ca", str(pki.ca)) if mutual else args


def _client_cert_args(pki: Pki) -> tuple[str, ...]:
    return ("--tls-client-cert", str(pki.client.cert), "--tls-client-key", str(pki.client.key))


def _wopi_get(deployment: Deployment, tls: TlsSettings) -> httpx.Response:
    """Opens a file through the control API (over `tls`) and fetches it through the edge."""
    api = deployment.api(tls=tls)
    f = open_file(api, *new_tenant(api, deployment.workdir / "storage"), "a.docx", b"secret content")
    return httpx.get(f"{deployment.http_url}/wopi/files/{f.file_id}/contents", params={"access_token": f.token},
                     timeout=30)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_S, check=False)


def test_edge_reaches_a_tls_control_plane_it_verifies(tmp_path: Path, deploy: Callable[..., Deployment]) -> None:
    """Eavesdropping on the edge's gRPC (tokens, lock ids, paths): the channel is TLS, verified with the CA."""
    pki = make_pki(tmp_path / "pki")
    deployment = deploy("split", control_args=_tls_server_args(pki), edge_args=("--tls-ca", str(pki.ca)))
    reply = _wopi_get(deployment, TlsSettings(ca_file=pki.ca))
    assert reply.status_code == 200 and reply.content == b"secret content", deployment.log()


def test_plaintext_edge_gets_nothing_from_a_tls_control_plane(
        tmp_path: Path, deploy: Callable[..., Deployment]) -> None:
    """Downgrade: a TLS control plane never answers a plaintext client, so WOPI fails rather than leaks."""
    pki = make_pki(tmp_path / "pki")
    deployment = deploy("split", control_args=_tls_server_args(pki))  # the edge has no --tls-ca
    reply = _wopi_get(deployment, TlsSettings(ca_file=pki.ca))
    assert reply.status_code in (500, 503), (reply.status_code, deployment.log())
    assert b"secret content" not in reply.content


def test_edge_refuses_a_control_plane_its_ca_did_not_certify(
        tmp_path: Path, deploy: Callable[..., Deployment]) -> None:
    """Impersonation: a control plane whose certificate does not chain to the edge's CA is not talked to."""
    pki, elsewhere = make_pki(tmp_path / "pki"), make_pki(tmp_path / "other")
    deployment = deploy("split", control_args=_tls_server_args(pki), edge_args=("--tls-ca", str(elsewhere.ca)))
    reply = _wopi_get(deployment, TlsSettings(ca_file=pki.ca))
    assert reply.status_code in (500, 503), (reply.status_code, deployment.log())
    assert b"secret content" not in reply.content


def test_mutual_tls_refuses_a_client_without_a_certificate(
        tmp_path: Path, deploy: Callable[..., Deployment]) -> None:
    """Anyone on the network calling the control API: with --tls-client-ca a client must present a certificate."""
    pki = make_pki(tmp_path / "pki")
    deployment = deploy("split", control_args=_tls_server_args(pki, mutual=True),
                        edge_args=("--tls-ca", str(pki.ca), *_client_cert_args(pki)))
    anonymous = deployment.api(tls=TlsSettings(ca_file=pki.ca))
    with pytest.raises(grpc.RpcError) as refused:
        anonymous.call(anonymous.tenants.ListTenants, tenant_pb.ListTenantsRequest())
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, deployment.log()  # type: ignore[attr-defined]


def test_mutual_tls_refuses_a_certificate_from_another_ca(
        tmp_path: Path, deploy: Callable[..., Deployment]) -> None:
    """A self-made client certificate: it must be issued by the configured client CA."""
    pki = make_pki(tmp_path / "pki")
    stranger = other_ca_client(tmp_path / "stranger")
    deployment = deploy("split", control_args=_tls_server_args(pki, mutual=True))
    api = deployment.api(tls=TlsSettings(ca_file=pki.ca, client_cert_file=stranger.cert,
                                         client_key_file=stranger.key))
    with pytest.raises(grpc.RpcError) as refused:
        api.call(api.tenants.ListTenants, tenant_pb.ListTenantsRequest())
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, deployment.log()  # type: ignore[attr-defined]


def test_mutual_tls_serves_the_edge_and_a_client_with_certificates(
        tmp_path: Path, deploy: Callable[..., Deployment]) -> None:
    """The positive side of the two refusals above (so they cannot pass for a broken server)."""
    pki = make_pki(tmp_path / "pki")
    deployment = deploy("split", control_args=_tls_server_args(pki, mutual=True),
                        edge_args=("--tls-ca", str(pki.ca), *_client_cert_args(pki)))
    tls = TlsSettings(ca_file=pki.ca, client_cert_file=pki.client.cert, client_key_file=pki.client.key)
    reply = _wopi_get(deployment, tls)
    assert reply.status_code == 200 and reply.content == b"secret content", deployment.log()


def test_cli_verifies_the_control_plane_with_tls_ca(tmp_path: Path, deploy: Callable[..., Deployment]) -> None:
    """Operator commands carry the admin key: the CLI speaks TLS with --tls-ca and fails without it."""
    pki = make_pki(tmp_path / "pki")
    deployment = deploy("split", control_args=_tls_server_args(pki), edge_args=("--tls-ca", str(pki.ca)))
    common = ("--control", deployment.grpc_address, "--api-key", deployment.admin_key)
    added = _cli(*common, "--tls-ca", str(pki.ca), "tenants", "add", "--id", "t-cli", "--name", "CLI",
                 cwd=tmp_path)
    assert added.returncode == 0, added.stderr + deployment.log()
    plaintext = _cli(*common, "tenants", "list", cwd=tmp_path)
    assert plaintext.returncode == 1 and "UNAVAILABLE" in plaintext.stderr, plaintext.stderr
    assert "t-cli" not in plaintext.stdout


def test_serve_with_tls_reaches_itself_over_tls(tmp_path: Path, deploy: Callable[..., Deployment]) -> None:
    """`serve` with TLS: its own edge and REST gateway verify its certificate (made for a name, not
    127.0.0.1, as certificates usually are); the CLI reaches it with --tls-server-name."""
    pki = make_pki(tmp_path / "pki", server_dns=("control.internal",), server_ips=())
    deployment = deploy("serve", control_args=(*_tls_server_args(pki), "--tls-ca", str(pki.ca)))
    tls = TlsSettings(ca_file=pki.ca, server_name="control.internal")
    reply = _wopi_get(deployment, tls)
    assert reply.status_code == 200 and reply.content == b"secret content", deployment.log()
    rest = httpx.post(f"{deployment.http_url}/tenants/create", json={"id": "t-rest", "name": "REST"},
                      headers={"Authorization": f"Bearer {deployment.admin_key}"}, timeout=30)
    assert rest.status_code == 200, rest.text + deployment.log()
    listed = _cli("--control", deployment.grpc_address, "--api-key", deployment.admin_key, "--tls-ca", str(pki.ca),
                  "--tls-server-name", "control.internal", "tenants", "get", "t-rest", cwd=tmp_path)
    assert listed.returncode == 0 and "t-rest" in listed.stdout, listed.stderr


def test_serve_with_mutual_tls_presents_its_client_certificate(
        tmp_path: Path, deploy: Callable[..., Deployment]) -> None:
    """`serve` under mutual TLS: its own edge and gateway present the given client certificate."""
    pki = make_pki(tmp_path / "pki")
    deployment = deploy("serve", control_args=(*_tls_server_args(pki, mutual=True), "--tls-ca", str(pki.ca),
                                               *_client_cert_args(pki)))
    tls = TlsSettings(ca_file=pki.ca, client_cert_file=pki.client.cert, client_key_file=pki.client.key)
    reply = _wopi_get(deployment, tls)
    assert reply.status_code == 200 and reply.content == b"secret content", deployment.log()
    rest = httpx.get(f"{deployment.http_url}/tenants/list", headers={"Authorization": f"Bearer {deployment.admin_key}"},
                     timeout=30)
    assert rest.status_code == 200, rest.text + deployment.log()


def _second_process_fails(args: list[str], workdir: Path, address: str) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    second = subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=workdir, capture_output=True,
                            text=True, timeout=CLI_TIMEOUT_S, check=False)
    assert second.returncode == 1, second.stdout + second.stderr
    assert f"cannot listen on {address}: address in use" in second.stderr, second.stderr
    assert "Traceback" not in second.stderr, second.stderr


def test_second_control_plane_cannot_share_a_served_port(tmp_path: Path) -> None:
    """Port hijack: with gRPC's default SO_REUSEPORT a second control plane (another database!) would
    silently answer half of the connections; it must fail at start naming the address."""
    first = WopiProxyProcess(args=["control", "--grpc-port", "0", "--data-dir", str(tmp_path / "one")],
                             workdir=tmp_path).start()
    try:
        port = first.ports["grpc_port"]
        _second_process_fails(["control", "--grpc-port", str(port), "--data-dir", str(tmp_path / "two")],
                              tmp_path / "second", f"127.0.0.1:{port}")
        client = ControlApi(first.grpc_address, (tmp_path / "one" / "admin.key").read_text().strip())
        try:
            client.call(client.tenants.ListTenants, tenant_pb.ListTenantsRequest())  # the first still serves
        finally:
            client.close()
    finally:
        first.stop()


def test_second_edge_cannot_share_a_served_http_port(tmp_path: Path, deploy: Callable[..., Deployment]) -> None:
    """Port hijack on the WOPI side: a second edge on a served HTTP port fails at start naming the address."""
    deployment = deploy("split")
    port = int(deployment.http_url.rsplit(":", 1)[1])
    _second_process_fails(["--api-key", deployment.admin_key, "edge", "--control", deployment.grpc_address,
                           "--port", str(port)], tmp_path / "second", f"127.0.0.1:{port}")


def test_container_healthcheck_reaches_a_tls_control_plane(tmp_path: Path, deploy: Callable[..., Deployment]) -> None:
    """TLS must not blind the orchestrator: Dockerfile.control's probe (control.healthcheck) speaks TLS
    from the same WOPI_PROXY_TLS_* environment as the process, and fails over plaintext."""
    pki = make_pki(tmp_path / "pki")
    deployment = deploy("split", control_args=_tls_server_args(pki))
    probe = [sys.executable, "-m", "control.healthcheck", deployment.grpc_address]
    env = {**os.environ, "WOPI_PROXY_TLS_CERT": str(pki.server.cert), "WOPI_PROXY_TLS_KEY": str(pki.server.key),
           "WOPI_PROXY_TLS_CA": str(pki.ca)}
    healthy = subprocess.run(probe, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False)
    assert healthy.returncode == 0, healthy.stderr + deployment.log()
    plaintext = subprocess.run(probe, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False,
                               env={k: v for k, v in os.environ.items() if not k.startswith("WOPI_PROXY_TLS")})
    assert plaintext.returncode == 1, plaintext.stderr


def test_serve_whose_own_edge_cannot_pass_mutual_tls_fails_at_start(tmp_path: Path) -> None:
    """A misconfiguration must not look like a running service: `serve` under mutual TLS whose own
    edge has no usable client certificate (its server certificate is for server auth only) stops at
    start with a clear error rather than answering every WOPI request with 500."""
    pki = make_pki(tmp_path / "pki")
    started = subprocess.run([sys.executable, "-m", "cli.main", "serve", "--port", "0", "--grpc-port", "0",
                              "--data-dir", str(tmp_path / "data"), *_tls_server_args(pki, mutual=True)],
                             cwd=tmp_path, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False)
    assert started.returncode == 1, started.stdout + started.stderr
    assert "cannot reach its control plane over TLS" in started.stderr, started.stderr
    assert "Traceback" not in started.stderr, started.stderr
