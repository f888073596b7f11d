"""The parsed discovery documents a control-plane process keeps (control/editors/parsed_cache.py):
bounded by weight, one entry per editor, least recently used out first."""

from __future__ import annotations

from control.editors.discovery import Discovery
from control.editors.parsed_cache import ACTION_WEIGHT, ParsedDocuments, weight
from tests.control.editors.support import document, parsed

A, B, C = parsed("collabora"), parsed("onlyoffice"), parsed("validator")


def test_a_document_is_found_by_its_editor_and_fetch() -> None:
    cache = ParsedDocuments(budget_bytes=1000)
    cache.put("editor-1", "fetch-1", A, 10)
    assert cache.get("editor-1", "fetch-1") is A
    assert cache.get("editor-1", "fetch-2") is None
    assert cache.get("editor-2", "fetch-1") is None


def test_a_refresh_replaces_the_editors_earlier_fetch() -> None:
    cache = ParsedDocuments(budget_bytes=1000)
    cache.put("editor-1", "fetch-1", A, 400)
    cache.put("editor-1", "fetch-2", B, 400)
    assert cache.get("editor-1", "fetch-1") is None
    assert cache.get("editor-1", "fetch-2") is B
    assert (len(cache), cache.weight) == (1, 400)


def test_refreshing_ones_own_editors_never_pushes_out_another_editors_document() -> None:
    cache = ParsedDocuments(budget_bytes=1000)
    cache.put("theirs", "fetch", A, 400)
    for fetch in range(50):
        cache.put("mine", fetch, B, 500)
    assert cache.get("theirs", "fetch") is A


def test_past_the_budget_the_least_recently_used_go_first() -> None:
    cache = ParsedDocuments(budget_bytes=1000)
    cache.put("a", 1, A, 400)
    cache.put("b", 1, B, 400)
    assert cache.get("a", 1) is A  # now b is the least recently used
    cache.put("c", 1, C, 400)
    assert cache.get("b", 1) is None
    assert cache.get("a", 1) is A and cache.get("c", 1) is C
    assert cache.weight == 800


def test_a_document_heavier_than_the_whole_budget_is_not_kept() -> None:
    cache = ParsedDocuments(budget_bytes=1000)
    cache.put("a", 1, A, 400)
    cache.put("huge", 1, B, 1001)
    assert cache.get("huge", 1) is None
    assert cache.get("a", 1) is A


def test_an_editors_document_too_heavy_to_keep_drops_its_earlier_fetch_too() -> None:
    cache = ParsedDocuments(budget_bytes=1000)
    cache.put("a", 1, A, 400)
    cache.put("a", 2, B, 1001)
    assert cache.get("a", 1) is None
    assert (len(cache), cache.weight) == (0, 0)


def test_a_documents_weight_counts_its_bytes_and_its_actions() -> None:
    discovery: Discovery = A
    size = len(document("collabora"))
    assert weight(size, discovery) == size + ACTION_WEIGHT * len(discovery.actions)
