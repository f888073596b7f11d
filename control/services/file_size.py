"""The largest file a storage takes: the storage's own limit under the operator's cap for its
tenant. One rule for the WOPI grant (the edge holds PutFile and PutRelativeFile to it) and for the
files the control plane writes itself (CreateSession's copy of a template)."""

from __future__ import annotations

from control.db.models import Storage, Tenant
from shared.file_size import DEFAULT_MAX_FILE_SIZE


def max_file_size(storage: Storage, tenant: Tenant | None) -> int:
    """0: neither set one (the edge's --max-file-size holds). A storage without a limit of its own
    gets the cap, so the operator's cap always holds."""
    cap = tenant.max_file_size_cap if tenant else 0
    own = storage.max_file_size
    if cap <= 0:
        return own
    return min(own, cap) if own > 0 else cap


def max_file_size_or_default(storage: Storage, tenant: Tenant | None) -> int:
    return max_file_size(storage, tenant) or DEFAULT_MAX_FILE_SIZE
