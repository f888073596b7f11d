"""The control plane's tables. Times are integers: milliseconds since the Unix epoch (UTC),
identical on SQLite and PostgreSQL and directly WOPI's access_token_ttl unit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from control.secrets import EncryptedText


def _bigint(**kw: Any) -> Any:
    return Field(sa_type=BigInteger, **kw)  # type: ignore[arg-type]


class ApiKey(SQLModel, table=True):
    """An API key for the gRPC API; only the SHA-256 of the key is kept."""

    __tablename__ = "api_keys"
    id: str = Field(primary_key=True, max_length=40)
    key_hash: str = Field(unique=True, max_length=64)
    role: str = Field(max_length=16)  # "admin", "tenant" or "edge" (only the internal EdgeService)
    tenant_id: str | None = Field(default=None, max_length=63, index=True)
    description: str = Field(default="", max_length=200)
    create_time: int = _bigint()
    revoke_time: int | None = _bigint(default=None, nullable=True)


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"
    id: str = Field(primary_key=True, max_length=63)
    name: str = Field(max_length=200)
    enabled: bool = True
    post_message_origin: str = Field(default="", max_length=300)
    default_session_ttl_s: int = _bigint(default=0)  # 0: the deployment's default
    webhook_url: str = Field(default="", max_length=2000)
    # Encrypted in the database (control.secrets), like storage options; never returned by reads.
    webhook_secret: str = Field(default="", sa_column=Column(EncryptedText, nullable=False, default=""))
    audit_retention_days: int = 0  # 0: forever
    editor_mode: str = Field(default="pool", max_length=16)  # pool | own | disabled
    # Random per creation: a tenant deleted and created again under the same id is another
    # incarnation, and long-lived readers (event streams, webhook delivery) notice the change.
    incarnation: str = Field(default="", max_length=32)
    # Operator-set quotas (admin key only; 0: no cap / no quota) and what conflict copies used so far.
    max_file_size_cap: int = _bigint(default=0)  # caps every storage's max_file_size
    conflict_copy_quota: int = _bigint(default=0)  # bytes conflict copies may take in the tenant's storages
    conflict_copy_bytes: int = _bigint(default=0)  # bytes written as conflict copies (kept copies only)
    create_time: int = _bigint()
    update_time: int = _bigint(default=0)


class Storage(SQLModel, table=True):
    __tablename__ = "storages"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=63)
    name: str = Field(max_length=63)
    protocol: str = Field(max_length=32)
    root: str = Field(sa_column=Column(Text, nullable=False))
    # Encrypted in the database (control.secrets): options hold credentials.
    options_json: str = Field(default="{}", sa_column=Column(EncryptedText, nullable=False))
    max_file_size: int = _bigint(default=0)  # bytes; 0 = the edge's default
    version_retention: int = 10  # kept previous versions per file; 0 keeps none
    # True when an admin key created it; False binds it to the tenant storage policy
    # (control.services.storage_policy, checked again at every open) and its endpoints to the
    # egress policy (shared/egress.py).
    operator_owned: bool = False
    create_time: int = _bigint()


class File(SQLModel, table=True):
    """A file's identity: one row per (tenant, storage, path), whatever the number of sessions."""

    __tablename__ = "files"
    __table_args__ = (UniqueConstraint("tenant_id", "storage_id", "path"),)
    id: str = Field(primary_key=True, max_length=43)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=63)
    storage_id: int = Field(foreign_key="storages.id")
    path: str = Field(sa_column=Column(Text, nullable=False))
    version: int = _bigint(default=1)
    size: int = _bigint(default=0)
    sha256: str = Field(default="", max_length=64)
    fingerprint: str = Field(default="", max_length=64)  # of the stored object when sha256 was recorded
    # The WOPI lock lives on the file row: it belongs to the file, never to a session or a user.
    lock_id: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    lock_expire_time: int | None = _bigint(default=None, nullable=True)
    deleted_time: int | None = _bigint(default=None, nullable=True)
    # Where a deleted file was: `path` then holds a tombstone so that the path is free again.
    deleted_from: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The write intent between BeginWrite and its confirmation (control.services.write_intents):
    # while set, storage may hold a change the row does not describe yet.
    pending_intent_id: str | None = Field(default=None, max_length=40)
    create_time: int = _bigint()
    update_time: int = _bigint()


