"""One FsspecStorage per distinct storage configuration, reused across requests."""

from __future__ import annotations

from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

from shared.storage import FsspecStorage

MAX_ENTRIES = 1024


class StoragePool:
    def __init__(self) -> None:
        self._storages: dict[tuple[str, str, tuple[tuple[str, str], ...]], FsspecStorage] = {}

    def get(self, access: edge_pb.StorageAccess) -> FsspecStorage:
        key = (access.protocol, access.root, tuple(sorted(access.options.items())))
        storage = self._storages.get(key)
        if storage is None:
            if len(self._storages) >= MAX_ENTRIES:
                self._storages.clear()
            storage = self._storages[key] = FsspecStorage(access.protocol, access.root, dict(access.options))
        return storage
