"""Schema changes: each one is DDL plus catalog rows in a single transaction, then a catalog reload."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hivebase.core import access
from hivebase.core.apps import App
from hivebase.core.catalog import (
    BUILTINS,
    Catalog,
    build_sa_table,
    join_table,
    unique_index_name,
)
from hivebase.core.fields import canonical_type_name
from hivebase.core.identity.user_table import USER_FIELDS
from hivebase.core.model import USER_TABLE, FieldDef, IndexDef, TableDef
from hivebase.core.names import check_field_name, check_table_name
from hivebase.core.policy import Action
from hivebase.core.principal import Principal
from hivebase.db import ddl
from hivebase.errors import Conflict, HivebaseError, InvalidSchema, UniqueViolation, UnknownField, type_of

MAX_FIELDS = 256
MAX_NOTE = 1000
UNIQUE_TYPES = {"String", "Number", "Bool", "Date", "Pointer"}
SPEC_KEYS = {"type", "note", "unique", "required", "default", "isAutoIncre", "autoIncreInit", "autoIncrement",
             "autoIncrementStart", "targetClass"}


def _flag(spec: dict[str, Any], key: str, name: str) -> bool:
    v = spec.get(key, False)
    if not isinstance(v, bool):
        raise InvalidSchema(f"`{name}`: `{key}` must be true or false, not {type_of(v)}", field=name, reason="option")
    return v


def _note(v: Any, what: str) -> str:
    if v is None:
        return ""
    if not isinstance(v, str) or len(v) > MAX_NOTE:
        raise InvalidSchema(f"{what}: a note must be a string of at most {MAX_NOTE} characters", reason="note")
    return v


def parse_field(name: str, spec: Any, table: str, catalog: Catalog, creating: str | None = None) -> FieldDef:
    """A caller's field definition (Bmob ``create_table`` style) → a checked FieldDef."""
    check_field_name(name, table)
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict):
        raise InvalidSchema(f"`{name}`: a field definition is an object such as {{\"type\":\"String\"}}",
                            field=name, reason="spec")
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise InvalidSchema(f"`{name}`: unknown option `{sorted(unknown)[0][:40]}`; options are "
                            + ", ".join(sorted(SPEC_KEYS)), field=name, reason="option")
    if not isinstance(spec.get("type"), str):
        raise InvalidSchema(f"`{name}`: `type` is required (String, Number, Bool, Date, File, Geo, Array, Object, "
                            "Pointer, Relation)", field=name, reason="unknown_type")
    type_name = canonical_type_name(spec["type"][:40])
    auto = _flag(spec, "isAutoIncre", name) or _flag(spec, "autoIncrement", name)
    start: Any = spec.get("autoIncreInit", spec.get("autoIncrementStart", 1))  # checked by check_definition
    target = spec.get("targetClass")
    if target is not None and not isinstance(target, str):
        raise InvalidSchema(f"`{name}`: targetClass must be a table name", field=name, reason="target")
    field = FieldDef(name=name, type=type_name, required=_flag(spec, "required", name),
                     unique=_flag(spec, "unique", name), default=spec.get("default"), auto_increment=auto,
                     auto_increment_start=start if auto else 1, target=target,
                     note=_note(spec.get("note"), f"`{name}`"))
    field = field.kind.check_definition(field)
    if field.target is not None and field.target != creating and catalog.lookup(field.target) is None:
        err = catalog.not_found(field.target)
        raise InvalidSchema(f"`{name}`: targetClass {err.message}", field=name, reason="target_unknown",
                            suggestion=err.details.get("suggestion"))
    if field.unique and type_name not in UNIQUE_TYPES:
        raise InvalidSchema(f"`{name}`: a {type_name} field cannot be unique", field=name, reason="option")
    if field.default is not None:
        field.kind.validate(field.default, field, table)
    return field


def _taken(tdef: TableDef, name: str) -> FieldDef | None:
    return next((f for f in tdef.fields.values() if f.name.lower() == name.lower()), None)


async def _insert_field(conn: AsyncConnection, cat: Catalog, table: str, f: FieldDef, position: int) -> None:
    await conn.execute(sa.insert(cat.t_fields).values(table_name=table, name=f.name, type=f.type,
                                                      position=position, options=f.options()))
    if f.auto_increment:
        await conn.execute(sa.insert(cat.t_counters).values(table_name=table, field_name=f.name,
                                                            next_value=f.auto_increment_start))


async def _finish(app: App, conn: AsyncConnection) -> None:
    await app.catalog.bump_version(conn)


