"""One loop for the control plane's periodic jobs: a failed round is logged, never the end."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from control.db import availability

log = logging.getLogger(__name__)


async def run_periodically(name: str, interval_s: float, stop: asyncio.Event,
                           work: Callable[[], Awaitable[object]]) -> None:
    """Runs `work` now and then every `interval_s` until `stop` is set."""
    while not stop.is_set():
        try:
            await work()
        except Exception as error:  # a failed round must not end the job: the next may well succeed
            availability.log_failure(log, f"{name} round", error)
        try:
            await asyncio.wait_for(stop.wait(), interval_s)
        except TimeoutError:
            pass
