"""The authorization-code grant: a pending request while the user reads the consent page, then a
single-use code bound to client, user, scopes, PKCE challenge, redirect URI and resource.

The SDK checks PKCE, the redirect URI and the code's expiry itself before it exchanges a code; we check
what we can again (the client, expiry, single use) and own what only storage can: a code used twice
revokes every token issued from it (RFC 6749 §4.1.2), even when the two uses race.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hivebase.core.apps import App
from hivebase.core.clock import now
from hivebase.core.model import USER_TABLE
from hivebase.core.oauth.clients import SCOPES, check_uri, clean, client_row, parse_scope
from hivebase.core.oauth.tokens import CODE, invalid_grant, issue, plain_id, plausible, revoke_family
from hivebase.core.secrets import hash_key, new_secret, random_id
from hivebase.errors import InvalidValue, LimitExceeded, NotFound, type_of

REQUEST_TTL = dt.timedelta(minutes=10)
CODE_TTL = dt.timedelta(minutes=5)
CHALLENGE = re.compile(r"[A-Za-z0-9_\-]{43}")  # BASE64URL(SHA-256(verifier)) without padding
PARAMS = ("scopes", "code_challenge", "redirect_uri", "redirect_uri_provided_explicitly", "state", "resource")
MAX_STATE = 2048
MAX_PENDING = 10_000
REQUEST_PREFIX = "hbq_"


def _bad(message: str, field: str, reason: str = "invalid_request") -> InvalidValue:
    return InvalidValue(message, field=field, reason=reason)


def _check_params(client: dict[str, Any], params: Any) -> dict[str, Any]:
    """The authorization request's parameters, checked against the client's registration."""
    if not isinstance(params, dict):
        raise _bad(f"authorization parameters must be an object, received {type_of(params)}", "params")
    unknown = [k for k in params if k not in PARAMS]
    if unknown:
        raise _bad(f"unknown authorization parameter {str(unknown[0])[:40]!r}; they are {', '.join(PARAMS)}",
                   str(unknown[0])[:40])
    challenge = params.get("code_challenge")
    if not isinstance(challenge, str) or not CHALLENGE.fullmatch(challenge):
        raise _bad("`code_challenge` must be the 43-character S256 PKCE challenge", "code_challenge")
    uri = check_uri(params.get("redirect_uri"), "redirect_uri")
    if uri not in (client.get("redirect_uris") or []):
        raise _bad("`redirect_uri` is not one of the client's registered redirect URIs", "redirect_uri",
                   "invalid_redirect_uri")
    explicit = params.get("redirect_uri_provided_explicitly", True)
    if not isinstance(explicit, bool):
        raise _bad("`redirect_uri_provided_explicitly` must be true or false", "redirect_uri_provided_explicitly")
    state = params.get("state")
    if state is not None and (not isinstance(state, str) or len(state) > MAX_STATE or not clean(state)):
        raise _bad(f"`state` must be a string of at most {MAX_STATE} characters without NUL", "state")
    resource = params.get("resource")
    if resource is not None:
        check_uri(resource, "resource", "invalid_target")
    allowed = parse_scope(client.get("scope")) or SCOPES
    scopes = params.get("scopes")
    if scopes is None:
        scopes = list(allowed)
    elif not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise _bad(f"`scopes` must be a list of strings, received {type_of(scopes)}", "scopes", "invalid_scope")
    scopes = list(parse_scope(" ".join(scopes), "scopes") or ())
    if not scopes or any(s not in allowed for s in scopes):
        raise _bad(f"the client may ask for {' '.join(allowed)} only", "scopes", "invalid_scope")
    return {"scopes": scopes, "code_challenge": challenge, "redirect_uri": uri, "redirect_uri_provided_explicitly":
            explicit, "state": state, "resource": resource}


async def start_authorization(app: App, client_id: Any, params: Any) -> str:
    """Remember an authorization request for 10 minutes while the user decides; its unguessable id."""
    async with app.db.read() as conn:
        client = await client_row(conn, app, client_id)
    if client is None:
        raise NotFound("no such OAuth client; register it first", reason="oauth_client", field="client_id")
    checked = _check_params(client, params)
    request_id = new_secret(REQUEST_PREFIX)
    t = app.catalog.system("_hb_oauth_requests")
    stamp = now()
    async with app.db.write() as conn:
        await conn.execute(sa.delete(t).where(t.c.expires_at < stamp))
        if (await conn.scalar(sa.select(sa.func.count()).select_from(t)) or 0) >= MAX_PENDING:
            raise LimitExceeded("too many authorizations are waiting for consent; try again in a few minutes",
                                reason="rate_limit")
        await conn.execute(sa.insert(t).values(id_hash=hash_key(request_id), client_id=client_id, params=checked,
                                               created_at=stamp, expires_at=stamp + REQUEST_TTL))
    return request_id


async def _request(conn: AsyncConnection, app: App, request_id: Any) -> Any:
    if not plausible(request_id, REQUEST_PREFIX):
        return None
    t, clients = app.catalog.system("_hb_oauth_requests"), app.catalog.system("_hb_oauth_clients")
    return (await conn.execute(sa.select(t, clients.c.name, clients.c.meta)
                               .join(clients, clients.c.client_id == t.c.client_id)
                               .where(t.c.id_hash == hash_key(request_id), t.c.expires_at > now()))).mappings().first()


async def pending_authorization(app: App, request_id: Any) -> dict[str, Any] | None:
    """What the consent page shows: who asks, for what, and where the answer goes (None: unknown or expired)."""
    async with app.db.read() as conn:
        row = await _request(conn, app, request_id)
    if row is None:
        return None
    p = row["params"]
    return {"client_id": row["client_id"], "client_name": row["name"] or "", "client_uri": row["meta"].get(
        "client_uri"), "redirect_uri": p["redirect_uri"], "scopes": list(p["scopes"]), "state": p["state"],
        "resource": p["resource"], "expires_at": row["expires_at"].timestamp()}


async def _take(conn: AsyncConnection, app: App, request_id: Any) -> Any:
    """The live request, deleted so that it can be answered once only."""
    row = await _request(conn, app, request_id)
    t = app.catalog.system("_hb_oauth_requests")
    if row is None or (await conn.execute(sa.delete(t).where(t.c.id_hash == row["id_hash"]))).rowcount != 1:
        raise NotFound("this authorization request is unknown, expired or already answered; start again from "
                       "your client", reason="oauth_request")
    return row


async def approve(app: App, request_id: Any, user_id: Any) -> dict[str, Any]:
    """The user consents: a code (valid 5 minutes, single use) for the redirect back to the client."""
    await app.catalog.table(USER_TABLE)
    users = app.catalog.get(USER_TABLE).table
    codes = app.catalog.system("_hb_oauth_codes")
    code = new_secret(CODE)
    async with app.db.write() as conn:
        if not plain_id(user_id) or await conn.scalar(sa.select(users.c.objectId)
                                                    .where(users.c.objectId == user_id)) is None:
            raise NotFound("no such user", table=USER_TABLE, reason="user")
        row = await _take(conn, app, request_id)
        p, stamp = row["params"], now()
        await conn.execute(sa.insert(codes).values(
            code_hash=hash_key(code), family=random_id(16), client_id=row["client_id"], user_id=user_id,
            scopes=p["scopes"], code_challenge=p["code_challenge"], redirect_uri=p["redirect_uri"],
            redirect_explicit=p["redirect_uri_provided_explicitly"], resource=p["resource"], created_at=stamp,
            expires_at=stamp + CODE_TTL))
    return {"code": code, "redirect_uri": p["redirect_uri"], "state": p["state"]}


async def deny(app: App, request_id: Any) -> dict[str, Any]:
    """The user refuses: the request is forgotten; where to send ``error=access_denied``."""
    async with app.db.write() as conn:
        p = (await _take(conn, app, request_id))["params"]
    return {"redirect_uri": p["redirect_uri"], "state": p["state"]}


async def _code_row(conn: AsyncConnection, app: App, client_id: Any, code: Any) -> tuple[Any, bool]:
    """(the unused code's row or None, whether it was a replay that just revoked its family)."""
    if not plausible(code, CODE) or not plain_id(client_id):
        return None, False
    t = app.catalog.system("_hb_oauth_codes")
    row = (await conn.execute(sa.select(t).where(t.c.code_hash == hash_key(code)))).mappings().first()
    if row is None or row["client_id"] != client_id:
        return None, False
    if row["used_at"] is not None:
        await revoke_family(conn, app, row["family"])
        return None, True
    return row, False


async def load_code(app: App, client_id: Any, code: Any) -> dict[str, Any] | None:
    """The code as the SDK's ``AuthorizationCode`` fields (expired ones too: the SDK says so), or None; a
    used code presented again revokes every token issued from it first."""
    async with app.db.write() as conn:
        row, _ = await _code_row(conn, app, client_id, code)
    if row is None:
        return None
    return {"code": code, "scopes": list(row["scopes"]), "expires_at": row["expires_at"].timestamp(),
            "client_id": row["client_id"], "code_challenge": row["code_challenge"], "redirect_uri": row["redirect_uri"],
            "redirect_uri_provided_explicitly": bool(row["redirect_explicit"]), "resource": row["resource"],
            "subject": row["user_id"]}


async def exchange_code(app: App, client_id: Any, code: Any) -> dict[str, Any]:
    """Tokens for a live code, used up at once; a refresh token only with ``offline_access`` granted (and the
    refresh_token grant registered). A second exchange fails and revokes what the first one issued."""
    await app.catalog.table(USER_TABLE)
    users = app.catalog.get(USER_TABLE).table
    t = app.catalog.system("_hb_oauth_codes")
    async with app.db.write() as conn:
        row, replayed = await _code_row(conn, app, client_id, code)
        if row is not None and row["expires_at"] > now():
            won = await conn.execute(sa.update(t).where(t.c.code_hash == row["code_hash"], t.c.used_at.is_(None))
                                     .values(used_at=now()))
            if won.rowcount != 1:  # a concurrent exchange of the same code
                await revoke_family(conn, app, row["family"])
                replayed = True
            else:
                client = await client_row(conn, app, client_id)
                user = await conn.scalar(sa.select(users.c.objectId).where(users.c.objectId == row["user_id"]))
                if client is not None and user is not None:
                    scopes = list(row["scopes"])
                    offline = "offline_access" in scopes and "refresh_token" in (client.get("grant_types") or [])
                    return await issue(conn, app, family=row["family"], client_id=client_id, user_id=row["user_id"],
                                       scopes=scopes, resource=row["resource"], refresh_scopes=scopes if offline
                                       else None)
    raise invalid_grant("authorization code" + (" (used twice: every token issued from it is now revoked)"
                                                if replayed else ""))
