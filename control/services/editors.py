"""Editors (WOPI clients): the pool and tenants' own, their discovery, and what a session needs
of them (the action URL for a file, the proof keys its requests are signed with).

Discovery documents are fetched when an editor is added, on RefreshEditor, on a schedule, and
at once when a proof check fails or succeeds only with the old key (key rotation).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import posixpath
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import httpx
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import defer
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control.db import stores
from control.db.models import Editor, Session, Tenant
from control.editors.discovery import Discovery, DiscoveryError, action_url, choose_action, parse_discovery
from control.editors.fetch import TIMEOUT_S, fetch_discovery
from control.editors.parsed_cache import ParsedDocuments, weight
from control.editors.proof import verify_proof
from control.services import audit, tenant_limits, validation
from control.services.access import require_tenant_visible
from control.services.context import Principal, ServiceContext
from shared.egress_http import restricted_client
from shared.outbound_tls import verifying_context
from shared.errors import (
    EditorAlreadyExists,
    EgressRefused,
    EditorNotFound,
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    ProofInvalid,
    TenantNotFound,
)

log = logging.getLogger(__name__)

POLICIES = ("required", "if-advertised", "off")
REFRESH_EVERY_S = 12 * 3600


def _unavailable(url: str, detail: str) -> FailedPrecondition:
    return FailedPrecondition("DISCOVERY_UNAVAILABLE", f"discovery of {url} unavailable: {detail}",
                              url=url, detail=detail)


@contextmanager
def fetch_slot(ctx: ServiceContext, principal: Principal) -> Iterator[None]:
    """One of the discovery fetches a tenant key may have running at once in this process
    (TenantLimits.discovery_fetches; one more is TenantLimitExceeded at once). Admin keys, and
    the scheduled refreshes, are not held to it."""
    if principal.is_admin or not principal.tenant_id:
        yield
        return
    with ctx.discovery_fetches.hold(principal.tenant_id, ctx.limits.discovery_fetches):
        yield


def _document_key(editor: Editor) -> tuple[tuple[int | None, str], tuple[str, int]]:
    """What names an editor's stored document: its row (with the tenant, for a row id used
    again), and the fetch that stored it (a refresh moves fetch_time, EditorRegistry.refresh)."""
    return (editor.id, editor.tenant_id), (editor.discovery_url, editor.fetch_time)


def _loaded_document(editor: Editor) -> str:
    """The row's document as read with it; "" when it was read without it (never a lazy load)."""
    state = sa_inspect(editor, raiseerr=False)
    if state is not None and "discovery_xml" in state.unloaded:
        return ""
    return editor.discovery_xml


async def read_editor(db: AsyncSession, registry: EditorRegistry, editor_id: int) -> Editor | None:
    """The editor's row, its discovery parsed in `registry`: the document is read only when this
    process has not parsed it yet (registry.discovery then answers without it)."""
    editor = await db.get(Editor, editor_id, options=[defer(Editor.discovery_xml)])  # type: ignore[arg-type]
    if editor is not None:
        await parse_once(db, registry, editor)
    return editor


async def parse_once(db: AsyncSession, registry: EditorRegistry, editor: Editor) -> None:
    """Parses the document of `editor` (read without it) into `registry`, reading it only when this
    process has not parsed it yet."""
    if editor.kind == "wopi" and registry.cached(editor) is None:
        await db.refresh(editor, ["discovery_xml"])
        registry.discovery(editor)