class FileVersion(SQLModel, table=True):
    """A kept earlier content; its bytes are at shared.storage.version_object_path(file_id, version)."""

    __tablename__ = "file_versions"
    __table_args__ = (UniqueConstraint("file_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    file_id: str = Field(foreign_key="files.id", max_length=43, index=True)
    version: int = _bigint()
    size: int = _bigint(default=0)
    sha256: str = Field(default="", max_length=64)
    reason: str = Field(max_length=16)  # "save" | "restore" | "delete" | "overwrite"
    replaced_by: str = Field(default="", max_length=256)
    create_time: int = _bigint()


class WriteIntent(SQLModel, table=True):
    """A change of stored bytes or names, recorded before storage is touched and confirmed (or
    abandoned) from what storage then holds. The protocol: control.services.write_intents."""

    __tablename__ = "write_intents"
    id: str = Field(primary_key=True, max_length=40)
    file_id: str = Field(max_length=43, index=True)
    tenant_id: str = Field(max_length=63)
    session_id: str = Field(default="", max_length=40)
    operation: str = Field(max_length=32)  # PutFile | PutRelativeFile | RenameFile | DeleteFile | RestoreFileVersion
    state: str = Field(default="pending", max_length=16, index=True)  # pending | confirmed | abandoned
    source_path: str = Field(default="", sa_column=Column(Text, nullable=False))  # where the file is now
    target_path: str = Field(default="", sa_column=Column(Text, nullable=False))  # where it will be
    staged_path: str = Field(default="", sa_column=Column(Text, nullable=False))  # the temporary object
    size: int = _bigint(default=0)  # the new bytes (PutFile, PutRelativeFile, restore)
    sha256: str = Field(default="", max_length=64)
    fingerprint: str = Field(default="", max_length=64)  # of the new bytes once published
    base_version: int = _bigint(default=0)  # the file's version when the intent was made
    kept_version: int = _bigint(default=0)  # the current bytes are kept as this version first (0: not)
    kept_size: int = _bigint(default=0)
    created_file: bool = False  # PutRelativeFile made the target's row: abandoning retires it
    actor: str = Field(default="", max_length=300)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))  # the audit's, on confirmation
    lock_hash: str = Field(default="", max_length=64)
    editor: str = Field(default="", max_length=120)
    client_address: str = Field(default="", max_length=64)
    correlation_id: str = Field(default="", max_length=128)
    create_time: int = _bigint()
    expire_time: int = _bigint(index=True)  # unconfirmed after this: storage decides, then abandoned
    resolve_time: int | None = _bigint(default=None, nullable=True)
    resolution: str = Field(default="", max_length=200)  # how it ended, e.g. "confirmed by the edge"


class UserInfo(SQLModel, table=True):
    """WOPI PutUserInfo: an opaque string an editor keeps per user (at most 1024 characters)."""

    __tablename__ = "user_infos"
    tenant_id: str = Field(primary_key=True, max_length=63)
    user_id: str = Field(primary_key=True, max_length=256)
    info: str = Field(default="", sa_column=Column(Text, nullable=False))
    update_time: int = _bigint()


