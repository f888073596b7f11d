"""The order test files are handed to the xdist workers (`make test`: one file per worker at a time).

pytest-xdist's own order (loadscope's reorder, turned off in the Makefile) is the largest file
first by number of tests. That put the files of few but long tests last: the container images'
build (2.5 min), Etherpad's resilience tests (its 60 s minimum session), and one worker then ran
them alone at the end while the other had nothing left. Here those files go first, in the order
below, and the rest keep xdist's order (more tests first).
"""

from __future__ import annotations

import pytest

# Longest first. Etherpad's files come after the first two, which leaves the npm installs started
# beside the tests (tools/node_apps.sh) a few minutes to finish on a fresh machine.
LONG_FILES = (
    "tests/images/test_container_images.py",
    "tests/faults/test_crash_consistency.py",
    "tests/bridge/test_etherpad_resilience.py",
    "tests/bridge/test_etherpad_bridge.py",
    "tests/bridge/test_etherpad_plugin.py",
    "tests/scale/test_replicas.py",
    "tests/faults/test_commit_after_deadline.py",
    "tests/e2e/test_wopi_validator.py",
    "tests/e2e/test_proof_keys.py",
    "tests/faults/test_s3_down_mid_keep.py",
)


def long_files_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """`items` with each file's tests together and in their own order, the files ordered as above."""
    by_file: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_file.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def rank(path: str) -> tuple[int, int]:
        return (LONG_FILES.index(path), 0) if path in LONG_FILES else (len(LONG_FILES), -len(by_file[path]))

    return [item for path in sorted(by_file, key=rank) for item in by_file[path]]
