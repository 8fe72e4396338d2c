"""What is special about rows of ``_User``: passwords (hashed elsewhere, never a column), a default ACL
(everyone reads, the user writes), the ``member`` role for new users, verification flags only root may
set, and the credentials that die with the user.

``records`` calls these hooks inside its own transaction, so a user row and its password, role and
clean-up are written all together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hivebase.core import roles
from hivebase.core.apps import App
from hivebase.core.identity import api_keys, passwords, sessions
from hivebase.core.model import USER_TABLE
from hivebase.core.oauth import tokens as oauth_tokens
from hivebase.core.policy import MEMBER
from hivebase.core.principal import Principal
from hivebase.errors import InvalidValue, PermissionDenied, ReadOnlyField

USER_FIELDS: dict[str, dict[str, Any]] = {
    "username": {"type": "String", "unique": True, "required": True, "note": "sign-in name"},
    "email": {"type": "String", "unique": True, "note": "e-mail address"},
    "mobilePhoneNumber": {"type": "String", "unique": True, "note": "phone number for SMS sign-in"},
    "emailVerified": {"type": "Bool", "note": "set by the server when the e-mail is verified"},
    "mobilePhoneVerified": {"type": "Bool", "note": "set by the server when the phone is verified"},
}
VERIFIED = ("emailVerified", "mobilePhoneVerified")
MAX_USERNAME = 128


def split_password(app: App, principal: Principal, data: Any, *, creating: bool) -> tuple[Any, str | None]:
    """Take ``password`` out of a write to ``_User`` and check it (and a new username's shape)."""
    if isinstance(data, dict) and "username" in data:
        check_username(data["username"])
    if not isinstance(data, dict) or "password" not in data:
        if creating and not principal.is_root:
            raise InvalidValue("`password` is required to create a user", field="password", table=USER_TABLE,
                               reason="required")
        return data, None
    if not creating and not principal.is_root:
        raise PermissionDenied("a password is changed with the old password (updateUserPassword) or an SMS code",
                               field="password", table=USER_TABLE, reason="password_change")
    rest = {k: v for k, v in data.items() if k != "password"}
    minimum = int(app.catalog.policy.settings.get("passwordMinLength", 6))
    return rest, passwords.check_password(data["password"], minimum)


def check_username(value: Any) -> str:
    """A name log-in can use: 1-128 characters without NUL."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_USERNAME or "\x00" in value:
        raise InvalidValue(f"`username` must be a string of 1-{MAX_USERNAME} characters without NUL",
                           field="username", table=USER_TABLE, reason="username_required")
    return value


def check_fields(principal: Principal, names: Iterable[str]) -> None:
    if principal.is_root:
        return
    for name in names:
        if name in VERIFIED:
            raise ReadOnlyField(f"`{name}` is set by the server and cannot be written", field=name, table=USER_TABLE)


def before_insert(row: dict[str, Any]) -> None:
    """A new user owns their row (whoever made it): readable by all, writable by them alone by default."""
    uid = row["objectId"]
    row["createdBy"] = uid
    if row.get("ACL") is None:
        row["ACL"] = {"*": {"read": True}, uid: {"read": True, "write": True}}


async def after_insert(conn: AsyncConnection, app: App, user_id: str, password: str | None) -> None:
    if password is not None:
        await passwords.store(conn, app, user_id, password)
    await roles.grant_in(conn, app, user_id, MEMBER, default=True)


async def set_password(conn: AsyncConnection, app: App, user_id: str, password: str,
                       keep_session: str | None = None) -> None:
    """Store a new password and end what the old one opened, in the caller's transaction: every session of the
    user (but ``keep_session``, the caller's own) and every OAuth token and unexchanged code of theirs."""
    await passwords.store(conn, app, user_id, password)
    await sessions.revoke_all(conn, app, user_id, keep=keep_session)
    await oauth_tokens.revoke_user(conn, app, user_id)


async def after_update(conn: AsyncConnection, app: App, user_id: str, password: str | None) -> None:
    """A password set by root ends every session and OAuth token of the user."""
    if password is not None:
        await set_password(conn, app, user_id, password)


async def after_delete(conn: AsyncConnection, app: App, user_id: str) -> None:
    await passwords.forget(conn, app, user_id)
    await sessions.revoke_all(conn, app, user_id)
    await api_keys.forget_user(conn, app, user_id)
    await roles.forget_user(conn, app, user_id)
    await oauth_tokens.forget_user(conn, app, user_id)