class EditorRegistry:
    """Parsed discovery documents (kept per editor row and fetch: _document_key) and the HTTP
    clients that fetch them: one for the operator's editors (any address), one held to the egress
    policy for the editors tenant keys made (shared/egress_http.py)."""

    def __init__(self, ctx: ServiceContext, client: httpx.AsyncClient | None = None) -> None:
        self._ctx = ctx
        self._client = client or httpx.AsyncClient(timeout=TIMEOUT_S, verify=verifying_context(trust_env=True))
        self._restricted = restricted_client(ctx.egress, timeout_s=TIMEOUT_S)
        self._parsed = ParsedDocuments()
        self._refreshing: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self._client.aclose()
        await self._restricted.aclose()

    def cached(self, editor: Editor) -> Discovery | None:
        """The editor's parsed discovery if this process parsed its stored document already."""
        return self._parsed.get(*_document_key(editor))

    def discovery(self, editor: Editor, load: Callable[[], str] | None = None) -> Discovery | None:
        """The editor's stored discovery, parsed once per fetch. Why not per call: a tenant's
        document may be 5 MiB, and reading, hashing and parsing it again on each ListEditors or
        WOPI request cost every tenant of this process. `load` reads the stored document when
        `editor` was read without it; only called when it was not parsed here yet."""
        row, fetch = _document_key(editor)
        parsed = self._parsed.get(row, fetch)
        if parsed is not None:
            return parsed
        xml = load() if load is not None else _loaded_document(editor)
        if not xml:
            return None
        document = xml.encode()
        try:
            parsed = parse_discovery(document)
        except DiscoveryError:
            return None
        self._parsed.put(row, fetch, parsed, weight(len(document), parsed))
        return parsed

    async def fetch(self, url: str, *, operator_owned: bool,
                    on_headers: Callable[[httpx.Headers], None] | None = None) -> tuple[str, Discovery]:
        """Raises EgressRefused when a tenant's URL (not operator_owned) names a refused address.

        The refusal is raised outside the `except`: raised inside, the DiscoveryError it hides
        would keep this frame, and with it a document of up to 5 MiB, alive in a reference cycle
        until the garbage collector's next pass."""
        try:
            if operator_owned:
                xml = await fetch_discovery(url, self._client, on_headers=on_headers)
            else:
                xml = await fetch_discovery(url, self._restricted, policy=self._ctx.egress,
                                           on_headers=on_headers)
            parsed = parse_discovery(xml)
        except DiscoveryError as error:
            problem = str(error)
        else:
            return xml.decode("utf-8", errors="replace"), parsed
        raise _unavailable(url, problem)

    async def refresh(self, editor_id: int) -> Editor:
        async with self._ctx.sessions() as db:
            editor = await db.get(Editor, editor_id)
        if editor is None:
            raise EditorNotFound(str(editor_id))
        now = self._ctx.clock()
        try:
            xml, parsed = await self.fetch(editor.discovery_url, operator_owned=editor.operator_owned)
        except (FailedPrecondition, EgressRefused) as error:
            async with self._ctx.transaction() as db:
                row = await db.get(Editor, editor_id)
                if row is not None:
                    row.discovery_error = error.message[:1000]
                    db.add(row)
            raise
        async with self._ctx.transaction() as db:
            row = await db.get(Editor, editor_id)
            if row is None:
                raise EditorNotFound(editor.name)
            # A new document, a new fetch time: it names the document in every replica's cache.
            row.discovery_xml, row.product, row.discovery_error = xml, parsed.product, ""
            row.fetch_time = max(now, row.fetch_time + 1)
            db.add(row)
        return row

    def refresh_soon(self, editor_id: int, why: str) -> None:
        """Refreshes in the background, once at a time per editor (proof failure, key rotation)."""
        if editor_id in self._refreshing:
            return
        self._refreshing.add(editor_id)
        log.info("refreshing discovery of editor %d: %s", editor_id, why)

        async def run() -> None:
            try:
                await self.refresh(editor_id)
            except Exception as exc:  # logged; the cached document stays in use
                log.warning("discovery refresh of editor %d failed: %s", editor_id, exc)
            finally:
                self._refreshing.discard(editor_id)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def refresh_all_periodically(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=60)
            except TimeoutError:
                pass
            if stop.is_set():
                return
            cutoff = self._ctx.clock() - REFRESH_EVERY_S * 1000
            async with self._ctx.sessions() as db:
                due = (await db.exec(select(Editor.id).where(col(Editor.fetch_time) < cutoff,
                                                             Editor.kind == "wopi"))).all()
            for editor_id in due:
                if editor_id is not None:
                    self.refresh_soon(editor_id, "scheduled")


