"""Engines and the ``Database`` object through which every SQL statement of an app passes.

SQLite: one file per app (apps stay isolated, a sub-app can be deleted by removing its file), WAL,
foreign keys on, and write transactions that take the write lock up front (``BEGIN IMMEDIATE``) so two
writers never deadlock on a lock upgrade. PostgreSQL: one engine, one schema per app.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import re2  # untyped: see [[tool.mypy.overrides]] in pyproject.toml
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

Dialect = Literal["sqlite", "postgresql"]
SYSTEM_NAME = "hivebase"
REGEX_CACHE = 256  # compiled patterns kept per process
APP_SCHEMA_PREFIX = "app_"
SQLITE_POOL = 5  # connections kept per SQLite file
PG_POOL = 20  # connections kept to PostgreSQL


class Database:
    """One app's (or the system registry's) storage: an engine plus the schema its tables live in."""

    def __init__(self, engine: AsyncEngine, dialect: Dialect, schema: str | None) -> None:
        self.engine = engine
        self.dialect: Dialect = dialect
        self.schema = schema
        self._write_lock: asyncio.Lock | None = None

    @contextlib.asynccontextmanager
    async def read(self, snapshot: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection for reading. On SQLite each statement sees its own committed snapshot unless
        ``snapshot`` asks for one transaction around all of them."""
        async with self.engine.connect() as conn:
            if snapshot:
                await conn.execution_options(hb_snapshot=True)
            async with conn.begin():
                yield conn

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed when the block ends, rolled back whole on any exception."""
        if self.dialect != "sqlite":
            async with self.engine.begin() as conn:
                yield conn
            return
        # One writer per process at a time; BEGIN IMMEDIATE + busy_timeout orders writers across processes.
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        async with self._write_lock, self.engine.connect() as conn:
            await conn.execution_options(hb_write=True)
            async with conn.begin():
                yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()


def normalize_url(url: str) -> str:
    """Accept plain driver-less URLs and pick our async drivers."""
    u = make_url(url)
    backend = u.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return u.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL scheme {backend!r}: use postgresql://… or leave it empty for SQLite")


def app_schema(app_name: str) -> str:
    return APP_SCHEMA_PREFIX + app_name


def sqlite_engine(path: Path, pool_size: int = 5) -> AsyncEngine:
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{path}",
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"check_same_thread": False},
    )
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We emit BEGIN ourselves (see _on_begin); the driver's implicit transactions would defeat it.
        # LIKE is made case-sensitive as on PostgreSQL; case-insensitive matching lowers both sides.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL", "busy_timeout=15000",
                       "case_sensitive_like=ON"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()
        _register_functions(dbapi_connection)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front; readers need no BEGIN (each statement reads one WAL snapshot),
        # which saves a round trip to the driver's thread per request.
        options = conn.get_execution_options()
        if options.get("hb_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif options.get("hb_snapshot"):
            conn.exec_driver_sql("BEGIN")


def _register_functions(dbapi_connection: Any) -> None:
    """SQL functions SQLite may lack, so geo and regex queries run inside the statement."""
    dbapi_connection.create_function("hb_regexp", 2, _regexp, deterministic=True)
    for name, fn in (("sin", math.sin), ("cos", math.cos), ("asin", math.asin),
                     ("sqrt", math.sqrt), ("radians", math.radians)):
        dbapi_connection.create_function("hb_" + name, 1, _nullsafe(fn), deterministic=True)


class RegexError(ValueError):
    """A pattern RE2 does not compile."""


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.never_capture = True  # only "does it match": no submatch bookkeeping
_RE2_OPTIONS.log_errors = False
_REGEX_CACHE: dict[str, Any] = {}


def _internal_re2() -> tuple[Any, Any] | None:
    """The binding's compiled-pattern class under the Python wrapper and its unanchored mode, if they work."""
    # re2._re2 is private and may change between google-re2 releases: probe it once, else use re2.compile
    try:
        cls = re2._re2.RE2
        unanchored = cls.Anchor.UNANCHORED
        probe = cls(b"b", _RE2_OPTIONS)
        if not probe.ok() or probe.Match(unanchored, b"ab", 0, 2)[0][0] != 1:
            return None
        return cls, unanchored
    except Exception:
        return None


_FAST_RE2 = _internal_re2()


