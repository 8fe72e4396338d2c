"""OAuth clients (RFC 7591 dynamic registration): the app's registration policy, the metadata checks, and
client secrets stored as SHA-256 only.

The SDK's registration handler mints ``client_id`` and ``client_secret`` and hands us the whole record;
we keep the metadata and a hash of the secret, and answer with the record as given. Since no plaintext
secret is kept, a client's secret is checked here (``check_client_secret``), not by comparing strings.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hivebase.core.access import require_root
from hivebase.core.apps import App
from hivebase.core.clock import now
from hivebase.core.oauth.tokens import plain_id
from hivebase.core.principal import Principal
from hivebase.core.secrets import hash_key, same_hash
from hivebase.errors import InvalidValue, LimitExceeded, NotFound, PermissionDenied, UniqueViolation, type_of

SCOPES = ("mcp", "offline_access")
AUTH_METHODS = ("none", "client_secret_post", "client_secret_basic")
GRANT_TYPES = ("authorization_code", "refresh_token")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
CLIENT_ID = re.compile(r"[A-Za-z0-9._~\-]{1,64}")
URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
UNSAFE_SCHEMES = ("javascript", "data", "file", "vbscript", "blob", "about")
MAX_URI = 2048
MAX_REDIRECTS = 20
MAX_NAME = 200
MAX_METADATA = 16_384
MAX_SECRET = 200
MAX_CLIENTS = 50_000
#: RFC 7591 fields kept (and given back by ``get_client``); unknown ones are ignored, as §2 asks
KEPT = ("redirect_uris", "token_endpoint_auth_method", "grant_types", "response_types", "scope", "client_name",
        "client_uri", "logo_uri", "contacts", "tos_uri", "policy_uri", "jwks_uri", "jwks", "software_id",
        "software_version", "application_type", "client_id_issued_at", "client_secret_expires_at")


def _bad(message: str, field: str, reason: str = "invalid_client_metadata") -> InvalidValue:
    return InvalidValue(message, field=field, reason=reason)


def clean(text: str) -> bool:
    """Text PostgreSQL can store: no NUL, no lone surrogate (neither is in any honest metadata)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _no_nul(value: Any, field: str) -> None:
    if isinstance(value, str):
        if not clean(value):
            raise _bad(f"`{field}` must not contain NUL characters or invalid Unicode", field)
    elif isinstance(value, dict):
        for k, v in value.items():
            _no_nul(k, field)
            _no_nul(v, field)
    elif isinstance(value, list):
        for v in value:
            _no_nul(v, field)


def check_uri(value: Any, field: str, reason: str = "invalid_redirect_uri") -> str:
    """An absolute URI without fragment, user info, spaces or a scheme a browser would run."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_URI:
        raise _bad(f"`{field}` must be an absolute URI of at most {MAX_URI} characters, received "
                   f"{type_of(value)}", field, reason)
    if not clean(value) or any(c.isspace() or ord(c) < 32 or c in "\\\x7f" for c in value):
        raise _bad(f"`{field}` must not contain spaces, control characters or backslashes", field, reason)
    parts = urlsplit(value)
    if not URI_SCHEME.fullmatch(parts.scheme or "") or parts.scheme.lower() in UNSAFE_SCHEMES:
        raise _bad(f"`{field}` needs a scheme such as https:// (and not javascript:, data: or file:)", field, reason)
    if parts.fragment or "#" in value:
        raise _bad(f"`{field}` must not have a fragment (#…)", field, reason)
    if parts.scheme.lower() in ("http", "https") and (not parts.hostname or "@" in parts.netloc):
        raise _bad(f"`{field}` needs a host and no user info", field, reason)
    return value


def is_loopback(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme.lower() in ("http", "https") and (parts.hostname or "").lower() in LOOPBACK_HOSTS


def parse_scope(value: Any, field: str = "scope") -> tuple[str, ...] | None:
    """A space-separated scope string → the scopes (None stays None: every scope we support)."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 200:
        raise _bad(f"`{field}` must be a space-separated string of scopes", field, "invalid_scope")
    scopes = tuple(dict.fromkeys(value.split()))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise _bad(f"unknown scope {unknown[0][:40]!r}; scopes are {', '.join(SCOPES)}", field, "invalid_scope")
    return scopes


def _string_list(value: Any, field: str, allowed: tuple[str, ...], default: list[str]) -> list[str]:
    if value is None:
        return default
    if not isinstance(value, list) or not value or len(value) > 10 or not all(isinstance(v, str) for v in value):
        raise _bad(f"`{field}` must be a non-empty list of {', '.join(allowed)}", field)
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise _bad(f"`{field}`: {unknown[0][:40]!r} is not supported; use {', '.join(allowed)}", field)
    return list(dict.fromkeys(value))


