"""Running the pieces: serve stops cleanly, control and edge run as separate processes."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from tests.support.api import ControlApi, new_tenant, open_file
from tests.support.processes import WopiProxyProcess, serve


def test_serve_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    proc = serve(tmp_path)
    assert httpx.get(f"{proc.http_url}/healthz").status_code == 200
    assert proc.stop(signal.SIGINT) == 0
    assert "Traceback" not in proc.log()


def test_serve_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    proc = serve(tmp_path)
    assert proc.stop(signal.SIGTERM) == 0


def test_a_restart_keeps_state_and_the_admin_key(tmp_path: Path) -> None:
    first = serve(tmp_path)
    key = (tmp_path / "data" / "admin.key").read_text()
    api = ControlApi(first.grpc_address, key.strip())
    f = open_file(api, *new_tenant(api, tmp_path / "storage"), "keep.docx", b"kept")
    api.close()
    first.stop()
    second = serve(tmp_path)
    try:
        assert (tmp_path / "data" / "admin.key").read_text() == key
        url = f"{second.http_url}/wopi/files/{f.file_id}/contents?access_token={f.token}"
        assert httpx.get(url).content == b"kept"
    finally:
        second.stop()


def test_control_and_edge_run_as_separate_processes(tmp_path: Path) -> None:
    control = WopiProxyProcess(args=["control", "--grpc-port", "0", "--data-dir", str(tmp_path / "data"),
                                     "--public-url", "http://edge.example"], workdir=tmp_path).start()
    key_file = tmp_path / "data" / "edge.key"
    edge = WopiProxyProcess(args=["edge", "--control", control.grpc_address, "--api-key-file", str(key_file),
                                  "--port", "0"], workdir=tmp_path).start()
    try:
        api = ControlApi(control.grpc_address, (tmp_path / "data" / "admin.key").read_text().strip())
        f = open_file(api, *new_tenant(api, tmp_path / "storage"), "split.docx", b"split")
        assert f.wopi_src.startswith("http://edge.example/wopi/files/")
        reply = httpx.get(f"{edge.http_url}/wopi/files/{f.file_id}/contents", params={"access_token": f.token})
        assert reply.content == b"split"
        api.close()
    finally:
        assert edge.stop() == 0
        assert control.stop() == 0


def test_edge_with_the_control_plane_down_answers_503_not_a_hang(tmp_path: Path) -> None:
    edge = WopiProxyProcess(args=["edge", "--control", "127.0.0.1:1", "--port", "0"], workdir=tmp_path,
                            env={"WOPI_PROXY_API_KEY": "wpk_x"}).start()
    try:
        reply = httpx.get(f"{edge.http_url}/wopi/files/abc?access_token=t", timeout=30)
        assert reply.status_code == 503  # a dependency is down: retry later (tests/faults for more)
        assert reply.headers["Retry-After"]
    finally:
        edge.stop()
