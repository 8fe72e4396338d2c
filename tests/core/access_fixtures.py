"""Shared set-up of the access-control suites (a helper module, not a conftest).

The per-test ``hub`` fixture costs about 0.6 s on PostgreSQL and every sign-up an argon2 hash, so these
suites build one app per test module and database (``open_hub``) and run hundreds of cells against it.
Principals are always resolved from real credentials (master key, REST API key, session tokens, API
keys) through ``hivebase.auth.resolve.resolve``, exactly as a door would. ``snapshot`` reads every
row of every table (user tables, Relation join tables, access system tables) straight from the database,
so "a refused call changes nothing" is checked against the storage itself.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hivebase.auth.resolve import resolve
from hivebase.config import Settings
from hivebase.core import records, roles
from hivebase.core.apps import App, Credentials
from hivebase.core.identity import users
from hivebase.core.principal import Principal
from hivebase.core.secrets import random_id
from hivebase.errors import HivebaseError
from hivebase.hub import Hub
from tests.conftest import PG_URL, drop_prefixed_schemas, require_postgres

ROOT = Principal.root()
PASSWORD = "correct horse 1"
ACCESS_TABLES = ("_hb_roles", "_hb_role_tables", "_hb_user_roles", "_hb_api_keys", "_hb_sessions",
                 "_hb_passwords", "_hb_settings")


def ptr(table: str, oid: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": table, "objectId": oid}


def unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


def database(backend: str) -> str:
    """The backend of a module-scoped world, skipping (or failing, in CI) when PostgreSQL is missing. Synchronous:
    the reachability probe runs its own event loop."""
    if backend == "postgres":
        require_postgres()
    return backend


@asynccontextmanager
async def open_hub(backend: str, data_dir: Path) -> AsyncIterator[tuple[Hub, Credentials]]:
    """A started hub with its main app, on SQLite or (with a schema prefix of its own) PostgreSQL; call
    ``database`` first, outside the event loop."""
    if backend == "postgres":
        settings = Settings(data_dir=data_dir, database_url=PG_URL, schema_prefix=f"t{secrets.token_hex(4)}_",
                            catalog_refresh_seconds=0, sms_min_interval_seconds=0)
    else:
        settings = Settings(data_dir=data_dir, catalog_refresh_seconds=0, sms_min_interval_seconds=0)
    hub = Hub(settings)
    await hub.start()
    try:
        creds = await hub.init_main()
        assert creds is not None
        yield hub, creds
    finally:
        await hub.close()
        await drop_prefixed_schemas(settings)


@dataclass
class Actors:
    """Named callers of one app and the credentials that prove them."""

    hub: Hub
    app: App
    creds: Credentials
    users: dict[str, str] = field(default_factory=dict)  # name → objectId
    tokens: dict[str, str] = field(default_factory=dict)  # name → session token
    credentials: dict[str, dict[str, str]] = field(default_factory=dict)  # principal name → resolve() kwargs

    def __post_init__(self) -> None:
        self.credentials.setdefault("root", {"master_key": self.creds.master_key or ""})
        self.credentials.setdefault("anon", {"rest_key": self.creds.rest_api_key or ""})
        self.credentials.setdefault("nobody", {})

    async def sign_up(self, name: str, *, username: str | None = None, roles_held: tuple[str, ...] = ("member",),
                      default: str | None = None, principal: str | None = None) -> str:
        """A user signed up by a client (the ``member`` role), then given ``roles_held`` by root."""
        client = Principal.client(self.app.name)
        row = await users.sign_up(self.app, client, {"username": username or unique(f"{name}-"),
                                                     "password": PASSWORD})
        uid = row["objectId"]
        self.users[name] = uid
        self.tokens[name] = row["sessionToken"]
        self.credentials[principal or name] = {"session_token": row["sessionToken"]}
        for role in roles_held:
            if role != "member":
                await roles.grant(self.app, ROOT, uid, role, default=role == (default or roles_held[0]))
        if "member" not in roles_held:
            await roles.revoke(self.app, ROOT, uid, "member")
        return uid

    async def principal(self, name: str, **extra: str) -> Principal:
        return await resolve(self.hub.apps, self.app, **{**self.credentials[name], **extra})


# One app per database and test module (a hub costs ~0.6 s on PostgreSQL, a sign-up one argon2 hash):
# modules import these two fixtures, which replace conftest's per-test ones.
@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return database(request.param)


async def snapshot(app: App) -> dict[str, Any]:
    """Every table's rows (read as root, straight from storage), the schema, and the access tables."""
    await app.catalog.refresh(force=True)
    out: dict[str, Any] = {"schema": {n: t.describe() for n, t in sorted(app.catalog.tables.items())}}
    async with app.db.read() as conn:
        for name, tdef in sorted(app.catalog.tables.items()):
            rows = (await conn.execute(sa.select(tdef.table))).mappings().all()
            out[name] = sorted((dict(r) for r in rows), key=lambda r: r["objectId"])
            for fname, jt in sorted(tdef.join_tables.items()):
                out[f"{name}.{fname}"] = sorted(tuple(r) for r in (await conn.execute(sa.select(jt))).all())
        for name in ACCESS_TABLES:
            rows = (await conn.execute(sa.select(app.catalog.system(name)))).mappings().all()
            out[name] = sorted((dict(r) for r in rows), key=repr)
    return out


@asynccontextmanager
async def unchanged(app: App) -> AsyncIterator[None]:
    """Assert that nothing in the app's storage changed inside the block."""
    before = await snapshot(app)
    yield
    after = await snapshot(app)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not changed, f"a refused call changed {changed}"


async def set_columns(app: App, table: str, oid: str, **values: Any) -> None:
    """Write built-in columns (createdBy, ACL…) directly, as a fixture needs and no caller may."""
    t = app.catalog.get(table).table
    async with app.db.write() as conn:
        await conn.execute(sa.update(t).where(t.c.objectId == oid).values(**values))


async def clone(app: App, table: str, oid: str, **changes: Any) -> str:
    """A copy of a row (same owner, ACL and values; a new objectId) for a write that may succeed."""
    t = app.catalog.get(table).table
    async with app.db.write() as conn:
        row = dict((await conn.execute(sa.select(t).where(t.c.objectId == oid))).mappings().one())
        row.update(changes, objectId=random_id())
        await conn.execute(sa.insert(t).values(**row))
    return str(row["objectId"])


async def discard(app: App, table: str, oid: str) -> None:
    """Remove a copy made by ``clone`` straight from storage (no hooks: a copy has no credentials)."""
    tdef = app.catalog.get(table)
    async with app.db.write() as conn:
        for jt in tdef.join_tables.values():
            await conn.execute(sa.delete(jt).where(jt.c.owningId == oid))
        await conn.execute(sa.delete(tdef.table).where(tdef.table.c.objectId == oid))


async def drop_row(app: App, table: str, oid: str) -> None:
    """Remove a row as root if it still exists (clean-up after a cell)."""
    try:
        await records.delete(app, ROOT, table, oid)
    except HivebaseError:
        pass


def refused(exc: BaseException, kind: type[HivebaseError], reason: str | None = None) -> None:
    """``exc`` is exactly the refusal expected (class and, when given, reason)."""
    assert type(exc) is kind, f"expected {kind.__name__}, got {type(exc).__name__}: {exc}"
    if reason is not None:
        assert getattr(exc, "reason", None) == reason, f"expected reason {reason!r}: {exc.to_dict()}"  # type: ignore[attr-defined]

