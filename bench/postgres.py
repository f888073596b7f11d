"""A throwaway PostgreSQL cluster for the benchmark (Debian's binaries, as tests/support/postgres.py).

Unlike the tests' cluster, this one keeps fsync and synchronous_commit on: a WOPI reply waits for
its audit record to be durable, and that commit cost is part of what the benchmark measures.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SYSTEM_USER = "postgres"  # initdb and postgres refuse to run as root


def bin_dir() -> Path | None:
    """/usr/lib/postgresql/<major>/bin, the newest major first (None: PostgreSQL is not installed)."""
    found = sorted((d for d in Path("/usr/lib/postgresql").glob("*") if d.name.isdigit()
                    and (d / "bin" / "initdb").is_file()), key=lambda d: -int(d.name))
    return found[0] / "bin" if found else None


def _run(argv: list[str], as_root: bool) -> subprocess.CompletedProcess[str]:
    if as_root:
        argv = ["su", "-s", "/bin/sh", SYSTEM_USER, "-c", shlex.join(argv)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    base: Path
    port: int
    bin: Path
    as_root: bool

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        done = _run([str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                     "-c", f'CREATE DATABASE "{name}"'], self.as_root)
        if done.returncode != 0:
            raise RuntimeError(f"CREATE DATABASE failed: {done.stderr}")
        return self.url(name)

    def stop(self) -> None:
        _run([str(self.bin / "pg_ctl"), "-D", str(self.base / "data"), "-m", "fast", "-w", "stop"], self.as_root)
        shutil.rmtree(self.base, ignore_errors=True)


def start() -> Cluster:
    """initdb + pg_ctl start in a new folder of its own (the postgres user must reach it, so not
    inside the benchmark's private temporary folder); RuntimeError when that fails."""
    binaries = bin_dir()
    if binaries is None:
        raise RuntimeError("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin")
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="wopi-bench-pg-"))
    if as_root:
        account = pwd.getpwnam(SYSTEM_USER)
        os.chown(base, account.pw_uid, account.pw_gid)
    data, log = base / "data", base / "postgres.log"
    done = _run([str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync",
                 "-E", "UTF8", "--locale=C.UTF-8"], as_root)
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed: {done.stderr}")
    port = _free_port()
    options = f"-k {base} -p {port} -c listen_addresses=127.0.0.1 -c max_connections=200"
    done = _run([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options,
                 "start"], as_root)
    if done.returncode != 0:
        raise RuntimeError(f"pg_ctl start failed: {done.stderr} {log.read_text(errors='replace')[-2000:]}")
    return Cluster(base=base, port=port, bin=binaries, as_root=as_root)
