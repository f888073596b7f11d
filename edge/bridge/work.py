"""One bridge work item (BRIDGE-NOTES.md §5.5-5.8): LOAD, SAVE, POLL, CLOSE, each turned into the
CompleteBridgeWork request that reports its outcome. Failures become outcomes here, once:
transient trouble (the app or the edge unreachable, 5xx, a timeout) is RETRY and nothing is lost;
a lasting refusal is FAILED with a detail safe to show an operator (never a token or content).
"""

from __future__ import annotations

import hashlib
import logging

from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

from edge.bridge import bundles, text_profile
from edge.bridge.apps.base import AppError, AppUnavailable, BridgedApp
from edge.bridge.services import BridgeServices
from edge.bridge.wopi_client import WopiRefused, WopiUnavailable

log = logging.getLogger(__name__)
Done = edge_pb.CompleteBridgeWorkRequest

CONFLICT_MESSAGE = ("Someone else changed the file while it was open here: your text was kept as a "
                    "conflict copy beside it. Editing goes on.")
TOO_LARGE_MESSAGE = "This document is now too large to be saved to the file; remove some text."


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _done(document: edge_pb.BridgedDocumentRef, lease_token: str, outcome: int, **fields: object) -> Done:
    return Done(document_id=document.document_id, lease_token=lease_token, outcome=outcome,  # type: ignore[arg-type]
                **fields)  # type: ignore[arg-type]


async def load(services: BridgeServices, document: edge_pb.BridgedDocumentRef, lease_token: str) -> Done:
    """GetFile with the document's bridge token, into the app. Raises text_profile.NotText (the
    caller tells the person), AppError, WopiUnavailable, WopiRefused."""
    app = services.apps.get(document.app)
    file = await services.wopi.get_file(document.file_id, document.bridge_token, kind=document.app.kind)
    if bundles.applies(app, document):  # .zmd: pictures into the app, the text into the document
        text, profile = await bundles.open_bundle(app, document, file.data), text_profile.TextProfile()  # type: ignore[arg-type]
    else:
        text, profile = text_profile.decode(file.data, html=text_profile.is_html(document.file_name))
    loaded = await app.load(document, text)
    # The baseline is the text as the app holds it (normalised: TABs, CRs, a final newline; an
    # HTML file as Etherpad exports it), so that saving it unchanged is recognised and never
    # rewrites the file.
    # A kept live copy (loaded.kept) is not the file: its baseline is the file, so it gets saved.
    baseline = await app.read(document, loaded.rev, loaded.rev)
    sha = _sha(file.data) if loaded.kept else _sha(await _file_bytes(app, document, baseline.text, profile))
    # A kept copy's head is not the file either: reported as the baseline, it would count as saved
    # (a save only looks past the baseline). One revision back, the next save or poll finds it new.
    rev = max(0, loaded.rev - 1) if loaded.kept else loaded.rev
    return _done(document, lease_token, edge_pb.BRIDGE_WORK_OUTCOME_LOADED, app_rev=rev,
                 sha256=sha, size=len(file.data),
                 file_version=file.version, text_profile=profile.to_json(), app_read_only_id=loaded.read_only_id)


async def _file_bytes(app: BridgedApp, document: edge_pb.BridgedDocumentRef, text: str,
                      profile: text_profile.TextProfile) -> bytes:
    """What the file holds for the app's text: a .zmd bundle with its pictures, or the text in its shape."""
    if bundles.applies(app, document):
        return await bundles.save_bundle(app, document, text)  # type: ignore[arg-type]
    return text_profile.encode(text, profile)


def _last_saved(document: edge_pb.BridgedDocumentRef) -> int:
    return max(document.saved_rev, document.baseline_rev)


def editors_of(document: edge_pb.BridgedDocumentRef, authors: list[str]) -> list[str]:
    """The user ids behind the app authors who wrote the saved revisions (each once, in order)."""
    by_author = {p.app_author_id: p.user_id for p in document.participants if p.app_author_id}
    editors: list[str] = []
    for author in authors:
        user = by_author.get(author)
        if user and user not in editors:
            editors.append(user)
    return editors


