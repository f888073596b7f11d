"""Where the time goes: py-spy on `wopi-proxy serve` (or the split shape's two processes) under one
scenario, stacks folded by library.

    .venv/bin/python bench/profile.py --scenario cfi --seconds 12      # CheckFileInfo at c=32 (wrk)
    .venv/bin/python bench/profile.py --scenario lock --db postgres    # LOCK/UNLOCK, 32 workers (wrk)
    .venv/bin/python bench/profile.py --scenario putnew                # PutFile 1 MiB, new bytes each time
    .venv/bin/python bench/profile.py --scenario cfi --shape split     # `control` and `edge`, each on its own

Needs py-spy in the venv (`pip install py-spy`) and the right to ptrace the server (root, or
kernel.yama.ptrace_scope=0). Prints the top frames by self time and by inclusive time (as a
share of all non-idle samples), and the share of each library; `--keep` keeps the raw stacks.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import postgres as pg  # noqa: E402
import run  # noqa: E402
from load import MIB, measure_lock_unlock, measure_lock_unlock_wrk, measure_put, run_wrk  # noqa: E402
from trivial_app import SMALL_SIZE  # noqa: E402

# Frames that mean "waiting", not working: left out of the shares.
# py-spy shows a thread blocked in C (a queue's lock, epoll, gRPC's poller) at its last Python frame.
IDLE_LEAVES = ("EpollSelector.select (", "DecisionWriter._serve (", "_worker (concurrent/futures/thread.py:81)", "Thread.run (threading.py:982)",
               "_connection_worker_thread (aiosqlite/core.py:59)", "Condition.wait (", "Queue.get (",
               "Thread._wait_for_tstate_lock (", "Event.wait (")


def library(frame: str) -> str:
    """A frame "func (path:line)" -> the package it belongs to."""
    path = frame.rpartition("(")[2]
    for marker, name in (("sqlalchemy/", "sqlalchemy"), ("aiosqlite/", "aiosqlite"), ("sqlmodel/", "sqlmodel"),
                         ("grpc/", "grpc"), ("quart/", "quart"), ("hypercorn/", "hypercorn"),
                         ("werkzeug/", "werkzeug"), ("h11/", "h11"), ("psycopg/", "psycopg"),
                         ("google/protobuf/", "protobuf"), ("asyncio/", "asyncio"), ("logging/", "logging"),
                         ("json/", "json"), ("opentelemetry/", "opentelemetry"), ("fsspec/", "fsspec"),
                         ("control/", "control (ours)"), ("edge/", "edge (ours)"), ("shared/", "shared (ours)")):
        if marker in path:
            return name
    return "python stdlib/other"


# Which part of `serve` (edge and control plane share one process and one event loop) a stack
# belongs to: the first marker found, innermost frames first.
COMPONENTS = (
    ("DecisionWriter.", "control: writer thread (decisions, audit)"),
    ("control/", "control: servicers and services (event loop)"),
    ("grpc/aio/_server", "control: grpc.aio server"),
    ("fsspec/", "edge: storage calls (threads)"),
    ("shared/storage/", "edge: storage calls (threads)"),
    ("edge/", "edge: WOPI handlers"),
    ("grpc/aio/", "edge: grpc.aio client"),
    ("quart/", "edge: Quart"),
    ("hypercorn/", "edge: Hypercorn/h11"),
    ("h11/", "edge: Hypercorn/h11"),
)


def component(frames: list[str]) -> str:
    for frame in frames:  # the control plane's own threads first, whatever they call
        if frame.startswith("DecisionWriter."):
            return COMPONENTS[0][1]
    for frame in reversed(frames):
        for marker, name in COMPONENTS:
            if marker in frame.rpartition("(")[2] or frame.startswith(marker):
                return name
    return "event loop and the rest (asyncio callbacks, gRPC completion queue)"


def fold(raw: Path, top: int) -> str:
    """py-spy's raw (collapsed) stacks -> the report's tables."""
    self_time: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    libs: collections.Counter[str] = collections.Counter()
    parts: collections.Counter[str] = collections.Counter()
    total = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = stack.split(";")
        leaf = frames[-1]
        if leaf.startswith(IDLE_LEAVES) or not leaf.strip():
            idle += count
            continue
        total += count
        self_time[leaf] += count
        libs[library(leaf)] += count
        parts[component(frames)] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"samples: {total} busy, {idle} idle (left out)", "", "by component (whole stacks):"]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in parts.most_common()]
    lines += ["", "by library (self time):"]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in libs.most_common()]
    lines += ["", f"top {top} frames by self time:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in self_time.most_common(top)]
    lines += ["", f"top {top} frames by inclusive time:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(top * 2)
              if not frame.startswith(("<module>", "run (", "_run (", "main ("))][:top]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=("cfi", "cfi1", "lock", "put", "putnew", "getsmall"), default="cfi")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--shape", choices=("serve", "split"), default="serve",
                        help="split: `wopi-proxy control` and `wopi-proxy edge`, each process profiled on its own")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--gil", action="store_true",
                        help="only samples of the thread holding the GIL (Python work; leaves out C work without it)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    workdir = Path(tempfile.mkdtemp(prefix="wopi-profile-"))
    try:
        with contextlib.ExitStack() as stack:
            files = workdir / "files"
            files.mkdir()
            run.write_random_file(files / "small.bin", SMALL_SIZE)
            (files / "big.bin").write_bytes(b"")
            for n in range(run.LOCK_FILES):
                run.write_random_file(files / f"lock{n}.bin", 1024)
            run.write_random_file(files / "put.bin", MIB)
            url = None
            if args.db == "postgres":
                cluster = pg.start()
                stack.callback(cluster.stop)
                url = cluster.create_database("bench")
            if args.shape == "split":
                control, edge = run.start_split(run.wopi_proxy_command(), workdir, args.db, url)
                stack.callback(control.stop)
                stack.callback(edge.stop)
                profiled = {"control": control, "edge": edge}
            else:
                proxy = run.start_proxy(run.wopi_proxy_command(), workdir, args.db, url)
                stack.callback(proxy.stop)
                profiled = {"serve": proxy}
            first = next(iter(profiled.values()))
            sessions = run.provision(first, workdir / f"data-{args.db}", files)
            load = _scenario(args, sessions, first.pid, workdir)
            load(min(2.0, args.seconds))  # warm-up
            spies = {}
            for name, server in profiled.items():
                raw = workdir / f"stacks-{name}.txt"
                spies[name] = (raw, subprocess.Popen(
                    [py_spy, "record", "--format", "raw", "--rate", str(args.rate), "--nonblocking", "--threads",
                     *(["--gil"] if args.gil else []), "-d", str(int(args.seconds)), "-o", str(raw),
                     "--pid", str(server.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
            worker = threading.Thread(target=load, args=(args.seconds,))
            worker.start()
            worker.join()
            for name, (raw, spy) in spies.items():
                _, err = spy.communicate(timeout=args.seconds + 60)
                if not raw.exists():
                    print(err.decode(errors="replace"), file=sys.stderr)
                    return 2
                _strip_thread_frames(raw)
                print(f"\n== {name}: {args.scenario} on {args.db}, {args.seconds:g} s")
                print(fold(raw, args.top))
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _strip_thread_frames(raw: Path) -> None:
    """--threads puts "thread (0x...)" first in each stack: keep the name only, for grouping."""
    out = []
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if frames and frames[0].startswith("thread ("):
            frames = frames[1:]
        out.append(";".join(frames) + " " + count)
    raw.write_text("\n".join(out) + "\n")


def _scenario(args: argparse.Namespace, sessions: dict, server_pid: int,  # type: ignore[no-untyped-def,type-arg]
              workdir: Path):
    wrk = shutil.which("wrk")
    small = sessions["small.bin"]
    if args.scenario in ("cfi", "cfi1", "getsmall"):
        target = small.url("/contents" if args.scenario == "getsmall" else "")
        connections = 1 if args.scenario == "cfi1" else 32
        assert wrk, "wrk is needed"
        return lambda s: print(run_wrk(wrk, target, threads=1 if connections == 1 else 2, connections=connections,
                                       duration_s=s))
    if args.scenario == "lock":
        urls = [s.url() for s in sessions["locks"]]
        if wrk:  # the lighter client (httpx would take as much CPU as the server, on the same cores)
            script = str(workdir / "locks.lua")
            return lambda s: print(measure_lock_unlock_wrk(wrk, urls, script=script, server_pid=server_pid,
                                                           duration_s=s, warmup_s=0))
        return lambda s: print(measure_lock_unlock(urls, server_pid=server_pid, duration_s=s, warmup_s=0))
    body = os.urandom(MIB)
    count = 0

    def puts(seconds: float) -> None:
        nonlocal count
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            print(measure_put(sessions["put"].url(), body, server_pid=server_pid, count=10,
                              vary=args.scenario == "putnew"))
            count += 10
    return puts


if __name__ == "__main__":
    sys.exit(main())
