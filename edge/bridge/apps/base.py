"""What the bridge asks of every app kind (Etherpad, CodiMD, Hocuspocus).

The worker and the host page speak only this protocol; a kind's module turns it into the app's own
API. Every method raises AppUnavailable for transient trouble (timeouts, 5xx, connection refused:
the work is retried with backoff, nothing is dropped) and AppRefused for lasting refusals (413, the
app lost the document). Neither ever carries an API key or a token in its message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb


class AppError(Exception):
    """A bridged app call failed; `detail` is safe to log and to show an operator."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class AppUnavailable(AppError):
    """Transient: retry later."""


class AppRefused(AppError):
    """Lasting: retrying the same request will not help."""


@dataclass(frozen=True)
class Loaded:
    """The app holds the file's text at `rev` (the baseline: saving it again is a no-op)."""

    rev: int
    read_only_id: str = ""  # Etherpad's "r.…" id, for view sessions
    # People were in the app's copy, so it was kept as it is (never overwritten) and may hold other
    # text than the file: the baseline is then the file's bytes, so that the copy's text is saved.
    kept: bool = False


@dataclass(frozen=True)
class Head:
    """The app's newest revision and who is in the document now."""

    rev: int
    present_authors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Content:
    """The document's text at `rev`, as the app normalised it, and who wrote the revisions after
    `since_rev` (app author ids; the control plane maps them to users)."""

    rev: int
    text: str
    authors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Entry:
    """How one user enters the document in the app: their author id, the app session that lets the
    browser in ("" when the app has none), and where the browser goes (pad id, read-only id, note id)."""

    author_id: str
    app_session_id: str
    target: str


class BridgedApp(Protocol):
    """One app instance (an editor row of a bridged kind)."""

    kind: str

    async def load(self, document: edge_pb.BridgedDocumentRef, text: str) -> Loaded:
        """Create the app's copy of the document holding `text` (or replace it when nobody is in it)."""
        ...

    async def head(self, document: edge_pb.BridgedDocumentRef) -> Head:
        ...

    async def read(self, document: edge_pb.BridgedDocumentRef, rev: int, since_rev: int) -> Content:
        """The text at exactly `rev` (never newer), and the authors of since_rev+1..rev."""
        ...

    async def enter(self, document: edge_pb.BridgedDocumentRef, participant: edge_pb.BridgeParticipant,
                    can_write: bool, valid_until_s: int) -> Entry:
        ...

    async def revoke(self, document: edge_pb.BridgedDocumentRef, app_session_id: str) -> None:
        """Let this user's app session in no more (their next change is refused)."""
        ...

    async def remove(self, document: edge_pb.BridgedDocumentRef) -> None:
        """Delete the app's copy. Only called after the final save with nobody present."""
        ...

    async def notify(self, document: edge_pb.BridgedDocumentRef, message: str) -> None:
        """Show a message to the people in the document (best effort)."""
        ...

    async def aclose(self) -> None:
        ...


@runtime_checkable
class BundleApp(Protocol):
    """An app that also opens `.zmd` bundles (CodiMD): their pictures are uploaded into the app, and
    fetched back from it on every save (edge/bridge/bundles.py does the zip side)."""

    async def import_pictures(self, document: edge_pb.BridgedDocumentRef,
                              pictures: dict[str, bytes]) -> dict[str, str]:
        """Upload the pictures; their names in the app (a name may change: HedgeDoc renames every
        upload, and a name taken by another picture gets a new one)."""
        ...

    async def export_pictures(self, document: edge_pb.BridgedDocumentRef, names: list[str]) -> dict[str, bytes]:
        """The app's pictures by these names; those it does not have are left out."""
        ...
