"""SMS verification codes: request one for a number, verify it, or take it alone (reset-by-code).

Only SHA-256 hashes of codes are stored (``_hb_sms_codes``); the code itself exists in memory while it is
sent, and in the development outbox (``_hb_sms_outbox``) when the ``outbox`` sender is configured. Rate
limits per number are counted from the database, so they hold across processes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import importlib
import logging
import math
import re
import secrets
import time
from collections import deque
from typing import Any, Protocol, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hivebase.core.access import require_caller
from hivebase.core.apps import App
from hivebase.core.clock import now
from hivebase.core.principal import Principal
from hivebase.core.secrets import random_id
from hivebase.core.settings import CoreSettings
from hivebase.errors import InvalidValue, LimitExceeded, SmsSendFailed, TypeMismatch, type_of

log = logging.getLogger(__name__)

PHONE = re.compile(r"\+?[0-9]{6,20}")
TEMPLATE = re.compile(r"[A-Za-z0-9_-]{0,64}")
CODE = re.compile(r"[0-9]{6}")
SENDER_SPEC = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*")
PHONE_FIELD = "mobilePhoneNumber"
MAX_ATTEMPTS = 5  # wrong guesses after which a code is dead
TAKE_FAILURES = 10  # failed take() calls per app per TAKE_WINDOW seconds
TAKE_WINDOW = 60.0
HOUR = 3600



class SmsSender(Protocol):
    async def send(self, app: App, phone: str, message: str, code: str, template: str) -> None: ...


class OutboxSender:
    """Development and test sender: records every message in the app's ``_hb_sms_outbox`` table."""

    async def send(self, app: App, phone: str, message: str, code: str, template: str) -> None:
        async with app.db.write() as conn:
            await conn.execute(sa.insert(app.catalog.system("_hb_sms_outbox")).values(
                id=random_id(), phone=phone, template=template, message=message, code=code, created_at=now()))


def load_sender(spec: str) -> SmsSender:
    """``outbox``, or ``package.module:Class`` imported and instantiated without arguments."""
    if spec == "outbox":
        return OutboxSender()
    shown = str(spec)[:200]
    if not isinstance(spec, str) or not SENDER_SPEC.fullmatch(spec):
        raise InvalidValue(f"sms_sender must be `outbox` or `package.module:Class`, got {shown!r}",
                           field="sms_sender", reason="sms_sender")
    module_name, class_name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidValue(f"sms_sender {shown!r}: cannot import {module_name!r} ({exc})",
                           field="sms_sender", reason="sms_sender") from None
    except Exception as exc:  # the plug-in's own module failed while loading
        raise InvalidValue(f"sms_sender {shown!r}: importing {module_name!r} raised {type(exc).__name__}",
                           field="sms_sender", reason="sms_sender") from None
    cls = getattr(module, class_name, None)
    if cls is None or not callable(cls):
        raise InvalidValue(f"sms_sender {shown!r}: {module_name!r} has no class {class_name!r}",
                           field="sms_sender", reason="sms_sender")
    try:
        sender = cls()
    except Exception as exc:
        raise InvalidValue(f"sms_sender {shown!r}: {class_name}() raised {type(exc).__name__}",
                           field="sms_sender", reason="sms_sender") from None
    if not callable(getattr(sender, "send", None)):
        raise InvalidValue(f"sms_sender {shown!r}: {class_name} has no `async def send(...)` method",
                           field="sms_sender", reason="sms_sender")
    return cast(SmsSender, sender)


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _check_phone(phone: Any) -> str:
    if not isinstance(phone, str):
        raise TypeMismatch(None, PHONE_FIELD, "a string", type_of(phone))
    if not PHONE.fullmatch(phone):
        raise InvalidValue(f"`{PHONE_FIELD}` must be 6-20 digits with an optional leading +",
                           field=PHONE_FIELD, reason="phone")
    return phone


def _check_template(template: Any) -> str:
    if template is None:
        return ""
    if not isinstance(template, str):
        raise TypeMismatch(None, "template", "a string", type_of(template))
    if not TEMPLATE.fullmatch(template):
        raise InvalidValue("`template` must be at most 64 letters, digits, '_' or '-'",
                           field="template", reason="template")
    return template


def _wrong_code() -> InvalidValue:
    return InvalidValue("SMS code is wrong or expired", field="smsCode", reason="sms_code")


def _lasts(seconds: int) -> str:
    if seconds % 60:
        return f"{seconds} seconds"
    minutes = seconds // 60
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _retry_after(at: dt.datetime, stamp: dt.datetime) -> int:
    return max(1, math.ceil((at - stamp).total_seconds()))


