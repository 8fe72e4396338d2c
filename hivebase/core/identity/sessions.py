"""Session tokens: issued at sign-in, stored as SHA-256 only, expiring, listable and revocable per user."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hivebase.core.access import require_caller
from hivebase.core.apps import App
from hivebase.core.clock import now
from hivebase.core.names import is_key
from hivebase.core.principal import Principal
from hivebase.core.secrets import hash_key, new_secret, random_id
from hivebase.errors import NotFound, PermissionDenied, Unauthorized

MAX_TOKEN = 200


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    user_id: str
    created_at: dt.datetime
    expires_at: dt.datetime
    via: str = ""

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "userId": self.user_id, "createdAt": self.created_at.isoformat(),
                "expiresAt": self.expires_at.isoformat(), "via": self.via}


async def issue(conn: AsyncConnection, app: App, user_id: str, via: str = "") -> tuple[Session, str]:
    """A new session and its token (the only time the token exists outside the caller)."""
    token = new_secret("")
    stamp = now()
    days = int(app.catalog.policy.settings.get("sessionDays", 7))
    session = Session(random_id(16), user_id, stamp, stamp + dt.timedelta(days=days), via[:32])
    await conn.execute(sa.insert(app.catalog.system("_hb_sessions")).values(
        id=session.id, token_hash=hash_key(token), user_id=user_id, via=session.via,
        created_at=session.created_at, expires_at=session.expires_at))
    return session, token


INVALID = "the session token is invalid or expired; log in again"


@functools.lru_cache(maxsize=64)
def _live(t: sa.Table) -> sa.Select[Any]:
    return sa.select(t).where(t.c.token_hash == sa.bindparam("credential_hash"),
                              t.c.expires_at > sa.bindparam("credential_now"))


def live(app: App, token: Any) -> tuple[sa.Select[Any], dict[str, Any]]:
    """The statement (and its parameters) selecting the live session of ``token``; a malformed token is
    Unauthorized at once."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
        raise Unauthorized(INVALID, reason="session")
    return _live(app.catalog.system("_hb_sessions")), {"credential_hash": hash_key(token), "credential_now": now()}


async def check(app: App, token: Any) -> Session:
    """The live session of ``token``; expired, revoked and unknown tokens fail alike."""
    async with app.db.read() as conn:
        row = (await conn.execute(*live(app, token))).mappings().first()
    if row is None:
        raise Unauthorized(INVALID, reason="session")
    return Session(row["id"], row["user_id"], row["created_at"], row["expires_at"], row["via"])


def _own_or_root(app: App, principal: Principal | None, user_id: Any) -> None:
    p = require_caller(app, principal)
    if not p.is_root and p.user_id != user_id:
        raise PermissionDenied("only the user themself or root may see or end these sessions", reason="owner")


async def list_for(app: App, principal: Principal, user_id: Any) -> list[dict[str, Any]]:
    """The user's live sessions, newest first (never their tokens)."""
    _own_or_root(app, principal, user_id)
    if not is_key(user_id):
        return []
    t = app.catalog.system("_hb_sessions")
    async with app.db.read() as conn:
        rows = (await conn.execute(sa.select(t).where(t.c.user_id == user_id, t.c.expires_at > now())
                                   .order_by(t.c.created_at.desc()))).mappings().all()
    return [Session(r["id"], r["user_id"], r["created_at"], r["expires_at"], r["via"]).describe() for r in rows]


async def revoke(app: App, principal: Principal, session_id: Any) -> None:
    """End one session at once; its token fails on the next call."""
    t = app.catalog.system("_hb_sessions")
    if not is_key(session_id):
        raise NotFound("no such session", reason="session")
    async with app.db.write() as conn:
        owner = await conn.scalar(sa.select(t.c.user_id).where(t.c.id == session_id))
        if owner is None:
            raise NotFound("no such session", reason="session")
        _own_or_root(app, principal, owner)
        await conn.execute(sa.delete(t).where(t.c.id == session_id))


async def revoke_all(conn: AsyncConnection, app: App, user_id: str, keep: str | None = None) -> None:
    """End every session of a user (but ``keep``), e.g. after a password change."""
    t = app.catalog.system("_hb_sessions")
    cond = t.c.user_id == user_id
    if keep is not None:
        cond = sa.and_(cond, t.c.id != keep)
    await conn.execute(sa.delete(t).where(cond))
