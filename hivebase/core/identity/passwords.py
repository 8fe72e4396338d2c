"""Password hashing (argon2id, memory-hard) and the password rows of ``_hb_passwords``.

Hashes never leave this module: callers get True/False from ``verify`` and nothing else.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncConnection

from hivebase.core.apps import App
from hivebase.core.clock import now
from hivebase.errors import InvalidValue, type_of

MAX_LENGTH = 256
_hasher = PasswordHasher()


@functools.cache
def _dummy() -> str:
    """Checked when a username is unknown, so a wrong name costs as long as a wrong password."""
    return _hasher.hash("hivebase-no-such-user")


def check_password(value: Any, min_length: int, field: str = "password") -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"`{field}` must be a string, received {type_of(value)}", field=field, reason="password")
    if not min_length <= len(value) <= MAX_LENGTH or "\x00" in value:
        raise InvalidValue(f"`{field}` must be {min_length}-{MAX_LENGTH} characters long, without NUL", field=field,
                           reason="password")
    return value


async def store(conn: AsyncConnection, app: App, user_id: str, password: str) -> None:
    t = app.catalog.system("_hb_passwords")
    digest = await asyncio.to_thread(_hasher.hash, password)  # ~50 ms of CPU: off the event loop
    await conn.execute(sa.delete(t).where(t.c.user_id == user_id))
    await conn.execute(sa.insert(t).values(user_id=user_id, hash=digest, changed_at=now()))


async def verify(conn: AsyncConnection, app: App, user_id: str | None, password: str) -> bool:
    """Whether ``password`` is the user's; always spends one argon2 verification."""
    t = app.catalog.system("_hb_passwords")
    digest = None
    if user_id is not None:
        digest = await conn.scalar(sa.select(t.c.hash).where(t.c.user_id == user_id))
    try:
        ok = await asyncio.to_thread(_hasher.verify, digest or _dummy(), password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and digest is not None


async def forget(conn: AsyncConnection, app: App, user_id: str) -> None:
    t = app.catalog.system("_hb_passwords")
    await conn.execute(sa.delete(t).where(t.c.user_id == user_id))
