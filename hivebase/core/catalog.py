"""An app's catalog: its tables and fields, and the roles that may use them, kept in the app's own
system tables and cached here.

The cache is refreshed when this process changes the schema, when a name is not found (another process
may just have created it), and otherwise at most every ``refresh_seconds``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hivebase.core.model import BUILTIN_FIELDS, FieldDef, IndexDef, TableDef
from hivebase.core.policy import Policy, load_policy
from hivebase.db import migrations
from hivebase.db.ddl import short_name
from hivebase.db.engine import Database
from hivebase.db.tables import app_tables
from hivebase.db.types import JSONType, UTCDateTime
from hivebase.errors import NotFound, suggest

OBJECT_ID = sa.String(64)

BUILTINS: dict[str, FieldDef] = {
    "objectId": FieldDef("objectId", "String", builtin=True, note="unique id of the row"),
    "createdAt": FieldDef("createdAt", "Date", builtin=True, note="when the row was created"),
    "updatedAt": FieldDef("updatedAt", "Date", builtin=True, note="when the row was last changed"),
    "ACL": FieldDef("ACL", "Object", builtin=True, note="per-object access control list"),
    "createdBy": FieldDef("createdBy", "String", builtin=True, note="objectId of the user who created the row"),
    "updatedBy": FieldDef("updatedBy", "String", builtin=True, note="objectId of the user who last changed it"),
}
assert tuple(BUILTINS) == BUILTIN_FIELDS


def field_from_row(name: str, type_: str, options: dict[str, Any]) -> FieldDef:
    return FieldDef(
        name=name, type=type_,
        required=bool(options.get("required", False)),
        unique=bool(options.get("unique", False)),
        default=options.get("default"),
        auto_increment=bool(options.get("autoIncrement", False)),
        auto_increment_start=int(options.get("autoIncrementStart", 1)),
        target=options.get("targetClass"),
        note=str(options.get("note", "")),
    )


def unique_index_name(table: str, field: str) -> str:
    return short_name(table, field, prefix="uq_")


def join_table_name(table: str, field: str) -> str:
    return short_name(table, field, prefix="_hb_rel_")


class Catalog:
    """The cached schema of one app."""

    def __init__(self, db: Database, refresh_seconds: float = 1.0) -> None:
        self.db = db
        self.refresh_seconds = refresh_seconds
        self.sys = app_tables(db.schema)
        self.t_tables = self.sys.tables[self._key("_hb_tables")]
        self.t_fields = self.sys.tables[self._key("_hb_fields")]
        self.t_indexes = self.sys.tables[self._key("_hb_indexes")]
        self.t_counters = self.sys.tables[self._key("_hb_counters")]
        self.t_meta = self.sys.tables[self._key("_hb_meta")]
        self.tables: dict[str, TableDef] = {}
        #: roles and access settings, versioned with the schema
        self.policy = Policy()
        #: compiled statements that depend only on the schema; emptied whenever the schema is reloaded
        self.statements: dict[Any, Any] = {}
        self.version = -1
        self._checked = 0.0
        self._lock = asyncio.Lock()

    def system(self, name: str) -> sa.Table:
        """One of the app's system tables (``_hb_sessions``, ``_hb_roles``…)."""
        return self.sys.tables[self._key(name)]

    def _key(self, name: str) -> str:
        return f"{self.db.schema}.{name}" if self.db.schema else name

    async def bootstrap(self) -> None:
        """Create or upgrade the app's system tables (its migrations; one read when they are current), then load."""
        await migrations.upgrade(self.db, "app")
        await self.load()

    # -- reading the cache ------------------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self.tables)

    def lookup(self, name: str) -> TableDef | None:
        return self.tables.get(name)

    def get(self, name: str) -> TableDef:
        t = self.tables.get(name)
        if t is None:
            raise self.not_found(name)
        return t

    def not_found(self, name: str) -> NotFound:
        shown = name if len(name) <= 64 else name[:61] + "..."
        hint = suggest(name, list(self.tables))
        msg = f"table `{shown}` does not exist" + (f"; did you mean `{hint}`?" if hint else "")
        return NotFound(msg, reason="table", table=shown, suggestion=hint)

    async def table(self, name: str) -> TableDef:
        """The table, refreshing the cache once if it is unknown or stale."""
        await self.refresh()
        t = self.tables.get(name)
        if t is None and await self.refresh(force=True):
            t = self.tables.get(name)
        if t is None:
            raise self.not_found(name)
        return t

    def referrers(self, name: str) -> list[tuple[str, FieldDef]]:
        """(table, field) pairs whose Pointer or Relation targets ``name``."""
        return [(t.name, f) for t in self.tables.values() for f in t.fields.values()
                if f.target == name and not (t.name == name)]

    # -- loading ----------------------------------------------------------------------------------------

    async def refresh(self, force: bool = False) -> bool:
        """Reload when another process changed the schema; True when a reload happened."""
        now = time.monotonic()
        if not force and now - self._checked < self.refresh_seconds:
            return False
        async with self._lock:
            async with self.db.read(snapshot=True) as conn:
                version = await conn.scalar(
                    sa.select(self.t_meta.c.value).where(self.t_meta.c.key == "schema_version"))
                self._checked = time.monotonic()
                if version == self.version:
                    return False
                await self._load(conn)
            return True

    async def load(self) -> None:
        async with self._lock, self.db.read(snapshot=True) as conn:
            await self._load(conn)
            self._checked = time.monotonic()

    async def _load(self, conn: AsyncConnection) -> None:
        version = await conn.scalar(sa.select(self.t_meta.c.value).where(self.t_meta.c.key == "schema_version"))
        table_rows = (await conn.execute(sa.select(self.t_tables))).mappings().all()
        field_rows = (await conn.execute(
            sa.select(self.t_fields).order_by(self.t_fields.c.table_name, self.t_fields.c.position))).mappings().all()
        index_rows = (await conn.execute(sa.select(self.t_indexes))).mappings().all()
        fields: dict[str, dict[str, FieldDef]] = {r["name"]: dict(BUILTINS) for r in table_rows}
        for r in field_rows:
            if r["table_name"] in fields:
                fields[r["table_name"]][r["name"]] = field_from_row(r["name"], r["type"], r["options"] or {})
        indexes: dict[str, list[IndexDef]] = {}
        for r in index_rows:
            indexes.setdefault(r["table_name"], []).append(
                IndexDef(r["name"], tuple(r["fields"]), bool(r["is_unique"])))
        metadata = sa.MetaData(schema=self.db.schema)
        tables = {}
        for r in table_rows:
            tdef = TableDef(name=r["name"], fields=fields[r["name"]], note=r["note"] or "",
                            indexes=indexes.get(r["name"], []), system=bool(r["system"]))
            build_sa_table(tdef, metadata)
            tables[tdef.name] = tdef
        self.policy = await load_policy(conn, self.system)
        self.tables = tables
        self.statements = {}
        self.version = int(version or 0)

    async def bump_version(self, conn: AsyncConnection) -> None:
        await conn.execute(sa.update(self.t_meta).where(self.t_meta.c.key == "schema_version")
                           .values(value=self.t_meta.c.value + 1))


