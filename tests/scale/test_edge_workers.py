"""`wopi-proxy edge --workers N`: N edge processes on one port, stopped together."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from cli.workers import _numbered
from edge.settings import EdgeSettings
from tests.support.api import ControlApi, new_tenant, open_file
from tests.support.processes import WopiProxyProcess


def _workers_of(pid: int) -> list[int]:
    """The worker processes the edge spawned (multiprocessing's spawn_main), by their parent pid."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2][:3]


def test_edge_workers_serve_one_port_and_stop_cleanly_on_sigterm(tmp_path: Path) -> None:
    """Two worker processes answer on the one port the parent reported; SIGTERM to the parent
    stops both and the parent exits 0 (nothing left running, the port free again)."""
    control = WopiProxyProcess(args=["control", "--grpc-port", "0", "--data-dir", str(tmp_path / "data")],
                               workdir=tmp_path).start()
    (tmp_path / "edge").mkdir()
    edge = WopiProxyProcess(args=["edge", "--control", control.grpc_address, "--api-key-file",
                                  str(tmp_path / "data" / "edge.key"), "--port", "0", "--workers", "2"],
                            workdir=tmp_path / "edge")
    api = ControlApi(control.grpc_address, (tmp_path / "data" / "admin.key").read_text().strip())
    try:
        edge.start()
        assert edge.ports.get("workers") == 2, edge.ports
        assert edge.process is not None
        workers = _workers_of(edge.process.pid)
        assert len(workers) == 2, f"{workers}\n{edge.log()}"
        f = open_file(api, *new_tenant(api, tmp_path / "storage"), "doc.docx")
        url = f"{edge.http_url}/wopi/files/{f.file_id}?access_token={f.token}"
        for _ in range(40):  # a new connection each time: the kernel hands them to either worker
            with httpx.Client(timeout=30) as http:
                assert http.get(url).status_code == 200, edge.log()
        assert edge.stop(signal.SIGTERM) == 0, edge.log()
        assert not [pid for pid in workers if _alive(pid)], f"workers left running\n{edge.log()}"
        assert edge.log().count("edge listening on") == 2, edge.log()
    finally:
        api.close()
        edge.stop()
        control.stop()


def test_each_worker_keeps_its_bridge_worker_name_when_the_group_starts_again() -> None:
    """A restarted group's worker i takes back worker i's bridge leases (edge/bridge/worker.py): the
    names differ between workers and are the same at every start."""
    settings = EdgeSettings(control_address="127.0.0.1:1", api_key="k", host="0.0.0.0", port=0)
    first = [_numbered(settings, 8123, i).bridge_worker_name for i in range(3)]
    assert len(set(first)) == 3
    assert first == [_numbered(settings, 8123, i).bridge_worker_name for i in range(3)]
    assert all(name and ":8123-" in name for name in first)
