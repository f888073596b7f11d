"""Fixtures of the bridge tests: a real Etherpad 1.8.14 with our plugin, and headless pad users.

`etherpad` is one server per test session (so one per pytest-xdist worker); tests share it, so
each test uses its own pads and calls `etherpad.configure(...)` for its own edge. Skipped when Node
or npm is missing, unless WOPI_PROXY_REQUIRE_ETHERPAD=1 (then a missing tool or a failed install
fails the tests with the reason).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.etherpad import EtherpadServer, PadUser, etherpad_unavailable_reason, install_etherpad


def _unavailable(reason: str) -> None:
    if os.environ.get("WOPI_PROXY_REQUIRE_ETHERPAD") == "1":
        pytest.fail(f"Etherpad required (WOPI_PROXY_REQUIRE_ETHERPAD=1) but {reason}")
    pytest.skip(f"Etherpad: {reason}")


@pytest.fixture(scope="session")
def etherpad_install() -> Path:
    """The installed Etherpad folder (tools/etherpad.sh: installs once, links our plugin)."""
    reason = etherpad_unavailable_reason()
    if reason:
        _unavailable(reason)
    try:
        return install_etherpad()
    except Exception as exc:  # noqa: BLE001 - any install failure is reported the same way
        _unavailable(f"the install failed: {exc}")
        raise


@pytest.fixture(scope="session")
def etherpad(etherpad_install: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtherpadServer]:
    server = EtherpadServer(tmp_path_factory.mktemp("etherpad"), install_dir=etherpad_install).start()
    yield server
    server.close()


@pytest.fixture
def join_pad(etherpad: EtherpadServer) -> Iterator[Callable[..., PadUser]]:
    """join_pad(pad_id, session_id=None, name=...) -> a PadUser on `etherpad`, killed after the test."""
    users: list[PadUser] = []

    def join(pad_id: str, session_id: str | None = None, **kwargs: object) -> PadUser:
        user = PadUser.join(etherpad, pad_id, session_id=session_id, **kwargs)  # type: ignore[arg-type]
        users.append(user)
        return user

    yield join
    for user in users:
        user.close()
