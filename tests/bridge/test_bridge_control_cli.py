"""`wopi-proxy editors add --kind etherpad ...` and `wopi-proxy bridge list|show|save-now|close`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bridge.control_rig import Rig, start_rig
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    yield from start_rig(tmp_path_factory.mktemp("bridge-cli"), "sqlite", lambda: "")


def _cli(rig: Rig, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", "--control", rig.control.grpc_address, "--api-key",
                           rig.admin.key, *args], capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_editors_add_a_bridged_app_and_steer_its_documents(rig: Rig, tmp_path: Path) -> None:
    tenant = rig.new_tenant()
    (tmp_path / "key").write_text("cli-api-key-value\n")
    (tmp_path / "secret").write_text("cli-webhook-secret-value\n")
    added = _cli(rig, "editors", "add", "--json", "--name", "pad2", "--kind", "etherpad", "--url",
                 "http://127.0.0.1:9001", "--public-url", "https://pad.example.com", "--api-key-file",
                 str(tmp_path / "key"), "--webhook-secret-file", str(tmp_path / "secret"), "--tenant-id", tenant.id)
    assert added.returncode == 0, added.stderr
    editor = json.loads(added.stdout)
    assert editor["kind"] == "etherpad" and editor["has_api_key"] and editor["has_webhook_secret"]
    assert "cli-api-key-value" not in added.stdout and "cli-webhook-secret-value" not in added.stdout
    missing = _cli(rig, "editors", "add", "--name", "pad3", "--kind", "etherpad", "--url", "http://127.0.0.1:9001")
    assert missing.returncode != 0 and "--api-key-file" in missing.stderr

    created = rig.session(tenant, "cli.md")
    opened = rig.open(created.access_token)
    rig.complete(opened, edge_pb.BRIDGE_WORK_OUTCOME_LOADED, app_rev=1, sha256="ab" * 32)
    doc_id = opened.document.document_id
    listed = _cli(rig, "bridge", "list", "--tenant-id", tenant.id)
    assert listed.returncode == 0 and doc_id in listed.stdout and "1/1" in listed.stdout, listed.stderr
    shown = json.loads(_cli(rig, "bridge", "show", "--json", doc_id).stdout)
    assert shown["state"] == "open" and shown["users"][0]["user_id"] == "ann"
    assert opened.document.lock_id not in json.dumps(shown)
    assert _cli(rig, "bridge", "save-now", doc_id).returncode == 0
    closed = json.loads(_cli(rig, "bridge", "close", "--json", doc_id).stdout)
    assert closed["state"] == "closing" and not closed["users"][0]["present"]
    unknown = _cli(rig, "bridge", "show", "bd_nosuchdocument00")
    assert unknown.returncode == 1 and "NOT_FOUND" in unknown.stderr
