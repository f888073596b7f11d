"""The `wopi-proxy` client verbs, run as a user would: global options first, --json for machines."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import WopiProxyProcess


def cli(server: WopiProxyProcess, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Runs in the server's folder, so the default key file ./data/admin.key is found."""
    environment = {**os.environ, "WOPI_PROXY_CONTROL": server.grpc_address, **(env or {})}
    environment.pop("WOPI_PROXY_API_KEY", None)
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=server.workdir, env=environment,
                          capture_output=True, text=True, timeout=60)


def cli_json(server: WopiProxyProcess, *args: str) -> Any:
    """Runs a --json verb that must succeed; a failure shows the CLI's stderr and the server log."""
    result = cli(server, *args, "--json")
    assert result.returncode == 0 and result.stdout, (
        f"wopi-proxy {' '.join(args)} exited {result.returncode}\nstdout: {result.stdout}\n"
        f"stderr: {result.stderr}\nserver log (tail):\n{server.log()[-4000:]}")
    return json.loads(result.stdout)


def _tenant(server: WopiProxyProcess) -> str:
    tenant_id = "cli-" + secrets.token_hex(3)
    assert cli(server, "tenants", "add", "--id", tenant_id, "--name", "CLI Corp").returncode == 0
    return tenant_id


def test_tenants_add_and_list_as_json(server: WopiProxyProcess) -> None:
    tenant_id = _tenant(server)
    listed = json.loads(cli(server, "tenants", "list", "--json").stdout)
    assert {"id": tenant_id, "name": "CLI Corp"}.items() <= next(t for t in listed if t["id"] == tenant_id).items()


def test_tenants_list_prints_a_table_for_people(server: WopiProxyProcess) -> None:
    tenant_id = _tenant(server)
    out = cli(server, "tenants", "list").stdout
    assert out.splitlines()[0].split()[:2] == ["ID", "NAME"]
    assert tenant_id in out


def test_open_a_file_from_the_cli_and_fetch_it_over_wopi(server: WopiProxyProcess, tmp_path: Path) -> None:
    tenant_id = _tenant(server)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "q1.docx").write_bytes(b"quarterly")
    assert cli(server, "storages", "add", "--tenant-id", tenant_id, "--name", "docs", "--protocol", "file",
               "--root", str(tmp_path)).returncode == 0
    created = cli(server, "sessions", "create", "--tenant-id", tenant_id, "--storage", "docs", "--path",
                  "reports/q1.docx", "--user-id", "u1", "--user-name", "Ann", "--permission", "view",
                  "--ttl", "3600", "--json")
    session = json.loads(created.stdout)
    assert {"session_id", "file_id", "wopi_src", "access_token", "access_token_ttl", "expire_time"} <= session.keys()
    got = httpx.get(f"{session['wopi_src']}/contents", params={"access_token": session["access_token"]})
    assert got.content == b"quarterly"
    fetched = json.loads(cli(server, "sessions", "get", session["session_id"], "--json").stdout)
    assert fetched["state"] == "SESSION_STATE_OPEN"
    closed = json.loads(cli(server, "sessions", "close", session["session_id"], "--json").stdout)
    assert closed["state"] == "SESSION_STATE_CLOSED"


def test_storages_list_shows_the_storage(server: WopiProxyProcess, tmp_path: Path) -> None:
    tenant_id = _tenant(server)
    cli(server, "storages", "add", "--tenant-id", tenant_id, "--name", "files", "--root", str(tmp_path))
    listed = json.loads(cli(server, "storages", "list", "--tenant-id", tenant_id, "--json").stdout)
    assert [s["name"] for s in listed] == ["files"]


def test_error_prints_one_clear_line_and_exits_non_zero(server: WopiProxyProcess) -> None:
    tenant_id = _tenant(server)
    again = cli(server, "tenants", "add", "--id", tenant_id, "--name", "again")
    assert again.returncode != 0
    assert again.stderr.strip().count("\n") == 0
    assert again.stderr.startswith("error: ALREADY_EXISTS")


def test_wrong_api_key_is_reported_as_unauthenticated(server: WopiProxyProcess) -> None:
    result = cli(server, "--api-key", "wpk_wrong", "tenants", "list")
    assert result.returncode != 0
    assert result.stderr.startswith("error: UNAUTHENTICATED")


def test_unreachable_control_plane_is_reported(server: WopiProxyProcess) -> None:
    result = cli(server, "--control", "127.0.0.1:1", "tenants", "list")
    assert result.returncode != 0
    assert "cannot reach the control plane at 127.0.0.1:1" in result.stderr


def test_api_key_from_the_environment_is_used(server: WopiProxyProcess, tmp_path: Path) -> None:
    key = (server.workdir / "data" / "admin.key").read_text().strip()
    env = {**os.environ, "WOPI_PROXY_CONTROL": server.grpc_address, "WOPI_PROXY_API_KEY": key}
    result = subprocess.run([sys.executable, "-m", "cli.main", "tenants", "list", "--json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_files_versions_and_restore_from_the_cli(server: WopiProxyProcess, tmp_path: Path) -> None:
    tenant_id = _tenant(server)
    (tmp_path / "v.docx").write_bytes(b"first")
    cli_json(server, "storages", "add", "--tenant-id", tenant_id, "--name", "docs", "--root", str(tmp_path),
             "--version-retention", "5")
    session = cli_json(server, "sessions", "create", "--tenant-id", tenant_id, "--storage", "docs",
                       "--path", "v.docx", "--user-id", "u1", "--permission", "edit")
    url, token = session["wopi_src"], session["access_token"]
    lock = {"X-WOPI-Override": "LOCK", "X-WOPI-Lock": "L"}
    with httpx.Client(timeout=60) as http:  # httpx's 5 s default is too short on a loaded machine
        assert http.post(url, params={"access_token": token}, headers=lock).status_code == 200
        for body in (b"second", b"third"):
            put = http.post(f"{url}/contents", params={"access_token": token}, content=body,
                            headers={"X-WOPI-Override": "PUT", "X-WOPI-Lock": "L"})
            assert put.status_code == 200, put.text
        unlock = http.post(url, params={"access_token": token}, headers={"X-WOPI-Override": "UNLOCK",
                                                                         "X-WOPI-Lock": "L"})
        assert unlock.status_code == 200, unlock.text
    versions = cli_json(server, "files", "versions", "--tenant-id", tenant_id, session["file_id"])
    assert [int(v["size"]) for v in versions] == [len(b"second"), len(b"first")]
    oldest = min(int(v["version"]) for v in versions)
    cli_json(server, "files", "restore", "--tenant-id", tenant_id, session["file_id"], "--version", str(oldest))
    assert (tmp_path / "v.docx").read_bytes() == b"first"
