"""The generated protobuf code is what protos/ says, and every RPC has an implementation."""

from __future__ import annotations

import importlib
import pathlib
import re

import pytest

from tools.gen_protos import DEFAULT_OUT, generate

# Lines that carry the generator's own version, not the protos' content.
_VERSION_LINE = re.compile(r"^(# Protobuf Python Version:|GRPC_GENERATED_VERSION =|    \d+,\s*$|    '',\s*$)")


def _normalized(path: pathlib.Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if not _VERSION_LINE.match(line)]


def test_generated_code_is_up_to_date_with_protos(tmp_path: pathlib.Path) -> None:
    fresh = {p.relative_to(tmp_path): p for p in generate(tmp_path)}
    committed = {p.relative_to(DEFAULT_OUT): p for p in DEFAULT_OUT.rglob("*") if p.is_file()
                 and "__pycache__" not in p.parts}
    assert sorted(map(str, fresh)) == sorted(map(str, committed)), "run `make protos` and commit shared/gen"
    stale = [str(name) for name, path in fresh.items() if _normalized(path) != _normalized(committed[name])]
    assert not stale, f"stale generated files (run `make protos`): {stale}"


SERVICES = [
    ("wopiproxy.control.v1.tenant_service_pb2", "TenantService", "control.api.servicers", "TenantServicer"),
    ("wopiproxy.control.v1.key_service_pb2", "KeyService", "control.api.servicers", "KeyServicer"),
    ("wopiproxy.control.v1.storage_service_pb2", "StorageService", "control.api.servicers", "StorageServicer"),
    ("wopiproxy.control.v1.session_service_pb2", "SessionService", "control.api.servicers", "SessionServicer"),
    ("wopiproxy.control.v1.file_service_pb2", "FileService", "control.api.file_servicer", "FileServicer"),
    ("wopiproxy.control.v1.audit_service_pb2", "AuditService", "control.api.audit_servicer", "AuditServicer"),
    ("wopiproxy.control.v1.editor_service_pb2", "EditorService", "control.api.editor_servicer", "EditorServicer"),
    ("wopiproxy.control.v1.bridge_service_pb2", "BridgeService", "control.api.bridge_servicer", "BridgeServicer"),
    ("wopiproxy.internal.v1.edge_service_pb2", "EdgeService", "control.api.edge_servicer", "EdgeServicer"),
]


def test_every_service_in_protos_is_listed_here() -> None:
    found = set()
    for path in (pathlib.Path(__file__).parent.parent / "protos").rglob("*.proto"):
        found.update(re.findall(r"^service (\w+)", path.read_text(), flags=re.M))
    assert found == {name for _, name, _, _ in SERVICES}


@pytest.mark.parametrize(("pb_module", "service", "impl_module", "servicer"), SERVICES)
def test_every_rpc_is_implemented(pb_module: str, service: str, impl_module: str, servicer: str) -> None:
    descriptor = importlib.import_module(pb_module).DESCRIPTOR.services_by_name[service]
    implementation = getattr(importlib.import_module(impl_module), servicer)
    base = getattr(importlib.import_module(pb_module.replace("_pb2", "_pb2_grpc")), f"{service}Servicer")
    missing = [m.name for m in descriptor.methods if getattr(implementation, m.name) is getattr(base, m.name)]
    assert not missing, f"{servicer} does not implement {missing}"