def _error_text(message: Any) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def compile_regex(pattern: str) -> Any:
    """``pattern`` compiled by RE2, kept (a query runs one pattern over many rows). RE2 runs in time linear in
    the text and never backtracks, so no match needs a time limit; it has no backreferences or lookaround.
    The binding's ``RE2`` object is used as is: ``re2.search`` would cost four times as much per row."""
    rx = _REGEX_CACHE.get(pattern)
    if rx is None:
        data = pattern.encode("utf-8", "surrogatepass")
        if _FAST_RE2 is not None:
            rx = _FAST_RE2[0](data, _RE2_OPTIONS)
            if not rx.ok():
                raise RegexError(_error_text(rx.error()))
        else:
            try:
                rx = re2.compile(data, _RE2_OPTIONS)
            except re2.error as exc:
                raise RegexError(_error_text(exc.args[0] if exc.args else exc)) from None
        if len(_REGEX_CACHE) >= REGEX_CACHE:
            _REGEX_CACHE.clear()
        _REGEX_CACHE[pattern] = rx
    return rx


def regex_search(pattern: str, text: str) -> bool:
    """Whether RE2 finds ``pattern`` anywhere in ``text``."""
    data = text.encode("utf-8", "surrogatepass")
    if _FAST_RE2 is None:
        return compile_regex(pattern).search(data) is not None
    return bool(compile_regex(pattern).Match(_FAST_RE2[1], data, 0, len(data))[0][0] >= 0)


def _regexp(pattern: str | None, value: Any) -> int | None:
    """``hb_regexp(pattern, value)``: 1 when RE2 finds ``pattern`` in ``value``, NULL for non-text values."""
    if pattern is None or not isinstance(value, str):
        return None
    return 1 if regex_search(pattern, value) else 0


def _nullsafe(fn: Any) -> Any:
    def wrapped(x: float | None) -> float | None:
        return None if x is None else fn(x)
    return wrapped


async def drop_schemas(database_url: str, prefix: str) -> list[str]:
    """Drop every PostgreSQL schema whose name starts with ``prefix`` (tests, benchmarks, a shared database
    being cleared of one deployment). Returns the names dropped."""
    if not prefix:
        raise ValueError("refusing to drop schemas without a prefix")
    engine = create_async_engine(normalize_url(database_url), pool_size=1)
    try:
        async with engine.begin() as conn:
            names = list((await conn.execute(
                text("SELECT nspname FROM pg_namespace WHERE left(nspname, length(:p)) = :p"), {"p": prefix}
            )).scalars())
            quote = conn.dialect.identifier_preparer.quote_identifier
            for name in names:
                await conn.execute(text(f"DROP SCHEMA IF EXISTS {quote(name)} CASCADE"))
        return names
    finally:
        await engine.dispose()


class Engines:
    """Where each app's database lives, for one data dir and database URL."""

    def __init__(self, data_dir: Path, database_url: str | None = None, pool_size: int | None = None,
                 schema_prefix: str = "") -> None:
        self.data_dir = Path(data_dir)
        # PostgreSQL: one pool for every app, as large as the clients a process serves at once; a pool
        # smaller than that opens and closes a server connection per request past it (3x slower gets)
        self.pool_size = pool_size or (PG_POOL if database_url else SQLITE_POOL)
        self.schema_prefix = schema_prefix
        self._pg: AsyncEngine | None = None
        self._sqlite: dict[str, Database] = {}
        if database_url:
            self.dialect: Dialect = "postgresql"
            self._pg = create_async_engine(normalize_url(database_url), pool_size=self.pool_size,
                                           max_overflow=self.pool_size, pool_pre_ping=False)
        else:
            self.dialect = "sqlite"

    def _sqlite_path(self, name: str) -> Path:
        return self.data_dir / "db" / f"{name}.sqlite3"

    def system(self) -> Database:
        if self._pg is not None:
            return Database(self._pg, "postgresql", self.schema_prefix + SYSTEM_NAME)
        return self._sqlite_db(SYSTEM_NAME, self._sqlite_path(SYSTEM_NAME))

    def for_app(self, name: str) -> Database:
        if self._pg is not None:
            return Database(self._pg, "postgresql", self.schema_prefix + app_schema(name))
        return self._sqlite_db("app:" + name, self._sqlite_path("app_" + name))

    def _sqlite_db(self, key: str, path: Path) -> Database:
        db = self._sqlite.get(key)
        if db is None:
            db = self._sqlite[key] = Database(sqlite_engine(path, self.pool_size), "sqlite", None)
        return db

    async def drop_app(self, name: str) -> None:
        if self._pg is not None:
            async with self._pg.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema_prefix + app_schema(name)}" CASCADE'))
            return
        db = self._sqlite.pop("app:" + name, None)
        if db is not None:
            await db.dispose()
        base = self._sqlite_path("app_" + name)
        for suffix in ("", "-wal", "-shm"):
            Path(str(base) + suffix).unlink(missing_ok=True)

    async def dispose(self) -> None:
        if self._pg is not None:
            await self._pg.dispose()
        for db in self._sqlite.values():
            await db.dispose()
        self._sqlite.clear()


__all__ = ["Database", "Dialect", "Engines", "RegexError", "app_schema", "compile_regex", "normalize_url",
           "regex_search"]
