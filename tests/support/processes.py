"""Starting the real `wopi-proxy` processes on 127.0.0.1 with ephemeral ports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT_S = 30.0


@dataclass
class WopiProxyProcess:
    """One `wopi-proxy serve|control|edge` child process; ports come from its --ready-file."""

    args: list[str]
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.args[0]}.log"

    def start(self) -> WopiProxyProcess:
        ready = self.workdir / f"{self.args[0]}-{time.monotonic_ns()}.ready.json"
        command = [sys.executable, "-m", "cli.main", *self.args, "--ready-file", str(ready)]
        self.process = subprocess.Popen(
            command, cwd=self.workdir, env={**os.environ, **self.env},
            stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"wopi-proxy {self.args[0]} exited early:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"wopi-proxy {self.args[0]} did not start:\n{self.log()}")
            time.sleep(0.05)
        self.ports = json.loads(ready.read_text())
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60.0) -> int:
        """Asks the process to stop as Ctrl-C would; returns its exit code. A clean stop takes
        several seconds by design (the HTTP listener's and the gRPC server's grace, then the leased
        jobs'); the rest is for a loaded machine (a CI worker beside other suites)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"wopi-proxy {self.args[0]} ignored signal {sig}:\n{self.log()}") from None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['http_port']}"

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.ports['grpc_port']}"


def serve(workdir: Path, *extra: str, env: dict[str, str] | None = None) -> WopiProxyProcess:
    """`wopi-proxy serve` on ephemeral ports with its data dir inside `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    args = ["serve", "--port", "0", "--grpc-port", "0", "--data-dir", str(workdir / "data"), *extra]
    return WopiProxyProcess(args=args, workdir=workdir, env=env or {}).start()
