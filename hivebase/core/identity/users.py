"""Accounts: sign up, log in (password or SMS code), change and reset passwords, root's user management.

Users are ``_User`` rows written through ``records`` (so field rules, unique checks and the user hooks
apply); this module adds what needs a password or an SMS code, and issues session tokens.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hivebase.core import access, reads, records, roles
from hivebase.core.apps import App
from hivebase.core.identity import passwords, sessions, user_table
from hivebase.core.identity.sms import SmsCodes
from hivebase.core.model import USER_TABLE
from hivebase.core.names import is_key
from hivebase.core.policy import ANONYMOUS
from hivebase.core.principal import Principal
from hivebase.core.query import ir
from hivebase.errors import InvalidValue, LimitExceeded, NotFound, PermissionDenied, Unauthorized, type_of

LOGIN_FAILURES_PER_MINUTE = 10
MAX_NAME = 128
MAX_PAGE = 1000


class _Failures:
    """Failed log-ins per (app, username) in the last minute, in this process: a brake on guessing."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], deque[float]] = {}

    def check(self, key: tuple[str, str]) -> None:
        window = self._seen.get(key)
        now = time.monotonic()
        while window and now - window[0] > 60:
            window.popleft()
        if window is not None and len(window) >= LOGIN_FAILURES_PER_MINUTE:
            raise LimitExceeded("too many failed log-ins for this user; wait a minute", reason="rate_limit",
                                retryAfter=int(61 - (now - window[0])))

    def record(self, key: tuple[str, str]) -> None:
        if len(self._seen) > 100_000:
            self._seen.clear()
        self._seen.setdefault(key, deque()).append(time.monotonic())


_failures = _Failures()