class SmsCodes:
    """Issues and checks the codes of every app, sending through one sender.

    Wrong guesses are counted in ``attempts`` by a separate write that runs once the caller's transaction
    ends (the caller rolls back when ``verify`` raises, which would undo an increment made inside it); until
    that write lands, the guesses also count in memory so the limit holds at once in this process.
    """

    def __init__(self, settings: CoreSettings, sender: SmsSender | None = None) -> None:
        self.ttl = settings.sms_code_ttl_seconds
        self.min_interval = settings.sms_min_interval_seconds
        self.max_per_hour = settings.sms_max_per_hour
        self.sender = sender if sender is not None else load_sender(settings.sms_sender)
        self._unsaved: dict[tuple[str, str], int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._take_failures: dict[str, deque[float]] = {}

    # -- request ----------------------------------------------------------------------------------------

    async def request(self, app: App, principal: Principal | None, phone: Any, template: Any = "") -> str:
        """Send a fresh code to ``phone``; returns its smsId."""
        require_caller(app, principal)
        phone = _check_phone(phone)
        template = _check_template(template)
        t = app.catalog.system("_hb_sms_codes")
        sms_id = random_id()
        async with app.db.write() as conn:
            stamp = now()
            await self._lock(conn, app)
            await self._check_rate(conn, t, phone, stamp)
            code = await self._fresh_code(conn, t, stamp)
            await conn.execute(sa.insert(t).values(
                id=sms_id, phone=phone, code_hash=hash_code(code), created_at=stamp,
                expires_at=stamp + dt.timedelta(seconds=self.ttl), used_at=None, attempts=0))
        message = f"Your verification code is {code}. It expires in {_lasts(self.ttl)}."
        try:
            await self.sender.send(app, phone, message, code, template)
        except Exception as exc:
            log.warning("SMS sender %s failed for app %s: %s", type(self.sender).__name__, app.name,
                        type(exc).__name__)
            async with app.db.write() as conn:
                await conn.execute(sa.delete(t).where(t.c.id == sms_id))
            raise SmsSendFailed("the SMS could not be sent; try again later", field=PHONE_FIELD) from None
        return sms_id

    async def _lock(self, conn: AsyncConnection, app: App) -> None:
        """Serialise code requests of one app (SQLite's write lock already does; PostgreSQL needs a lock)."""
        if app.db.dialect == "postgresql":
            digest = hashlib.sha256(f"hivebase.sms:{app.db.schema}".encode()).digest()
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(int.from_bytes(digest[:8], signed=True))))

    async def _check_rate(self, conn: AsyncConnection, t: sa.Table, phone: str, stamp: dt.datetime) -> None:
        hour_ago = stamp - dt.timedelta(seconds=HOUR)
        await conn.execute(sa.delete(t).where(t.c.phone == phone, t.c.created_at <= hour_ago,
                                              t.c.expires_at <= stamp))
        recent = list((await conn.execute(
            sa.select(t.c.created_at).where(t.c.phone == phone, t.c.created_at > hour_ago)
            .order_by(t.c.created_at.desc()).limit(self.max_per_hour))).scalars())
        if recent and self.min_interval and recent[0] > stamp - dt.timedelta(seconds=self.min_interval):
            wait = _retry_after(recent[0] + dt.timedelta(seconds=self.min_interval), stamp)
            raise LimitExceeded(f"a code was sent to this number less than {self.min_interval} seconds ago; "
                                f"retry in {wait} s", reason="rate_limit", field=PHONE_FIELD, retryAfter=wait)
        if len(recent) >= self.max_per_hour:
            wait = _retry_after(recent[-1] + dt.timedelta(seconds=HOUR), stamp)
            raise LimitExceeded(f"at most {self.max_per_hour} codes per hour go to one number; retry in {wait} s",
                                reason="rate_limit", field=PHONE_FIELD, retryAfter=wait)

    async def _fresh_code(self, conn: AsyncConnection, t: sa.Table, stamp: dt.datetime) -> str:
        """A code no other live code of the app shares (``take`` finds codes without their number)."""
        for _ in range(20):
            code = f"{secrets.randbelow(10**6):06d}"
            taken = await conn.scalar(sa.select(t.c.id).where(
                t.c.code_hash == hash_code(code), t.c.used_at.is_(None), t.c.expires_at > stamp).limit(1))
            if taken is None:
                return code
        raise LimitExceeded("too many SMS codes are pending in this app; try again later", reason="sms_busy")

    # -- verify and take --------------------------------------------------------------------------------

    async def verify(self, conn: AsyncConnection, app: App, phone: Any, code: Any, *, consume: bool = True) -> None:
        """Check ``code`` against the newest live code of ``phone`` inside the caller's write transaction."""
        if not (isinstance(phone, str) and PHONE.fullmatch(phone) and isinstance(code, str)
                and CODE.fullmatch(code)):
            raise _wrong_code()  # malformed input never matches, so it costs no attempt
        t = app.catalog.system("_hb_sms_codes")
        stamp = now()
        unsaved = dict(self._unsaved)
        row = (await conn.execute(
            sa.select(t.c.id, t.c.code_hash, t.c.attempts)
            .where(t.c.phone == phone, t.c.used_at.is_(None), t.c.expires_at > stamp)
            .order_by(t.c.created_at.desc(), t.c.id.desc()).limit(1))).first()
        if row is None:
            raise _wrong_code()
        if not hmac.compare_digest(hash_code(code), row.code_hash):
            self._count_wrong(app, row.id)  # even past the limit: a dead code must never look alive again
            raise _wrong_code()
        if self._attempts(app, row.id, row.attempts, unsaved) >= MAX_ATTEMPTS:
            raise _wrong_code()
        if consume:
            await self._consume(conn, t, row.id, stamp)

    async def take(self, conn: AsyncConnection, app: App, code: Any) -> str:
        """Consume the live code equal to ``code`` (no number given) and return its number.

        Guessing is bounded by an in-memory sliding window: at most 10 failed calls per app per minute in
        this ``SmsCodes`` (the server holds one per process), so the bound is per process, not global.
        """
        failures = self._take_failures.setdefault(app.application_id, deque())
        clock = time.monotonic()
        while failures and failures[0] <= clock - TAKE_WINDOW:
            failures.popleft()
        if len(failures) >= TAKE_FAILURES:
            wait = max(1, math.ceil(failures[0] + TAKE_WINDOW - clock))
            raise LimitExceeded(f"too many wrong SMS codes; retry in {wait} s", reason="rate_limit",
                                field="smsCode", retryAfter=wait)
        t = app.catalog.system("_hb_sms_codes")
        stamp = now()
        unsaved = dict(self._unsaved)
        row = None
        if isinstance(code, str) and CODE.fullmatch(code):
            row = (await conn.execute(
                sa.select(t.c.id, t.c.phone, t.c.attempts)
                .where(t.c.code_hash == hash_code(code), t.c.used_at.is_(None), t.c.expires_at > stamp,
                       t.c.attempts < MAX_ATTEMPTS)
                .order_by(t.c.created_at.desc(), t.c.id.desc()).limit(1))).first()
        if row is None or self._attempts(app, row.id, row.attempts, unsaved) >= MAX_ATTEMPTS:
            failures.append(clock)
            raise _wrong_code()
        await self._consume(conn, t, row.id, stamp)
        return str(row.phone)

    async def _consume(self, conn: AsyncConnection, t: sa.Table, sms_id: str, stamp: dt.datetime) -> None:
        done = await conn.execute(sa.update(t).where(t.c.id == sms_id, t.c.used_at.is_(None)).values(used_at=stamp))
        if done.rowcount != 1:  # a concurrent call consumed it first
            raise _wrong_code()

    def _attempts(self, app: App, sms_id: str, stored: int, unsaved_before: dict[tuple[str, str], int]) -> int:
        """Wrong guesses so far. ``unsaved_before`` is the in-memory count taken before ``stored`` was read:
        a save landing in between would otherwise be missed by both (counted twice at worst, never lost)."""
        key = (app.application_id, sms_id)
        return stored + max(unsaved_before.get(key, 0), self._unsaved.get(key, 0))

    def _count_wrong(self, app: App, sms_id: str) -> None:
        key = (app.application_id, sms_id)
        self._unsaved[key] = self._unsaved.get(key, 0) + 1
        task = asyncio.get_running_loop().create_task(self._save_wrong(app, key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _save_wrong(self, app: App, key: tuple[str, str]) -> None:
        t = app.catalog.system("_hb_sms_codes")
        try:
            async with app.db.write() as conn:  # waits for the caller's transaction to end
                await conn.execute(sa.update(t).where(t.c.id == key[1]).values(attempts=t.c.attempts + 1))
        except Exception as exc:  # the guess stays counted in memory
            log.warning("could not record a wrong SMS code for app %s: %s", app.name, type(exc).__name__)
            return
        left = self._unsaved.get(key, 0) - 1
        if left > 0:
            self._unsaved[key] = left
        else:
            self._unsaved.pop(key, None)

    async def settle(self) -> None:
        """Wait until every wrong guess counted so far is in the database. Call it outside any transaction
        of the app (on SQLite the write would wait for that transaction)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- development outbox -----------------------------------------------------------------------------

    async def outbox(self, app: App, phone: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Messages recorded by the outbox sender, newest first."""
        if phone is not None:
            phone = _check_phone(phone)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidValue("`limit` must be a whole number from 1 to 1000", field="limit", reason="limit")
        t = app.catalog.system("_hb_sms_outbox")
        stmt = sa.select(t).order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit)
        if phone is not None:
            stmt = stmt.where(t.c.phone == phone)
        async with app.db.read() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [{"id": r["id"], PHONE_FIELD: r["phone"], "template": r["template"], "message": r["message"],
                 "code": r["code"], "createdAt": r["created_at"].isoformat()} for r in rows]