# -- the API -------------------------------------------------------------------------------------


def _scope(principal: Principal, tenant_id: str) -> str:
    """Pool editors ("") are the admin's; a tenant's own editors are the tenant's (and the admin's)."""
    if tenant_id:
        require_tenant_visible(principal, tenant_id)
        return tenant_id
    if not principal.is_admin:
        raise PermissionDenied("pool editors are managed with the admin key; pass tenant_id for your own")
    return ""


async def _get(db: AsyncSession, tenant_id: str, name: str) -> Editor | None:
    query = select(Editor).where(Editor.tenant_id == tenant_id, Editor.name == name)
    return (await db.exec(query)).first()


async def _require_room(ctx: ServiceContext, db: AsyncSession, principal: Principal, scope: str) -> None:
    """TenantLimitExceeded when a tenant key's tenant has its cap of editors: each is loaded by every
    ListEditors and CreateSession. Admin keys (and so the pool, scope "") are not capped."""
    if scope and not principal.is_admin:
        await tenant_limits.require_room(db, tenant_id=scope, model=Editor, maximum=ctx.limits.editors,
                                         limit="editors", setting=tenant_limits.EDITORS_SETTING)


async def _precheck_room(ctx: ServiceContext, principal: Principal, scope: str) -> None:
    """The cap, looked at before any fetch or resolution made on the caller's behalf."""
    async with ctx.read() as db:
        await _require_room(ctx, db, principal, scope)


async def _require_tenant_with_room(ctx: ServiceContext, db: AsyncSession, principal: Principal,
                                    scope: str) -> None:
    """In the creating transaction: the tenant exists, locked, so that concurrent creations are
    counted one after the other and cannot both take its last place."""
    if scope and await tenant_limits.lock_tenant(db, tenant_id=scope) is None:
        raise TenantNotFound(scope)
    await _require_room(ctx, db, principal, scope)


BRIDGE_KINDS = ("etherpad", "codimd", "hocuspocus")  # docs/BRIDGE.md
MAX_APP_SECRET = 1000


async def create_editor(ctx: ServiceContext, registry: EditorRegistry, principal: Principal, *, name: str,
                        tenant_id: str, discovery_url: str, proof_policy: str, kind: str = "wopi",
                        app_url: str = "", app_public_url: str = "", api_key: str = "",
                        webhook_secret: str = "") -> Editor:
    scope = _scope(principal, tenant_id)
    validation.storage_name(name, "name")
    kind = kind or "wopi"
    if kind in BRIDGE_KINDS:
        return await _create_bridged(ctx, principal, scope=scope, name=name, kind=kind, discovery_url=discovery_url,
                                     app_url=app_url, app_public_url=app_public_url, api_key=api_key,
                                     webhook_secret=webhook_secret)
    if kind != "wopi":
        raise InvalidArgument("kind", "wopi, " + ", ".join(BRIDGE_KINDS))
    if app_url or app_public_url or api_key or webhook_secret:
        raise InvalidArgument("app_url", "only bridged apps (kind etherpad, codimd, hocuspocus) take app settings")
    validation.http_url(discovery_url, "discovery_url")
    if not discovery_url:
        raise InvalidArgument("discovery_url", "required")
    if proof_policy not in POLICIES:
        raise InvalidArgument("proof_policy", "required, if-advertised or off")
    await _precheck_room(ctx, principal, scope)  # before the fetch: no discovery download on its behalf
    # The operator's URLs are trusted; a tenant key's pass the egress policy, now and at every refresh.
    operator_owned = principal.is_admin
    with fetch_slot(ctx, principal):
        xml, parsed = await registry.fetch(discovery_url, operator_owned=operator_owned)
    if proof_policy == "required" and parsed.proof_key is None:
        raise _unavailable(discovery_url, "the proof policy is 'required' but the discovery has no proof-key")
    now = ctx.clock()
    async with ctx.transaction() as db:
        await _require_tenant_with_room(ctx, db, principal, scope)
        if await _get(db, scope, name) is not None:
            raise EditorAlreadyExists(name)
        row = Editor(tenant_id=scope, name=name, discovery_url=discovery_url, proof_policy=proof_policy,
                     discovery_xml=xml, product=parsed.product, fetch_time=now, create_time=now,
                     operator_owned=operator_owned)
        await stores.add(db, row)
        await audit.record(db, time=now, actor=principal.actor, operation="CreateEditor", outcome="ok",
                           tenant_id=scope or None, detail=f"editor={name} url={discovery_url} proof={proof_policy}")
    return row


