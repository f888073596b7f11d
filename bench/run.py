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
import socket
import sys
import tempfile
import threading
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
    run_wrk,
)
import delay_proxy  # noqa: E402
import postgres as pg  # noqa: E402
from load import (  # noqa: E402
    Target,
    measure_lock_unlock,
    measure_lock_unlock_wrk,
    measure_paired,
    measure_put,
    measure_put_paired,
    write_lua_round_robin,
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


@dataclass
class Session:
    wopi_src: str
    access_token: str

    def url(self, suffix: str = "") -> str:
        return f"{self.wopi_src}{suffix}?access_token={self.access_token}"


class Control:
    """The control plane's gRPC API with the admin key (provisioning is fast this way: no CLI start-up)."""

    def __init__(self, server: Server, data_dir: Path) -> None:
        import grpc

        from wopiproxy.control.v1 import session_service_pb2, session_service_pb2_grpc
        from wopiproxy.control.v1 import storage_service_pb2, storage_service_pb2_grpc
        from wopiproxy.control.v1 import tenant_service_pb2, tenant_service_pb2_grpc

        self.pb = {"session": session_service_pb2, "storage": storage_service_pb2, "tenant": tenant_service_pb2}
        self.channel = grpc.insecure_channel(f"127.0.0.1:{server.ready['grpc_port']}")
        key = (data_dir / "admin.key").read_text().strip()
        self.metadata = (("authorization", f"Bearer {key}"),)
        self.tenants = tenant_service_pb2_grpc.TenantServiceStub(self.channel)
        self.storages = storage_service_pb2_grpc.StorageServiceStub(self.channel)
        self.sessions = session_service_pb2_grpc.SessionServiceStub(self.channel)

    def tenant(self, tenant_id: str, root: Path) -> None:
        self.tenants.CreateTenant(self.pb["tenant"].CreateTenantRequest(id=tenant_id, name=tenant_id),
                                  metadata=self.metadata, timeout=30)
        self.storages.CreateStorage(self.pb["storage"].CreateStorageRequest(
            tenant_id=tenant_id, name="files", protocol="file", root=str(root)), metadata=self.metadata, timeout=30)

    def session(self, tenant_id: str, path: str) -> Session:
        pb = self.pb["session"]
        reply = self.sessions.CreateSession(pb.CreateSessionRequest(
            tenant_id=tenant_id, storage="files", path=path, user_id="u1", user_name="Bench User",
            permission=pb.PERMISSION_EDIT), metadata=self.metadata, timeout=30)
        return Session(wopi_src=reply.session.wopi_src, access_token=reply.access_token)

    def close(self) -> None:
        self.channel.close()


SPLIT_SUFFIX = " split"  # a back end's label in the split shape (control and edge processes)
TENANTS = 4  # the multi-tenant scenario spreads CheckFileInfo over this many tenants
LOCK_FILES = 32  # one file per LOCK/UNLOCK worker


def provision(server: Server, data_dir: Path, files_dir: Path) -> dict[str, Any]:
    """Tenants t0..t3 on the same folder; sessions: big and small (t0), one small per tenant, one per
    LOCK/UNLOCK worker and one for PutFile (all t0)."""
    control = Control(server, data_dir)
    try:
        for n in range(TENANTS):
            control.tenant(f"t{n}", files_dir)
        return {
            "big.bin": control.session("t0", "big.bin"),
            "small.bin": control.session("t0", "small.bin"),
            "tenants": [control.session(f"t{n}", "small.bin") for n in range(TENANTS)],
            "locks": [control.session("t0", f"lock{n}.bin") for n in range(LOCK_FILES)],
            "put": control.session("t0", "put.bin"),
        }
    finally:
        control.close()


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

def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt(value: float | None, digits: int | None = None) -> str:
    """Two decimals for small figures (CPU ms, ratios), one for the rest."""
    if value is None:
        return "-"
    return f"{value:,.{digits if digits is not None else (2 if abs(value) < 10 else 1)}f}"


@dataclass
class DownloadFigures:
    run: DownloadRun
    peak_rss_mib: float
    cpu_s_per_gib: float | None


def measure_big(server: Server, url: str, args: argparse.Namespace,
                cpu_pids: int | tuple[int, ...] | None = None) -> DownloadFigures:
    """The 100 MiB downloads with the server's RSS sampled and its CPU time counted (of
    `cpu_pids` when given: a split deployment's edge and control plane)."""
    cpu_pids = server.pid if cpu_pids is None else cpu_pids
    cpu_before = cpu_seconds(cpu_pids)
    with RssSampler(server.pid) as rss:
        result = measure_downloads(url, BIG_SIZE, sequential=args.sequential, concurrent=args.concurrent)
    cpu_after = cpu_seconds(cpu_pids)
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


def _through_delay(url: str, port: int, delay_ms: float, stack: contextlib.ExitStack) -> str:
    """`url` (a database of the cluster on `port`) reached through its own delay proxy when asked."""
    if delay_ms <= 0:
        return url
    proxy_port, proxy = delay_proxy.start(port, delay_ms)
    stack.callback(proxy.wait)  # callbacks run last first: killed, then reaped
    stack.callback(proxy.kill)
    return url.replace(f":{port}/", f":{proxy_port}/")


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
    parser.add_argument("--sequential", type=int, default=4, help="sequential 100 MiB downloads (4; 0 skips them)")
    parser.add_argument("--concurrent", type=int, default=4, help="simultaneous 100 MiB downloads (4)")
    parser.add_argument("--puts", type=int, default=40, help="sequential 1 MiB PutFiles measured (40)")
    parser.add_argument(
        "--db",
        default="sqlite,postgres",
        help="comma-separated back ends to measure: sqlite, postgres (both; postgres is skipped with a "
        "warning when its server binaries are missing)",
    )
    parser.add_argument(
        "--shape",
        default="serve,split",
        help="comma-separated deployment shapes: serve (edge and control plane in one process), split "
        "(`wopi-proxy control` and `wopi-proxy edge`, two processes like the /grpc reference); both by default",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short runs (4 s, 1 s warm-up), no GetFile downloads unless asked (--small-duration, "
        "--sequential): the whole run in about 3 minutes",
    )
    parser.add_argument(
        "--tool",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk (installed via apt-get when root), python, or auto (default)",
    )
    parser.add_argument("--db-delay-ms", type=float, default=0.0,
                        help="PostgreSQL through bench/delay_proxy.py, each packet held this long each way "
                        "(a database across a network; 0: loopback, the default)")
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/<time>.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, data)")
    args = parser.parse_args(argv)
    if args.quick:  # what is given explicitly stays (e.g. --quick --sequential 2)
        given = {a.split("=")[0] for a in (sys.argv[1:] if argv is None else argv) if a.startswith("--")}
        quick = {"duration": 4.0, "small_duration": 0.0, "warmup": 1.0, "sequential": 0, "puts": 20}
        for name, value in quick.items():
            if "--" + name.replace("_", "-") not in given:
                setattr(args, name, value)
    args.db = [d.strip() for d in args.db.split(",") if d.strip()]
    args.shape = [d.strip() for d in args.shape.split(",") if d.strip()]
    if not args.shape or not set(args.shape) <= {"serve", "split"}:
        parser.error("--shape takes serve and/or split")
    if not set(args.db) <= {"sqlite", "postgres"}:
        parser.error("--db takes sqlite and/or postgres")
    return args


# Targets of issue 10 (ratios from one run): what the table marks as met or not.
TARGETS = {
    "cfi_rate": 0.5,  # CheckFileInfo req/s >= 50 % of the trivial endpoint's (the one with a gRPC call)
    "cfi_p99": 4.0,  # p99 <= 4x the trivial endpoint's
    "put_cpu_ms": 8.0,  # PutFile 1 MiB with lock: server CPU per request
    "lock_p99_ms": 50.0,  # LOCK/UNLOCK p99 at 32 concurrent
    "tenants": 0.8,  # 4 tenants reach >= 80 % of one tenant's total
    "cfi1_rate": 0.35,  # CheckFileInfo at 1 client >= 35 % of the trivial endpoint's rate at 1 client
    "small_rate": 0.45,  # GetFile 100 KiB >= 45 % of the trivial endpoint returning 100 KiB
    "big_mib_s": 0.6,  # GetFile 100 MiB >= 60 % of the trivial streaming endpoint's MiB/s
    "rss_growth_mib": 32.0,  # the server's RSS growth during the 100 MiB downloads
    "flood_p99": 2.0,  # another tenant's p99 while one tenant floods <= 2x its p99 without the flood
}
QUIET_CONNECTIONS = 2  # the other tenant of the flood measurement: an editor or two, not a load


@dataclass
class Backend:
    """The figures of wopi-proxy on one database."""

    name: str
    cfi: RateResult
    tenants: RateResult
    lock: RateResult  # wrk (httpx when wrk is missing)
    put: RateResult
    cfi1: RateResult | None = None  # one connection
    put_new: RateResult | None = None  # new bytes each time
    lock_httpx: RateResult | None = None  # the same LOCK/UNLOCK load from the httpx client, beside wrk's
    small: RateResult | None = None
    big: DownloadFigures | None = None
    idle_rss_mib: float | None = None
    quiet: RateResult | None = None  # another tenant's CheckFileInfo, alone
    flooded: RateResult | None = None  # the same while tenant t0 floods at c=32
    grpc: RateResult | None = None  # /grpc in the windows between cfi's (measure_paired)
    grpc1: RateResult | None = None  # the same at one connection, between cfi1's
    upload: RateResult | None = None  # /upload in the blocks between put_new's (measure_put_paired)


def measure_isolation(wrk: str | None, quiet_url: str, flood_url: str, args: argparse.Namespace
                      ) -> tuple[RateResult, RateResult] | None:
    """Tenant t1 at QUIET_CONNECTIONS alone, then the same while t0 sends at full concurrency:
    whether one tenant's flood slows the others' requests (issue 10: p99 at most 2x)."""
    if not wrk:
        return None
    quiet = run_wrk(wrk, quiet_url, threads=1, connections=QUIET_CONNECTIONS, duration_s=args.duration)
    flood: dict[str, RateResult] = {}
    flooder = threading.Thread(target=lambda: flood.setdefault("r", run_wrk(
        wrk, flood_url, threads=args.threads, connections=args.connections, duration_s=args.duration + 2)))
    flooder.start()
    time.sleep(1.0)  # the flood is on (a measurement's start, not a synchronisation)
    flooded = run_wrk(wrk, quiet_url, threads=1, connections=QUIET_CONNECTIONS, duration_s=args.duration)
    flooder.join()
    return quiet, flooded


def start_proxy(base: list[str], workdir: Path, name: str, database_url: str | None) -> Server:
    data_dir = workdir / f"data-{name}"
    argv = [*base, "serve", "--host", "127.0.0.1", "--port", "0", "--grpc-port", "0", "--data-dir", str(data_dir)]
    if database_url:
        argv += ["--database-url", database_url]
    return start_server(f"wopi-proxy-{name}", argv, workdir)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_split(base: list[str], workdir: Path, name: str, database_url: str | None) -> tuple[Server, Server]:
    """`wopi-proxy control` and `wopi-proxy edge` as two processes: the deployed shape, and the
    shape of the /grpc reference (a Quart process calling a grpc.aio process)."""
    data_dir = workdir / f"data-{name}"
    port = free_port()
    argv = [*base, "control", "--host", "127.0.0.1", "--grpc-port", "0", "--data-dir", str(data_dir),
            "--public-url", f"http://127.0.0.1:{port}"]
    if database_url:
        argv += ["--database-url", database_url]
    control = start_server(f"wopi-proxy-{name}-control", argv, workdir)
    edge = start_server(f"wopi-proxy-{name}-edge", [
        *base, "edge", "--host", "127.0.0.1", "--port", str(port),
        "--control", f"127.0.0.1:{control.ready['grpc_port']}", "--api-key-file", str(data_dir / "edge.key")],
        workdir)
    edge.ready["grpc_port"] = control.ready["grpc_port"]
    return control, edge


def measure_backend(name: str, database_url: str | None, args: argparse.Namespace, wrk: str | None,
                    workdir: Path, files_dir: Path, big_sha: str, stack: contextlib.ExitStack,
                    settle_warnings: list[str], reference: Target | None = None,
                    upload_reference: Target | None = None) -> tuple[Backend, list[Server]]:
    """`reference`: the trivial /grpc, measured in windows alternating with CheckFileInfo's;
    `upload_reference`: its /upload, in blocks alternating with PutFile's (new bytes)."""
    base = wopi_proxy_command()
    db_name = name.partition(" ")[0]
    servers: list[Server]
    if name.endswith(SPLIT_SUFFIX):
        control, proxy = start_split(base, workdir, db_name + "-split", database_url)
        servers = [control, proxy]
        pids: int | tuple[int, ...] = (control.pid, proxy.pid)
        data_dir = workdir / f"data-{db_name}-split"
    else:
        proxy = start_proxy(base, workdir, db_name, database_url)
        servers, pids, data_dir = [proxy], proxy.pid, workdir / f"data-{db_name}"
    for server in servers:
        stack.callback(server.stop)
    sessions = provision(servers[0], data_dir, files_dir)
    print(f"[{name}] wopi-proxy pid {pids} (edge :{proxy.ready['http_port']})", flush=True)
    info = get_json(sessions["small.bin"].url())
    if info.get("Size") != SMALL_SIZE:
        raise RuntimeError(f"CheckFileInfo answered {info}")
    rate = {"threads": args.threads, "connections": args.connections, "warmup_s": args.warmup}

    print(f"[{name}] CheckFileInfo, one tenant then {TENANTS} tenants, one tenant flooding another, then 1 client: "
          f"{args.duration:g} s each ...",
          flush=True)
    ours = Target(sessions["small.bin"].url(), pids)
    grpc = grpc1 = None
    if reference and wrk:
        cfi, grpc = measure_paired(wrk, ours, reference, duration_s=args.duration, **rate)
    else:
        cfi = measure_rate(wrk, ours.url, server_pid=pids, duration_s=args.duration, **rate)
    script = workdir / f"tenants-{name}.lua"
    paths = [s.url().split("/", 3)[3] for s in sessions["tenants"]]
    write_lua_round_robin(str(script), ["/" + p for p in paths])
    settle(sessions["small.bin"].url(), settle_warnings, "CheckFileInfo")
    tenants = measure_rate(wrk, sessions["small.bin"].wopi_src.split("/wopi/")[0] + "/", server_pid=pids,
                           duration_s=args.duration, script=str(script), **rate)

    settle(sessions["small.bin"].url(), settle_warnings, f"CheckFileInfo over {TENANTS} tenants")
    isolation = measure_isolation(wrk, sessions["tenants"][1].url(), sessions["small.bin"].url(), args)
    settle(sessions["small.bin"].url(), settle_warnings, "one tenant's flood")
    one = {**rate, "threads": 1, "connections": 1}
    if reference and wrk:
        cfi1, grpc1 = measure_paired(wrk, ours, reference, duration_s=args.duration, **one)
    else:
        cfi1 = measure_rate(wrk, ours.url, server_pid=pids, duration_s=args.duration, **one)
    print(f"[{name}] LOCK/UNLOCK, {LOCK_FILES} concurrent; PutFile 1 MiB x {args.puts} ...", flush=True)
    lock_urls = [s.url() for s in sessions["locks"]]
    lock_httpx = measure_lock_unlock(lock_urls, server_pid=pids, duration_s=args.duration, warmup_s=args.warmup)
    lock = lock_httpx
    if wrk:  # the lighter client: httpx's own CPU on the same cores is most of what its figures show
        lock = measure_lock_unlock_wrk(wrk, lock_urls, script=str(workdir / f"locks-{name}.lua"), server_pid=pids,
                                       duration_s=args.duration, warmup_s=args.warmup)
    body = os.urandom(MIB)
    put = measure_put(sessions["put"].url(), body, server_pid=pids, count=args.puts)
    upload = None
    if upload_reference:
        put_new, upload = measure_put_paired(Target(sessions["put"].url(), pids), upload_reference, body,
                                             count=args.puts)
    else:
        put_new = measure_put(sessions["put"].url(), body, server_pid=pids, count=args.puts, vary=True)
    backend = Backend(name=name, cfi=cfi, tenants=tenants, lock=lock, put=put, cfi1=cfi1, put_new=put_new,
                      lock_httpx=lock_httpx if lock is not lock_httpx else None, grpc=grpc, grpc1=grpc1,
                      upload=upload)
    if isolation:
        backend.quiet, backend.flooded = isolation

    if args.small_duration > 0:
        settle(sessions["small.bin"].url(), settle_warnings, "the write load")
        backend.small = measure_rate(wrk, sessions["small.bin"].url("/contents"), server_pid=pids,
                                     duration_s=args.small_duration, **rate)
    if args.sequential > 0:
        check = download(sessions["big.bin"].url("/contents"), digest=True)
        if check.status != 200 or check.sha256 != big_sha:
            raise RuntimeError(f"GetFile of the 100 MiB file: status {check.status}, {check.received} bytes")
        settle(sessions["small.bin"].url(), settle_warnings, "the previous load")
        backend.idle_rss_mib = rss_mib(proxy.pid)
        backend.big = measure_big(proxy, sessions["big.bin"].url("/contents"), args, cpu_pids=pids)
    for server in reversed(servers):
        server.stop()  # a clean shutdown on SIGTERM is part of what a server must do
    return backend, servers


@dataclass
class Trivial:
    json: RateResult
    grpc: RateResult
    json1: RateResult | None = None  # one connection
    grpc1: RateResult | None = None
    small: RateResult | None = None
    big: DownloadFigures | None = None
    idle_rss_mib: float | None = None
    upload: RateResult | None = None  # /upload: sequential 1 MiB durable saves (vs PutFile's CPU)
    grpc_target: Target | None = None  # /grpc, left running: each back end's rates are paired with it
    upload_target: Target | None = None  # /upload, the same for PutFile's CPU


def measure_trivial(args: argparse.Namespace, wrk: str | None, workdir: Path,
                    stack: contextlib.ExitStack) -> tuple[Trivial, list[Server]]:
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH_DIR.parent), os.environ.get("PYTHONPATH")]))}
    backend = start_server("trivial-grpc", [sys.executable, str(BENCH_DIR / "trivial_grpc.py")], workdir, env=env)
    stack.callback(backend.stop)
    uploads = workdir / "trivial-uploads"
    uploads.mkdir()
    trivial = start_server(
        "trivial",
        [sys.executable, str(BENCH_DIR / "trivial_app.py"), "--port", "0",
         "--grpc-target", f"127.0.0.1:{backend.ready['grpc_port']}", "--upload-dir", str(uploads)],
        workdir,
        env=env,
    )
    stack.callback(trivial.stop)
    url = f"http://127.0.0.1:{trivial.ready['http_port']}"
    for path in ("/json", "/grpc"):
        if get_json(url + path) != {"status": "ok"}:
            raise RuntimeError(f"the trivial app's {path} answered something else")
    rate = {"threads": args.threads, "connections": args.connections, "warmup_s": args.warmup}
    print(f"trivial /json and /grpc, {args.connections} connections then 1: {args.duration:g} s each ...",
          flush=True)
    tiny = measure_rate(wrk, url + "/json", server_pid=trivial.pid, duration_s=args.duration, **rate)
    both = (trivial.pid, backend.pid)  # /grpc's CPU is both processes', as wopi-proxy's figures are
    via = measure_rate(wrk, url + "/grpc", server_pid=both, duration_s=args.duration, **rate)
    one = {**rate, "threads": 1, "connections": 1}
    result = Trivial(json=tiny, grpc=via, grpc_target=Target(url + "/grpc", both),
                     upload_target=Target(url + "/upload", trivial.pid),
                     json1=measure_rate(wrk, url + "/json", server_pid=trivial.pid, duration_s=args.duration, **one),
                     grpc1=measure_rate(wrk, url + "/grpc", server_pid=both, duration_s=args.duration, **one))
    # The same sequential 1 MiB saves as PutFile's, new bytes each time.
    result.upload = measure_put(url + "/upload", os.urandom(MIB), server_pid=trivial.pid, count=args.puts, vary=True,
                                wopi=False)
    if args.small_duration > 0:
        result.small = measure_rate(wrk, url + "/small", server_pid=trivial.pid, duration_s=args.small_duration,
                                    **rate)
    if args.sequential > 0:
        download(url + "/stream")
        result.idle_rss_mib = rss_mib(trivial.pid)
        result.big = measure_big(trivial, url + "/stream", args)
    return result, [trivial, backend]  # still running: measure_backend pairs its rates with /grpc


