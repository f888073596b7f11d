"""A bounded set of storage instances per process, reused across requests.

fsspec keeps every filesystem instance it makes in a class-level cache with no limit, keyed by its
options; an S3 one holds its own botocore client and service model (~13 MiB measured). So a tenant
key that asked for storages with ever new options (CreateStorage probes with random credentials:
each refused, each cached) grew the process without end. Instances are therefore made outside
fsspec's cache (FsspecStorage passes skip_instance_cache) and kept here instead: at most `size`,
the least recently used dropped first (and freed once no request holds it).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

from shared.storage.fsspec_storage import FsspecStorage

# Instances of stored storages only (a probe's is never kept): a tenant makes at most its operator's
# --max-storages-per-tenant. An edge or control plane serving more storages than this rebuilds the
# least used ones (an S3 client each) as they come back.
DEFAULT_SIZE = 1024


class StorageInstances:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._size = size
        self._instances: OrderedDict[Hashable, FsspecStorage] = OrderedDict()

    def __len__(self) -> int:
        return len(self._instances)

    def get(self, key: Hashable, make: Callable[[], FsspecStorage]) -> FsspecStorage:
        """The instance of `key`, made by `make` (whose errors propagate, nothing kept) when absent."""
        storage = self._instances.get(key)
        if storage is not None:
            self._instances.move_to_end(key)
            return storage
        storage = make()
        self._instances[key] = storage
        while len(self._instances) > self._size:
            self._instances.popitem(last=False)
        return storage


__all__ = ["DEFAULT_SIZE", "StorageInstances"]