class Session(SQLModel, table=True):
    __tablename__ = "sessions"
    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=63, index=True)
    file_id: str = Field(foreign_key="files.id", max_length=43, index=True)
    storage_name: str = Field(max_length=63)
    path: str = Field(sa_column=Column(Text, nullable=False))
    user_id: str = Field(max_length=256)
    user_name: str = Field(max_length=256)
    permission: str = Field(max_length=8)  # "view" or "edit"
    account: str = Field(default="", max_length=200)
    origin_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    editor_id: int | None = Field(default=None)  # the editor whose proof keys its requests carry
    # The API key that created it (a PutRelativeFile session: its source's), so that revoking a
    # leaked key can end what the key opened. None for the bridge's own sessions and older rows.
    created_by_key: str | None = Field(default=None, max_length=40, index=True)
    token_hash: str = Field(unique=True, max_length=64)
    create_time: int = _bigint(index=True)
    expire_time: int = _bigint()
    close_time: int | None = _bigint(default=None, nullable=True)
    # The bridge's own session of a bridged document (principal "bridge:<kind>", control.services.
    # bridge_tokens): hidden from ListSessions, no session events, expired by the bridge itself.
    internal: bool = False


class AuditEvent(SQLModel, table=True):
    """One line of the audit trail. Never holds a token or file content.

    Each tenant's records (tenant_id NULL: the deployment's) form a hash chain in id order:
    `hash` covers the record and `previous_hash`, the hash of the chain's record before it
    (control.services.audit has the canonical form)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_tenant_id_id", "tenant_id", "id"),)  # one chain, in order
    id: int | None = Field(default=None, primary_key=True)
    time: int = _bigint(index=True)
    tenant_id: str | None = Field(default=None, max_length=63)
    actor: str = Field(max_length=300)  # "key:<id>", "user:<user id>", "token" or "system:<task>"
    session_id: str | None = Field(default=None, max_length=40, index=True)
    file_id: str | None = Field(default=None, max_length=43, index=True)
    operation: str = Field(max_length=64)
    outcome: str = Field(max_length=16)  # "ok", "denied", "conflict" or "failed"
    status: int = 0  # the WOPI answer's HTTP status when the control plane decided it, else 0
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    size: int | None = _bigint(default=None, nullable=True)
    version_before: int = _bigint(default=0)
    version_after: int = _bigint(default=0)
    lock_hash: str = Field(default="", max_length=64)  # SHA-256 prefix of the lock id involved
    editor: str = Field(default="", max_length=120)
    client_address: str = Field(default="", max_length=64)
    correlation_id: str = Field(default="", max_length=128)
    previous_hash: str = Field(default="", max_length=64)
    hash: str = Field(default="", max_length=64)


class AuditChainHead(SQLModel, table=True):
    """The end of one audit chain (tenant_id "" is the deployment's). Appending locks this row,
    so that concurrent writers extend a chain one after the other. The anchor is the last
    record retention removed: the chain's first remaining record follows it.

    A chain holds its tenant's records with ids above `first_after_id`. When a tenant is deleted
    its chain is archived: the head is copied under "<tenant>~<label>" (`archive_of` names the
    tenant; the archive ends at its `last_event_id`), and the live head starts a new, empty chain
    after it. No record is changed, so both chains still verify."""

    __tablename__ = "audit_chain_heads"
    tenant_id: str = Field(primary_key=True, max_length=100)  # the chain's name
    last_event_id: int = _bigint(default=0)
    last_hash: str = Field(default="", max_length=64)
    anchor_event_id: int = _bigint(default=0)
    anchor_hash: str = Field(default="", max_length=64)
    purged: int = _bigint(default=0)  # records removed by retention so far
    first_after_id: int = _bigint(default=0)  # the chain's records have larger ids
    archive_of: str = Field(default="", max_length=63)  # an archived chain's tenant; "" when live


class SessionEvent(SQLModel, table=True):
    """What applications hear about their sessions; `id` is the resume cursor."""

    __tablename__ = "session_events"
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(max_length=63, index=True)
    type: str = Field(max_length=16)  # opened | saved | locked | unlocked | closed | expired
    time: int = _bigint()
    session_id: str = Field(max_length=40)
    file_id: str = Field(default="", max_length=43)
    user_id: str = Field(default="", max_length=256)
    version: int = _bigint(default=0)
    account: str = Field(default="", max_length=200)
    origin_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))


class WebhookState(SQLModel, table=True):
    """Delivery progress of one tenant's webhook: survives restarts, so no event is skipped."""

    __tablename__ = "webhook_states"
    tenant_id: str = Field(primary_key=True, max_length=63)
    delivered_event_id: int = _bigint(default=0)
    attempts: int = 0
    next_attempt_time: int = _bigint(default=0)
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False))


