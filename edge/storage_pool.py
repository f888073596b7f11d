"""One FsspecStorage per distinct storage configuration, reused across requests.

A storage a tenant key made comes with egress_restricted: its connections are held to the
edge's own egress policy (--egress-allow of the edge, not the control plane's).
"""

from __future__ import annotations

from edge.observability import note_storage
from shared.egress import EgressPolicy
from shared.storage.instances import StorageInstances
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb
from shared.storage import FsspecStorage


class StoragePool:
    def __init__(self, egress: EgressPolicy | None = None) -> None:
        self._egress = egress or EgressPolicy()
        self._storages = StorageInstances()

    def get(self, access: edge_pb.StorageAccess) -> FsspecStorage:
        """Raises EgressRefused for a tenant's storage whose endpoint the policy refuses."""
        note_storage(access.protocol)  # a failure from here on counts as a storage error
        key = (access.egress_restricted, access.protocol, access.root, tuple(sorted(access.options.items())))
        return self._storages.get(key, lambda: self._make(access), owner=access.storage_id or None)

    def _make(self, access: edge_pb.StorageAccess) -> FsspecStorage:
        egress = self._egress if access.egress_restricted else None
        # A local root arrives as the control plane resolved and checked it: never left (shared.storage.confined).
        local = access.protocol in ("file", "local", "")
        return FsspecStorage(access.protocol, access.root, dict(access.options), egress=egress,
                             real_root=access.root if local else None)
