"""OAuth access and refresh tokens: issued per approval (a *family*), stored as SHA-256 only, rotated on
every refresh, and revoked a whole family at a time.

A refresh token that was already rotated and comes back is a stolen copy (or a stolen original): the
family dies (OAuth 2.1 §4.3.1). ``check_access`` runs on every MCP request, so it is one statement on the
unique token hash, joined to the client and the user, which must both still exist.
"""

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
from hivebase.core.model import USER_TABLE
from hivebase.core.names import is_key
from hivebase.core.principal import Principal
from hivebase.core.secrets import hash_key, new_secret, random_id
from hivebase.errors import InvalidValue, NotFound, PermissionDenied, Unauthorized, type_of

ACCESS, REFRESH, CODE = "hbo_", "hbr_", "hbc_"
MAX_TOKEN = 200
PURGE_AFTER = dt.timedelta(days=1)  # expired rows stay a day, so a late replay is still told apart
MAX_LIST = 1000


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """What a live access token proves: this user, through this client, with these scopes."""

    token_id: str
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    resource: str | None
    expires_at: int  # seconds since 1970


def plain_id(value: Any) -> bool:
    """Whether ``value`` could be one of our ids (client, user, token): printable ASCII, at most 64 characters.
    Anything else matches no row and never reaches the database (which could not even encode some of it)."""
    return is_key(value) and value.isascii() and value.isprintable()


def plausible(token: Any, prefix: str) -> bool:
    """Whether ``token`` could be one of ours of this kind; anything else is unknown without a query."""
    return isinstance(token, str) and token.startswith(prefix) and len(token) <= MAX_TOKEN


def invalid_grant(what: str) -> Unauthorized:
    return Unauthorized(f"the {what} is invalid, expired, revoked or already used", reason="invalid_grant")


async def revoke_family(conn: AsyncConnection, app: App, family: str) -> None:
    t = app.catalog.system("_hb_oauth_tokens")
    await conn.execute(sa.update(t).where(t.c.family == family, t.c.revoked_at.is_(None)).values(revoked_at=now()))


async def purge(conn: AsyncConnection, app: App) -> None:
    """Forget rows long expired (one indexed range delete per table), so the tables do not grow forever."""
    cutoff = now() - PURGE_AFTER
    for name in ("_hb_oauth_tokens", "_hb_oauth_codes"):
        t = app.catalog.system(name)
        await conn.execute(sa.delete(t).where(t.c.expires_at < cutoff))


async def issue(conn: AsyncConnection, app: App, *, family: str, client_id: str, user_id: str, scopes: list[str],
                resource: str | None, refresh_scopes: list[str] | None) -> dict[str, Any]:
    """A new access token (and a refresh token when ``refresh_scopes`` is given), as the token endpoint
    answers them; the only time these secrets exist outside the caller."""
    settings = app.catalog.policy.settings
    seconds = int(settings.get("oauthAccessSeconds", 3600))
    stamp = now()
    t = app.catalog.system("_hb_oauth_tokens")
    access = new_secret(ACCESS)
    rows = [dict(id=random_id(16), token_hash=hash_key(access), kind="access", family=family, client_id=client_id,
                 user_id=user_id, scopes=scopes, resource=resource, created_at=stamp,
                 expires_at=stamp + dt.timedelta(seconds=seconds))]
    answer: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": seconds,
                              "scope": " ".join(scopes)}
    if refresh_scopes is not None:
        refresh = new_secret(REFRESH)
        days = int(settings.get("oauthRefreshDays", 30))
        rows.append(dict(id=random_id(16), token_hash=hash_key(refresh), kind="refresh", family=family,
                         client_id=client_id, user_id=user_id, scopes=refresh_scopes, resource=resource,
                         created_at=stamp, expires_at=stamp + dt.timedelta(days=days)))
        answer["refresh_token"] = refresh
    await conn.execute(sa.insert(t), rows)
    await purge(conn, app)
    return answer


def _live_statement(app: App, token: str, kind: str) -> sa.Select[Any]:
    """The token's row, only while its client and its user still exist."""
    t, clients = app.catalog.system("_hb_oauth_tokens"), app.catalog.system("_hb_oauth_clients")
    users = app.catalog.get(USER_TABLE).table
    return (sa.select(t, clients.c.meta)
            .join(clients, clients.c.client_id == t.c.client_id)
            .join(users, users.c.objectId == t.c.user_id)
            .where(t.c.token_hash == hash_key(token), t.c.kind == kind))


ACCESS_INVALID = "the OAuth access token is invalid, expired or revoked"


