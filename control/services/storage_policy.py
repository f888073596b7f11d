"""The operator's storage policy: which roots, protocols, options and credentials a storage may use.

Two rules, checked when a storage is created or updated and again every time it is opened (a
session, a restore, the edge's grant), so that a root later replaced by a symlink, or a row
changed behind the API's back, is refused rather than served:

1. No storage, whoever made it, reaches the control plane's own files: a local root may not be,
   lie inside, or contain the data dir, the secret key file or the SQLite database (compared
   after resolving symlinks on both sides).
2. A storage made by a tenant key (operator_owned False) is attacker input. Its protocol must be
   on the operator's list (default: s3, plus file when --tenant-file-base is set); a local root
   must resolve inside <tenant-file-base>/<tenant_id>; chained URLs (a::b) are refused; only the
   options named below for its protocol are accepted; and it must bring its own credentials
   (S3 key and secret, or anon=true), so that the process's ambient credentials (AWS_*
   environment, instance role, ~/.aws profiles) never serve a tenant, unless the operator
   allows them for that tenant (--allow-ambient-credentials).

Endpoint addresses (where an S3 endpoint_url may point) are the egress policy's business.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from shared.errors import StorageBlocked, StoragePolicyDenied
from shared.storage.confined import within
from shared.storage.options import S3_PROTOCOLS

if TYPE_CHECKING:
    from control.db.models import Storage
    from control.services.context import Principal
    from control.settings import ControlSettings

__all__ = ["LOCAL_PROTOCOLS", "StoragePolicy"]

LOCAL_PROTOCOLS = frozenset({"file", "local"})
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
# Options every backend takes and none of which reads a local file or a credential.
_GENERIC_OPTIONS = frozenset({"use_listings_cache", "skip_instance_cache", "listings_expiry_time"})
# What a tenant may set, per protocol. Left out on purpose for S3: profile, session,
# config_kwargs and client_kwargs (they reach ~/.aws, other credentials or arbitrary botocore
# settings), and `verify` as a path (it reads a local file): verify is true or false here.
_TENANT_OPTIONS: dict[str, frozenset[str]] = {
    "file": _GENERIC_OPTIONS | {"auto_mkdir"},
    "s3": _GENERIC_OPTIONS | {
        "key", "secret", "token", "endpoint_url", "region", "region_name", "addressing_style", "use_ssl",
        "anon", "verify", "requester_pays", "version_aware", "max_concurrency", "fixed_upload_size",
    },
}
_TENANT_OPTIONS["local"] = _TENANT_OPTIONS["file"]
_TENANT_OPTIONS["s3a"] = _TENANT_OPTIONS["s3"]
FILE_BASE_FLAG = "--tenant-file-base (WOPI_PROXY_TENANT_FILE_BASE)"


def _flag(options: Mapping[str, str], name: str) -> bool:
    return options.get(name, "").strip().lower() in _TRUE


@dataclass(frozen=True)
class StoragePolicy:
    """Built from the operator's settings (from_settings); the default protects nothing and lets
    tenant keys use S3 with their own credentials only (what the services' tests start with)."""

    # The control plane's own files and folders: the data dir, the secret key, the SQLite file.
    protected_paths: tuple[Path, ...] = ()
    # Tenant keys' local roots live in <tenant_file_base>/<tenant_id>; None: no local roots for them.
    tenant_file_base: Path | None = None
    # Protocols tenant keys may use; None: s3, plus file when tenant_file_base is set.
    tenant_protocols: frozenset[str] | None = None
    # Tenants whose storages may use the process's ambient credentials.
    ambient_credential_tenants: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, settings: ControlSettings) -> StoragePolicy:
        protected = [settings.data_dir]
        if settings.secret_key_file is not None:
            protected.append(settings.secret_key_file)
        database = settings.sqlite_path
        if database is not None:
            protected.append(database)
        return cls(protected_paths=tuple(protected), tenant_file_base=settings.tenant_file_base,
                   tenant_protocols=settings.tenant_storage_protocols,
                   ambient_credential_tenants=frozenset(settings.allow_ambient_credentials))

    @property
    def allowed_tenant_protocols(self) -> frozenset[str]:
        if self.tenant_protocols is not None:
            return self.tenant_protocols
        return frozenset({"s3", "file"} if self.tenant_file_base is not None else {"s3"})

    # -- the two entry points --------------------------------------------------------------------

    def check(self, principal: Principal, tenant_id: str, protocol: str, root: str,
              options: Mapping[str, str], *, operator_owned: bool | None = None) -> None:
        """Raises StoragePolicyDenied unless `principal` may give tenant_id this storage.
        `operator_owned` (default: principal is admin) says which rules bind the storage."""
        owned = principal.is_admin if operator_owned is None else operator_owned
        self._check(owned, tenant_id, protocol, root, options)

    def check_open(self, row: Storage) -> str:
        """Raises StorageBlocked, naming the storage, unless the stored storage still passes.
        Returns the root to use: for a local storage the real path the checks resolved, which the
        storage then never leaves (shared.storage.confined), whatever its symlinks point to later."""
        real_root = os.path.realpath(row.root) if row.protocol in LOCAL_PROTOCOLS else row.root
        try:
            self._check(row.operator_owned, row.tenant_id, row.protocol, row.root, _options(row), real_root=real_root)
        except StoragePolicyDenied as denied:
            raise StorageBlocked(row.name, denied.description) from None
        return real_root

    # -- the rules ------------------------------------------------------------------------------

    def _check(self, operator_owned: bool, tenant_id: str, protocol: str, root: str,
               options: Mapping[str, str], *, real_root: str | None = None) -> None:
        """`real_root`: the local root's real path, resolved once by the caller (else here)."""
        if protocol in LOCAL_PROTOCOLS and real_root is None:
            real_root = os.path.realpath(root)
        if not operator_owned:
            self._check_tenant(tenant_id, protocol, root, options, real_root=real_root)
        if protocol in LOCAL_PROTOCOLS:
            assert real_root is not None
            self._check_not_protected(real_root)

    @functools.cached_property
    def _real_protected_paths(self) -> tuple[str, ...]:
        """The protected paths resolved once. They are the operator's own files, which no key
        can move; the root, which a tenant may have made a symlink, is resolved at every check.
        Why: check_open runs on every grant, on the control plane's writer thread, and each
        component of a realpath is an lstat that lets go of the GIL (~11 of them per grant for
        the data dir, secret key and database, each a hand-off to and from the event loop)."""
        return tuple(os.path.realpath(path) for path in self.protected_paths)

    def _check_not_protected(self, real_root: str) -> None:
        for real in self._real_protected_paths:
            if within(real_root, real) or within(real, real_root):
                raise StoragePolicyDenied("root", "a storage root may not be, lie inside or contain the control "
                                                  "plane's data dir, secret key or database")

    def _check_tenant(self, tenant_id: str, protocol: str, root: str, options: Mapping[str, str], *,
                      real_root: str | None) -> None:
        if "::" in protocol or "::" in root:
            raise StoragePolicyDenied("protocol", "chained protocols (a::b) are not allowed for tenant keys")
        allowed = self.allowed_tenant_protocols
        kind = "file" if protocol in LOCAL_PROTOCOLS else protocol
        if kind == "file" and self.tenant_file_base is None:
            raise StoragePolicyDenied("protocol", "tenant keys cannot create local (file) storages: the operator "
                                                  f"must set {FILE_BASE_FLAG}")
        if kind not in allowed:
            raise StoragePolicyDenied("protocol", f"protocol {protocol!r} is not allowed for tenant keys "
                                                  f"(allowed: {', '.join(sorted(allowed)) or 'none'})")
        self._check_options(tenant_id, protocol, options)
        if kind == "file":
            self._check_tenant_root(tenant_id, root, real_root or os.path.realpath(root))

    def _check_tenant_root(self, tenant_id: str, root: str, real_root: str) -> None:
        assert self.tenant_file_base is not None
        if ".." in root.split("/"):
            raise StoragePolicyDenied("root", "a tenant's root may not contain '..'")
        base = os.path.realpath(self.tenant_file_base / tenant_id)
        if not within(real_root, base):
            raise StoragePolicyDenied("root", "a tenant key's local root must lie inside the tenant's folder "
                                              f"<tenant-file-base>/{tenant_id} (after resolving symlinks)")

    def _check_options(self, tenant_id: str, protocol: str, options: Mapping[str, str]) -> None:
        known = _TENANT_OPTIONS.get(protocol)
        ambient = tenant_id in self.ambient_credential_tenants
        if known is None:
            # A protocol the operator listed without an option list of ours: we cannot tell its
            # own credentials from ambient ones (gcsfs falls back to google_default, ...).
            if not ambient:
                raise StoragePolicyDenied("protocol", f"protocol {protocol!r} can fall back to the server's own "
                                                      "credentials: the operator must allow ambient credentials "
                                                      "for this tenant (--allow-ambient-credentials)")
            known = _GENERIC_OPTIONS
        refused = sorted(set(options) - known)
        if refused:
            raise StoragePolicyDenied("options", f"option(s) {', '.join(map(repr, refused))} are not allowed for "
                                                 f"{protocol} storages of tenant keys")
        verify = options.get("verify")
        if verify is not None and verify.strip().lower() not in _TRUE | _FALSE:
            raise StoragePolicyDenied("options", "option 'verify' is true or false for tenant keys")
        if protocol in S3_PROTOCOLS and not ambient and not _flag(options, "anon"):
            if not (options.get("key", "").strip() and options.get("secret", "").strip()):
                raise StoragePolicyDenied("options", "a tenant's S3 storage needs its own credentials (options key "
                                                     "and secret, or anon=true for a public bucket)")


def _options(row: Storage) -> dict[str, str]:
    return dict(json.loads(row.options_json or "{}"))


def parse_protocol_list(value: str | Iterable[str] | None) -> frozenset[str] | None:
    """"s3,file" (or a list of such) as a set; None or empty: the default."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    names = frozenset(p.strip() for item in items for p in item.split(",") if p.strip())
    return names or None