async def _create_bridged(ctx: ServiceContext, principal: Principal, *, scope: str, name: str, kind: str,
                          discovery_url: str, app_url: str, app_public_url: str, api_key: str,
                          webhook_secret: str) -> Editor:
    """A bridged app: no discovery; its URL is where the edge calls it (a tenant's is held to the
    egress policy now and by the edge at every call); its secrets are stored encrypted."""
    if discovery_url:
        raise InvalidArgument("discovery_url", f"a {kind} app has no discovery: give app_url")
    if not app_url:
        raise InvalidArgument("app_url", "required for a bridged app")
    validation.http_url(app_url, "app_url")
    validation.http_url(app_public_url, "app_public_url")
    for value, field in ((api_key, "api_key"), (webhook_secret, "webhook_secret")):
        if not value or len(value) > MAX_APP_SECRET or not value.isprintable():
            raise InvalidArgument(field, f"required, printable, at most {MAX_APP_SECRET} characters")
    if len(webhook_secret) < 16:
        raise InvalidArgument("webhook_secret", "at least 16 characters")
    operator_owned = principal.is_admin
    await _precheck_room(ctx, principal, scope)
    if not operator_owned:
        await ctx.egress.check_url_resolved(app_url)
    now = ctx.clock()
    async with ctx.transaction() as db:
        await _require_tenant_with_room(ctx, db, principal, scope)
        if await _get(db, scope, name) is not None:
            raise EditorAlreadyExists(name)
        row = Editor(tenant_id=scope, name=name, discovery_url="", proof_policy="off", kind=kind, app_url=app_url,
                     app_public_url=app_public_url if app_public_url != app_url else "", api_key=api_key,
                     webhook_secret=webhook_secret, create_time=now, operator_owned=operator_owned)
        await stores.add(db, row)
        await audit.record(db, time=now, actor=principal.actor, operation="CreateEditor", outcome="ok",
                           tenant_id=scope or None, detail=f"editor={name} kind={kind} url={app_url}")
    return row


async def get_editor(ctx: ServiceContext, principal: Principal, *, name: str, tenant_id: str) -> Editor:
    if tenant_id:
        require_tenant_visible(principal, tenant_id)
    async with ctx.sessions() as db:
        row = await _get(db, tenant_id, name)
    if row is None:
        raise EditorNotFound(name)
    return row


async def list_editors(ctx: ServiceContext, registry: EditorRegistry, principal: Principal, *,
                       tenant_id: str) -> Sequence[Editor]:
    """The editors, each with its discovery parsed in `registry` (registry.discovery answers from
    it): a document is read only when this process has not parsed it yet."""
    scope = tenant_id or (principal.tenant_id or "")
    if scope:
        require_tenant_visible(principal, scope)
    async with ctx.sessions() as db:
        query = (select(Editor).where(col(Editor.tenant_id).in_(["", scope]))
                 .options(defer(Editor.discovery_xml))  # type: ignore[arg-type]  # sqlmodel types it as str
                 .order_by(col(Editor.name)))
        rows = (await db.exec(query)).all()
        for row in rows:
            await parse_once(db, registry, row)
        return rows


async def get_managed_editor(ctx: ServiceContext, principal: Principal, *, name: str, tenant_id: str) -> Editor:
    """An editor to act on (refresh, diagnose): _scope's rule, as for create and delete, so a tenant
    key cannot make the control plane fetch the operator's pool discovery on demand."""
    return await get_editor(ctx, principal, name=name, tenant_id=_scope(principal, tenant_id))


