"""Proof keys: an editor whose discovery advertises keys must sign every WOPI request.
Judged by the WOPI Validator's ProofKeys group, plus every group that passed before, signed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api import ControlApi, new_tenant, session_pb
from tests.support.http_stub import HttpStub
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import editor_service_pb2_grpc as editor_grpc

VALIDATOR = Path(__file__).resolve().parents[3] / "shared" / "wopi-validator" / "validator.py"
CORE_GROUPS = [
    "CheckFileInfoSchema", "BaseWopiViewing", "Locks", "GetLock", "ExtendedLockLength", "EditFlows",
    "FileVersion", "PutUserInfo", "PutRelativeFile", "RenameFileIfCreateChildFileIsNotSupported",
]


@pytest.fixture(scope="module")
def validator_discovery() -> Iterator[HttpStub]:
    stub = HttpStub().start()
    xml = subprocess.run([sys.executable, str(VALIDATOR), "--print-discovery"], capture_output=True,
                         check=True).stdout
    stub.routes["/hosting/discovery"] = (200, "text/xml", xml)
    yield stub
    stub.stop()


def _session(api: ControlApi, tmp_path: Path, discovery_url: str, policy: int) -> session_pb.CreateSessionResponse:
    tenant_id, folder = new_tenant(api, tmp_path)
    editor_grpc.EditorServiceStub(api.channel).CreateEditor(editor_pb.CreateEditorRequest(
        name="validator", tenant_id=tenant_id, discovery_url=discovery_url, proof_policy=policy),
        metadata=api.metadata, timeout=30)
    (folder / "proof.wopitest").write_bytes(b"")
    return api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=tenant_id, storage="docs", path="proof.wopitest", user_id="u1", editor="validator",
        permission=session_pb.PERMISSION_EDIT))


def _validate(reply: session_pb.CreateSessionResponse, *args: str) -> subprocess.CompletedProcess[str]:
    # --token=: a token may begin with "-" (URL-safe base64), which argparse would take for an option.
    return subprocess.run([sys.executable, str(VALIDATOR), "--wopisrc", reply.session.wopi_src,
                           f"--token={reply.access_token}", "--token-ttl", str(reply.access_token_ttl), *args],
                          capture_output=True, text=True, timeout=600)


def _summary(run: subprocess.CompletedProcess[str]) -> str:
    return run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-2000:]


def test_validator_proof_keys_and_office_online_cases_pass(
    api: ControlApi, tmp_path: Path, validator_discovery: HttpStub
) -> None:
    """ProofKeys, plus the OfficeOnline cases of the other groups (HostUrls, PutRelativeFile's
    IncludeHostUrls: the new file's host pages, since the session's editor is known)."""
    reply = _session(api, tmp_path, f"{validator_discovery.url}/hosting/discovery", editor_pb.PROOF_POLICY_REQUIRED)
    run = _validate(reply, "--category", "OfficeOnline", "--group", "ProofKeys", "--group", "CheckFileInfoSchema",
                    "--group", "PutRelativeFile")
    print(_summary(run))
    assert run.returncode == 0 and " 0 failed, 0 skipped" in _summary(run), run.stdout[-4000:]


def test_validator_core_groups_pass_with_signed_requests(
    api: ControlApi, tmp_path: Path, validator_discovery: HttpStub
) -> None:
    reply = _session(api, tmp_path, f"{validator_discovery.url}/hosting/discovery", editor_pb.PROOF_POLICY_REQUIRED)
    groups = [arg for group in CORE_GROUPS for arg in ("--group", group)]
    run = _validate(reply, "--category", "WopiCore", *groups)
    print(_summary(run))
    assert run.returncode == 0 and " 0 failed, 0 skipped" in _summary(run), run.stdout[-4000:]


def test_an_unsigned_request_from_a_signing_editor_is_500(
    api: ControlApi, tmp_path: Path, validator_discovery: HttpStub
) -> None:
    reply = _session(api, tmp_path, f"{validator_discovery.url}/hosting/discovery", editor_pb.PROOF_POLICY_REQUIRED)
    assert httpx.get(reply.session.wopi_src, params={"access_token": reply.access_token}).status_code == 500


def test_proof_policy_off_accepts_unsigned_requests(
    api: ControlApi, tmp_path: Path, validator_discovery: HttpStub
) -> None:
    reply = _session(api, tmp_path, f"{validator_discovery.url}/hosting/discovery", editor_pb.PROOF_POLICY_OFF)
    assert httpx.get(reply.session.wopi_src, params={"access_token": reply.access_token}).status_code == 200