@functools.lru_cache(maxsize=64)
def _live_access(t: sa.Table, clients: sa.Table, users: sa.Table) -> sa.Select[Any]:
    """Built once per table version, with the token's hash and the time as parameters."""
    return (sa.select(t, clients.c.meta)
            .join(clients, clients.c.client_id == t.c.client_id)
            .join(users, users.c.objectId == t.c.user_id)
            .where(t.c.token_hash == sa.bindparam("credential_hash"), t.c.kind == "access",
                   t.c.revoked_at.is_(None), t.c.expires_at > sa.bindparam("credential_now")))


def live_access(app: App, token: Any) -> tuple[sa.Select[Any], dict[str, Any]]:
    """The statement (and parameters) selecting a live access token's row, only while its client and user
    exist; a malformed token is Unauthorized before any statement. The catalog must hold ``_User``."""
    if not plausible(token, ACCESS):
        raise Unauthorized(ACCESS_INVALID, reason="oauth_token")
    stmt = _live_access(app.catalog.system("_hb_oauth_tokens"), app.catalog.system("_hb_oauth_clients"),
                        app.catalog.get(USER_TABLE).table)
    return stmt, {"credential_hash": hash_key(token), "credential_now": now()}


def grant_of(row: Any) -> AccessGrant:
    return AccessGrant(row["id"], row["client_id"], row["user_id"], tuple(row["scopes"]), row["resource"],
                       int(row["expires_at"].timestamp()))


async def check_access(app: App, token: Any) -> AccessGrant:
    """The grant of a live access token; unknown, expired, revoked, orphaned tokens fail alike."""
    await app.catalog.table(USER_TABLE)
    async with app.db.read() as conn:
        row = (await conn.execute(*live_access(app, token))).mappings().first()
    if row is None:
        raise Unauthorized(ACCESS_INVALID, reason="oauth_token")
    return grant_of(row)


async def _refresh_row(conn: AsyncConnection, app: App, client_id: Any, token: Any) -> tuple[Any, bool]:
    """(the refresh token's row or None, whether it was a reuse that just revoked its family)."""
    if not plausible(token, REFRESH) or not plain_id(client_id):
        return None, False
    row = (await conn.execute(_live_statement(app, token, "refresh"))).mappings().first()
    if row is None or row["client_id"] != client_id or row["revoked_at"] is not None:
        return None, False
    if row["rotated_at"] is not None:
        await revoke_family(conn, app, row["family"])
        return None, True
    return row, False


async def load_refresh(app: App, client_id: Any, token: Any) -> dict[str, Any] | None:
    """The refresh token as the SDK's ``RefreshToken`` fields, or None; a rotated one coming back revokes its
    whole family first."""
    await app.catalog.table(USER_TABLE)
    async with app.db.write() as conn:
        row, _ = await _refresh_row(conn, app, client_id, token)
    if row is None:
        return None
    return {"token": token, "client_id": row["client_id"], "scopes": list(row["scopes"]),
            "expires_at": int(row["expires_at"].timestamp()), "resource": row["resource"], "subject": row["user_id"]}


def _requested(scopes: Any) -> list[str]:
    if not isinstance(scopes, list | tuple) or len(scopes) > 10 or not all(isinstance(s, str) for s in scopes):
        raise InvalidValue(f"scopes must be a list of strings, received {type_of(scopes)}", field="scope",
                           reason="invalid_scope")
    return list(dict.fromkeys(scopes))


async def exchange_refresh(app: App, client_id: Any, token: Any, scopes: Any) -> dict[str, Any]:
    """New access and refresh tokens for a live refresh token, which dies; ``scopes`` (empty: as granted)
    may narrow the new access token, never widen it. A reused refresh token revokes its family."""
    wanted = _requested(scopes)
    await app.catalog.table(USER_TABLE)
    t = app.catalog.system("_hb_oauth_tokens")
    async with app.db.write() as conn:
        row, reused = await _refresh_row(conn, app, client_id, token)
        if row is not None:
            granted = list(row["scopes"])
            extra = [s for s in wanted if s not in granted]
            if extra:
                raise InvalidValue(f"scope {extra[0][:40]!r} was not granted to this refresh token; ask for "
                                   f"{' '.join(granted)} or fewer", field="scope", reason="invalid_scope")
            if row["expires_at"] > now():
                won = await conn.execute(sa.update(t).where(t.c.id == row["id"], t.c.rotated_at.is_(None),
                                                            t.c.revoked_at.is_(None)).values(rotated_at=now()))
                if won.rowcount == 1:
                    return await issue(conn, app, family=row["family"], client_id=row["client_id"],
                                       user_id=row["user_id"], scopes=wanted or granted, resource=row["resource"],
                                       refresh_scopes=granted)
                await revoke_family(conn, app, row["family"])  # a concurrent use of the same token
                reused = True
    raise invalid_grant("refresh token" + (" (reused: every token of this authorization is now revoked)"
                                           if reused else ""))