def _duplicates(table: str, field: str | None) -> HivebaseError:
    return UniqueViolation(f"{table}: existing rows have duplicate values, so the index cannot be unique",
                           table=table, field=field)


async def create_table(app: App, principal: Principal, name: str, fields: dict[str, Any] | None = None,
                       note: str = "") -> TableDef:
    access.require_caller(app, principal)
    await app.catalog.refresh(force=True)  # a settings change (clientSchemaChanges) made elsewhere counts
    access.require(app, principal, "createTable", None)
    check_table_name(name)
    return await create_system_table(app, name, fields, note, system=False)


async def create_system_table(app: App, name: str, fields: dict[str, Any] | None = None, note: str = "", *,
                              system: bool = True) -> TableDef:
    """Create a table without checking the caller or the name's shape (``_User`` starts with '_')."""
    cat = app.catalog
    await cat.refresh(force=True)
    clash = next((t for t in cat.tables if t.lower() == name.lower()), None)
    if clash:
        raise InvalidSchema(f"table `{clash}` already exists", table=clash, reason="table_exists")
    fields = fields or {}
    if not isinstance(fields, dict):
        raise InvalidSchema("`fields` must be an object of field name → definition", reason="spec")
    if len(fields) > MAX_FIELDS:
        raise InvalidSchema(f"a table has at most {MAX_FIELDS} fields", table=name, reason="too_many_fields")
    defs = dict(BUILTINS)
    for fname, spec in fields.items():
        f = parse_field(fname, spec, name, cat, creating=name)
        if _taken(TableDef(name, defs), fname):
            raise InvalidSchema(f"field `{fname}` is declared twice (names are case-insensitive)",
                                field=fname, table=name, reason="field_exists")
        defs[fname] = f
    tdef = TableDef(name=name, fields=defs, note=_note(note, name))
    build_sa_table(tdef, sa.MetaData(schema=app.db.schema))
    async with app.db.write() as conn:
        await conn.run_sync(lambda c: tdef.table.create(c))
        for jt in tdef.join_tables.values():
            await conn.run_sync(jt.create)
        await conn.execute(sa.insert(cat.t_tables).values(name=name, note=tdef.note, system=system,
                                                          created_at=dt.datetime.now(dt.UTC)))
        for pos, f in enumerate(tdef.user_fields()):
            await _insert_field(conn, cat, name, f, pos)
        await _finish(app, conn)
    await cat.load()
    return cat.get(name)


async def _user_table(app: App, principal: Principal, table: str, action: Action) -> TableDef:
    access.require_caller(app, principal)
    await app.catalog.refresh(force=True)
    tdef = app.catalog.get(str(table))
    access.require(app, principal, action, tdef.name)
    return tdef


def _user_field(tdef: TableDef, name: str) -> FieldDef:
    f = tdef.fields.get(name) if isinstance(name, str) else None
    if f is None:
        raise UnknownField(tdef.name, str(name)[:64], tdef.field_names())
    if f.builtin or (tdef.name == USER_TABLE and f.name in USER_FIELDS):
        raise InvalidSchema(f"`{name}` is a built-in field and cannot be changed", field=name, table=tdef.name,
                            reason="reserved_field")
    return f


async def add_field(app: App, principal: Principal, table: str, name: str, spec: Any) -> FieldDef:
    tdef = await _user_table(app, principal, table, "addField")
    cat = app.catalog
    if (clash := _taken(tdef, name if isinstance(name, str) else "")) is not None:
        raise InvalidSchema(f"{table} already has a field `{clash.name}`", field=clash.name, table=table,
                            reason="field_exists")
    if len(tdef.fields) >= MAX_FIELDS + len(BUILTINS):
        raise InvalidSchema(f"a table has at most {MAX_FIELDS} fields", table=table, reason="too_many_fields")
    f = parse_field(name, spec, table, cat, creating=table)
    staged = TableDef(tdef.name, {**tdef.fields, name: f}, tdef.note, list(tdef.indexes))
    build_sa_table(staged, sa.MetaData(schema=app.db.schema))
    try:
        async with app.db.write() as conn:
            if f.kind.has_column:
                await ddl.add_column(conn, tdef.table, staged.table.c[name]._copy())
                if f.default is not None:
                    value = f.kind.validate(f.default, f, table)
                    await conn.execute(sa.update(staged.table).values({name: value}))
                if f.unique:
                    idx = next(i for i in staged.table.indexes if i.name == unique_index_name(table, name))
                    await conn.run_sync(lambda c: idx.create(c))
            else:
                jt = staged.join_tables[name]
                await conn.run_sync(lambda c: jt.create(c))
            position = len(tdef.user_fields())
            await _insert_field(conn, cat, table, f, position)
            await _finish(app, conn)
    except IntegrityError:
        raise _duplicates(table, name) from None
    await cat.load()
    return cat.get(table).fields[name]


