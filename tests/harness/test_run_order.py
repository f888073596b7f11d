"""tests/support/run_order.py: the long files go first, and each name it gives is a file that exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.run_order import LONG_FILES, long_files_first

ROOT = Path(__file__).resolve().parents[2]


class _Item:
    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid


def _ids(nodeids: list[str]) -> list[str]:
    return [item.nodeid for item in long_files_first([_Item(n) for n in nodeids])]  # type: ignore[misc]


@pytest.mark.parametrize("path", LONG_FILES)
def test_every_long_file_named_exists(path: str) -> None:
    assert (ROOT / path).is_file(), f"{path} was moved or renamed: update tests/support/run_order.py"


def test_long_files_go_first_in_the_order_named() -> None:
    images, etherpad = LONG_FILES[0], LONG_FILES[2]
    given = ["tests/a.py::t1", f"{etherpad}::t1", "tests/b.py::t1", "tests/b.py::t2", f"{images}::t1"]
    assert _ids(given) == [f"{images}::t1", f"{etherpad}::t1", "tests/b.py::t1", "tests/b.py::t2", "tests/a.py::t1"]


def test_each_files_tests_stay_together_and_in_their_order() -> None:
    given = ["tests/a.py::t2", "tests/b.py::t1", "tests/a.py::t1", "tests/a.py::t3[x]"]
    assert _ids(given) == ["tests/a.py::t2", "tests/a.py::t1", "tests/a.py::t3[x]", "tests/b.py::t1"]
