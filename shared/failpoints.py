"""Named crash points for fault-injection tests, off unless WOPI_PROXY_FAILPOINTS is set.

    WOPI_PROXY_FAILPOINTS="putfile.after_publish=kill,control.commit.before_commit=error"

Actions: `kill` (SIGKILL this process: no cleanup, no finally, like `kill -9`), `exit` (os._exit),
`error` (raises FailpointError, an ordinary failure such as a storage error). Names are listed in
POINTS; hit() of a name not in the variable costs one dict lookup. Tests use this to prove the
write protocol (control/services/write_intents.py) after a crash at every step.
"""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)

ENV = "WOPI_PROXY_FAILPOINTS"
ACTIONS = ("kill", "exit", "error")
# Every point some code hits, by process and step (a typo in the variable is an error, not a no-op).
POINTS = frozenset({
    # edge, in the order of a write
    "putfile.after_stage", "putfile.after_begin", "putfile.after_keep", "putfile.after_publish",
    "putfile.after_commit",
    "putrelative.after_begin", "putrelative.after_publish",
    "rename.after_begin", "rename.after_move",
    "delete.after_begin", "delete.after_move",
    # control plane
    "control.begin.before_commit", "control.commit.before_commit", "control.commit.after_commit",
    "restore.after_keep", "restore.after_publish",
})


class FailpointError(RuntimeError):
    pass


_parsed: dict[str, str] | None = None


def _points() -> dict[str, str]:
    global _parsed
    if _parsed is None:
        _parsed = parse(os.environ.get(ENV, ""))
    return _parsed


def parse(value: str) -> dict[str, str]:
    points: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, _, action = item.partition("=")
        if name not in POINTS or action not in ACTIONS:
            raise ValueError(f"{ENV}: {item!r} is not <point>=<{'|'.join(ACTIONS)}> with a known point")
        points[name] = action
    return points


def check_environment() -> None:
    """Called at start-up: a malformed WOPI_PROXY_FAILPOINTS stops the process at once."""
    if _points():
        log.warning("failpoints armed (testing only): %s", _points())


def hit(name: str) -> None:
    assert name in POINTS, name
    action = _points().get(name)
    if action is None:
        return
    log.warning("failpoint %s: %s", name, action)
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "exit":
        os._exit(137)
    raise FailpointError(f"failpoint {name}")