async def rename_field(app: App, principal: Principal, table: str, old: str, new: str) -> FieldDef:
    tdef = await _user_table(app, principal, table, "alterField")
    f = _user_field(tdef, old)
    check_field_name(new, table)
    clash = _taken(tdef, new)
    if clash is not None and clash.name != old:
        raise InvalidSchema(f"{table} already has a field `{clash.name}`", field=new, table=table,
                            reason="field_exists")
    cat = app.catalog
    renamed = f.with_name(new)
    staged = TableDef(tdef.name, {(new if k == old else k): (renamed if k == old else v)
                                  for k, v in tdef.fields.items()}, tdef.note,
                      [IndexDef(i.name, tuple(new if n == old else n for n in i.fields), i.unique)
                       for i in tdef.indexes])
    build_sa_table(staged, sa.MetaData(schema=app.db.schema))
    async with app.db.write() as conn:
        if f.kind.has_column:
            if f.unique:
                await _drop_index(conn, app, unique_index_name(table, old))
            await ddl.rename_column(conn, tdef.table, old, new)
            if f.unique:
                idx = next(i for i in staged.table.indexes if i.name == unique_index_name(table, new))
                await conn.run_sync(lambda c: idx.create(c))
        else:
            old_jt, new_jt = tdef.join_tables[old], staged.join_tables[new]
            await conn.run_sync(lambda c: new_jt.create(c))
            await conn.execute(sa.insert(new_jt).from_select(["owningId", "relatedId"], sa.select(old_jt)))
            await conn.run_sync(lambda c: old_jt.drop(c))
        await conn.execute(sa.update(cat.t_fields).where(cat.t_fields.c.table_name == table,
                                                         cat.t_fields.c.name == old).values(name=new))
        await conn.execute(sa.update(cat.t_counters).where(cat.t_counters.c.table_name == table,
                                                           cat.t_counters.c.field_name == old)
                           .values(field_name=new))
        for index in staged.indexes:
            await conn.execute(sa.update(cat.t_indexes).where(cat.t_indexes.c.name == index.name)
                               .values(fields=list(index.fields)))
        await _finish(app, conn)
    await cat.load()
    return cat.get(table).fields[new]


async def _drop_index(conn: AsyncConnection, app: App, name: str) -> None:
    prep = conn.dialect.identifier_preparer
    qualified = prep.quote_identifier(name)
    if app.db.schema:
        qualified = f"{prep.quote_identifier(app.db.schema)}.{qualified}"
    await conn.exec_driver_sql(f"DROP INDEX IF EXISTS {qualified}")


async def _remove_field(conn: AsyncConnection, app: App, tdef: TableDef, f: FieldDef) -> None:
    cat = app.catalog
    for idx in tdef.indexes:
        if f.name in idx.fields:
            await _drop_index(conn, app, idx.name)
            await conn.execute(sa.delete(cat.t_indexes).where(cat.t_indexes.c.name == idx.name))
    if f.kind.has_column:
        if f.unique:
            await _drop_index(conn, app, unique_index_name(tdef.name, f.name))
        await ddl.drop_column(conn, tdef.table, f.name)
    else:
        jt = tdef.join_tables[f.name]
        await conn.run_sync(lambda c: jt.drop(c))
    await conn.execute(sa.delete(cat.t_fields).where(cat.t_fields.c.table_name == tdef.name,
                                                     cat.t_fields.c.name == f.name))
    await conn.execute(sa.delete(cat.t_counters).where(cat.t_counters.c.table_name == tdef.name,
                                                       cat.t_counters.c.field_name == f.name))


async def remove_field(app: App, principal: Principal, table: str, name: str) -> None:
    tdef = await _user_table(app, principal, table, "alterField")
    f = _user_field(tdef, name)
    async with app.db.write() as conn:
        await _remove_field(conn, app, tdef, f)
        await _finish(app, conn)
    await app.catalog.load()