def shows_internal_addresses(principal: Principal, row: Editor) -> bool:
    """A pool editor's discovery_url, app_url and discovery_error are the operator's internal
    addresses: a tenant key may use the editor but not learn where it runs."""
    return principal.is_admin or bool(row.tenant_id)


async def refresh_editor(ctx: ServiceContext, registry: EditorRegistry, principal: Principal, *, name: str,
                         tenant_id: str) -> Editor:
    row = await get_managed_editor(ctx, principal, name=name, tenant_id=tenant_id)
    assert row.id is not None
    if row.kind != "wopi":  # a bridged app has no discovery document
        return row
    with fetch_slot(ctx, principal):
        return await registry.refresh(row.id)


async def delete_editor(ctx: ServiceContext, principal: Principal, *, name: str, tenant_id: str,
                        force: bool = False) -> None:
    """Refused (SESSIONS_OPEN) while sessions opened with the editor are open, as DeleteStorage is;
    with `force` they are closed in the same transaction, each with its "closed" event. No session
    stays open without its editor: the editor's proof policy goes with the row (and check_proof_of
    refuses a session whose editor is gone, such as one created while this delete ran)."""
    from control.services import sessions  # it imports this module: not at the top

    scope = _scope(principal, tenant_id)
    now = ctx.clock()
    async with ctx.transaction() as db:
        row = await _get(db, scope, name)
        if row is None:
            raise EditorNotFound(name)
        # A pool editor's sessions are in many tenants: ordered by tenant, so that the tenants' event
        # chains are locked in one order by every such transaction.
        query = (select(Session).where(Session.editor_id == row.id, col(Session.close_time).is_(None),
                                       col(Session.expire_time) > now)
                 .order_by(col(Session.tenant_id), col(Session.id)).with_for_update())
        open_sessions = (await db.exec(query)).all()
        if open_sessions and not force:
            raise FailedPrecondition("SESSIONS_OPEN", f"editor {name!r} has {len(open_sessions)} open session(s); "
                                     "close them or delete with force", tenant_id=scope, editor=name)
        await sessions.close_open_sessions(db, ctx, open_sessions, actor=principal.actor, now=now,
                                           detail=f"editor {name} deleted")
        await db.delete(row)
        detail = f"editor={name}" + (f" force=True closed_sessions={len(open_sessions)}" if force else "")
        await audit.record(db, time=now, actor=principal.actor, operation="DeleteEditor", outcome="ok",
                           tenant_id=scope or None, detail=detail)


# -- sessions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EditorChoice:
    editor: Editor
    action_url: str
    favicon_url: str


async def choose(db: AsyncSession, registry: EditorRegistry, *, tenant: Tenant, name: str, path: str,
                 want_edit: bool, wopi_src: str, language: str) -> EditorChoice | None:
    """The editor and action for a file, by the tenant's mode; an explicit name must fit."""
    extension = posixpath.splitext(path)[1].lstrip(".").lower()
    if tenant.editor_mode == "disabled":
        if name:
            raise FailedPrecondition("NO_EDITOR", f"tenant {tenant.id!r} has editors disabled", extension=extension)
        return None
    scopes = [tenant.id] if tenant.editor_mode == "own" else [tenant.id, ""]
    # Without their discovery documents (up to 5 MiB each): only the candidates looked at load theirs.
    query = (select(Editor).where(col(Editor.tenant_id).in_(scopes))
             .options(defer(Editor.discovery_xml))  # type: ignore[arg-type]  # sqlmodel types it as str
             .order_by(col(Editor.tenant_id).desc(), col(Editor.name)))
    if name:
        query = query.where(Editor.name == name)
    candidates = (await db.exec(query)).all()
    if name and not candidates:
        raise EditorNotFound(name)
    for editor in candidates:
        if editor.kind != "wopi":
            # A bridged app opens only when asked for by name (--editor), for its extensions.
            if name and extension in BRIDGE_EXTENSIONS.get(editor.kind, ()):
                return EditorChoice(editor=editor, action_url=editor.app_public_url or editor.app_url,
                                    favicon_url="")
            continue
        await parse_once(db, registry, editor)
        parsed = registry.discovery(editor)
        if parsed is None:
            continue
        action = choose_action(parsed, extension, want_edit=want_edit)
        if action is None:
            continue
        url = action_url(action, wopi_src=wopi_src, language=language)
        favicon = getattr(parsed, "favicons", {}).get(action.app, "") if hasattr(parsed, "favicons") else ""
        return EditorChoice(editor=editor, action_url=url, favicon_url=favicon or "")
    if name:
        raise FailedPrecondition("NO_EDITOR", f"editor {name!r} cannot open .{extension} files", extension=extension)
    return None


