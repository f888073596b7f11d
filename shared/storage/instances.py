"""A bounded set of storage instances per process, reused across requests.

fsspec keeps every filesystem instance it makes in a class-level cache with no limit, keyed by its
options; an S3 one holds its own botocore client (~0.4 MiB, ~13 MiB before S3 storages shared one
session: shared.storage.s3) and connection pool. So a tenant key that asked for storages with ever
new options (CreateStorage probes with random credentials: each refused, each cached) grew the
process without end. Instances are therefore made outside fsspec's cache (FsspecStorage passes
skip_instance_cache) and kept here instead: at most `size`, the least recently used dropped first
(and freed once no request holds it). Each stored storage (`owner`) holds one: when its settings
change, its new instance replaces the old one, so that a tenant changing a storage's options again
and again does not fill the set and push out every other tenant's instances.
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
        self._key_of: dict[Hashable, Hashable] = {}  # owner -> the key of its instance
        self._owner_of: dict[Hashable, Hashable] = {}  # and back

    def __len__(self) -> int:
        return len(self._instances)

    def get(self, key: Hashable, make: Callable[[], FsspecStorage], *, owner: Hashable = None) -> FsspecStorage:
        """The instance of `key`, made by `make` (whose errors propagate, nothing kept) when absent.
        `owner` (a stored storage's id): the instance it held under another key is dropped."""
        storage = self._instances.get(key)
        if storage is None:
            storage = make()
            self._instances[key] = storage
        self._instances.move_to_end(key)
        if owner is not None and self._key_of.get(owner) != key:
            self._forget(self._key_of.get(owner))
            self._forget(key, keep_instance=True)
            self._key_of[owner], self._owner_of[key] = key, owner
        while len(self._instances) > self._size:
            self._forget(next(iter(self._instances)))
        return storage

    def _forget(self, key: Hashable, *, keep_instance: bool = False) -> None:
        if key is None:
            return
        if not keep_instance:
            self._instances.pop(key, None)
        owner = self._owner_of.pop(key, None)
        if owner is not None:
            self._key_of.pop(owner, None)


__all__ = ["DEFAULT_SIZE", "StorageInstances"]