class Editor(SQLModel, table=True):
    """A WOPI client, named by its discovery URL, or a bridged app (kind etherpad | codimd |
    hocuspocus, docs/BRIDGE.md) named by its app URL; tenant_id "" is the operators' shared pool."""

    __tablename__ = "editors"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(default="", max_length=63, index=True)
    name: str = Field(max_length=63)
    discovery_url: str = Field(sa_column=Column(Text, nullable=False))
    proof_policy: str = Field(default="if-advertised", max_length=16)  # required | if-advertised | off
    discovery_xml: str = Field(default="", sa_column=Column(Text, nullable=False))
    product: str = Field(default="", max_length=16)
    fetch_time: int = _bigint(default=0)
    discovery_error: str = Field(default="", sa_column=Column(Text, nullable=False))
    create_time: int = _bigint()
    # Made with an admin key: its discovery URL is the operator's, not held to the egress policy.
    operator_owned: bool = False
    kind: str = Field(default="wopi", max_length=16)  # wopi | etherpad | codimd | hocuspocus
    # A bridged app: the base URL the edge calls, the one browsers open ("": app_url), and its
    # credentials (encrypted like storage options; never returned by reads).
    app_url: str = Field(default="", sa_column=Column(Text, nullable=False))
    app_public_url: str = Field(default="", sa_column=Column(Text, nullable=False))
    api_key: str = Field(default="", sa_column=Column(EncryptedText, nullable=False))
    webhook_secret: str = Field(default="", sa_column=Column(EncryptedText, nullable=False))


class LaunchCode(SQLModel, table=True):
    """A host page's single-use ticket: the page needs the access token, which is kept (encrypted)
    only until the code is used or expires."""

    __tablename__ = "launch_codes"
    code_hash: str = Field(primary_key=True, max_length=64)
    session_id: str = Field(max_length=40, index=True)
    access_token: str = Field(sa_column=Column(EncryptedText, nullable=False))
    action_url: str = Field(sa_column=Column(Text, nullable=False))
    favicon_url: str = Field(default="", sa_column=Column(Text, nullable=False))
    expire_time: int = _bigint()


# -- scale out: several control-plane replicas over one database (control.services.leases,
#    control.services.replicas) ---------------------------------------------------------------


class Lease(SQLModel, table=True):
    """Who runs a background job: only the replica holding the job's lease, until expire_time
    (milliseconds of the database's clock, so replicas' clocks need not agree)."""

    __tablename__ = "leases"
    name: str = Field(primary_key=True, max_length=63)
    holder: str = Field(default="", max_length=200)
    expire_time: int = _bigint(default=0)


class ChangeCounter(SQLModel, table=True):
    """A counter bumped in the transaction of a change other replicas' caches must notice
    ("auth": a key revoked, a tenant disabled or deleted); replicas poll it."""

    __tablename__ = "change_counters"
    name: str = Field(primary_key=True, max_length=63)
    value: int = _bigint(default=0)


# -- the bridge: files open in non-WOPI collaborative apps (docs/BRIDGE.md, control.services.bridge_*) ----


