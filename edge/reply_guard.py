"""What a request takes for its reply is given back when the reply is over, not when its handler
returns: a download slot (edge.upload_slots, kind "downloads") is held while the file's bytes are
still on their way to the client, which may read slowly or not at all (edge.server closes a
connection whose client reads nothing for the body idle timeout; the slot comes back then)."""

from __future__ import annotations

from collections.abc import Callable

from quart import request

from shared.http_framing import AsgiApp, Receive, Scope, Send

_RELEASES = "wopi_proxy.reply_releases"


def on_reply_done(release: Callable[[], None]) -> None:
    """Calls `release` once the current request's reply is sent, given up, or never sent."""
    releases: list[Callable[[], None]] | None = request.scope.get(_RELEASES)  # type: ignore[assignment]
    if releases is None:  # served without release_after_reply: nothing would ever call it
        raise RuntimeError("on_reply_done needs the app behind release_after_reply")
    releases.append(release)


def release_after_reply(app: AsgiApp) -> AsgiApp:
    """`app` whose requests' releases (on_reply_done) run when their reply is over, however it ends."""

    async def releasing(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        releases: list[Callable[[], None]] = []
        scope[_RELEASES] = releases
        try:
            await app(scope, receive, send)
        finally:
            for release in releases:
                release()

    return releasing


__all__ = ["on_reply_done", "release_after_reply"]
