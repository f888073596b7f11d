"""How far a process's peak memory rises while something runs (Linux: VmHWM, reset through
/proc/PID/clear_refs), for the tests that show an attack no longer costs a shared process memory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def _kib(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith(f"{field}:")).split()[1])


def peak_growth_mib(pid: int, during: Callable[[], None]) -> float:
    """MiB the process's peak resident set rose above its size when `during` began."""
    before = _kib(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak (VmHWM) starts again from the current size
    during()
    return (_kib(pid, "VmHWM") - before) / 1024
