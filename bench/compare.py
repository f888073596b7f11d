"""Two checkouts of wopi-proxy side by side: the same scenarios in alternating windows (A B B A ...).

A change's effect is smaller than the machine's drift between two `run.py` runs (see README.md,
"Fifth round"), so a before/after is measured with both versions running at once, on the same
back end, each window of one followed by a window of the other. The other checkout (`--base`, e.g.
`git worktree add /tmp/base HEAD~1`) runs with this interpreter and this venv's libraries.

    .venv/bin/python bench/compare.py --base /tmp/base --db sqlite --rounds 4

`--ours-args` / `--base-args` add `serve` options to one side, to compare settings of one checkout
(`--base . --ours-args "--grant-slots-lead 1"`). `--db-delay-ms 0.25` puts PostgreSQL behind
bench/delay_proxy.py, for changes in round trips per request (a database across a network).

Prints, per scenario, each side's median over the rounds and their ratio (this checkout / base).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from bench import delay_proxy, postgres  # noqa: E402
from bench.load import (  # noqa: E402
    RateResult,
    find_wrk,
    measure_lock_unlock_wrk,
    measure_put,
    measure_rate,
)
from bench.run import LOCK_FILES, measure_isolation, provision, write_random_file  # noqa: E402
from bench.services import Server, start_server  # noqa: E402


def start_serve(name: str, checkout: Path, workdir: Path, database_url: str | None,
                extra: tuple[str, ...] = ()) -> Server:
    data_dir = workdir / name / "data"
    data_dir.mkdir(parents=True)
    argv = [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", "0", "--grpc-port", "0",
            "--data-dir", str(data_dir), *extra]
    if database_url:
        argv += ["--database-url", database_url]
    path = os.pathsep.join([str(checkout), str(checkout / "shared" / "gen")])
    return start_server(name, argv, workdir, env={"PYTHONPATH": path}, cwd=checkout)


@dataclass
class Flood:
    alone_p99_ms: float
    flooded_p99_ms: float
    ratio: float
    errors: int
    error_detail: str


Scenario = Callable[[Server, dict], "RateResult | Flood"]


def scenarios(wrk: str, workdir: Path, window_s: int) -> dict[str, tuple[Scenario, str]]:
    """name -> (one window of it, the figure compared)."""

    def cfi(connections: int) -> Scenario:
        return lambda server, sessions: measure_rate(
            wrk, sessions["small.bin"].url(), server_pid=server.pid, threads=min(2, connections),
            connections=connections, duration_s=window_s, warmup_s=0)

    def lock(server: Server, sessions: dict) -> RateResult:
        return measure_lock_unlock_wrk(wrk, [s.url() for s in sessions["locks"]],
                                       script=str(workdir / f"locks-{server.name}.lua"), server_pid=server.pid,
                                       duration_s=window_s, warmup_s=0)

    def put(server: Server, sessions: dict) -> RateResult:
        return measure_put(sessions["put"].url(), BODY, server_pid=server.pid, count=10)

    def put_new(server: Server, sessions: dict) -> RateResult:
        return measure_put(sessions["put"].url(), BODY, server_pid=server.pid, count=10, vary=True)

    def flood(server: Server, sessions: dict) -> Flood:
        """run.py's isolation row: the other tenant's p99 alone, then during tenant t0's flood."""
        args = argparse.Namespace(duration=window_s, threads=2, connections=32)
        quiet, flooded = measure_isolation(wrk, sessions["tenants"][1].url(), sessions["small.bin"].url(), args)
        return Flood(alone_p99_ms=quiet.p99_ms or 0, flooded_p99_ms=flooded.p99_ms or 0,
                     ratio=(flooded.p99_ms or 0) / (quiet.p99_ms or 1), errors=quiet.errors + flooded.errors,
                     error_detail=f"{quiet.error_detail} {flooded.error_detail}".strip())

    cfi32 = cfi(32)
    return {
        "CheckFileInfo c=32 req/s": (cfi32, "requests_per_s"),
        "CheckFileInfo c=32 CPU ms": (cfi32, "cpu_ms_per_request"),
        "CheckFileInfo c=1 req/s": (cfi(1), "requests_per_s"),
        "other tenant's p99 flooded/alone": (flood, "ratio"),
        "other tenant's p99 alone ms": (flood, "alone_p99_ms"),
        "other tenant's p99 flooded ms": (flood, "flooded_p99_ms"),
        "LOCK/UNLOCK c=32 p99 ms": (lock, "p99_ms"),
        "LOCK/UNLOCK CPU ms": (lock, "cpu_ms_per_request"),
        "PutFile 1 MiB same bytes CPU ms": (put, "cpu_ms_per_request"),
        "PutFile 1 MiB new bytes CPU ms": (put_new, "cpu_ms_per_request"),
    }


