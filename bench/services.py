"""Starting and stopping the two servers under test, and watching their memory.

Both run as subprocesses in their own session (so a Ctrl-C in the terminal reaches only the
benchmark, which then stops them in order) with output going to log files, never to a pipe
nobody reads (a full pipe would stall the server's event loop and skew the figures).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Self

STOP_TIMEOUT_S = 15.0


@dataclass
class Server:
    """A started subprocess, its log file and what its ready file said."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    ready: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None  # set by stop(): a clean shutdown on SIGTERM exits 0

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM (both servers shut down gracefully on it), SIGKILL if that takes too long.
        Idempotent: the exit stack calls it again after an explicit stop."""
        if self.exit_code is not None:
            return
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(5)
            self.exit_code = self.process.returncode
        finally:
            self.log_file.close()


def start_server(
    name: str,
    argv: list[str],
    workdir: Path,
    ready_timeout_s: float = 60.0,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Server:
    """Starts argv with --ready-file appended and waits for the file (ports are ephemeral)."""
    ready_file = workdir / f"{name}.ready.json"
    log_path = workdir / f"{name}.log"
    log_file = open(log_path, "wb")  # noqa: SIM115  (held open for the process's lifetime)
    process = subprocess.Popen(
        argv + ["--ready-file", str(ready_file)],
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    server = Server(name=name, process=process, log_path=log_path, log_file=log_file)
    deadline = time.monotonic() + ready_timeout_s
    try:
        while not ready_file.exists():
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode} before it was ready:\n{server.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready after {ready_timeout_s:.0f} s:\n{server.log_tail()}")
            time.sleep(0.05)
        server.ready = json.loads(ready_file.read_text())
    except BaseException:
        server.stop()
        raise
    return server


# -- memory -------------------------------------------------------------------------------------


def _status_kib(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_seconds(pid: int | tuple[int, ...]) -> float | None:
    """User + system CPU time of the whole process (all threads: gRPC, SQLite, worker threads),
    or the sum over several (a control plane and its edge)."""
    total = 0.0
    for one in (pid,) if isinstance(pid, int) else pid:
        try:
            with open(f"/proc/{one}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return total


def rss_mib(pid: int) -> float | None:
    kib = _status_kib(pid, "VmRSS")
    return None if kib is None else kib / 1024


def reset_peak_rss(pid: int) -> bool:
    """Writing 5 to clear_refs resets VmHWM (Linux >= 4.0), so the peak covers only what follows."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


class RssSampler:
    """Samples VmRSS in a thread (a peak between samples is caught by VmHWM when it could be reset)."""

    def __init__(self, pid: int, interval_s: float = 0.02) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.start_mib: float | None = None
        self.max_sampled_mib = 0.0
        self.hwm_reset = False
        self.hwm_mib: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            value = rss_mib(self.pid)
            if value is not None:
                self.max_sampled_mib = max(self.max_sampled_mib, value)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> Self:
        self.start_mib = rss_mib(self.pid)
        self.hwm_reset = reset_peak_rss(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.hwm_reset:
            hwm = _status_kib(self.pid, "VmHWM")
            self.hwm_mib = None if hwm is None else hwm / 1024

    @property
    def peak_mib(self) -> float:
        """The highest RSS seen while sampling; VmHWM too when it was reset at the start."""
        return max(self.max_sampled_mib, self.hwm_mib or 0.0)
