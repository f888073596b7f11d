"""An editor for host-page tests: a real HTTP server serving a real discovery document."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.api import ControlApi
from tests.support.http_stub import HttpStub
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import editor_service_pb2_grpc as editor_grpc

DISCOVERY = Path(__file__).resolve().parents[1] / "fixtures" / "discovery" / "collabora.xml"


@contextmanager
def stand_in_editor() -> Iterator[HttpStub]:
    stub = HttpStub().start()
    stub.routes["/hosting/discovery"] = (200, "text/xml", DISCOVERY.read_bytes())
    try:
        yield stub
    finally:
        stub.stop()


def add_editor(api: ControlApi, stub: HttpStub, tenant_id: str) -> None:
    """The tenant's own editor (Collabora's discovery), chosen for .docx sessions."""
    editor_grpc.EditorServiceStub(api.channel).CreateEditor(editor_pb.CreateEditorRequest(
        name="collabora", tenant_id=tenant_id, discovery_url=f"{stub.url}/hosting/discovery",
        proof_policy=editor_pb.PROOF_POLICY_OFF), metadata=api.metadata, timeout=30)
