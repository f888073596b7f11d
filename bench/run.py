"""wopi-proxy throughput and memory, side by side with a trivial Quart app on the same Hypercorn set-up.

Machines running this are shared and noisy, so absolute figures vary from run to run; the ratios
(wopi-proxy / trivial, measured in the same minute on the same machine) are what to compare.

    python bench/run.py            # about a minute; see bench/README.md for the options
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from load import (  # noqa: E402
    MIB,
    DownloadRun,
    RateResult,
    download,
    find_wrk,
    measure_downloads,
    measure_rate,
)
from services import RssSampler, Server, cpu_seconds, rss_mib, start_server  # noqa: E402
from trivial_app import SMALL_SIZE, STREAM_SIZE  # noqa: E402

BIG_SIZE = STREAM_SIZE  # 100 MiB: GetFile vs the trivial stream
NOISE_NOTE = (
    "note: machines are shared and noisy; absolute figures vary between runs, "
    "the ratios from one run are what matter."
)


# -- set-up -------------------------------------------------------------------------------------


def wopi_proxy_command() -> list[str]:
    """The console script of the interpreter running us (so the venv's install is what we measure)."""
    beside = Path(sys.executable).parent / "wopi-proxy"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("wopi-proxy")
    return [found] if found else [sys.executable, "-m", "cli.main"]


def write_random_file(path: Path, size: int) -> str:
    """Random bytes (nothing compressible or cached by accident); returns the SHA-256 to verify against."""
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        remaining = size
        while remaining:
            chunk = os.urandom(min(MIB, remaining))
            digest.update(chunk)
            out.write(chunk)
            remaining -= len(chunk)
    return digest.hexdigest()


def cli(base: list[str], control: str, api_key: str, *args: str) -> str:
    """One client verb through the real CLI (the documented way to provision)."""
    done = subprocess.run(
        [*base, "--control", control, "--api-key", api_key, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wopi-proxy {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout


@dataclass
class Session:
    wopi_src: str
    access_token: str

    def url(self, suffix: str = "") -> str:
        return f"{self.wopi_src}{suffix}?access_token={self.access_token}"


def provision(base: list[str], server: Server, data_dir: Path, files_dir: Path) -> dict[str, Session]:
    """Tenant, storage and one session per file, as a business application would create them."""
    control = f"127.0.0.1:{server.ready['grpc_port']}"
    key = (data_dir / "admin.key").read_text().strip()
    cli(base, control, key, "tenants", "add", "--id", "bench", "--name", "Bench")
    cli(
        base,
        control,
        key,
        "storages",
        "add",
        "--tenant-id",
        "bench",
        "--name",
        "files",
        "--root",
        str(files_dir),
    )
    sessions = {}
    for name in ("big.bin", "small.bin"):
        out = cli(
            base,
            control,
            key,
            "sessions",
            "create",
            "--tenant-id",
            "bench",
            "--storage",
            "files",
            "--path",
            name,
            "--user-id",
            "u1",
            "--user-name",
            "Bench User",
            "--json",
        )
        data = json.loads(out)
        sessions[name] = Session(wopi_src=data["wopi_src"], access_token=data["access_token"])
    return sessions


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        data: dict[str, Any] = json.loads(response.read())
    return data


SETTLE_LIMIT_S = 90.0


def settle(url: str, warnings: list[str], phase: str) -> None:
    """Waits until `url` answers 200 within a second again, so that one phase's after-effects do not
    spoil the next phase's figures; a wait longer than a few seconds is itself a finding (warning)."""
    began = time.monotonic()
    failures = 0
    while True:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=15) as response:
                response.read()
                ok = response.status == 200
        except (urllib.error.URLError, OSError):
            ok = False
        failures += not ok
        if ok and time.monotonic() - started < 1.0:
            break
        if time.monotonic() - began > SETTLE_LIMIT_S:
            warnings.append(
                f"wopi-proxy still unresponsive {SETTLE_LIMIT_S:.0f} s after {phase}; went on anyway"
            )
            return
        time.sleep(0.5)
    waited = time.monotonic() - began
    if waited > 3.0:
        warnings.append(
            f"wopi-proxy answered slowly or with errors for {waited:.0f} s after {phase} "
            f"({failures} failed probes); the next phase started after that"
        )


# -- reporting ----------------------------------------------------------------------------------

Row = tuple[str, float | None, float | None]


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt(value: float | None, digits: int | None = None) -> str:
    """Two decimals for small figures (CPU ms, ratios), one for the rest."""
    if value is None:
        return "-"
    return f"{value:,.{digits if digits is not None else (2 if abs(value) < 10 else 1)}f}"


def print_table(rows: list[Row]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"{'metric'.ljust(width)}  {'wopi-proxy':>11}  {'trivial':>11}  {'ratio':>6}")
    for label, ours, theirs in rows:
        print(f"{label.ljust(width)}  {fmt(ours):>11}  {fmt(theirs):>11}  {fmt(ratio(ours, theirs), 2):>6}")


def rate_rows(label: str, ours: RateResult, theirs: RateResult) -> list[Row]:
    return [
        (f"{label} req/s", ours.requests_per_s, theirs.requests_per_s),
        (f"{label} p99 ms", ours.p99_ms, theirs.p99_ms),
        (f"{label} server CPU ms/req", ours.cpu_ms_per_request, theirs.cpu_ms_per_request),
    ]


@dataclass
class DownloadFigures:
    run: DownloadRun
    peak_rss_mib: float
    cpu_s_per_gib: float | None


def measure_big(server: Server, url: str, args: argparse.Namespace) -> DownloadFigures:
    """The 100 MiB downloads with the server's RSS sampled and its CPU time counted."""
    cpu_before = cpu_seconds(server.pid)
    with RssSampler(server.pid) as rss:
        result = measure_downloads(url, BIG_SIZE, sequential=args.sequential, concurrent=args.concurrent)
    cpu_after = cpu_seconds(server.pid)
    gib = result.downloads * BIG_SIZE / 1024**3
    cpu = (cpu_after - cpu_before) / gib if cpu_before is not None and cpu_after is not None else None
    return DownloadFigures(run=result, peak_rss_mib=rss.peak_mib, cpu_s_per_gib=cpu)


def error_lines(name: str, result: RateResult | DownloadRun) -> list[str]:
    if isinstance(result, RateResult):
        return [f"{name}: {result.errors} errors ({result.error_detail})"] if result.errors else []
    return [f"{name}: {p}" for p in result.problems]


def server_log_problems(server: Server) -> list[str]:
    """ERROR lines and tracebacks in a server's log: a fast wrong answer is no result."""
    try:
        text = server.log_path.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if " ERROR " in line or line.startswith("Traceback")]


# -- the run ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds per CheckFileInfo rate run (10)"
    )
    parser.add_argument(
        "--small-duration",
        type=float,
        default=5.0,
        help="seconds per GetFile 100 KiB rate run (5; 0 skips it)",
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of warm-up before each rate run (2)"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (32)")
    parser.add_argument("--sequential", type=int, default=4, help="sequential 100 MiB downloads (4)")
    parser.add_argument("--concurrent", type=int, default=4, help="simultaneous 100 MiB downloads (4)")
    parser.add_argument(
        "--tool",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk (installed via apt-get when root), python, or auto (default)",
    )
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/<time>.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, data)")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, workdir: Path, stack: contextlib.ExitStack) -> dict[str, Any]:
    wrk = None
    if args.tool != "python":
        wrk = find_wrk(try_install=not args.no_install)
        if wrk is None and args.tool == "wrk":
            raise SystemExit("error: wrk not found (apt-get install -y wrk)")
    tool = "wrk" if wrk else "python-httpx (wrk unavailable: client shares the CPU)"
    print(f"load tool: {tool}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}", flush=True)

    files_dir, data_dir = workdir / "files", workdir / "data"
    files_dir.mkdir()
    big_sha = write_random_file(files_dir / "big.bin", BIG_SIZE)
    write_random_file(files_dir / "small.bin", SMALL_SIZE)

    base = wopi_proxy_command()
    proxy = start_server(
        "wopi-proxy",
        [
            *base,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--grpc-port",
            "0",
            "--data-dir",
            str(data_dir),
        ],
        workdir,
    )
    stack.callback(proxy.stop)
    trivial = start_server(
        "trivial",
        [sys.executable, str(BENCH_DIR / "trivial_app.py"), "--port", "0"],
        workdir,
        env={
            "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH_DIR.parent), os.environ.get("PYTHONPATH")]))
        },
    )
    stack.callback(trivial.stop)
    sessions = provision(base, proxy, data_dir, files_dir)
    trivial_base = f"http://127.0.0.1:{trivial.ready['http_port']}"
    print(
        f"wopi-proxy pid {proxy.pid} (edge :{proxy.ready['http_port']}), trivial pid {trivial.pid} "
        f"({trivial_base}); temp folder {workdir}",
        flush=True,
    )

    # Correctness before speed: the right answers, the right bytes.
    info = get_json(sessions["small.bin"].url())
    if info.get("Size") != SMALL_SIZE:
        raise RuntimeError(f"CheckFileInfo answered {info}")
    if get_json(f"{trivial_base}/json") != {"status": "ok"}:
        raise RuntimeError("the trivial app's /json answered something else")
    check = download(sessions["big.bin"].url("/contents"), digest=True)
    if check.status != 200 or check.sha256 != big_sha:
        raise RuntimeError(
            f"GetFile of the 100 MiB file: status {check.status}, {check.received} bytes, "
            f"SHA-256 {'matches' if check.sha256 == big_sha else 'differs'}"
        )
    download(f"{trivial_base}/stream")  # the same warm-up for the baseline

    settle_warnings: list[str] = []
    rate = {"threads": args.threads, "connections": args.connections, "warmup_s": args.warmup}
    print(f"CheckFileInfo vs /json: {args.connections} connections, {args.duration:g} s each ...", flush=True)
    cfi = measure_rate(
        wrk, sessions["small.bin"].url(), server_pid=proxy.pid, duration_s=args.duration, **rate
    )
    tiny = measure_rate(wrk, f"{trivial_base}/json", server_pid=trivial.pid, duration_s=args.duration, **rate)
    small_ours = small_theirs = None
    if args.small_duration > 0:
        settle(sessions["small.bin"].url(), settle_warnings, "the CheckFileInfo load ended")
        print(f"GetFile 100 KiB vs /small: {args.small_duration:g} s each ...", flush=True)
        small_ours = measure_rate(
            wrk,
            sessions["small.bin"].url("/contents"),
            server_pid=proxy.pid,
            duration_s=args.small_duration,
            **rate,
        )
        small_theirs = measure_rate(
            wrk, f"{trivial_base}/small", server_pid=trivial.pid, duration_s=args.small_duration, **rate
        )

    settle(sessions["small.bin"].url(), settle_warnings, "the previous load ended")
    print(
        f"GetFile 100 MiB vs /stream: {args.sequential} sequential + {args.concurrent} concurrent ...",
        flush=True,
    )
    idle_rss = {"wopi-proxy": rss_mib(proxy.pid), "trivial": rss_mib(trivial.pid)}
    big_ours = measure_big(proxy, sessions["big.bin"].url("/contents"), args)
    big_theirs = measure_big(trivial, f"{trivial_base}/stream", args)

    # Stop both now: a clean shutdown on SIGTERM is part of what a server must do.
    proxy.stop()
    trivial.stop()

    rows: list[Row] = [*rate_rows(f"CheckFileInfo (c={args.connections})", cfi, tiny)]
    if small_ours and small_theirs:
        rows += rate_rows("GetFile 100 KiB", small_ours, small_theirs)
    rows += [
        ("GetFile 100 MiB sequential MiB/s", big_ours.run.sequential_mib_s, big_theirs.run.sequential_mib_s),
        (
            f"GetFile 100 MiB {args.concurrent} concurrent MiB/s",
            big_ours.run.concurrent_mib_s,
            big_theirs.run.concurrent_mib_s,
        ),
        ("GetFile 100 MiB server CPU s/GiB", big_ours.cpu_s_per_gib, big_theirs.cpu_s_per_gib),
        ("RSS before downloads MiB", idle_rss["wopi-proxy"], idle_rss["trivial"]),
        ("Peak RSS during downloads MiB", big_ours.peak_rss_mib, big_theirs.peak_rss_mib),
    ]
    print()
    print_table(rows)
    print("(ratio = wopi-proxy / trivial: higher is better for req/s and MiB/s, lower for the others)")

    # Problems make figures meaningless (exit 1); warnings are product defects seen on the way.
    problems = [
        *error_lines("CheckFileInfo", cfi),
        *error_lines("trivial /json", tiny),
        *error_lines("GetFile 100 MiB", big_ours.run),
        *error_lines("trivial /stream", big_theirs.run),
    ]
    if small_ours and small_theirs:
        problems += [
            *error_lines("GetFile 100 KiB", small_ours),
            *error_lines("trivial /small", small_theirs),
        ]
    log_lines = [f"{s.name}: {line}" for s in (proxy, trivial) for line in server_log_problems(s)]
    warnings = settle_warnings + log_lines[:10]
    warnings += [
        f"{s.name} exited with status {s.exit_code} on SIGTERM (expected 0)"
        for s in (proxy, trivial)
        if s.exit_code != 0
    ]
    for title, lines in (
        ("PROBLEMS (figures with errors are not comparable):", problems),
        ("WARNINGS:", warnings),
    ):
        if lines:
            print(title)
            for line in lines:
                print(f"  {line}")
    print(NOISE_NOTE)
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": {"cpus": os.cpu_count(), "loadavg": os.getloadavg(), "python": platform.python_version()},
        "tool": "wrk" if wrk else "python-httpx",
        "settings": {k: v for k, v in vars(args).items() if k not in ("keep", "no_json")},
        "rows": [
            {"metric": label, "wopi_proxy": ours, "trivial": theirs, "ratio": ratio(ours, theirs)}
            for label, ours, theirs in rows
        ],
        "raw": {
            "check_file_info": asdict(cfi),
            "trivial_json": asdict(tiny),
            "get_file_small": asdict(small_ours) if small_ours else None,
            "trivial_small": asdict(small_theirs) if small_theirs else None,
            "get_file_big": asdict(big_ours),
            "trivial_stream": asdict(big_theirs),
        },
        "problems": problems,
        "warnings": warnings,
    }


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so the servers are stopped and the temp folder removed
    (a second SIGTERM is ignored so that it cannot cut that clean-up short)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def save(result: dict[str, Any], workdir: Path, args: argparse.Namespace, started: float) -> None:
    """JSON results, plus the server logs when they explain a warning (the temp folder goes away)."""
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = BENCH_DIR / "results"
    if result["problems"] or result["warnings"]:
        out_dir.mkdir(exist_ok=True)
        for log in sorted(workdir.glob("*.log")):
            shutil.copyfile(log, out_dir / f"{stamp}-{log.name}")
        print(f"server logs: {(out_dir / stamp).relative_to(BENCH_DIR.parent)}-*.log")
    if not args.no_json:
        out_dir.mkdir(exist_ok=True)
        out = out_dir / f"{stamp}.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"results: {out.relative_to(BENCH_DIR.parent)} (whole run {result['elapsed_s']} s)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    # A shell starting us in the background may have set SIGINT to "ignore": Ctrl-C must still work.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="wopi-bench-"))
    try:
        with contextlib.ExitStack() as stack:
            result = run(args, workdir, stack)
        save(result, workdir, args, started)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped", file=sys.stderr)
        return 130
    except SystemExit as stop:
        if stop.code == 128 + signal.SIGTERM:
            print("\nterminated: servers stopped", file=sys.stderr)
        raise
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