def mark(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "NO")


def print_results(backends: list[Backend], trivial: Trivial, args: argparse.Namespace) -> list[list[str]]:
    """One table: each figure, its reference, the ratio, the target and whether it is met."""
    rows: list[list[str]] = []

    def add(label: str, ours: float | None, ref: float | None, target: str = "", ok: bool | None = None) -> None:
        rows.append([label, fmt(ours), fmt(ref), fmt(ratio(ours, ref), 2), target, mark(ok)])

    c = args.connections
    add(f"trivial /json req/s (c={c})", trivial.json.requests_per_s, None)
    add("trivial /json p99 ms", trivial.json.p99_ms, None)
    add("trivial /json CPU ms/req", trivial.json.cpu_ms_per_request, None)
    add(f"trivial /grpc req/s (c={c})", trivial.grpc.requests_per_s, trivial.json.requests_per_s)
    add("trivial /grpc p99 ms", trivial.grpc.p99_ms, trivial.json.p99_ms)
    add("trivial /grpc CPU ms/req (both processes)", trivial.grpc.cpu_ms_per_request,
        trivial.json.cpu_ms_per_request)
    if trivial.upload:
        add("trivial /upload 1 MiB CPU ms/req (hash, write, fsync, rename)", trivial.upload.cpu_ms_per_request, None)
    for b in backends:
        ref = b.grpc or trivial.grpc  # paired: /grpc in the windows between CheckFileInfo's
        paired = " (alternating windows)" if b.grpc else ""
        r = ratio(b.cfi.requests_per_s, ref.requests_per_s)
        add(f"[{b.name}] CheckFileInfo req/s (c={c}) vs /grpc{paired}", b.cfi.requests_per_s, ref.requests_per_s,
            f">= {TARGETS['cfi_rate']:.2f}", None if r is None else r >= TARGETS["cfi_rate"])
        add(f"[{b.name}]   ... vs /json", b.cfi.requests_per_s, trivial.json.requests_per_s)
        r = ratio(b.cfi.p99_ms, ref.p99_ms)
        add(f"[{b.name}] CheckFileInfo p99 ms vs /grpc", b.cfi.p99_ms, ref.p99_ms,
            f"<= {TARGETS['cfi_p99']:.1f}", None if r is None else r <= TARGETS["cfi_p99"])
        add(f"[{b.name}] CheckFileInfo CPU ms/req vs /grpc", b.cfi.cpu_ms_per_request, ref.cpu_ms_per_request)
        ref1 = b.grpc1 or trivial.grpc1
        if b.cfi1 and ref1 and trivial.json1:
            r = ratio(b.cfi1.requests_per_s, ref1.requests_per_s)
            add(f"[{b.name}] CheckFileInfo req/s (c=1) vs /grpc c=1{paired}", b.cfi1.requests_per_s,
                ref1.requests_per_s, f">= {TARGETS['cfi1_rate']:.2f}",
                None if r is None else r >= TARGETS["cfi1_rate"])
            add(f"[{b.name}]   ... vs /json c=1", b.cfi1.requests_per_s, trivial.json1.requests_per_s)
        r = ratio(b.tenants.requests_per_s, b.cfi.requests_per_s)
        add(f"[{b.name}] CheckFileInfo {TENANTS} tenants req/s vs 1 tenant", b.tenants.requests_per_s,
            b.cfi.requests_per_s, f">= {TARGETS['tenants']:.2f}", None if r is None else r >= TARGETS["tenants"])
        if b.quiet and b.flooded:
            r = ratio(b.flooded.p99_ms, b.quiet.p99_ms)
            add(f"[{b.name}] other tenant's p99 ms (c={QUIET_CONNECTIONS}) during a c={c} flood vs alone",
                b.flooded.p99_ms, b.quiet.p99_ms, f"<= {TARGETS['flood_p99']:.1f}",
                None if r is None else r <= TARGETS["flood_p99"])
        p99 = b.lock.p99_ms
        add(f"[{b.name}] LOCK/UNLOCK p99 ms (c={LOCK_FILES}, {b.lock.tool})", p99, None,
            f"<= {TARGETS['lock_p99_ms']:.0f} ms", None if p99 is None else p99 <= TARGETS["lock_p99_ms"])
        add(f"[{b.name}]   ... vs /grpc p99 (same machine, same run)", p99, ref.p99_ms)
        add(f"[{b.name}] LOCK/UNLOCK req/s", b.lock.requests_per_s, None)
        add(f"[{b.name}] LOCK/UNLOCK CPU ms/req", b.lock.cpu_ms_per_request, None)
        if b.lock_httpx:
            add(f"[{b.name}]   ... httpx client: p99 ms", b.lock_httpx.p99_ms, None)
            add(f"[{b.name}]   ... httpx client: req/s", b.lock_httpx.requests_per_s, None)
            add(f"[{b.name}]   ... httpx client: CPU ms/req", b.lock_httpx.cpu_ms_per_request, None)
        cpu = b.put.cpu_ms_per_request
        add(f"[{b.name}] PutFile 1 MiB same bytes (locked) CPU ms/req", cpu, None, f"<= {TARGETS['put_cpu_ms']:.0f} ms",
            None if cpu is None else cpu <= TARGETS["put_cpu_ms"])
        add(f"[{b.name}] PutFile 1 MiB p50 ms", b.put.p50_ms, None)
        if b.put_new:
            cpu = b.put_new.cpu_ms_per_request
            add(f"[{b.name}] PutFile 1 MiB new bytes CPU ms/req", cpu, None, f"<= {TARGETS['put_cpu_ms']:.0f} ms",
                None if cpu is None else cpu <= TARGETS["put_cpu_ms"])
            upload = b.upload or trivial.upload  # paired: /upload in the blocks between PutFile's
            if upload:  # the machine's speed moves between runs: this ratio much less
                add(f"[{b.name}]   ... vs /upload CPU{' (alternating blocks)' if b.upload else ' (same run)'}", cpu,
                    upload.cpu_ms_per_request)
            add(f"[{b.name}] PutFile 1 MiB new bytes p50 ms", b.put_new.p50_ms, None)
        if b.small and trivial.small:
            r = ratio(b.small.requests_per_s, trivial.small.requests_per_s)
            add(f"[{b.name}] GetFile 100 KiB req/s (c={c}) vs /small", b.small.requests_per_s,
                trivial.small.requests_per_s, f">= {TARGETS['small_rate']:.2f}",
                None if r is None else r >= TARGETS["small_rate"])
            add(f"[{b.name}] GetFile 100 KiB p99 ms vs /small", b.small.p99_ms, trivial.small.p99_ms)
        if b.big and trivial.big:
            for label, mib_s, ref_mib_s in (
                    ("sequential", b.big.run.sequential_mib_s, trivial.big.run.sequential_mib_s),
                    (f"{args.concurrent} at once", b.big.run.concurrent_mib_s, trivial.big.run.concurrent_mib_s)):
                r = ratio(mib_s, ref_mib_s)
                add(f"[{b.name}] GetFile 100 MiB {label} MiB/s vs /stream", mib_s, ref_mib_s,
                    f">= {TARGETS['big_mib_s']:.2f}", None if r is None else r >= TARGETS["big_mib_s"])
            add(f"[{b.name}] GetFile 100 MiB CPU s/GiB", b.big.cpu_s_per_gib, trivial.big.cpu_s_per_gib)
            add(f"[{b.name}] Peak RSS during downloads MiB", b.big.peak_rss_mib, trivial.big.peak_rss_mib)
            growth = b.big.peak_rss_mib - b.idle_rss_mib if b.idle_rss_mib is not None else None
            trivial_growth = (trivial.big.peak_rss_mib - trivial.idle_rss_mib
                              if trivial.idle_rss_mib is not None else None)
            whose = "edge" if b.name.endswith(SPLIT_SUFFIX) else "edge+control"
            add(f"[{b.name}] RSS growth during downloads MiB ({whose})", growth, trivial_growth,
                f"< {TARGETS['rss_growth_mib']:.0f} MiB",
                None if growth is None else growth < TARGETS["rss_growth_mib"])
    header = ["metric", "wopi-proxy", "reference", "ratio", "target", "met"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print()
    for row in [header, *rows]:
        print("  ".join(cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)))
    print("(reference: the trivial endpoint, or the figure named; ratio = wopi-proxy / reference)")
    if args.db_delay_ms > 0 and any(b.name.startswith("postgres") for b in backends):
        print(f"(PostgreSQL through bench/delay_proxy.py: {args.db_delay_ms:g} ms each way per packet)")
    return rows


