"""The name a refused save is kept under (edge.wopi.conflicts): readable, unique per save, and
always a name the storage takes."""

from __future__ import annotations

import datetime as dt

from edge.wopi.conflicts import conflict_copy_name
from shared.storage import check_file_name

NOW = dt.datetime(2026, 12, 1, 16, 10, 46, tzinfo=dt.UTC)


def test_a_conflict_copy_keeps_the_stem_and_the_extension() -> None:
    assert conflict_copy_name("q1.docx", "ann", NOW, tag="3f9a2c1b") == "q1 (conflict 2026-12-01 161046 ann 3f9a2c1b).docx"


def test_a_conflict_copy_of_a_long_non_ascii_name_fits_in_255_utf8_bytes() -> None:
    name = "é" * 120 + ".docx"  # 245 bytes: legal, but no room left for the suffix

    copy = conflict_copy_name(name, "ann", NOW, tag="3f9a2c1b")

    assert len(copy.encode()) <= 255 and copy.endswith(" 3f9a2c1b).docx")
    assert check_file_name(copy) == copy