class BridgeDocument(SQLModel, table=True):
    """A file open in a bridged app: one live row per (tenant, file) while not closed (`live_file_id`
    holds the file id until then, NULL after, and is unique per tenant). Its state, revisions and
    the worker's lease live here, not in the WOPI lock, which is a constant per generation."""

    __tablename__ = "bridge_documents"
    __table_args__ = (UniqueConstraint("tenant_id", "live_file_id"),)
    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=63, index=True)
    file_id: str = Field(max_length=43, index=True)
    live_file_id: str | None = Field(default=None, max_length=43)
    editor_id: int
    kind: str = Field(max_length=16)
    app_doc_id: str = Field(max_length=100, index=True)
    app_read_only_id: str = Field(default="", max_length=100)
    generation: int = _bigint(default=1)
    state: str = Field(default="loading", max_length=16, index=True)  # loading|open|closing|closed|conflicted|failed
    lock_id: str = Field(default="", max_length=200)  # the constant lock of this generation ("" when none held)
    file_version: int = _bigint(default=0)
    loaded_sha256: str = Field(default="", max_length=64)
    saved_sha256: str = Field(default="", max_length=64)
    text_profile: str = Field(default="", sa_column=Column(Text, nullable=False))
    baseline_rev: int = _bigint(default=0)
    saved_rev: int = _bigint(default=0)
    seen_rev: int = _bigint(default=0)
    dirty_since: int | None = _bigint(default=None, nullable=True)  # unsaved change known since
    next_attempt_time: int | None = _bigint(default=None, nullable=True)  # the save is due then
    next_poll_time: int = _bigint(default=0)
    close_after_time: int | None = _bigint(default=None, nullable=True)  # closing: CLOSE once past, nobody back
    attempts: int = 0
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False))
    conflict_path: str = Field(default="", sa_column=Column(Text, nullable=False))
    lease_owner: str = Field(default="", max_length=200)
    lease_token_hash: str = Field(default="", max_length=64)
    lease_kind: str = Field(default="", max_length=8)  # load | save | poll | close
    lease_expire_time: int = _bigint(default=0, index=True)
    bridge_session_id: str = Field(default="", max_length=40)
    # The bridge session's current token (encrypted), reused while it has time left, so that two
    # holders (a worker, a Hocuspocus load) never invalidate each other's.
    bridge_token: str = Field(default="", sa_column=Column(EncryptedText, nullable=False))
    bridge_token_expire_time: int = _bigint(default=0)
    last_save_time: int | None = _bigint(default=None, nullable=True)
    create_time: int = _bigint(index=True)
    update_time: int = _bigint()
    close_time: int | None = _bigint(default=None, nullable=True)


class BridgeParticipant(SQLModel, table=True):
    """A wopi-proxy session in a bridged document (its user's presence and identity in the app)."""

    __tablename__ = "bridge_participants"
    __table_args__ = (UniqueConstraint("document_id", "session_id"),)
    id: int | None = Field(default=None, primary_key=True)
    document_id: str = Field(max_length=40, index=True)
    tenant_id: str = Field(max_length=63, index=True)
    session_id: str = Field(max_length=40, index=True)
    user_id: str = Field(max_length=256)
    user_name: str = Field(max_length=256)
    can_write: bool = False
    read_only_reason: str = Field(default="", max_length=16)  # "" | view | locked
    app_author_id: str = Field(default="", max_length=200)
    # The user's app session (Etherpad "s.…"): it lets a browser in, so it is kept encrypted.
    app_session_id: str = Field(default="", sa_column=Column(EncryptedText, nullable=False))
    present: bool = False
    revoked: bool = False
    join_time: int = _bigint()
    leave_time: int | None = _bigint(default=None, nullable=True)


class BridgeEntry(SQLModel, table=True):
    """A single-use, short-lived entry code (only its hash) that lets one participant's browser
    into the app (Etherpad plugin /wopi-proxy/enter, Hocuspocus connect)."""

    __tablename__ = "bridge_entries"
    code_hash: str = Field(primary_key=True, max_length=64)
    document_id: str = Field(max_length=40, index=True)
    participant_id: int
    tenant_id: str = Field(max_length=63, index=True)
    app_target: str = Field(default="", max_length=200)
    expire_time: int = _bigint(index=True)
