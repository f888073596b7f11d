"""Host-page launch codes: single use, short-lived, the only way a URL leads to a token."""

from __future__ import annotations

import posixpath
import secrets

from sqlmodel.ext.asyncio.session import AsyncSession

from control.db.models import Editor, LaunchCode, Session
from control.editors.discovery import action_url, choose_action
from control.services.editors import EditorRegistry
from control.services.keys import hash_secret

LAUNCH_CODE_TTL_MS = 5 * 60 * 1000


def issue(db: AsyncSession, *, session: Session, access_token: str, action: str, favicon_url: str,
          now: int) -> str:
    """Adds a code for `session` (posting `access_token` to `action`) and returns it."""
    code = secrets.token_urlsafe(24)
    db.add(LaunchCode(code_hash=hash_secret(code), session_id=session.id, access_token=access_token,
                      action_url=action, favicon_url=favicon_url,
                      expire_time=min(now + LAUNCH_CODE_TTL_MS, session.expire_time)))
    return code


def host_page_url(wopi_base_url: str, code: str) -> str:
    return f"{wopi_base_url.rstrip('/')}/host/{code}"


async def host_urls(db: AsyncSession, registry: EditorRegistry, *, session: Session, access_token: str,
                    wopi_base_url: str, wopi_src: str, now: int) -> tuple[str, str]:
    """HostViewUrl and HostEditUrl for a session whose editor is known ("" where it has no action)."""
    editor = await db.get(Editor, session.editor_id) if session.editor_id else None
    parsed = registry.discovery(editor) if editor else None
    if parsed is None:
        return "", ""
    extension = posixpath.splitext(session.path)[1].lstrip(".").lower()
    urls = []
    for want_edit in (False, True):
        action = choose_action(parsed, extension, want_edit=want_edit)
        if action is None or (want_edit and session.permission != "edit"):
            urls.append("")
            continue
        code = issue(db, session=session, access_token=access_token,
                     action=action_url(action, wopi_src=wopi_src), favicon_url=parsed.favicons.get(action.app, ""),
                     now=now)
        urls.append(host_page_url(wopi_base_url, code))
    return urls[0], urls[1]