def check_metadata(app: App, metadata: Any) -> tuple[dict[str, Any], str, str | None]:
    """(metadata to store, client_id, client_secret or None), or the reason this client may not register."""
    mode = app.catalog.policy.settings.get("oauthRegistration", "open")
    if mode == "off":
        raise PermissionDenied("this app does not accept OAuth client registrations (oauthRegistration is off)",
                               reason="registration_closed")
    if not isinstance(metadata, dict):
        raise _bad(f"client metadata must be an object, received {type_of(metadata)}", "metadata")
    uris = metadata.get("redirect_uris")
    if not isinstance(uris, list) or not 0 < len(uris) <= MAX_REDIRECTS:
        raise _bad(f"`redirect_uris` must list 1-{MAX_REDIRECTS} URIs", "redirect_uris", "invalid_redirect_uri")
    for uri in uris:
        check_uri(uri, "redirect_uris")
        if mode == "loopback" and not is_loopback(uri):
            raise _bad("this app registers only clients whose redirect URIs are on this machine "
                       "(http://127.0.0.1, http://localhost or http://[::1], any port; oauthRegistration is "
                       "loopback)", "redirect_uris", "invalid_redirect_uri")
    method = metadata.get("token_endpoint_auth_method") or "client_secret_post"
    if method not in AUTH_METHODS:
        raise _bad(f"`token_endpoint_auth_method` must be one of {', '.join(AUTH_METHODS)}",
                   "token_endpoint_auth_method")
    grants = _string_list(metadata.get("grant_types"), "grant_types", GRANT_TYPES, list(GRANT_TYPES))
    if "authorization_code" not in grants:
        raise _bad("`grant_types` must include authorization_code", "grant_types")
    responses = _string_list(metadata.get("response_types"), "response_types", ("code",), ["code"])
    scope = parse_scope(metadata.get("scope"))
    name = metadata.get("client_name")
    if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME
                             or not clean(name) or any(ord(c) < 32 or ord(c) == 127 for c in name)):
        raise _bad(f"`client_name` must be a string of at most {MAX_NAME} characters without control characters",
                   "client_name")
    client_id = metadata.get("client_id")
    if client_id is None:
        client_id = str(uuid.uuid4())
    elif not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
        raise _bad("`client_id` must be 1-64 letters, digits or ._~-", "client_id")
    secret = metadata.get("client_secret")
    if method == "none":
        if secret is not None:
            raise _bad("a client with token_endpoint_auth_method none has no secret", "client_secret")
    elif secret is None:
        secret = secrets.token_hex(32)
    elif not isinstance(secret, str) or not 16 <= len(secret) <= MAX_SECRET:
        raise _bad(f"`client_secret` must be a string of 16-{MAX_SECRET} characters", "client_secret")
    for key in ("client_id_issued_at", "client_secret_expires_at"):
        value = metadata.get(key)
        if value is not None and (type(value) is not int or not 0 <= value < 2**53):
            raise _bad(f"`{key}` must be a whole number of seconds since 1970", key)
    try:
        size = len(orjson.dumps(metadata))
    except (TypeError, orjson.JSONEncodeError):
        raise _bad("client metadata must be plain JSON values (strings, numbers, lists, objects)", "metadata") \
            from None
    if size > MAX_METADATA:
        raise _bad(f"client metadata is larger than {MAX_METADATA} bytes", "metadata")
    _no_nul(metadata, "metadata")  # after orjson, which refuses nesting past 255 levels
    kept = {k: metadata[k] for k in KEPT if metadata.get(k) is not None}
    kept.update(redirect_uris=list(uris), token_endpoint_auth_method=method, grant_types=grants,
                response_types=responses, scope=" ".join(scope) if scope is not None else None)
    kept.setdefault("client_id_issued_at", int(now().timestamp()))
    return kept, client_id, secret


async def _make_room(conn: AsyncConnection, app: App) -> None:
    """Open registration invites clients that never come back: past the cap, forget those older than a day
    that never obtained a code or token, and refuse only if that is not enough."""
    t = app.catalog.system("_hb_oauth_clients")
    if (await conn.scalar(sa.select(sa.func.count()).select_from(t)) or 0) < MAX_CLIENTS:
        return
    codes, tokens = app.catalog.system("_hb_oauth_codes"), app.catalog.system("_hb_oauth_tokens")
    await conn.execute(sa.delete(t).where(
        t.c.created_at < now() - dt.timedelta(days=1),
        ~sa.exists().where(codes.c.client_id == t.c.client_id),
        ~sa.exists().where(tokens.c.client_id == t.c.client_id)))
    if (await conn.scalar(sa.select(sa.func.count()).select_from(t)) or 0) >= MAX_CLIENTS:
        raise LimitExceeded(f"this app already has {MAX_CLIENTS} OAuth clients; delete unused ones "
                            "(hivebase oauth clients)", reason="clients")


