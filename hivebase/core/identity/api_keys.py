"""API keys (NocoBase style): bound to a user and one of that user's roles, optionally expiring.

The secret is shown once at creation and stored as SHA-256 only; revoking deletes the row, so the key
fails on its very next use. A key also stops working when its user loses the key's role.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from hivebase.core.access import require_caller
from hivebase.core.apps import App
from hivebase.core.clock import now
from hivebase.core.names import is_key
from hivebase.core.principal import Principal
from hivebase.core.roles import held
from hivebase.core.secrets import hash_key, new_secret, random_id
from hivebase.errors import InvalidValue, NotFound, PermissionDenied, Unauthorized

PREFIX = "hbk_"
MAX_KEY = 200
MAX_NAME = 100


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """What a presented key proves: this user, acting in this role."""

    id: str
    user_id: str
    role: str


def _describe(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "userId": row["user_id"], "role": row["role"],
            "createdAt": row["created_at"].isoformat(),
            "expiresAt": row["expires_at"].isoformat() if row["expires_at"] else None}


async def create(app: App, principal: Principal, user_id: Any, role: Any, *, name: Any = "",
                 expires_at: dt.datetime | None = None) -> tuple[dict[str, Any], str]:
    """A new key for ``user_id`` acting as ``role``: root may create any; a user only for themself."""
    p = require_caller(app, principal)
    if not p.is_root and p.user_id != user_id:
        raise PermissionDenied("only root may create API keys for another user", reason="owner")
    if not p.is_root and p.credential == "api_key":  # a leaked key must not breed keys that outlive it
        raise PermissionDenied("an API key cannot create API keys; sign in to make one", reason="credential")
    if not p.is_root and role != p.role:  # a key never grants more than the credential that made it
        raise PermissionDenied(f"you act as `{p.role}`: a key you make can only act as that role too",
                               reason="role", field="role")
    if not isinstance(name, str) or len(name) > MAX_NAME:
        raise InvalidValue(f"`name` must be a string of at most {MAX_NAME} characters", field="name", reason="name")
    if expires_at is not None and expires_at.tzinfo is None:
        raise InvalidValue("`expiresAt` needs a timezone", field="expiresAt", reason="expiry")
    if expires_at is not None and expires_at <= now():
        raise InvalidValue("`expiresAt` must be a moment in the future", field="expiresAt", reason="expiry")
    users = app.catalog.get("_User").table
    t = app.catalog.system("_hb_api_keys")
    secret = new_secret(PREFIX)
    async with app.db.write() as conn:
        if not is_key(user_id) or not await conn.scalar(
                sa.select(users.c.objectId).where(users.c.objectId == user_id)):
            raise NotFound(f"no user with objectId {str(user_id)[:64]!r}", table="_User", reason="user")
        roles, _ = await held(conn, app, user_id)
        if role not in roles:
            raise InvalidValue(f"the user does not hold role {str(role)[:64]!r}; they hold "
                               f"{', '.join(roles) or 'no role'}", field="role", reason="role_not_held")
        row = {"id": random_id(16), "name": name, "key_hash": hash_key(secret), "user_id": user_id, "role": role,
               "created_at": now(), "expires_at": expires_at}
        await conn.execute(sa.insert(t).values(**row))
    return _describe(row), secret


async def list_keys(app: App, principal: Principal, user_id: str | None = None) -> list[dict[str, Any]]:
    """Keys without their secrets: root sees all (or one user's), a user their own."""
    p = require_caller(app, principal)
    if not p.is_root:
        if p.user_id is None or (user_id is not None and user_id != p.user_id):
            raise PermissionDenied("only root may list another user's API keys", reason="owner")
        user_id = p.user_id
    t = app.catalog.system("_hb_api_keys")
    stmt = sa.select(t).order_by(t.c.created_at, t.c.id)
    if user_id is not None:
        stmt = stmt.where(t.c.user_id == user_id)
    async with app.db.read() as conn:
        return [_describe(r) for r in (await conn.execute(stmt)).mappings()]


async def revoke(app: App, principal: Principal, key_id: Any) -> None:
    p = require_caller(app, principal)
    t = app.catalog.system("_hb_api_keys")
    if not is_key(key_id):
        raise NotFound("no such API key", reason="key")
    async with app.db.write() as conn:
        owner = await conn.scalar(sa.select(t.c.user_id).where(t.c.id == key_id))
        if owner is None:
            raise NotFound("no such API key", reason="key")
        if not p.is_root and p.user_id != owner:
            raise PermissionDenied("only root may revoke another user's API keys", reason="owner")
        await conn.execute(sa.delete(t).where(t.c.id == key_id))


INVALID = "the API key is invalid, expired or revoked"


@functools.lru_cache(maxsize=64)
def _live(t: sa.Table, memberships: sa.Table) -> sa.Select[Any]:
    """Built once per table version: building a statement costs more CPU than running this one."""
    return (sa.select(t.c.id, t.c.user_id, t.c.role)
            .join(memberships, sa.and_(memberships.c.user_id == t.c.user_id, memberships.c.role == t.c.role))
            .where(t.c.key_hash == sa.bindparam("credential_hash"),
                   sa.or_(t.c.expires_at.is_(None), t.c.expires_at > sa.bindparam("credential_now"))))


def live(app: App, secret: Any) -> tuple[sa.Select[Any], dict[str, Any]]:
    """The statement (and its parameters) selecting the live key ``secret`` (id, user_id, role) whose user
    still holds its role; a malformed secret is Unauthorized before any statement."""
    if not isinstance(secret, str) or not secret.startswith(PREFIX) or len(secret) > MAX_KEY:
        raise Unauthorized(INVALID, reason="api_key")
    stmt = _live(app.catalog.system("_hb_api_keys"), app.catalog.system("_hb_user_roles"))
    return stmt, {"credential_hash": hash_key(secret), "credential_now": now()}


async def check(app: App, secret: Any) -> KeyGrant:
    """The grant of a live key whose user still holds its role; anything else is Unauthorized."""
    async with app.db.read() as conn:
        row = (await conn.execute(*live(app, secret))).first()
    if row is None:
        raise Unauthorized(INVALID, reason="api_key")
    return KeyGrant(row.id, row.user_id, row.role)


async def forget_user(conn: Any, app: App, user_id: str) -> None:
    t = app.catalog.system("_hb_api_keys")
    await conn.execute(sa.delete(t).where(t.c.user_id == user_id))
