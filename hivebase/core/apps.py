"""The registry of apps: the main app and its sub-apps, each with its own storage, catalog and keys."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from hivebase.core.catalog import Catalog
from hivebase.core.secrets import Vault, hash_key, random_key, same_hash
from hivebase.db import migrations
from hivebase.db.engine import Database, Engines
from hivebase.db.tables.registry import apps_table
from hivebase.errors import Conflict, InvalidName, NotFound

MAIN = "main"
APP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


@dataclass(slots=True)
class App:
    """An opened app: where its data lives and its catalog."""

    name: str
    application_id: str
    db: Database
    catalog: Catalog
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Credentials:
    app: str
    application_id: str
    rest_api_key: str | None
    master_key: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"app": self.app, "applicationId": self.application_id, "restApiKey": self.rest_api_key,
                "masterKey": self.master_key}


@dataclass(frozen=True, slots=True)
class Migration:
    """What ``AppRegistry.migrate`` did to one database: which (``registry``, ``app <name>``), where it lives
    (SQLite file or PostgreSQL schema) and the outcome."""

    database: str
    where: str
    outcome: migrations.Outcome

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.database, "where": self.where, **self.outcome.to_dict()}


def _where(db: Database) -> str:
    return db.schema if db.schema is not None else str(db.engine.url.database)


def check_app_name(name: str) -> str:
    if not isinstance(name, str) or not APP_NAME.match(name):
        shown = str(name)[:64]
        raise InvalidName(f"invalid app name {shown!r}: use 1-40 lowercase letters, digits, '-' or '_', "
                          "starting with a letter or digit", reason="app_name")
    return name


@dataclass(frozen=True, slots=True)
class _KeyHashes:
    read_at: float
    rest: str
    master: str

    def of(self, kind: str) -> str:
        return self.rest if kind == "rest" else self.master


class AppRegistry:
    """Creates, opens and deletes apps; verifies their keys."""

    def __init__(self, engines: Engines, vault: Vault, refresh_seconds: float = 1.0,
                 on_open: Callable[[App], Awaitable[None]] | None = None) -> None:
        self.on_open = on_open  # readies an app's own tables (users, roles) before its first caller
        self.engines = engines
        self.vault = vault
        self.refresh_seconds = refresh_seconds
        self.system = engines.system()
        self.t_apps = apps_table(self.system.schema)
        self._open: dict[str, App] = {}
        self._lock = asyncio.Lock()
        # Key hashes by app name and names by application id, read at most every refresh_seconds: every REST
        # and MCP call checks a key, and a read per call cost as much as the call's own query.
        self._keys: dict[str, _KeyHashes] = {}
        self._names: dict[str, str] = {}

    async def bootstrap(self) -> None:
        """Create or upgrade the registry's tables (its migrations; one read when they are current)."""
        await migrations.upgrade(self.system, "registry")

    async def migrate(self, check: bool = False) -> list[Migration]:
        """Run the migrations of the registry and of every app (``check``: only say where each stands)."""
        step = migrations.status if check else migrations.upgrade
        done = [Migration("registry", _where(self.system), await step(self.system, "registry"))]
        try:
            names = [a["app"] for a in await self.list()]
        except DBAPIError:  # checking a registry that was never made: no apps
            names = []
        for name in names:
            db = self.engines.for_app(name)
            done.append(Migration(f"app {name}", _where(db), await step(db, "app")))
        return done

    async def exists(self, name: str) -> bool:
        async with self.system.read() as conn:
            return await conn.scalar(sa.select(self.t_apps.c.name).where(self.t_apps.c.name == name)) is not None

    async def create(self, name: str, settings: dict[str, Any] | None = None) -> Credentials:
        """Create an app with fresh keys; the only time the keys are returned besides ``credentials``."""
        check_app_name(name)
        creds = Credentials(name, random_key(), random_key(), random_key())
        assert creds.rest_api_key and creds.master_key
        async with self.system.write() as conn:
            taken = await conn.scalar(sa.select(self.t_apps.c.name).where(self.t_apps.c.name == name))
            if taken is not None:
                raise InvalidName(f"app {name!r} already exists", reason="app_exists")
            await conn.execute(sa.insert(self.t_apps).values(
                name=name, application_id=creds.application_id,
                rest_key_hash=hash_key(creds.rest_api_key), master_key_hash=hash_key(creds.master_key),
                rest_key_sealed=self.vault.seal(creds.rest_api_key),
                master_key_sealed=self.vault.seal(creds.master_key),
                settings=settings or {}, created_at=dt.datetime.now(dt.UTC)))
        try:
            await self.open(name)
        except BaseException:
            await self._forget(name)
            raise
        return creds

    async def list(self) -> list[dict[str, Any]]:
        async with self.system.read() as conn:
            rows = (await conn.execute(sa.select(self.t_apps.c.name, self.t_apps.c.application_id,
                                                 self.t_apps.c.created_at).order_by(self.t_apps.c.name))).all()
        return [{"app": r.name, "applicationId": r.application_id, "createdAt": r.created_at.isoformat()}
                for r in rows]

    async def _row(self, name: str) -> Any:
        async with self.system.read() as conn:
            row = (await conn.execute(sa.select(self.t_apps).where(self.t_apps.c.name == name))).first()
        if row is None:
            raise NotFound(f"app {str(name)[:64]!r} does not exist", reason="app")
        return row

    async def credentials(self, name: str) -> Credentials:
        row = await self._row(name)
        return Credentials(name, row.application_id, self.vault.open(row.rest_key_sealed),
                           self.vault.open(row.master_key_sealed))

    async def rotate(self, name: str, which: str = "both") -> Credentials:
        """New REST API and/or master key; the old ones stop working at once."""
        await self._row(name)
        values: dict[str, Any] = {}
        rest = master = None
        if which in ("rest", "both"):
            rest = random_key()
            values.update(rest_key_hash=hash_key(rest), rest_key_sealed=self.vault.seal(rest))
        if which in ("master", "both"):
            master = random_key()
            values.update(master_key_hash=hash_key(master), master_key_sealed=self.vault.seal(master))
        async with self.system.write() as conn:
            await conn.execute(sa.update(self.t_apps).where(self.t_apps.c.name == name).values(**values))
        self._keys.pop(name, None)
        current = await self.credentials(name)
        return Credentials(name, current.application_id, rest or current.rest_api_key,
                           master or current.master_key)

    async def delete(self, name: str) -> None:
        if name == MAIN:
            raise Conflict("the main app cannot be deleted", reason="main_app")
        await self._row(name)
        await self._forget(name)

    async def _forget(self, name: str) -> None:
        async with self._lock:
            self._open.pop(name, None)
            self._keys.pop(name, None)
            self._names = {k: v for k, v in self._names.items() if v != name}
            async with self.system.write() as conn:
                await conn.execute(sa.delete(self.t_apps).where(self.t_apps.c.name == name))
            await self.engines.drop_app(name)

    async def open(self, name: str) -> App:
        """The app, its storage ready and its catalog loaded."""
        app = self._open.get(name)
        if app is not None:
            return app
        async with self._lock:
            app = self._open.get(name)
            if app is not None:
                return app
            row = await self._row(name)
            db = self.engines.for_app(name)
            catalog = Catalog(db, self.refresh_seconds)
            await catalog.bootstrap()  # makes the schema and runs the app's migrations when needed
            app = App(name, row.application_id, db, catalog, dict(row.settings or {}))
            if self.on_open is not None:
                await self.on_open(app)
            self._open[name] = app
            return app

    async def by_application_id(self, application_id: str) -> App:
        name = self._names.get(application_id)
        if name is None or name not in self._open or not self._fresh(name):
            async with self.system.read() as conn:
                row = (await conn.execute(sa.select(self.t_apps)
                                          .where(self.t_apps.c.application_id == application_id))).first()
            if row is None:
                self._names.pop(application_id, None)
                raise NotFound("unknown application id", reason="app")
            name = row.name
            self._remember(row)
            self._names[application_id] = name
        return await self.open(name)

    async def check_key(self, name: str, key: str, kind: str) -> bool:
        """Whether ``key`` is the app's current REST API key (``kind='rest'``) or master key. Hashes are
        re-read when older than ``refresh_seconds`` or when the key does not match them, so a rotation in
        this process acts at once and one in another process within ``refresh_seconds``."""
        cached = self._keys.get(name)
        if cached is not None and self._fresh(name) and same_hash(key, cached.of(kind)):
            return True
        return same_hash(key, self._remember(await self._row(name)).of(kind))

    def _fresh(self, name: str) -> bool:
        cached = self._keys.get(name)
        return cached is not None and time.monotonic() - cached.read_at < self.refresh_seconds

    def _remember(self, row: Any) -> _KeyHashes:
        hashes = _KeyHashes(time.monotonic(), row.rest_key_hash, row.master_key_hash)
        self._keys[row.name] = hashes
        return hashes
