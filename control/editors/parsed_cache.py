"""The parsed discovery documents a control-plane process keeps, bounded by what they weigh.

Why a weight and not a count: a tenant's editor may serve a document of up to 5 MiB
(control/editors/fetch.py) with up to MAX_ELEMENTS actions (discovery.py), so 256 parsed
documents could hold over a GiB, while real documents weigh 10-110 KiB. Each entry weighs its
document's size plus a share per action. Why one entry per editor: a refresh makes a new key
(a new fetch time), and the old one would otherwise stay until evicted, so that a tenant
refreshing its editors could fill the cache with its own stale entries and push every other
tenant's documents out. Past the budget the least recently used entries go first; a document that
alone weighs more than the budget is parsed for its caller and not kept.

Used from the event loop and from the writer thread (proof checks), hence the lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from control.editors.discovery import Discovery

ACTION_WEIGHT = 600  # bytes an Action holds beyond its strings (object, frozenset, tuple slot)
DEFAULT_BUDGET_BYTES = 64 * 1024 * 1024


def weight(document_size: int, parsed: Discovery) -> int:
    return document_size + ACTION_WEIGHT * len(parsed.actions)


class ParsedDocuments:
    """Parsed documents by (editor, fetch): `get` and `put` take the editor's identity and the
    fetch's; a put for an editor replaces its earlier fetch."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self._budget = budget_bytes
        self._entries: OrderedDict[Hashable, tuple[Hashable, Discovery, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    @property
    def weight(self) -> int:
        return self._weight

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, editor: Hashable, fetch: Hashable) -> Discovery | None:
        with self._lock:
            entry = self._entries.get(editor)
            if entry is None or entry[0] != fetch:
                return None
            self._entries.move_to_end(editor)
            return entry[1]

    def put(self, editor: Hashable, fetch: Hashable, parsed: Discovery, weight: int) -> None:
        with self._lock:
            old = self._entries.pop(editor, None)
            if old is not None:
                self._weight -= old[2]
            if weight > self._budget:
                return
            self._entries[editor] = (fetch, parsed, weight)
            self._weight += weight
            while self._weight > self._budget:
                _, (_, _, gone) = self._entries.popitem(last=False)
                self._weight -= gone
