"""Both shapes of a deployment, started for real: `serve` (one process) and `split` (separate
`control` and `edge` processes, as production runs them). Attack tests run against both."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from shared.grpc_channel import PLAINTEXT, TlsSettings
from tests.support.api import ControlApi
from tests.support.processes import WopiProxyProcess, serve
from tests.support.ports import unused_port

SHAPES = ("serve", "split")


@dataclass
class Deployment:
    shape: str
    workdir: Path
    processes: list[WopiProxyProcess]
    grpc_address: str
    http_url: str
    _apis: list[ControlApi] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def admin_key(self) -> str:
        return (self.data_dir / "admin.key").read_text().strip()

    @property
    def edge_key(self) -> str:
        """The key the control plane wrote for its edges (role edge: the EdgeService only)."""
        return (self.data_dir / "edge.key").read_text().strip()

    def api(self, key: str | None = None, tls: TlsSettings = PLAINTEXT) -> ControlApi:
        """A control-API client with `key` (default: the admin key); closed when the deployment stops."""
        client = ControlApi(self.grpc_address, key if key is not None else self.admin_key, tls)
        self._apis.append(client)
        return client

    def log(self) -> str:
        """Every process's output, for assertion messages."""
        return "\n".join(f"--- {p.args[0]} ---\n{p.log()}" for p in self.processes)

    def stop(self) -> None:
        for client in self._apis:
            client.close()
        for proc in reversed(self.processes):
            proc.stop()


def start_deployment(shape: str, workdir: Path, *, control_args: tuple[str, ...] = (),
                     edge_args: tuple[str, ...] = (), env: dict[str, str] | None = None) -> Deployment:
    """`control_args` go to the control plane (or serve), `edge_args` to the edge (or serve)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if shape == "serve":
        proc = serve(workdir, *control_args, *edge_args, env=env)
        return Deployment(shape=shape, workdir=workdir, processes=[proc], grpc_address=proc.grpc_address,
                          http_url=proc.http_url)
    if shape != "split":
        raise ValueError(shape)
    data_dir = workdir / "data"
    http_port = unused_port()  # the control plane writes the edge's URL into WOPISrc before the edge runs
    public = () if "--public-url" in control_args else ("--public-url", f"http://127.0.0.1:{http_port}")
    control = WopiProxyProcess(args=["control", "--grpc-port", "0", "--data-dir", str(data_dir), *public,
                                     *control_args], workdir=workdir, env=env or {}).start()
    try:
        edge_dir = workdir / "edge"
        edge_dir.mkdir(exist_ok=True)
        edge = WopiProxyProcess(args=["edge", "--control", control.grpc_address, "--api-key-file",
                                      str(data_dir / "edge.key"), "--port", str(http_port), *edge_args],
                                workdir=edge_dir, env=env or {}).start()
    except BaseException:
        control.stop()
        raise
    return Deployment(shape=shape, workdir=workdir, processes=[control, edge], grpc_address=control.grpc_address,
                      http_url=edge.http_url)