async def save(services: BridgeServices, document: edge_pb.BridgedDocumentRef, lease_token: str) -> Done:
    """§5.7: the app's head, its text at exactly that revision, the file's shape restored; written
    through PutFile under the document's constant lock only when the bytes differ from the last save."""
    app = services.apps.get(document.app)
    await revoke_revoked(app, document)
    head = await app.head(document)
    if head.rev <= _last_saved(document):
        return _done(document, lease_token, edge_pb.BRIDGE_WORK_OUTCOME_UNCHANGED, app_rev=head.rev)
    content = await app.read(document, head.rev, _last_saved(document))
    data = await _file_bytes(app, document, content.text, text_profile.TextProfile.from_json(document.text_profile))
    sha = _sha(data)
    if sha == document.saved_sha256:
        return _done(document, lease_token, edge_pb.BRIDGE_WORK_OUTCOME_UNCHANGED, app_rev=head.rev, sha256=sha,
                     size=len(data))
    editors = editors_of(document, content.authors)
    try:
        put = await services.wopi.put_file(document.file_id, document.bridge_token, data, kind=document.app.kind,
                                           lock_id=document.lock_id, editors=editors)
    except WopiRefused as refused:
        if refused.status == 413:
            await app.notify(document, TOO_LARGE_MESSAGE)
        raise
    if not put.saved:
        await app.notify(document, CONFLICT_MESSAGE)
        return _done(document, lease_token, edge_pb.BRIDGE_WORK_OUTCOME_CONFLICT, app_rev=head.rev, sha256=sha,
                     size=len(data), editors=editors, conflict_path=put.conflict_path, detail=put.detail[:300])
    return _done(document, lease_token, edge_pb.BRIDGE_WORK_OUTCOME_SAVED, app_rev=head.rev, sha256=sha,
                 size=len(data), file_version=put.version, editors=editors)


async def revoke_revoked(app: BridgedApp, document: edge_pb.BridgedDocumentRef) -> None:
    """Closed or expired sessions lose their app session: their next change is refused."""
    for participant in document.participants:
        if participant.revoked and participant.app_session_id:
            await app.revoke(document, participant.app_session_id)


async def poll(services: BridgeServices, document: edge_pb.BridgedDocumentRef, lease_token: str) -> Done:
    app = services.apps.get(document.app)
    await revoke_revoked(app, document)
    head = await app.head(document)
    return _done(document, lease_token, edge_pb.BRIDGE_WORK_OUTCOME_POLLED, app_rev=head.rev,
                 present_authors=head.present_authors)


async def close(services: BridgeServices, document: edge_pb.BridgedDocumentRef, lease_token: str) -> Done:
    """Removes the app's copy, unless someone is back in it or wrote after the last save: then the
    head and presence are reported instead (POLLED), and the control plane saves and waits again.
    A live pad is never deleted."""
    app = services.apps.get(document.app)
    await revoke_revoked(app, document)
    if not document.app.timing.keep_app_copy:
        head = await app.head(document)
        if head.present_authors or head.rev > _last_saved(document):
            return _done(document, lease_token, edge_pb.BRIDGE_WORK_OUTCOME_POLLED, app_rev=head.rev,
                         present_authors=head.present_authors, detail="in use again: not removed")
        await app.remove(document)
    return _done(document, lease_token, edge_pb.BRIDGE_WORK_OUTCOME_CLOSED)


STEPS = {
    edge_pb.BRIDGE_WORK_KIND_LOAD: load,
    edge_pb.BRIDGE_WORK_KIND_SAVE: save,
    edge_pb.BRIDGE_WORK_KIND_POLL: poll,
    edge_pb.BRIDGE_WORK_KIND_CLOSE: close,
}


def failure(document: edge_pb.BridgedDocumentRef, lease_token: str, error: Exception) -> Done:
    """The outcome of an item that raised: RETRY for what may pass, FAILED for what will not."""
    retry, failed = edge_pb.BRIDGE_WORK_OUTCOME_RETRY, edge_pb.BRIDGE_WORK_OUTCOME_FAILED
    if isinstance(error, AppUnavailable):
        return _done(document, lease_token, retry, detail=error.detail[:300])
    if isinstance(error, AppError):
        return _done(document, lease_token, failed, detail=error.detail[:300])
    if isinstance(error, WopiUnavailable | TimeoutError):
        return _done(document, lease_token, retry, detail=(str(error) or "timed out")[:300])
    if isinstance(error, WopiRefused):
        # 401: the bridge token expired under a slow item; the next claim mints a new one.
        outcome = retry if error.status in (401, 408) else failed
        return _done(document, lease_token, outcome, detail=f"WOPI {error}"[:300])
    if isinstance(error, text_profile.NotText):
        return _done(document, lease_token, failed, detail="the file is not UTF-8 text")
    log.exception("bridge work on document %s failed unexpectedly", document.document_id, exc_info=error)
    return _done(document, lease_token, retry, detail=f"internal error ({type(error).__name__})")


async def perform(services: BridgeServices, kind: int, document: edge_pb.BridgedDocumentRef,
                  lease_token: str) -> Done:
    """The item's outcome; never raises but for cancellation."""
    step = STEPS.get(kind)  # type: ignore[call-overload]
    if step is None:
        return _done(document, lease_token, edge_pb.BRIDGE_WORK_OUTCOME_RETRY, detail=f"unknown work kind {kind}")
    try:
        return await step(services, document, lease_token)
    except Exception as error:  # noqa: BLE001 - every failure is an outcome (see failure())
        return failure(document, lease_token, error)