def build_sa_table(tdef: TableDef, metadata: sa.MetaData) -> sa.Table:
    """The SQLAlchemy table (and Relation join tables) for a table definition."""
    columns: list[sa.Column[Any]] = [
        sa.Column("objectId", OBJECT_ID, primary_key=True),
        sa.Column("createdAt", UTCDateTime, nullable=False),
        sa.Column("updatedAt", UTCDateTime, nullable=False),
        sa.Column("ACL", JSONType, nullable=True),
        sa.Column("createdBy", OBJECT_ID, nullable=True),
        sa.Column("updatedBy", OBJECT_ID, nullable=True),
    ]
    for f in tdef.user_fields():
        if f.kind.has_column:
            columns.append(sa.Column(f.name, f.kind.column_type(f), nullable=True))
    table = sa.Table(tdef.name, metadata, *columns)
    sa.Index(short_name(tdef.name, "createdAt", prefix="ix_"), table.c.createdAt)
    for f in tdef.user_fields():
        if f.unique:
            sa.Index(unique_index_name(tdef.name, f.name), table.c[f.name], unique=True)
    for idx in tdef.indexes:
        sa.Index(idx.name, *(table.c[n] for n in idx.fields if n in table.c), unique=idx.unique)
    tdef.sa_table = table
    tdef.join_tables = {}
    for f in tdef.user_fields():
        if f.type == "Relation":
            tdef.join_tables[f.name] = join_table(tdef.name, f.name, metadata)
    return table


def join_table(table: str, field: str, metadata: sa.MetaData) -> sa.Table:
    name = join_table_name(table, field)
    t = sa.Table(name, metadata,
                 sa.Column("owningId", OBJECT_ID, primary_key=True),
                 sa.Column("relatedId", OBJECT_ID, primary_key=True))
    sa.Index(short_name(name, "related", prefix="ix_"), t.c.relatedId)
    return t
