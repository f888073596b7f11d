"""`.zmd` bundles through an app that holds pictures (BundleApp, i.e. CodiMD): on load the pictures go
into the app and the text into the document, links renamed where the app renamed a picture; on every
save (not only on close, unlike cs3) the pictures the text links to are fetched back from the app and
packed with it, so that the file always holds what the text shows."""

from __future__ import annotations

import logging

from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

from edge.bridge import zmd
from edge.bridge.apps.base import BundleApp

log = logging.getLogger(__name__)


def applies(app: object, document: edge_pb.BridgedDocumentRef) -> bool:
    """This document is a bundle and its app can hold pictures."""
    return zmd.is_bundle_name(document.file_name) and isinstance(app, BundleApp)


async def open_bundle(app: BundleApp, document: edge_pb.BridgedDocumentRef, data: bytes) -> str:
    """The bundle's text, its pictures uploaded into the app. NotABundle for what cannot be opened whole."""
    bundle = zmd.unpack(data)
    renamed = {old: new for old, new in (await app.import_pictures(document, bundle.pictures)).items() if old != new}
    if not renamed:
        return bundle.markdown
    return zmd.UPLOAD_LINK.sub(lambda m: m.group(0).replace(m.group(1), renamed.get(m.group(1), m.group(1))),
                               bundle.markdown)


async def save_bundle(app: BundleApp, document: edge_pb.BridgedDocumentRef, text: str) -> bytes:
    """The bundle's bytes for this text: the pictures it links to, fetched from the app now."""
    names = zmd.upload_names(text)
    pictures = await app.export_pictures(document, names) if names else {}
    missing = [name for name in names if name not in pictures]
    if missing:
        log.warning("bundle of document %s: %d linked picture(s) not in the app, left out", document.document_id,
                    len(missing))
    return zmd.pack(text, zmd.markdown_entry_name(document.file_name), pictures)
