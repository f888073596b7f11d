"""compose.yaml, the production-like stack of the README: parsed and checked for what the stack needs
to work (images from our Dockerfiles, health checks, the edges' key and control address, PostgreSQL),
and for what it must not do (edges mounting the control plane's data with admin.key and secret.key).
Running it needs Docker Hub's postgres and seaweedfs images; when `podman-compose` is installed its
`config` must accept the file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.flags_table import source_env_names

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def services(stack: dict[str, Any], dockerfile: str) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in stack["services"].items()
            if (svc.get("build") or {}).get("dockerfile") == dockerfile and "edge-key" not in name}


def env(service: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in (service.get("environment") or {}).items()}


def test_the_stack_has_a_control_plane_two_edges_postgres_and_s3(stack: dict[str, Any]) -> None:
    assert len(services(stack, "Dockerfile.control")) == 1
    assert len(services(stack, "Dockerfile.edge")) >= 2
    images = {svc.get("image", "") for svc in stack["services"].values()}
    assert any("postgres" in image for image in images) and any("seaweedfs" in image for image in images)


def test_our_images_are_built_from_the_repository_dockerfiles(stack: dict[str, Any]) -> None:
    for name, svc in stack["services"].items():
        build = svc.get("build")
        if build:
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name
    assert services(stack, "Dockerfile.control") and services(stack, "Dockerfile.edge")


def test_every_long_running_service_has_a_health_check(stack: dict[str, Any]) -> None:
    for name, svc in stack["services"].items():
        if svc.get("restart") == "no":  # the one-shot edge-key copy
            continue
        test = (svc.get("healthcheck") or {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no health check"


def test_edges_get_the_control_address_and_the_edge_key_only(stack: dict[str, Any]) -> None:
    [control_name] = services(stack, "Dockerfile.control")
    control = stack["services"][control_name]
    control_volume = next(v.split(":")[0] for v in control["volumes"] if v.split(":")[1] == "/home/wopi/data")
    for name, edge in services(stack, "Dockerfile.edge").items():
        assert env(edge)["WOPI_PROXY_CONTROL"] == f"{control_name}:50051", name
        command = edge["command"]
        key_file = command[command.index("--api-key-file") + 1]
        mounts = [v.split(":") for v in edge["volumes"]]
        assert not any(source == control_volume for source, *_ in mounts), f"{name} mounts admin.key"
        [key_mount] = [m for m in mounts if key_file.startswith(m[1] + "/")]
        assert key_mount[2:] == ["ro"], f"{name}: the key volume must be read-only"
        writer = stack["services"]["edge-key"]
        assert any(v.split(":")[0] == key_mount[0] for v in writer["volumes"])
        assert f"/control-data/edge.key {key_file}" in writer["command"][0], "edge-key copies edge.key only"
        assert edge["depends_on"]["edge-key"]["condition"] == "service_completed_successfully"
        assert edge["depends_on"][control_name]["condition"] == "service_healthy"


def test_the_control_plane_uses_postgres_and_waits_for_it(stack: dict[str, Any]) -> None:
    [control] = services(stack, "Dockerfile.control").values()
    assert env(control)["WOPI_PROXY_DATABASE_URL"].startswith("postgresql+psycopg://wopi:")
    assert "@postgres:5432/wopi" in env(control)["WOPI_PROXY_DATABASE_URL"]
    assert control["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_tls_is_optional_and_named_by_the_real_variables(stack: dict[str, Any]) -> None:
    """Every WOPI_PROXY_* variable the file sets is one the code reads (a typo would be ignored)."""
    known = source_env_names()
    for name, svc in stack["services"].items():
        unknown = [key for key in env(svc) if key.startswith("WOPI_PROXY_") and key not in known]
        assert not unknown, f"{name} sets {unknown}, which no code reads"
    [control] = services(stack, "Dockerfile.control").values()
    for key in ("WOPI_PROXY_TLS_CERT", "WOPI_PROXY_TLS_KEY", "WOPI_PROXY_TLS_CLIENT_CA"):
        assert env(control)[key] == f"${{{key}:-}}", f"{key}: empty unless set, so TLS stays optional"
    for edge in services(stack, "Dockerfile.edge").values():
        assert env(edge)["WOPI_PROXY_TLS_CA"] == "${WOPI_PROXY_TLS_CA:-}"


def test_the_edge_health_check_asks_the_port_the_edge_serves(stack: dict[str, Any]) -> None:
    for name, edge in services(stack, "Dockerfile.edge").items():
        assert all(port.endswith(":8000") for port in edge["ports"]), name
        assert "127.0.0.1:8000/readyz" in " ".join(edge["healthcheck"]["test"]), name


def test_podman_compose_accepts_the_file() -> None:
    tool = shutil.which("podman-compose") or str(Path(sys.executable).parent / "podman-compose")
    if not Path(tool).exists():
        pytest.skip("podman-compose is not installed (pip install podman-compose)")
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (podman-compose runs it)")
    environment = {**os.environ, "POSTGRES_PASSWORD": "pw", "S3_ACCESS_KEY": "ak", "S3_SECRET_KEY": "sk"}
    done = subprocess.run([tool, "-f", str(COMPOSE), "config"], capture_output=True, text=True, timeout=60,
                          env=environment, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "postgresql+psycopg://wopi:pw@postgres:5432/wopi" in done.stdout
