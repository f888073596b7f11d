"""Test doubles and names shared by the control plane's tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from control.services.sessions import OpenedSession

TENANT = "acme"
OTHER_TENANT = "globex"
STORAGE = "docs"
START_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z: any fixed instant will do

# open_session(**overrides): create_session with defaults for everything (see conftest.py).
OpenSession = Callable[..., Awaitable[OpenedSession]]


class FakeClock:
    """The services' clock (milliseconds since the epoch), moved only by the test."""

    def __init__(self, now_ms: int = START_MS) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, *, seconds: float = 0, ms: int = 0) -> None:
        self.now_ms += int(seconds * 1000) + ms
