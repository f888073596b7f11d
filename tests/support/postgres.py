"""A throwaway PostgreSQL cluster from Debian's binaries, once per test session.

initdb and postgres refuse to run as root, so as root they run as the `postgres` system user.
Without the binaries the PostgreSQL tests skip, unless WOPI_PROXY_REQUIRE_POSTGRES=1 (CI),
where their absence is a failure.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from tests.support.ports import unused_port

REQUIRE_POSTGRES_ENV = "WOPI_PROXY_REQUIRE_POSTGRES"
POSTGRES_MAJOR = "15"
POSTGRES_SYSTEM_USER = "postgres"
POSTGRES_SUPERUSER = "postgres"



@dataclass(frozen=True)
class PostgresCluster:
    host: str
    port: int

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{POSTGRES_SUPERUSER}@{self.host}:{self.port}/{database}"

    def admin_connection(self) -> psycopg.Connection:
        """Autocommit, as CREATE/DROP DATABASE cannot run inside a transaction."""
        return psycopg.connect(host=self.host, port=self.port, user=POSTGRES_SUPERUSER, dbname="postgres",
                               autocommit=True, connect_timeout=10)


def _postgres_bin_dir() -> Path | None:
    """Debian's layout: /usr/lib/postgresql/<major>/bin. The pinned major first, else the newest."""
    root = Path("/usr/lib/postgresql")
    found = [d / "bin" for d in root.glob("*")
             if (d / "bin" / "initdb").is_file() and (d / "bin" / "pg_ctl").is_file()]
    newest_first = sorted((b for b in found if b.parent.name.isdigit()), key=lambda b: -int(b.parent.name))
    pinned = [b for b in newest_first if b.parent.name == POSTGRES_MAJOR]
    return next(iter(pinned + newest_first), None)


def _unavailable(why: str) -> NoReturn:
    if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
        pytest.fail(f"PostgreSQL is required ({REQUIRE_POSTGRES_ENV}=1) but {why}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {why} (set {REQUIRE_POSTGRES_ENV}=1 to make this an error)")


class _Runner:
    """Runs the server binaries directly, or through `su postgres` when we are root."""

    def __init__(self) -> None:
        self.as_root = os.geteuid() == 0

    def run(self, argv: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        if self.as_root:
            argv = ["su", "-s", "/bin/sh", POSTGRES_SYSTEM_USER, "-c", shlex.join(argv)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def _check(result: subprocess.CompletedProcess[str], what: str, log: Path | None = None) -> None:
    if result.returncode == 0:
        return
    log_text = log.read_text(errors="replace")[-4000:] if log is not None and log.exists() else ""
    raise RuntimeError(f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{log_text}")


class PostgresServer:
    """A cluster this process started: stop, start and restart it (a test's own, when it takes the
    database away; the session's shared cluster is never restarted)."""

    def __init__(self, bin_dir: Path, runner: _Runner, base: Path) -> None:
        self.bin_dir, self.runner, self.base = bin_dir, runner, base
        self.data, self.log = base / "data", base / "postgres.log"
        self.port = 0
        self.running = False

    def cluster(self) -> PostgresCluster:
        return PostgresCluster(host="127.0.0.1", port=self.port)

    def _options(self) -> str:
        # synchronous_commit stays on: a test that crashes this server (stop("immediate")) must not
        # lose commits the server acknowledged (with it off, the last ones vanish and the test sees
        # a database that never held what the control plane was told). fsync may stay off: a
        # process crash keeps what was written to the operating system.
        return (f"-k {self.base} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=on -c full_page_writes=off -c max_connections=200")

    def _pg_ctl(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return self.runner.run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), *argv])

    def first_start(self) -> None:
        _check(self.runner.run([str(self.bin_dir / "initdb"), "-D", str(self.data), "-A", "trust",
                                "-U", POSTGRES_SUPERUSER, "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]), "initdb")
        result = None
        for _attempt in range(3):  # the free port may be taken between the probe and the bind
            self.port = unused_port()
            result = self._pg_ctl("-l", str(self.log), "-w", "-t", "60", "-o", self._options(), "start")
            if result.returncode == 0:
                self.running = True
                return
        assert result is not None
        _check(result, "pg_ctl start", self.log)

    def start(self) -> None:
        """Starts it again on its port (the clients' address does not change)."""
        _check(self._pg_ctl("-l", str(self.log), "-w", "-t", "60", "-o", self._options(), "start"),
               "pg_ctl start", self.log)
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session (as an operator's restart does); `immediate` is a crash."""
        _check(self._pg_ctl("-m", mode, "-w", "-t", "60", "stop"), "pg_ctl stop", self.log)
        self.running = False


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A new cluster in a temporary folder, removed afterwards (skips, or fails under
    WOPI_PROXY_REQUIRE_POSTGRES=1, without the binaries)."""
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        _unavailable("no server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    runner = _Runner()
    account = None
    if runner.as_root:
        try:
            account = pwd.getpwnam(POSTGRES_SYSTEM_USER)
        except KeyError:
            _unavailable(f"we are root and there is no {POSTGRES_SYSTEM_USER!r} user to run initdb as")
    base = Path(tempfile.mkdtemp(prefix="wopi-pg-"))
    if account is not None:
        os.chown(base, account.pw_uid, account.pw_gid)
    server = PostgresServer(bin_dir, runner, base)
    try:
        server.first_start()
        yield server
    finally:
        if server.running:
            server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    with postgres_server() as server:
        yield server.cluster()
