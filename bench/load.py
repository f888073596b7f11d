"""Load generation: wrk for request rates (a Python asyncio+httpx loop when wrk is missing) and a
lean socket client for large downloads.

The download client reads with recv_into a reused buffer in threads (the GIL is released while
waiting), so on a small machine it takes as little CPU as possible away from the server under test.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from services import cpu_seconds

MIB = 1024 * 1024


@dataclass
class RateResult:
    """A fixed-duration, fixed-concurrency run against one URL."""

    tool: str
    requests_per_s: float
    requests: int
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0  # non-2xx answers plus socket errors and timeouts
    error_detail: str = ""
    cpu_ms_per_request: float | None = None  # the server's CPU time (all threads) per answered request


# -- wrk ----------------------------------------------------------------------------------------


def find_wrk(try_install: bool) -> str | None:
    """wrk on PATH; when root and allowed, `apt-get install -y wrk` first (it is not in the base image)."""
    path = shutil.which("wrk")
    if path or not try_install or os.geteuid() != 0 or not shutil.which("apt-get"):
        return path
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "install", "-y", "-q", "wrk"],
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "wrk"],
    ):
        try:
            subprocess.run(
                argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        path = shutil.which("wrk")
        if path:
            return path
    return None


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> RateResult:
    """Reads Requests/sec, the latency distribution and the error lines of `wrk --latency`."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    if not rps or not total:
        raise RuntimeError(f"cannot parse wrk output:\n{output}")
    percentiles = {
        m.group(1): _duration_ms(m.group(2))
        for m in re.finditer(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.MULTILINE)
    }
    errors, details = 0, []
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
        details.append(f"non-2xx {non_2xx.group(1)}")
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if sock:
        errors += sum(int(x) for x in sock.groups())
        details.append(sock.group(0))
    return RateResult(
        tool="wrk",
        requests_per_s=float(rps.group(1)),
        requests=int(total.group(1)),
        p50_ms=percentiles.get("50"),
        p99_ms=percentiles.get("99"),
        errors=errors,
        error_detail="; ".join(details),
    )


def run_wrk(wrk: str, url: str, *, threads: int, connections: int, duration_s: float,
            script: str | None = None) -> RateResult:
    argv = [
        wrk,
        *(["-s", script] if script else []),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s:g}s",
        "--latency",
        "--timeout",
        "10s",
        url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return parse_wrk(done.stdout)


# -- Python fallback ----------------------------------------------------------------------------


async def _python_rate(url: str, connections: int, duration_s: float) -> RateResult:
    import httpx  # only the fallback needs it (a test dependency of the project)

    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:
        deadline = time.perf_counter() + duration_s

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.get(url)
                    ok = 200 <= response.status_code < 400
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    latencies.sort()

    def pct(p: float) -> float | None:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else None

    done = len(latencies) + errors
    return RateResult(
        tool="python-httpx",
        requests_per_s=done / elapsed,
        requests=done,
        p50_ms=pct(0.50),
        p99_ms=pct(0.99),
        errors=errors,
        error_detail=f"failed {errors}" if errors else "",
    )


def run_python_rate(url: str, *, connections: int, duration_s: float) -> RateResult:
    """Much weaker than wrk (the client shares the CPU with the server): ratios still compare."""
    return asyncio.run(_python_rate(url, connections, duration_s))


@dataclass
class Target:
    """One side of a paired measurement: where the load goes and whose CPU time counts."""

    url: str
    server_pid: int | tuple[int, ...]


def measure_paired(wrk: str | None, ours: Target, reference: Target, *, threads: int, connections: int,
                   duration_s: float, warmup_s: float, window_s: int = 2) -> tuple[RateResult, RateResult]:
    """Ours and the reference in alternating windows of `window_s` (whole seconds: wrk's -d), A B B A
    A B ..., about `duration_s` in all for each.

    These machines' speed moves by a third between windows of a few seconds (neighbours, CPU
    steal), so a ratio of two runs minutes apart says more about the machine than about us.
    Alternating short windows puts both sides under the same drift."""
    window = max(1, min(window_s, int(duration_s)))
    rounds = max(2, round(duration_s / window))
    sides = (ours, reference)
    for side in sides:
        if warmup_s > 0:
            measure_rate(wrk, side.url, server_pid=side.server_pid, threads=threads, connections=connections,
                         duration_s=warmup_s, warmup_s=0)
    runs: tuple[list[RateResult], list[RateResult]] = ([], [])
    for n in range(rounds):
        order = (0, 1) if n % 2 == 0 else (1, 0)
        for index in order:
            side = sides[index]
            runs[index].append(measure_rate(wrk, side.url, server_pid=side.server_pid, threads=threads,
                                            connections=connections, duration_s=window, warmup_s=0))
    return _combined(runs[0], window), _combined(runs[1], window)