async def revoke(app: App, token: Any, client_id: Any = None) -> None:
    """RFC 7009: an access or refresh token revokes its whole family; unknown tokens are fine. With
    ``client_id``, only a token of that client is revoked."""
    if not (plausible(token, ACCESS) or plausible(token, REFRESH)):
        return
    t = app.catalog.system("_hb_oauth_tokens")
    async with app.db.write() as conn:
        row = (await conn.execute(sa.select(t.c.family, t.c.client_id)
                                  .where(t.c.token_hash == hash_key(token)))).first()
        if row is not None and (client_id is None or row.client_id == client_id):
            await revoke_family(conn, app, row.family)


def _state(row: Any, stamp: dt.datetime) -> str:
    if row["revoked_at"] is not None:
        return "revoked"
    return "active" if row["expires_at"] > stamp else "expired"


async def list_tokens(app: App, principal: Principal, user_id: Any = None) -> list[dict[str, Any]]:
    """Unexpired tokens without their secrets, newest first: root sees all (or one user's), a user their own.
    Rotated refresh tokens are kept only to detect reuse and are not listed."""
    p = require_caller(app, principal)
    if not p.is_root:
        if p.user_id is None or (user_id is not None and user_id != p.user_id):
            raise PermissionDenied("only root may list another user's OAuth tokens", reason="owner")
        user_id = p.user_id
    t, clients = app.catalog.system("_hb_oauth_tokens"), app.catalog.system("_hb_oauth_clients")
    stamp = now()
    stmt = (sa.select(t, clients.c.name).outerjoin(clients, clients.c.client_id == t.c.client_id)
            .where(t.c.expires_at > stamp, t.c.rotated_at.is_(None))
            .order_by(t.c.created_at.desc(), t.c.id).limit(MAX_LIST))
    if user_id is not None:
        if not plain_id(user_id):
            return []
        stmt = stmt.where(t.c.user_id == user_id)
    async with app.db.read() as conn:
        rows = (await conn.execute(stmt)).mappings().all()
    return [{"id": r["id"], "kind": r["kind"], "clientId": r["client_id"], "clientName": r["name"] or "",
             "userId": r["user_id"], "scopes": list(r["scopes"]), "resource": r["resource"],
             "createdAt": r["created_at"].isoformat(), "expiresAt": r["expires_at"].isoformat(),
             "revoked": r["revoked_at"] is not None, "state": _state(r, stamp)} for r in rows]


async def revoke_token_id(app: App, principal: Principal, token_id: Any) -> None:
    """Revoke a token by its listed id (with every token of its family): root, or the token's own user."""
    p = require_caller(app, principal)
    t = app.catalog.system("_hb_oauth_tokens")
    if not plain_id(token_id):
        raise NotFound("no such OAuth token", reason="oauth_token", field="id")
    async with app.db.write() as conn:
        row = (await conn.execute(sa.select(t.c.user_id, t.c.family).where(t.c.id == token_id))).first()
        if row is None:
            raise NotFound("no such OAuth token", reason="oauth_token", field="id")
        if not p.is_root and p.user_id != row.user_id:
            raise PermissionDenied("only root may revoke another user's OAuth tokens", reason="owner")
        await revoke_family(conn, app, row.family)


async def revoke_user(conn: AsyncConnection, app: App, user_id: str) -> None:
    """End every OAuth grant of a user in this app: their unexchanged codes go and every access and refresh
    token dies. Runs in the caller's transaction (a password change or reset, a deletion), so nothing that
    the old password approved outlives it."""
    codes, t = app.catalog.system("_hb_oauth_codes"), app.catalog.system("_hb_oauth_tokens")
    await conn.execute(sa.delete(codes).where(codes.c.user_id == user_id))
    await conn.execute(sa.update(t).where(t.c.user_id == user_id, t.c.revoked_at.is_(None)).values(revoked_at=now()))


async def forget_user(conn: AsyncConnection, app: App, user_id: str) -> None:
    """A deleted user's grants end (``check_access`` already refuses their tokens without this)."""
    await revoke_user(conn, app, user_id)
