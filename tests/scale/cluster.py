"""The production shape, started for real: control-plane replicas over one PostgreSQL database
and edges that each know every replica (`edge --control a:1,b:2`)."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.support.api import ControlApi
from tests.support.processes import WopiProxyProcess
from tests.support.ports import unused_port


@dataclass
class Cluster:
    database_url: str
    data_dir: Path
    controls: list[WopiProxyProcess]
    edges: list[WopiProxyProcess]
    _apis: list[ControlApi] = field(default_factory=list)

    @property
    def admin_key(self) -> str:
        return (self.data_dir / "admin.key").read_text().strip()

    def api(self, replica: int, key: str | None = None) -> ControlApi:
        """A control-API client of one replica (default: the admin key)."""
        client = ControlApi(self.controls[replica].grpc_address, key if key is not None else self.admin_key)
        self._apis.append(client)
        return client

    @property
    def edge_urls(self) -> list[str]:
        return [edge.http_url for edge in self.edges]

    def leases(self) -> dict[str, str]:
        """The leases table as the database has it: job name -> holder (only unexpired leases)."""
        url = self.database_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, connect_timeout=10) as conn:
            rows = conn.execute("SELECT name, holder FROM leases WHERE expire_time > "
                                "CAST(floor(extract(epoch FROM clock_timestamp()) * 1000) AS BIGINT)").fetchall()
        return {name: holder for name, holder in rows}

    def log(self) -> str:
        procs = [*self.controls, *self.edges]
        return "\n".join(f"--- {p.args[0]} {p.workdir.name} ---\n{p.log()[-6000:]}" for p in procs)

    def stop(self) -> None:
        for client in self._apis:
            client.close()
        for proc in [*self.edges, *self.controls]:
            if proc.process is not None and proc.process.poll() is None:
                proc.stop(signal.SIGTERM)


def holder_pid(holder: str) -> int:
    """The pid in a lease holder's name (host:pid:random, control.services.leases)."""
    return int(holder.split(":")[-2])


def start_cluster(workdir: Path, database_url: str, *, replicas: int = 2, edges: int = 2,
                  control_args: tuple[str, ...] = ()) -> Cluster:
    """The replicas share the data folder (its secret key, admin.key and edge.key) and start one
    after the other, as a rolling deployment would; each edge is given every replica's address."""
    data_dir = workdir / "data"
    public = f"http://127.0.0.1:{unused_port()}"
    cluster = Cluster(database_url=database_url, data_dir=data_dir, controls=[], edges=[])
    try:
        for i in range(replicas):
            folder = workdir / f"control{i}"
            folder.mkdir(parents=True)
            cluster.controls.append(WopiProxyProcess(args=[
                "control", "--grpc-port", "0", "--data-dir", str(data_dir), "--database-url", database_url,
                "--public-url", public, *control_args], workdir=folder).start())
        addresses = ",".join(proc.grpc_address for proc in cluster.controls)
        for i in range(edges):
            folder = workdir / f"edge{i}"
            folder.mkdir(parents=True)
            cluster.edges.append(WopiProxyProcess(args=[
                "edge", "--control", addresses, "--api-key-file", str(data_dir / "edge.key"), "--port", "0"],
                workdir=folder).start())
    except BaseException:
        cluster.stop()
        raise
    return cluster