def measure_put_paired(ours: Target, upload: Target, body: bytes, *, count: int, blocks: int = 4
                       ) -> tuple[RateResult, RateResult]:
    """New-bytes PutFiles and the trivial app's /upload of the same bodies in alternating blocks
    (see measure_paired): `count` of each in all."""
    size = max(1, count // blocks)
    runs: tuple[list[RateResult], list[RateResult]] = ([], [])
    for n in range(blocks):
        order = (0, 1) if n % 2 == 0 else (1, 0)
        for index in order:
            side = (ours, upload)[index]
            runs[index].append(measure_put(side.url, body, server_pid=side.server_pid, count=size, vary=True,
                                           wopi=index == 0))
    return _combined_puts(runs[0]), _combined_puts(runs[1])


def _combined_puts(blocks: list[RateResult]) -> RateResult:
    requests = sum(b.requests for b in blocks)
    seconds = sum(b.requests / b.requests_per_s for b in blocks if b.requests_per_s)
    combined = _combined(blocks, 1.0)
    combined.requests_per_s = requests / seconds if seconds else 0.0
    return combined


def _combined(windows: list[RateResult], window_s: float) -> RateResult:
    """Windows of equal length as one run: total rate and CPU; latencies as the median window's."""
    def median(values: list[float]) -> float | None:
        return sorted(values)[len(values) // 2] if values else None

    requests = sum(w.requests for w in windows)
    cpu = [w.cpu_ms_per_request * w.requests for w in windows if w.cpu_ms_per_request is not None]
    return RateResult(
        tool=windows[0].tool, requests_per_s=requests / (window_s * len(windows)), requests=requests,
        p50_ms=median([w.p50_ms for w in windows if w.p50_ms is not None]),
        p99_ms=median([w.p99_ms for w in windows if w.p99_ms is not None]),
        errors=sum(w.errors for w in windows),
        error_detail=", ".join(sorted({w.error_detail for w in windows if w.error_detail})),
        cpu_ms_per_request=sum(cpu) / requests if requests and len(cpu) == len(windows) else None)


def measure_rate(
    wrk: str | None,
    url: str,
    *,
    server_pid: int | tuple[int, ...],
    threads: int,
    connections: int,
    duration_s: float,
    warmup_s: float,
    script: str | None = None,
) -> RateResult:
    """A short warm-up (connections, caches, SQLite pages) and then the measured run, with the
    server's CPU time per request (less sensitive to noisy neighbours than requests/s)."""

    def once(seconds: float) -> RateResult:
        if wrk:
            return run_wrk(wrk, url, threads=threads, connections=connections, duration_s=seconds, script=script)
        if script:
            raise RuntimeError("a wrk script needs wrk (--tool python cannot run it)")
        return run_python_rate(url, connections=connections, duration_s=seconds)

    if warmup_s > 0:
        once(warmup_s)
    cpu_before = cpu_seconds(server_pid)
    result = once(duration_s)
    cpu_after = cpu_seconds(server_pid)
    if cpu_before is not None and cpu_after is not None and result.requests:
        result.cpu_ms_per_request = (cpu_after - cpu_before) * 1000 / result.requests
    return result


# -- large downloads ----------------------------------------------------------------------------


@dataclass
class Download:
    status: int
    content_length: int | None
    received: int
    seconds: float
    sha256: str | None = None


def download(url: str, *, digest: bool = False, buffer_size: int = MIB) -> Download:
    """GET over a raw HTTP/1.1 socket; counts body bytes against Content-Length (optionally hashes)."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    started = time.perf_counter()
    with socket.create_connection((host, port), timeout=60) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            piece = sock.recv(65536)
            if not piece:
                raise RuntimeError(f"connection closed before the response head ({len(head)} bytes)")
            head += piece
        header_blob, _, body_start = head.partition(b"\r\n\r\n")
        lines = header_blob.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers["content-length"]) if "content-length" in headers else None
        hasher = hashlib.sha256(body_start) if digest else None
        received = len(body_start)
        buffer = bytearray(buffer_size)
        view = memoryview(buffer)
        while length is None or received < length:
            n = sock.recv_into(buffer)
            if n == 0:
                break
            received += n
            if hasher is not None:
                hasher.update(view[:n])
    return Download(
        status=status,
        content_length=length,
        received=received,
        seconds=time.perf_counter() - started,
        sha256=hasher.hexdigest() if hasher else None,
    )


@dataclass
class DownloadRun:
    """Sequential and concurrent throughput of one URL, every download checked."""

    sequential_mib_s: float
    concurrent_mib_s: float
    downloads: int
    problems: list[str] = field(default_factory=list)


def _check(result: Download, expected: int, label: str, problems: list[str]) -> None:
    if result.status != 200:
        problems.append(f"{label}: status {result.status}")
    elif result.content_length != expected or result.received != expected:
        problems.append(
            f"{label}: Content-Length {result.content_length}, received {result.received}, "
            f"expected {expected}"
        )


def measure_downloads(url: str, expected: int, *, sequential: int, concurrent: int) -> DownloadRun:
    """MiB/s over `sequential` downloads one after another, then over `concurrent` at once (wall clock)."""
    problems: list[str] = []
    seq_bytes, seq_seconds = 0, 0.0
    for i in range(sequential):
        result = download(url)
        _check(result, expected, f"sequential #{i + 1}", problems)
        seq_bytes += result.received
        seq_seconds += result.seconds
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrent) as pool:
        results = list(pool.map(lambda _: download(url), range(concurrent)))
    wall = time.perf_counter() - began
    for i, result in enumerate(results):
        _check(result, expected, f"concurrent #{i + 1}", problems)
    return DownloadRun(
        sequential_mib_s=seq_bytes / MIB / seq_seconds if seq_seconds else 0.0,
        concurrent_mib_s=sum(r.received for r in results) / MIB / wall if wall else 0.0,
        downloads=sequential + concurrent,
        problems=problems,
    )


# -- WOPI write scenarios (each worker owns its file, so no answer is a lock conflict) ------------


def write_lua_round_robin(path: str, targets: list[str]) -> None:
    """A wrk script that spreads GETs over `targets` (paths with query), one after the other."""
    quoted = ", ".join('"' + t.replace('"', '\\"') + '"' for t in targets)
    with open(path, "w") as out:
        out.write(f"local targets = {{{quoted}}}\nlocal i = 0\n"
                  "request = function()\n  i = i + 1\n"
                  "  return wrk.format(\"GET\", targets[(i % #targets) + 1])\nend\n")


async def _lock_unlock(urls: list[str], duration_s: float) -> RateResult:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=len(urls), max_keepalive_connections=len(urls))
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        deadline = time.perf_counter() + duration_s

        async def worker(n: int, url: str) -> None:
            lock = f"bench-lock-{n}"
            while time.perf_counter() < deadline:
                for override in ("LOCK", "UNLOCK"):
                    started = time.perf_counter()
                    try:
                        reply = await client.post(url, headers={"X-WOPI-Override": override, "X-WOPI-Lock": lock})
                        status = reply.status_code
                    except httpx.HTTPError as error:
                        status = 0
                        errors.append(type(error).__name__)
                    if status == 200:
                        latencies.append(time.perf_counter() - started)
                    else:
                        errors.append(f"{override} {status}")

        began = time.perf_counter()
        await asyncio.gather(*(worker(n, url) for n, url in enumerate(urls)))
        elapsed = time.perf_counter() - began
    latencies.sort()

    def pct(p: float) -> float | None:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else None

    return RateResult(tool="python-httpx", requests_per_s=(len(latencies) + len(errors)) / elapsed,
                      requests=len(latencies) + len(errors), p50_ms=pct(0.5), p99_ms=pct(0.99),
                      errors=len(errors), error_detail=", ".join(sorted(set(errors))[:5]))


def write_lua_lock_unlock(path: str, targets: list[str]) -> None:
    """A wrk script for `-t N -c N` (one connection per thread, so each thread's Lua state is one
    worker): thread n LOCKs then UNLOCKs targets[n] with its own lock id, like _lock_unlock. The
    next operation follows the last answer (a request wrk sends again after a reconnect repeats
    the same operation); after a refusal the worker starts over with LOCK (a LOCK with the lock
    id the file holds is a refresh, so that is always answered 200 again)."""
    quoted = ", ".join('"' + t.replace('"', '\\"') + '"' for t in targets)
    with open(path, "w") as out:
        out.write(f"local targets = {{{quoted}}}\n"
                  "local threads = 0\n"
                  "function setup(thread)\n  threads = threads + 1\n  thread:set(\"id\", threads)\nend\n"
                  "local op = \"LOCK\"\n"
                  "function request()\n"
                  "  return wrk.format(\"POST\", targets[id], {[\"X-WOPI-Override\"] = op,\n"
                  "    [\"X-WOPI-Lock\"] = \"bench-lock-\" .. (id - 1), [\"Content-Length\"] = \"0\"})\n"
                  "end\n"
                  "function response(status, headers, body)\n"
                  "  if status == 200 and op == \"LOCK\" then op = \"UNLOCK\" else op = \"LOCK\" end\n"
                  "end\n")


def measure_lock_unlock_wrk(wrk: str, urls: list[str], *, script: str, server_pid: int | tuple[int, ...],
                            duration_s: float, warmup_s: float) -> RateResult:
    """The same workload as measure_lock_unlock with wrk (32 threads of one connection each: a
    client that takes ~0.05 ms of CPU per request instead of httpx's ~2.5 ms on the same cores)."""
    parts = [urlsplit(url) for url in urls]
    write_lua_lock_unlock(script, [p.path + (f"?{p.query}" if p.query else "") for p in parts])
    base = f"{parts[0].scheme}://{parts[0].netloc}/"
    return measure_rate(wrk, base, server_pid=server_pid, threads=len(urls), connections=len(urls),
                        duration_s=duration_s, warmup_s=warmup_s, script=script)


def measure_lock_unlock(urls: list[str], *, server_pid: int | tuple[int, ...], duration_s: float,
                        warmup_s: float) -> RateResult:
    """LOCK then UNLOCK in a loop, one worker per file (so every answer should be 200), with httpx."""
    if warmup_s > 0:
        asyncio.run(_lock_unlock(urls, warmup_s))
    cpu_before = cpu_seconds(server_pid)
    result = asyncio.run(_lock_unlock(urls, duration_s))
    cpu_after = cpu_seconds(server_pid)
    if cpu_before is not None and cpu_after is not None and result.requests:
        result.cpu_ms_per_request = (cpu_after - cpu_before) * 1000 / result.requests
    return result


def measure_put(url: str, body: bytes, *, server_pid: int | tuple[int, ...], count: int,
                vary: bool = False, wopi: bool = True) -> RateResult:
    """Sequential PutFiles under a lock (taken first): the server's CPU time per PutFile. The same
    body each time (the control plane records an unchanged save: nothing is published), or with
    `vary` new bytes each time (a real save: a version kept, the new bytes published).
    `wopi=False`: plain POSTs of the body to `url` (the trivial app's /upload)."""
    import httpx

    lock = "bench-put-lock"
    latencies: list[float] = []
    problems: list[str] = []
    with httpx.Client(timeout=60.0) as client:
        headers: dict[str, str] = {}
        target = url
        if wopi:
            taken = client.post(url, headers={"X-WOPI-Override": "LOCK", "X-WOPI-Lock": lock})
            if taken.status_code != 200:
                return RateResult(tool="python-httpx", requests_per_s=0, requests=0, errors=1,
                                  error_detail=f"LOCK {taken.status_code}")
            headers = {"X-WOPI-Override": "PUT", "X-WOPI-Lock": lock}
            target = url.replace("?", "/contents?", 1)
        client.post(target, content=body, headers=headers)  # warm-up
        cpu_before = cpu_seconds(server_pid)
        began = time.perf_counter()
        for n in range(count):
            content = (n.to_bytes(8, "big") + body[8:]) if vary else body
            started = time.perf_counter()
            reply = client.post(target, content=content, headers=headers)
            latencies.append(time.perf_counter() - started)
            if reply.status_code != 200:
                problems.append(f"PUT {reply.status_code}")
        elapsed = time.perf_counter() - began
        cpu_after = cpu_seconds(server_pid)
    latencies.sort()
    result = RateResult(tool="python-httpx", requests_per_s=count / elapsed, requests=count,
                        p50_ms=latencies[len(latencies) // 2] * 1000,
                        p99_ms=latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000,
                        errors=len(problems), error_detail=", ".join(sorted(set(problems))))
    if cpu_before is not None and cpu_after is not None:
        result.cpu_ms_per_request = (cpu_after - cpu_before) * 1000 / count
    return result