async def add_index(app: App, principal: Principal, table: str, fields: list[str], unique: bool = False) -> IndexDef:
    tdef = await _user_table(app, principal, table, "addField")
    if not isinstance(fields, list) or not 1 <= len(fields) <= 8 or len(set(map(str, fields))) != len(fields):
        raise InvalidSchema("an index takes 1 to 8 distinct fields", table=table, reason="index")
    for name in fields:
        f = tdef.fields.get(name) if isinstance(name, str) else None
        if f is None:
            raise UnknownField(table, str(name)[:64], tdef.field_names())
        if not f.kind.has_column or f.type in ("Array", "Object", "File", "Geo"):
            raise InvalidSchema(f"`{name}` is a {f.type} field and cannot be indexed", field=name, table=table,
                                reason="index")
    if any(tuple(fields) == i.fields and unique == i.unique for i in tdef.indexes):
        raise InvalidSchema(f"{table} already has this index", table=table, reason="index_exists")
    idx = IndexDef(ddl.short_name(table, *fields, prefix="ux_" if unique else "ix_"), tuple(fields), unique)
    sa_index = sa.Index(idx.name, *(tdef.table.c[n] for n in fields), unique=unique)
    try:
        async with app.db.write() as conn:
            await conn.run_sync(lambda c: sa_index.create(c))
            await conn.execute(sa.insert(app.catalog.t_indexes).values(name=idx.name, table_name=table,
                                                                       fields=list(fields), is_unique=unique))
            await _finish(app, conn)
    except IntegrityError:
        raise _duplicates(table, fields[0]) from None
    finally:
        tdef.table.indexes.discard(sa_index)
    await app.catalog.load()
    return idx


def _check_changes(app: App, principal: Principal, tdef: TableDef, added: dict[str, Any],
                   removed: list[str]) -> None:
    """Every check of a multi-field change, before any of it is made: permissions, names, types, clashes."""
    if added:
        access.require(app, principal, "addField", tdef.name)
    if removed:
        access.require(app, principal, "alterField", tdef.name)
    for name in removed:
        _user_field(tdef, name)
    seen: dict[str, str] = {}
    for name, spec in added.items():
        parse_field(name, spec, tdef.name, app.catalog, creating=tdef.name)
        if (clash := _taken(tdef, name)) is not None:
            raise InvalidSchema(f"{tdef.name} already has a field `{clash.name}`", field=clash.name,
                                table=tdef.name, reason="field_exists")
        if name.lower() in seen:
            raise InvalidSchema(f"field `{name}` is added twice (names are case-insensitive: `{seen[name.lower()]}`)",
                                field=name, table=tdef.name, reason="field_exists")
        seen[name.lower()] = name
    if len(tdef.user_fields()) + len(added) - len(removed) > MAX_FIELDS:
        raise InvalidSchema(f"a table has at most {MAX_FIELDS} fields", table=tdef.name, reason="too_many_fields")


async def alter_fields(app: App, principal: Principal, table: str, added: dict[str, Any],
                       removed: list[str]) -> TableDef:
    """Add and remove several fields, all checked before the first change. Each field is its own DDL
    transaction; unique fields with a default (the only additions existing rows can still refuse) go first."""
    tdef = await _user_table(app, principal, table, "addField" if added else "alterField")
    _check_changes(app, principal, tdef, added, removed)

    def risky(spec: Any) -> bool:
        return isinstance(spec, dict) and spec.get("unique") is True and spec.get("default") is not None

    for name in sorted(added, key=lambda n: not risky(added[n])):
        await add_field(app, principal, tdef.name, name, added[name])
    for name in removed:
        await remove_field(app, principal, tdef.name, name)
    return app.catalog.get(tdef.name)


async def drop_table(app: App, principal: Principal, table: str, cascade: bool = False) -> list[str]:
    """Drop a table; refuse while other tables point to it unless ``cascade`` removes those fields.
    Returns the ``Table.field`` names removed elsewhere."""
    tdef = await _user_table(app, principal, table, "dropTable")
    if tdef.system:
        raise Conflict(f"{table} is a system table and cannot be dropped", table=table, reason="system_table")
    cat = app.catalog
    referrers = cat.referrers(table)
    names = [f"{t}.{f.name}" for t, f in referrers]
    if referrers and not cascade:
        raise Conflict(f"{table} is pointed to by {', '.join(names)}; remove those fields first or drop with "
                       "cascade", table=table, reason="referenced", referrers=names)
    async with app.db.write() as conn:
        for tname, f in referrers:
            await _remove_field(conn, app, cat.get(tname), f)
        for jt in tdef.join_tables.values():
            await conn.run_sync(jt.drop)
        await conn.run_sync(lambda c: tdef.table.drop(c))
        for t, col in ((cat.t_fields, "table_name"), (cat.t_indexes, "table_name"),
                       (cat.t_counters, "table_name"), (cat.t_tables, "name")):
            await conn.execute(sa.delete(t).where(t.c[col] == table))
        await _finish(app, conn)
    await cat.load()
    return names


__all__ = ["add_field", "add_index", "alter_fields", "create_table", "drop_table", "join_table", "parse_field",
           "remove_field", "rename_field"]