BODY = os.urandom(1 << 20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True, help="the other checkout (the 'before')")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=4, help="A B B A rounds (each side one window per round)")
    parser.add_argument("--window", type=int, default=3, help="seconds per rate window")
    parser.add_argument("--only", default="", help="comma-separated scenario name prefixes")
    parser.add_argument("--ours-args", default="", help="more `serve` options for this checkout's side")
    parser.add_argument("--base-args", default="", help="more `serve` options for the base side")
    parser.add_argument("--db-delay-ms", type=float, default=0.0,
                        help="PostgreSQL through bench/delay_proxy.py, each packet held this long each way "
                             "(a database across a network)")
    args = parser.parse_args()
    wrk = find_wrk(try_install=False)
    if wrk is None:
        print("compare.py needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    ours_checkout = BENCH_DIR.parent
    with tempfile.TemporaryDirectory(prefix="wopi-compare-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        files = workdir / "files"
        files.mkdir()
        write_random_file(files / "small.bin", 100 * 1024)
        write_random_file(files / "big.bin", 1024)
        for n in range(LOCK_FILES):
            write_random_file(files / f"lock{n}.bin", 1024)
        write_random_file(files / "put.bin", 1 << 20)
        urls: dict[str, str | None] = {"ours": None, "base": None}
        if args.db == "postgres":
            cluster = postgres.start()
            stack.callback(cluster.stop)
            for side in urls:
                urls[side] = cluster.create_database(f"compare_{side}")
            if args.db_delay_ms:
                port, proxy = delay_proxy.start(cluster.port, args.db_delay_ms)
                stack.callback(proxy.kill)
                urls = {side: str(url).replace(f":{cluster.port}/", f":{port}/") for side, url in urls.items()}
        servers: dict[str, Server] = {}
        sessions: dict[str, dict] = {}
        for side, checkout in (("ours", ours_checkout), ("base", args.base.resolve())):
            extra = tuple(shlex.split(args.ours_args if side == "ours" else args.base_args))
            servers[side] = start_serve(side, checkout, workdir, urls[side], extra)
            stack.callback(servers[side].stop)
            sessions[side] = provision(servers[side], workdir / side / "data", files)
        chosen = {name: s for name, s in scenarios(wrk, workdir, args.window).items()
                  if not args.only or any(name.startswith(p) for p in args.only.split(","))}
        figures: dict[str, dict[str, list[float]]] = {name: {"ours": [], "base": []} for name in chosen}
        done: dict[tuple[str, Scenario, str], RateResult | Flood] = {}
        for side in servers:  # warm-up: connections, caches, SQLite pages
            measure_rate(wrk, sessions[side]["small.bin"].url(), server_pid=servers[side].pid, threads=2,
                         connections=32, duration_s=2, warmup_s=0)
        for n in range(args.rounds):
            order = ("ours", "base") if n % 2 == 0 else ("base", "ours")
            done.clear()
            for name, (run, field) in chosen.items():
                for side in order:
                    key = (side, run, str(n))
                    if key not in done:  # scenarios sharing one run (rate and CPU) measure it once
                        done[key] = run(servers[side], sessions[side])
                        if done[key].errors:
                            print(f"warning: {side} {name}: {done[key].errors} errors "
                                  f"({done[key].error_detail})", file=sys.stderr)
                    value = getattr(done[key], field)
                    if value is not None:
                        figures[name][side].append(value)
            print(f"round {n + 1}/{args.rounds} done", flush=True)
    print(f"\n{'scenario':<36} {'ours':>9} {'base':>9} {'ours/base':>9}   (medians of {args.rounds}; {args.db})")
    for name, sides in figures.items():
        ours = statistics.median(sides["ours"]) if sides["ours"] else None
        base = statistics.median(sides["base"]) if sides["base"] else None
        shown = f"{ours / base:9.2f}" if ours and base else f"{'-':>9}"
        print(f"{name:<36} {ours or 0:9.2f} {base or 0:9.2f} {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