async def register_client(app: App, metadata: Any) -> dict[str, Any]:
    """Store a client (its secret as SHA-256 only) and answer with its metadata as given, plus the
    ``client_id``, ``client_secret`` and ``client_id_issued_at`` made here when the caller gave none."""
    await app.catalog.refresh()
    kept, client_id, secret = check_metadata(app, metadata)
    t = app.catalog.system("_hb_oauth_clients")
    async with app.db.write() as conn:
        if await conn.scalar(sa.select(t.c.client_id).where(t.c.client_id == client_id)) is not None:
            raise UniqueViolation("this client_id is already registered", field="client_id", reason="client_exists")
        await _make_room(conn, app)
        await conn.execute(sa.insert(t).values(client_id=client_id, secret_hash=hash_key(secret) if secret else None,
                                               name=kept.get("client_name") or "", meta=kept, created_at=now()))
    answer = {**metadata, "client_id": client_id, "client_id_issued_at": kept["client_id_issued_at"]}
    if secret is not None:
        answer["client_secret"] = secret
        answer.setdefault("client_secret_expires_at", 0)
    return answer


def _client(row: Any) -> dict[str, Any]:
    return {**row["meta"], "client_id": row["client_id"]}


async def client_row(conn: AsyncConnection, app: App, client_id: Any) -> dict[str, Any] | None:
    if not plain_id(client_id):
        return None
    t = app.catalog.system("_hb_oauth_clients")
    row = (await conn.execute(sa.select(t).where(t.c.client_id == client_id))).mappings().first()
    return _client(row) if row is not None else None


async def get_client(app: App, client_id: Any) -> dict[str, Any] | None:
    """The client's metadata, never with a secret: see ``check_client_secret``."""
    async with app.db.read() as conn:
        return await client_row(conn, app, client_id)


async def check_client_secret(app: App, client_id: Any, secret: Any) -> bool:
    """Whether ``secret`` is the live secret of a confidential client (False for public clients, which have
    none: a door authenticates them by their client_id alone, as token_endpoint_auth_method none says)."""
    if not plain_id(client_id) or not isinstance(secret, str) or not 0 < len(secret) <= MAX_SECRET:
        return False
    t = app.catalog.system("_hb_oauth_clients")
    async with app.db.read() as conn:
        row = (await conn.execute(sa.select(t.c.secret_hash, t.c.meta).where(t.c.client_id == client_id))).first()
    if row is None or row.secret_hash is None:
        return False
    expires = (row.meta or {}).get("client_secret_expires_at") or 0
    if expires and expires < now().timestamp():
        return False
    return same_hash(secret, row.secret_hash)


async def list_clients(app: App, principal: Principal) -> list[dict[str, Any]]:
    """Every client with its count of live tokens (root only), oldest first, in one statement."""
    require_root(app, principal)
    t, tokens = app.catalog.system("_hb_oauth_clients"), app.catalog.system("_hb_oauth_tokens")
    live = (sa.select(sa.func.count()).where(tokens.c.client_id == t.c.client_id, tokens.c.revoked_at.is_(None),
                                             tokens.c.rotated_at.is_(None), tokens.c.expires_at > now())
            .scalar_subquery())
    async with app.db.read() as conn:
        rows = (await conn.execute(sa.select(t, live.label("live")).order_by(t.c.created_at, t.c.client_id)
                                   .limit(MAX_CLIENTS))).mappings().all()
    return [{**_client(r), "createdAt": r["created_at"].isoformat(), "liveTokens": int(r["live"])} for r in rows]


async def delete_client(app: App, principal: Principal, client_id: Any) -> None:
    """Forget a client (root only): its pending requests and codes go, its tokens are revoked at once."""
    require_root(app, principal)
    t = app.catalog.system("_hb_oauth_clients")
    if not plain_id(client_id):
        raise NotFound("no such OAuth client", reason="oauth_client", field="client_id")
    async with app.db.write() as conn:
        if (await conn.execute(sa.delete(t).where(t.c.client_id == client_id))).rowcount == 0:
            raise NotFound("no such OAuth client", reason="oauth_client", field="client_id")
        for name in ("_hb_oauth_requests", "_hb_oauth_codes"):
            other = app.catalog.system(name)
            await conn.execute(sa.delete(other).where(other.c.client_id == client_id))
        tokens = app.catalog.system("_hb_oauth_tokens")
        await conn.execute(sa.update(tokens).where(tokens.c.client_id == client_id, tokens.c.revoked_at.is_(None))
                           .values(revoked_at=now()))
