"""The two container images, built and run for real with podman: a control container and an edge
container on the host network, the data dir and the files on host folders mounted as volumes,
the operator's CLI from outside, and a WOPI round trip through the edge.

Runs when podman is installed or WOPI_PROXY_REQUIRE_IMAGES=1 (then podman, runc and debootstrap
are installed from Debian when missing, as root, and any failure to build fails). Without
WOPI_PROXY_IMAGES_BASE the base image is the local Debian one that tools/container_images.py
makes (debootstrap, as root) and caches; WOPI_PROXY_IMAGES_BASE=python:3.11-slim uses the official one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.containers import Container
from tools import container_images as images
from tools.container_images import ImageError, Podman
from tests.support.ports import unused_port

ROOT = Path(__file__).resolve().parent.parent.parent
REQUIRED = os.environ.get("WOPI_PROXY_REQUIRE_IMAGES") == "1"
TENANT = "t-images"
ORIGINAL = b"hello from the host"
SAVED = b"saved through the edge container"
FILES_IN_CONTAINER = "/srv/wopi-files"
KEY_IN_CONTAINER = "/run/secrets/wopi-proxy-api-key"

# Building from nothing (debootstrap, Python base, both images) takes minutes on a loaded machine.
pytestmark = pytest.mark.timeout(1800)


@dataclass
class ImageDeployment:
    podman: Podman
    control: Container
    edge: Container
    grpc_address: str
    http_url: str
    data_dir: Path
    files_dir: Path

    def log(self) -> str:
        return f"--- control ---\n{self.control.logs()}\n--- edge ---\n{self.edge.logs()}"

    def cli(self, *args: str) -> dict:
        """The operator's CLI from the host venv against the control container; its JSON output."""
        admin_key = (self.data_dir / "admin.key").read_text().strip()
        done = subprocess.run([sys.executable, "-m", "cli.main", "--control", self.grpc_address,
                               "--api-key", admin_key, *args, "--json"],
                              cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, f"{args}: {done.stderr}\n{self.log()}"
        return json.loads(done.stdout)


def _podman_or_skip() -> Podman:
    if images.missing_tools():
        if not REQUIRED:
            pytest.skip(f"{', '.join(images.missing_tools())} not installed "
                        "(WOPI_PROXY_REQUIRE_IMAGES=1 installs it from Debian as root and runs these tests)")
        images.install_tools()
    if os.geteuid() != 0 and not os.environ.get("WOPI_PROXY_IMAGES_BASE") and not REQUIRED:
        pytest.skip("making the local base image needs root (debootstrap); set WOPI_PROXY_IMAGES_BASE to a "
                    "python:3.11-slim-like image to run these tests as another user")
    return Podman.for_this_machine()


@pytest.fixture(scope="module")
def built_images() -> tuple[Podman, dict[str, str]]:
    podman = _podman_or_skip()
    try:
        base = os.environ.get("WOPI_PROXY_IMAGES_BASE") or images.ensure_base(podman)
        return podman, images.build_images(podman, base)
    except ImageError as error:
        pytest.fail(f"building the images failed: {error}")


@pytest.fixture(scope="module")
def deployment(built_images: tuple[Podman, dict[str, str]],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImageDeployment]:
    podman, names = built_images
    work = tmp_path_factory.mktemp("images")
    data_dir, files_dir = work / "data", work / "files"
    data_dir.mkdir()
    (files_dir / TENANT).mkdir(parents=True)
    (files_dir / TENANT / "hello.txt").write_bytes(ORIGINAL)
    grpc_port, http_port = unused_port(), unused_port()
    control = Container(podman, names["control"], "control")
    edge = Container(podman, names["edge"], "edge")
    # `:U` gives the mounted folders to the image's non-root user (uid 10001) before it starts.
    files_volume = f"{files_dir}:{FILES_IN_CONTAINER}:U"
    try:
        control.start(env={"WOPI_PROXY_HOST": "127.0.0.1", "WOPI_PROXY_GRPC_PORT": str(grpc_port),
                           "WOPI_PROXY_PUBLIC_URL": f"http://127.0.0.1:{http_port}"},
                      volumes=[f"{data_dir}:/home/wopi/data:U", files_volume])
        control.wait_healthy()
        # An edge-role key when the control plane writes one, else the admin key.
        key_file = data_dir / "edge.key" if (data_dir / "edge.key").exists() else data_dir / "admin.key"
        edge.start("edge", "--api-key-file", KEY_IN_CONTAINER,
                   env={"WOPI_PROXY_HOST": "127.0.0.1", "WOPI_PROXY_PORT": str(http_port),
                        "WOPI_PROXY_CONTROL": f"127.0.0.1:{grpc_port}"},
                   volumes=[f"{key_file}:{KEY_IN_CONTAINER}:ro", files_volume])
        edge.wait_healthy()
        yield ImageDeployment(podman=podman, control=control, edge=edge,
                              grpc_address=f"127.0.0.1:{grpc_port}", http_url=f"http://127.0.0.1:{http_port}",
                              data_dir=data_dir, files_dir=files_dir)
    finally:
        edge.remove()
        control.remove()


def test_both_containers_run_as_the_non_root_user(deployment: ImageDeployment) -> None:
    """A process escaping the app would still not be root inside the container."""
    assert deployment.control.exec("id", "-u").strip() == "10001"
    assert deployment.edge.exec("id", "-u").strip() == "10001"


def test_images_hold_every_project_package_but_no_sources_or_tests(deployment: ImageDeployment) -> None:
    """gateway/ was once left out of both images (they crashed at start): every top-level package
    must import; the build stage's sources and the test suite must not be in the image."""
    probe = ("import importlib.util as u, os; import cli.main, control, edge, gateway, shared, wopiproxy; "
             "print(u.find_spec('tests') is None, os.path.exists('/src'))")
    for container in (deployment.control, deployment.edge):
        assert container.exec("python", "-c", probe).split() == ["True", "False"], container.role


def test_a_session_made_through_the_control_container_saves_through_the_edge_container(
    deployment: ImageDeployment,
) -> None:
    """CheckFileInfo, Lock, PutFile under the lock, GetFile: the bytes land in the mounted folder."""
    deployment.cli("tenants", "add", "--id", TENANT, "--name", "Images")
    deployment.cli("storages", "add", "--tenant-id", TENANT, "--name", "docs",
                   "--root", f"{FILES_IN_CONTAINER}/{TENANT}")
    session = deployment.cli("sessions", "create", "--tenant-id", TENANT, "--storage", "docs",
                             "--path", "hello.txt", "--user-id", "u1", "--permission", "edit")
    src, token = session["wopi_src"], session["access_token"]
    assert src.startswith(deployment.http_url), session
    with httpx.Client(timeout=30, params={"access_token": token}) as http:
        info = http.get(src)
        assert info.status_code == 200, f"{info.text}\n{deployment.log()}"
        assert info.json()["BaseFileName"] == "hello.txt" and info.json()["Size"] == len(ORIGINAL)
        lock = http.post(src, headers={"X-WOPI-Override": "LOCK", "X-WOPI-Lock": "images-lock"})
        assert lock.status_code == 200, f"{lock.text}\n{deployment.log()}"
        put = http.post(f"{src}/contents", content=SAVED,
                        headers={"X-WOPI-Override": "PUT", "X-WOPI-Lock": "images-lock"})
        assert put.status_code == 200, f"{put.text}\n{deployment.log()}"
        got = http.get(f"{src}/contents")
        assert got.status_code == 200 and got.content == SAVED, f"{got.status_code}\n{deployment.log()}"
    assert (deployment.files_dir / TENANT / "hello.txt").read_bytes() == SAVED


def test_containers_stop_cleanly_on_sigterm(deployment: ImageDeployment) -> None:
    """An orchestrator's stop (SIGTERM) ends both processes with exit code 0, not a kill.

    Runs last in this module: it stops the shared containers.
    """
    for container in (deployment.edge, deployment.control):
        container.stop(timeout_s=20)
        assert container.state() == "exited", deployment.log()
        code = container.exit_code()
        assert code == 0, f"{container.role} exit {code}\n{deployment.log()}"