# What each bridged app opens (BRIDGE-NOTES 5.9); edge/bridge/text_profile.is_html picks Etherpad's HTML.
BRIDGE_EXTENSIONS = {"etherpad": ("txt", "md", "html", "htm"), "codimd": ("md", "zmd"), "hocuspocus": ("md", "txt")}


# -- proof keys on WOPI requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class ProofHeaders:
    proof: str
    proof_old: str
    timestamp: str
    url: str


async def check_proof(db: AsyncSession, registry: EditorRegistry, *, session: Session, access_token: str,
                      headers: ProofHeaders, now_ms: int) -> None:
    """Raises ProofInvalid unless the request carries what the session's editor's policy asks for."""
    if session.editor_id is None:
        return
    check_proof_of(await read_editor(db, registry, session.editor_id), registry, session=session, access_token=access_token,
                   headers=headers, now_ms=now_ms)


class ProofKeys(Protocol):
    """What a proof check needs of the registry (EditorRegistry, or its thread-safe view)."""

    def discovery(self, editor: Editor, load: Callable[[], str] | None = None) -> Discovery | None: ...

    def refresh_soon(self, editor_id: int, why: str) -> None: ...


class LoopBoundKeys:
    """The registry as seen from another thread (control.db.writer): a refresh is scheduled on
    the registry's event loop, where its task belongs."""

    def __init__(self, registry: EditorRegistry, loop: asyncio.AbstractEventLoop) -> None:
        self._registry, self._loop = registry, loop

    def discovery(self, editor: Editor, load: Callable[[], str] | None = None) -> Discovery | None:
        return self._registry.discovery(editor, load)

    def refresh_soon(self, editor_id: int, why: str) -> None:
        self._loop.call_soon_threadsafe(self._registry.refresh_soon, editor_id, why)


def check_proof_of(editor: Editor | None, registry: ProofKeys, *, session: Session, access_token: str,
                   headers: ProofHeaders, now_ms: int, load_discovery: Callable[[], str] | None = None) -> None:
    """check_proof with the session's editor already read (None: its row is gone). A session that
    names an editor whose row is gone is refused: the policy it was opened under went with the row,
    and "no policy" must not read as "no check" (a deleted "required" editor's stolen token)."""
    if session.editor_id is None:
        return
    if editor is None:
        raise ProofInvalid("the session's editor was removed")
    if editor.proof_policy == "off":
        return
    parsed = registry.discovery(editor, load_discovery)
    keys_known = parsed is not None and parsed.proof_key is not None
    if not keys_known:
        if editor.proof_policy == "required":
            registry.refresh_soon(editor.id or 0, "no proof key known")
            raise ProofInvalid("the editor's discovery has no proof key (policy: required)")
        return
    # richdocuments' observation: a proof where discovery has none, or the reverse, means stale keys.
    assert parsed is not None
    result = verify_proof(access_token=access_token, url=headers.url, proof=headers.proof,
                          proof_old=headers.proof_old, timestamp=headers.timestamp, current=parsed.proof_key,
                          old=parsed.old_proof_key, now=dt.datetime.fromtimestamp(now_ms / 1000, tz=dt.timezone.utc))
    if not result.ok:
        registry.refresh_soon(editor.id or 0, f"proof check failed: {result.reason}")
        raise ProofInvalid(result.reason)
    if result.used_old_key:
        registry.refresh_soon(editor.id or 0, "proof matched only the old key")