def run(args: argparse.Namespace, workdir: Path, stack: contextlib.ExitStack) -> dict[str, Any]:
    wrk = None
    if args.tool != "python":
        wrk = find_wrk(try_install=not args.no_install)
        if wrk is None and args.tool == "wrk":
            raise SystemExit("error: wrk not found (apt-get install -y wrk)")
    tool = "wrk" if wrk else "python-httpx (wrk unavailable: client shares the CPU)"
    print(f"load tool: {tool}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}", flush=True)

    files_dir = workdir / "files"
    files_dir.mkdir()
    big_sha = write_random_file(files_dir / "big.bin", BIG_SIZE) if args.sequential > 0 else ""
    write_random_file(files_dir / "small.bin", SMALL_SIZE)
    for n in range(LOCK_FILES):
        write_random_file(files_dir / f"lock{n}.bin", 1024)
    write_random_file(files_dir / "put.bin", MIB)
    if args.sequential <= 0:
        (files_dir / "big.bin").write_bytes(b"")

    warnings: list[str] = []
    trivial, trivial_servers = measure_trivial(args, wrk, workdir, stack)
    backends: list[Backend] = []
    servers = list(trivial_servers)
    for name in args.db:
        url = None
        if name == "postgres":
            try:
                cluster = pg.start()
            except (RuntimeError, OSError, KeyError) as error:
                warnings.append(f"postgres skipped: {error}")
                continue
            stack.callback(cluster.stop)
            url = _through_delay(cluster.create_database("bench"), cluster.port, args.db_delay_ms, stack)
        for shape in args.shape:
            label = name + (SPLIT_SUFFIX if shape == "split" else "")
            if shape == "split" and url is not None:
                url = _through_delay(cluster.create_database("bench_split"), cluster.port, args.db_delay_ms, stack)
            backend, started = measure_backend(label, url, args, wrk, workdir, files_dir, big_sha, stack, warnings,
                                               reference=trivial.grpc_target, upload_reference=trivial.upload_target)
            backends.append(backend)
            servers.extend(started)

    rows = print_results(backends, trivial, args)
    problems = [*error_lines("trivial /json", trivial.json), *error_lines("trivial /grpc", trivial.grpc)]
    for b in backends:
        for label, result in (("CheckFileInfo", b.cfi), ("CheckFileInfo tenants", b.tenants),
                              ("LOCK/UNLOCK", b.lock), ("LOCK/UNLOCK httpx", b.lock_httpx), ("PutFile", b.put),
                              ("PutFile new bytes", b.put_new),
                              ("GetFile 100 KiB", b.small)):
            if result is not None:
                problems += error_lines(f"[{b.name}] {label}", result)
        if b.big:
            problems += error_lines(f"[{b.name}] GetFile 100 MiB", b.big.run)
    log_lines = [f"{s.name}: {line}" for s in servers for line in server_log_problems(s)]
    warnings += log_lines[:10]
    warnings += [f"{s.name} exited with status {s.exit_code} on SIGTERM (expected 0)"
                 for s in servers if s.exit_code not in (0, None)]
    for title, lines in (("PROBLEMS (figures with errors are not comparable):", problems), ("WARNINGS:", warnings)):
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
        "rows": [dict(zip(["metric", "wopi_proxy", "reference", "ratio", "target", "met"], r)) for r in rows],
        "raw": {"trivial": asdict(trivial), "backends": [asdict(b) for b in backends]},
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