def _text(value: Any, field: str, reason: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidValue(f"`{field}` is required (a string), received {type_of(value)}", field=field,
                           table=USER_TABLE, reason=reason)
    if field != "password" and ("\x00" in value or len(value) > MAX_NAME):  # passwords: check_password
        raise InvalidValue(f"`{field}` is at most {MAX_NAME} characters, without NUL", field=field, table=USER_TABLE,
                           reason=reason)
    return value


async def _signed_in(conn: AsyncConnection, app: App, principal: Principal, user_id: str) -> dict[str, Any]:
    """A new session, and the user's row as their own default role may see it."""
    _, token = await sessions.issue(conn, app, user_id, via=principal.via)
    row = await _row(conn, app, user_id)
    held, default = await roles.held(conn, app, user_id)
    me = Principal("user", app=app.name, user_id=user_id, role=default or ANONYMOUS, roles=held, via=principal.via,
                   user=row)
    return {**records.visible_part(app, me, USER_TABLE, row), "sessionToken": token}


async def _row(conn: AsyncConnection, app: App, user_id: str) -> dict[str, Any]:
    t = app.catalog.get(USER_TABLE).table
    row = (await conn.execute(sa.select(t).where(t.c.objectId == user_id))).mappings().first()
    if row is None:
        raise NotFound("no such user", table=USER_TABLE, reason="user")
    return dict(row)


async def _id_by(conn: AsyncConnection, app: App, field: str, value: str) -> str | None:
    t = app.catalog.get(USER_TABLE).table
    return await conn.scalar(sa.select(t.c.objectId).where(t.c[field] == value))


async def sign_up(app: App, principal: Principal, data: Any) -> dict[str, Any]:
    """A new user from ``{username, password, …fields}``, signed in: the row plus ``sessionToken``."""
    if not isinstance(data, dict):
        raise InvalidValue(f"sign-up data must be an object, received {type_of(data)}", table=USER_TABLE,
                           reason="json")
    _text(data.get("username"), "username", "username_required")
    _text(data.get("password"), "password", "password_required")
    await app.catalog.table(USER_TABLE)
    async with app.db.write() as conn:
        row = await records.create_in(conn, app, principal, USER_TABLE, data)
        return await _signed_in(conn, app, principal, row["objectId"])


async def log_in(app: App, principal: Principal, username: Any, password: Any) -> dict[str, Any]:
    """The user's row plus a new ``sessionToken``; a wrong name or password fail alike, in equal time."""
    user_id = await check_password(app, principal, username, password)
    async with app.db.write() as conn:
        return await _signed_in(conn, app, principal, user_id)


async def check_password(app: App, principal: Principal, username: Any, password: Any) -> str:
    """The objectId of the user these credentials prove (no session is made: the OAuth consent page signs
    in this way); the same brake on repeated failures as ``log_in``."""
    access.require_caller(app, principal)
    username = _text(username, "username", "login_required")
    password = _text(password, "password", "login_required")
    if "\x00" in password or len(password) > passwords.MAX_LENGTH:  # never hash what no password can be
        raise InvalidValue(f"`password` is at most {passwords.MAX_LENGTH} characters, without NUL",
                           field="password", table=USER_TABLE, reason="login_required")
    key = (app.name, username)
    _failures.check(key)
    await app.catalog.table(USER_TABLE)
    async with app.db.read() as conn:  # argon2 runs outside the write lock
        user_id = await _id_by(conn, app, "username", username)
        ok = await passwords.verify(conn, app, user_id, password)
    if not ok or user_id is None:
        _failures.record(key)
        raise Unauthorized("username or password is incorrect", reason="login")
    return user_id


async def phone_sign_in(app: App, principal: Principal, sms: SmsCodes, phone: Any, code: Any,
                        data: Any = None) -> dict[str, Any]:
    """Log in with a phone number and SMS code, signing up first when no user has that number."""
    return (await phone_sign_in_or_up(app, principal, sms, phone, code, data))[0]


async def phone_sign_in_or_up(app: App, principal: Principal, sms: SmsCodes, phone: Any, code: Any,
                              data: Any = None) -> tuple[dict[str, Any], bool]:
    """``phone_sign_in``, and whether it signed a new user up (Bmob answers 201 then, 200 otherwise)."""
    access.require_caller(app, principal)
    extra = dict(data or {}) if isinstance(data, dict | None) else None
    if extra is None:
        raise InvalidValue("sign-up data must be an object", table=USER_TABLE, reason="json")
    extra.pop("smsCode", None)
    extra.pop("mobilePhoneNumber", None)
    await app.catalog.table(USER_TABLE)
    async with app.db.write() as conn:
        await sms.verify(conn, app, phone, code)
        user_id = await _id_by(conn, app, "mobilePhoneNumber", phone)
        if user_id is None:
            access.require(app, principal, "create", USER_TABLE)
            access.check_writable(app, principal, "create", USER_TABLE, [*extra, "username", "mobilePhoneNumber"])
            user_table.check_fields(principal, extra)
            values = {"username": phone, **extra, "mobilePhoneNumber": phone, "mobilePhoneVerified": True}
            row = await records.create_in(conn, app, Principal.root(principal.via, app.name), USER_TABLE, values)
            user_id, created = row["objectId"], True
        else:
            t = app.catalog.get(USER_TABLE).table
            await conn.execute(sa.update(t).where(t.c.objectId == user_id).values(mobilePhoneVerified=True))
            created = False
        return await _signed_in(conn, app, principal, user_id), created


async def change_password(app: App, principal: Principal, user_id: Any, old: Any, new: Any) -> None:
    """The user (with the old password) or root (without) sets a new one; the user's other sessions and all
    their OAuth tokens end."""
    p = access.require_caller(app, principal)
    if not p.is_root and p.user_id != user_id:
        raise PermissionDenied("only the user themself may change their password", reason="owner")
    minimum = int(app.catalog.policy.settings.get("passwordMinLength", 6))
    new = passwords.check_password(new, minimum, "newPassword")
    await app.catalog.table(USER_TABLE)
    async with app.db.write() as conn:
        if not is_key(user_id) or await _id_by(conn, app, "objectId", user_id) is None:
            raise NotFound("no such user", table=USER_TABLE, reason="user")
        if not p.is_root and not (isinstance(old, str) and await passwords.verify(conn, app, user_id, old)):
            raise InvalidValue("the old password is wrong", field="oldPassword", table=USER_TABLE,
                               reason="old_password")
        await user_table.set_password(conn, app, user_id, new, keep_session=p.key_id if p.user_id == user_id else None)


async def reset_password_by_sms(app: App, principal: Principal, sms: SmsCodes, code: Any, new: Any) -> None:
    """Set the password of the user whose phone received ``code``; every session and OAuth token of theirs ends."""
    access.require_caller(app, principal)
    minimum = int(app.catalog.policy.settings.get("passwordMinLength", 6))
    new = passwords.check_password(new, minimum)
    await app.catalog.table(USER_TABLE)
    async with app.db.write() as conn:
        phone = await sms.take(conn, app, code)
        user_id = await _id_by(conn, app, "mobilePhoneNumber", phone)
        if user_id is None:
            raise NotFound("no user has this phone number", table=USER_TABLE, reason="user")
        await user_table.set_password(conn, app, user_id, new)


Identity = tuple[dict[str, Any] | None, tuple[str, ...], str | None]


async def identity(app: App, user_id: str) -> Identity:
    """A credential's user: their row (None when deleted), the roles they hold and the default one."""
    await app.catalog.table(USER_TABLE)
    t = app.catalog.get(USER_TABLE).table
    async with app.db.read() as conn:
        row = (await conn.execute(sa.select(t).where(t.c.objectId == user_id))).mappings().first()
        held, default = await roles.held(conn, app, user_id)
    return (dict(row) if row is not None else None), held, default


@functools.lru_cache(maxsize=64)
def _with_identity(credential: sa.Select[Any], t: sa.Table, m: sa.Table) -> tuple[sa.Select[Any], int]:
    """``credential`` joined to its user and their memberships (one row per role held), and how many
    columns are the credential's."""
    cred = credential.subquery("credential")
    return (sa.select(*cred.c, *t.c, m.c.role, m.c.is_default)
            .select_from(cred.outerjoin(t, t.c.objectId == cred.c.user_id)
                         .outerjoin(m, m.c.user_id == cred.c.user_id))
            .order_by(m.c.role)), len(cred.c)


async def identity_of(app: App, credential: tuple[sa.Select[Any], dict[str, Any]]
                      ) -> tuple[dict[str, Any] | None, Identity]:
    """The credential row ``credential`` (a statement with a ``user_id`` column, and its parameters) selects
    (None when no live one) and its user's identity, in ONE statement: every authenticated call starts here."""
    await app.catalog.table(USER_TABLE)
    t = app.catalog.get(USER_TABLE).table
    stmt, n = _with_identity(credential[0], t, app.catalog.system("_hb_user_roles"))
    async with app.db.read() as conn:
        rows = (await conn.execute(stmt, credential[1])).all()
    if not rows:
        return None, (None, (), None)
    first, user_keys = rows[0], list(t.c.keys())
    user = dict(zip(user_keys, first[n:n + len(user_keys)], strict=True))
    held = tuple(r[-2] for r in rows if r[-2] is not None)
    default = next((r[-2] for r in rows if r[-1]), held[0] if held else None)
    # the credential statements select plain columns, whose key SQLAlchemy types as optional but is always set
    cred_keys = cast(list[str], [c.key for c in credential[0].selected_columns])
    return dict(zip(cred_keys, first[:n], strict=True)), (user if user["objectId"] is not None else None,
                                                          held, default)


def session_belongs(principal: Principal, user_id: Any) -> bool:
    """``checkSession``: whether the caller's session is one of ``user_id``'s."""
    return principal.credential == "session" and principal.user_id == user_id


async def verify_sms_code(app: App, principal: Principal, sms: SmsCodes, phone: Any, code: Any) -> None:
    """``verifySmsCode``: check the newest live code of ``phone`` and use it up, in a transaction of its own."""
    access.require_caller(app, principal)
    async with app.db.write() as conn:
        await sms.verify(conn, app, phone, code)



async def _why_not_written(app: App, principal: Principal, user_id: Any) -> None:
    """After a write to a user row found nothing: when the caller can see that row, the row's ACL refused
    the write (by default only the user themself may write it), which Bmob reports as such, not as missing."""
    try:
        await reads.get(app, principal, USER_TABLE, user_id, keys=["objectId"])
    except (NotFound, PermissionDenied):
        return
    raise PermissionDenied("only this user (with their session token) or the master key may change this user",
                           table=USER_TABLE, reason="owner")


async def update_user(app: App, principal: Principal, user_id: Any, data: Any) -> dict[str, Any]:
    """``records.update`` of a ``_User`` row; a row the caller sees but may not write is refused as such.
    A new username obeys the sign-up limits (``user_table.check_username``)."""
    access.require_caller(app, principal)
    try:
        return await records.update(app, principal, USER_TABLE, user_id, data)
    except NotFound:
        await _why_not_written(app, principal, user_id)
        raise


async def delete_user(app: App, principal: Principal, user_id: Any) -> None:
    """``records.delete`` of a ``_User`` row (with its password, sessions, keys and roles), refused like
    ``update_user``."""
    try:
        await records.delete(app, principal, USER_TABLE, user_id)
    except NotFound:
        await _why_not_written(app, principal, user_id)
        raise


# -- root's user management (CLI, system APIs) ------------------------------------------------------------------


async def find(app: App, principal: Principal, ref: Any) -> dict[str, Any]:
    """A user by objectId or username."""
    access.require_root(app, principal)
    if not is_key(ref, MAX_NAME):
        raise NotFound(f"no user {str(ref)[:64]!r}", table=USER_TABLE, reason="user")
    await app.catalog.table(USER_TABLE)
    async with app.db.read() as conn:
        user_id = await _id_by(conn, app, "objectId", ref) or await _id_by(conn, app, "username", ref)
        if user_id is None:
            raise NotFound(f"no user with objectId or username {ref[:64]!r}", table=USER_TABLE, reason="user")
        return await _row(conn, app, user_id)


async def create_user(app: App, principal: Principal, data: Any, role_names: list[str] | None = None,
                      default_role: str | None = None) -> dict[str, Any]:
    """A user made by root, holding ``role_names`` (``member`` when none are given)."""
    access.require_root(app, principal)
    await app.catalog.table(USER_TABLE)
    names = list(dict.fromkeys([*(role_names or []), *([default_role] if default_role else [])]))
    for name in names:
        if name not in app.catalog.policy.roles:
            raise NotFound(f"role {str(name)[:64]!r} does not exist", reason="role", field="role")
    async with app.db.write() as conn:
        row = await records.create_in(conn, app, principal, USER_TABLE, data)
        uid = row["objectId"]
        if names:
            memberships = app.catalog.system("_hb_user_roles")
            await conn.execute(sa.delete(memberships).where(memberships.c.user_id == uid))
            for name in names:
                await roles.grant_in(conn, app, uid, name, default=name == (default_role or names[0]))
        held, dflt = await roles.held(conn, app, uid)
    return {**row, "roles": list(held), "defaultRole": dflt}


async def list_users(app: App, principal: Principal, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Users with the roles they hold, oldest first (two statements, whatever the page size)."""
    access.require_root(app, principal)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE or not isinstance(offset, int) or offset < 0:
        raise InvalidValue(f"`limit` is 1-{MAX_PAGE} and `offset` at least 0", field="limit", reason="paging")
    tdef = await app.catalog.table(USER_TABLE)
    rows, _ = await reads.find(app, principal, ir.Select(tdef.name, limit=limit, offset=offset))
    t = app.catalog.system("_hb_user_roles")
    held: dict[str, list[str]] = {}
    default: dict[str, str] = {}
    async with app.db.read() as conn:
        for r in await conn.execute(sa.select(t).where(t.c.user_id.in_([u["objectId"] for u in rows]))
                                    .order_by(t.c.role)):
            held.setdefault(r.user_id, []).append(r.role)
            if r.is_default:
                default[r.user_id] = r.role
    return [{**u, "roles": held.get(u["objectId"], []), "defaultRole": default.get(u["objectId"])} for u in rows]
