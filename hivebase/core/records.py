"""The one place where rows are written: create, update, delete and batch, each all-or-nothing."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hivebase.core import access
from hivebase.core.apps import App
from hivebase.core.catalog import unique_index_name
from hivebase.core.clock import now
from hivebase.core.identity import user_table
from hivebase.core.model import USER_TABLE, TableDef
from hivebase.core.names import is_key
from hivebase.core.policy import Action
from hivebase.core.principal import Principal
from hivebase.core.query import ir
from hivebase.core.reads import compiler_for
from hivebase.core.secrets import random_id
from hivebase.core.writes import Plan, apply_path_ops, plan_write
from hivebase.errors import HivebaseError, InvalidValue, LimitExceeded, NotFound, PermissionDenied, UniqueViolation

MAX_BATCH = 50
STAMPS = ("objectId", "createdAt", "updatedAt")


def _not_found(table: str, object_id: Any) -> NotFound:
    return NotFound(f"no {table} row with objectId {str(object_id)[:64]!r}", table=table, reason="object")


async def check_pointers(conn: AsyncConnection, app: App, principal: Principal, plan: Plan, dialect: str) -> None:
    """Every Pointer and Relation member must name a row the writer may see (a hidden row answers like a
    missing one), locked against deletion on PostgreSQL."""
    wanted: dict[str, set[str]] = {}
    for p in plan.pointers:
        wanted.setdefault(p.table, set()).add(p.object_id)
    for table, ids in wanted.items():
        t = app.catalog.get(table).table
        candidates = ids
        if not principal.is_root:
            oid = ir.Path(app.catalog.get(table).fields["objectId"])
            visible = compiler_for(app, principal, "get", table).rows(
                ir.Select(table, where=ir.InList(oid, tuple(sorted(ids))), keys=["objectId"], limit=None)).stmt
            candidates = set((await conn.execute(visible)).scalars())
        stmt = sa.select(t.c.objectId).where(t.c.objectId.in_(sorted(candidates)))
        if dialect == "postgresql":
            stmt = stmt.with_for_update(key_share=True)
        found = set((await conn.execute(stmt)).scalars())
        missing = ids - found
        if missing:
            bad = next(p for p in plan.pointers if p.table == table and p.object_id in missing)
            raise InvalidValue(f"`{bad.field}` points to {table} {bad.object_id[:64]!r}, which does not exist",
                               field=bad.field, table=table, reason="pointer_missing")


def unique_error(tdef: TableDef, exc: IntegrityError) -> HivebaseError:
    """Name the field of a unique violation from the driver's message (never shown to the caller)."""
    text = str(exc.orig)
    for f in tdef.user_fields():
        if f.unique and (unique_index_name(tdef.name, f.name) in text or f"{tdef.name}.{f.name}" in text):
            return UniqueViolation(f"`{f.name}` must be unique: another {tdef.name} row already has this value",
                                   field=f.name, table=tdef.name)
    for idx in tdef.indexes:
        cols = ", ".join(f"{tdef.name}.{n}" for n in idx.fields)
        if idx.unique and (idx.name in text or cols in text):
            return UniqueViolation(f"({', '.join(idx.fields)}) must be unique in {tdef.name}",
                                   field=idx.fields[0], table=tdef.name)
    if re.search(r"objectId|_pkey|PRIMARY", text):
        return UniqueViolation("objectId collision, please retry", field="objectId", table=tdef.name)
    return UniqueViolation(f"the write conflicts with a uniqueness rule of {tdef.name}", table=tdef.name)


async def _next_counter(conn: AsyncConnection, app: App, table: str, field: str) -> int:
    c = app.catalog.t_counters
    stmt = (sa.update(c).where(c.c.table_name == table, c.c.field_name == field)
            .values(next_value=c.c.next_value + 1).returning(c.c.next_value))
    return int((await conn.execute(stmt)).scalar_one()) - 1


def _insert_ignore(dialect: str, table: sa.Table) -> Any:
    mod = postgresql if dialect == "postgresql" else sqlite
    return mod.insert(table).on_conflict_do_nothing()


async def _apply_relations(conn: AsyncConnection, tdef: TableDef, object_id: str, plan: Plan, dialect: str) -> None:
    for rel in plan.relations:
        jt = tdef.join_tables[rel.field.name]
        if not rel.ids:
            continue
        if rel.add:
            await conn.execute(_insert_ignore(dialect, jt), [{"owningId": object_id, "relatedId": i} for i in rel.ids])
        else:
            await conn.execute(sa.delete(jt).where(jt.c.owningId == object_id, jt.c.relatedId.in_(rel.ids)))


def _scoped(app: App, principal: Principal, action: Action, tdef: TableDef, object_id: str) -> Any:
    """The WHERE of a single-row write: its objectId, plus the principal's row scope as a sub-select."""
    t = tdef.table
    cond = t.c.objectId == object_id
    scope = access.row_scope(app, principal, action, tdef.name)
    if isinstance(scope, ir.Const) and scope.value:
        return cond
    # the id inside the sub-select too, so that it reads one row by key rather than the whole table
    ids = compiler_for(app, principal, action, tdef.name).rows(ir.Select(
        tdef.name, where=ir.Cmp(ir.Path(tdef.fields["objectId"]), "eq", object_id), limit=None,
        keys=["objectId"])).stmt
    return sa.and_(cond, t.c.objectId.in_(sa.select(ids.subquery().c[0])))


def visible_part(app: App, principal: Principal, table: str, row: dict[str, Any]) -> dict[str, Any]:
    """What a writer is shown of the row it wrote: the fields its role may ``get`` (an auto-increment or
    default value of a hidden field stays hidden), and always the row's id and timestamps."""
    try:
        visible = access.visible_fields(app, principal, "get", table)
    except PermissionDenied:
        visible = frozenset()
    if visible is None:
        return row
    return {k: v for k, v in row.items() if k in visible or k in STAMPS}


def check_fields(app: App, principal: Principal, action: Action, table: str, plan: Plan) -> None:
    access.check_writable(app, principal, action, table, plan.touched)
    if table == USER_TABLE:
        user_table.check_fields(principal, plan.touched)


# -- create -------------------------------------------------------------------------------------------------


async def create_in(conn: AsyncConnection, app: App, principal: Principal, table: str, data: Any) -> dict[str, Any]:
    access.require(app, principal, "create", table)
    tdef = app.catalog.get(table)
    password = None
    if table == USER_TABLE:
        data, password = user_table.split_password(app, principal, data, creating=True)
    plan = plan_write(tdef, data, creating=True)
    check_fields(app, principal, "create", table, plan)
    values = dict(plan.values)
    for f in tdef.user_fields():
        if f.name not in values and f.default is not None and f.kind.has_column:
            values[f.name] = f.kind.validate(f.default, f, tdef.name)
        if f.required and values.get(f.name) is None and not f.auto_increment:
            raise InvalidValue(f"`{f.name}` is required", field=f.name, table=tdef.name, reason="required")
    await check_pointers(conn, app, principal, plan, app.db.dialect)
    for f in tdef.user_fields():
        if f.auto_increment:
            values[f.name] = await _next_counter(conn, app, tdef.name, f.name)
    stamp = now()
    object_id = random_id()
    row = {"objectId": object_id, "createdAt": stamp, "updatedAt": stamp,
           "createdBy": principal.user_id, "updatedBy": principal.user_id, **values}
    if table == USER_TABLE:
        user_table.before_insert(row)
    try:
        await conn.execute(tdef.table.insert(), row)
    except IntegrityError as exc:
        raise unique_error(tdef, exc) from None
    await _apply_relations(conn, tdef, object_id, plan, app.db.dialect)
    if table == USER_TABLE:
        await user_table.after_insert(conn, app, object_id, password)
    return row


async def create(app: App, principal: Principal, table: str, data: Any) -> dict[str, Any]:
    """Insert one row; returns its stored values (objectId, createdAt…)."""
    access.require_caller(app, principal)
    await app.catalog.table(table)
    async with app.db.write() as conn:
        row = await create_in(conn, app, principal, table, data)
    return visible_part(app, principal, table, row)


# -- update -------------------------------------------------------------------------------------------------


async def update_in(conn: AsyncConnection, app: App, principal: Principal, table: str, object_id: Any,
                  data: Any) -> dict[str, Any]:
    tdef = app.catalog.get(table)
    if not is_key(object_id):
        raise _not_found(table, object_id)
    password = None
    if table == USER_TABLE:
        data, password = user_table.split_password(app, principal, data, creating=False)
    plan = plan_write(tdef, data, creating=False)
    check_fields(app, principal, "update", table, plan)
    t = tdef.table
    where = _scoped(app, principal, "update", tdef, object_id)
    if plan.needs_row:
        stmt = sa.select(t).where(where)
        if app.db.dialect == "postgresql":
            stmt = stmt.with_for_update()
        current = (await conn.execute(stmt)).mappings().first()
        if current is None:
            raise _not_found(table, object_id)
        apply_path_ops(tdef, dict(current), plan.path_ops, plan)
    await check_pointers(conn, app, principal, plan, app.db.dialect)
    stamp = now()
    values: dict[str, Any] = {**plan.values, "updatedAt": stamp, "updatedBy": principal.user_id}
    for name, amount in plan.increments.items():
        values[name] = sa.func.coalesce(t.c[name], 0) + amount
    change = sa.update(t).where(where).values(values).returning(t.c.objectId, *(t.c[n] for n in plan.increments))
    try:
        result = (await conn.execute(change)).mappings().first()
    except IntegrityError as exc:
        raise unique_error(tdef, exc) from None
    if result is None:
        raise _not_found(table, object_id)
    await _apply_relations(conn, tdef, object_id, plan, app.db.dialect)
    if table == USER_TABLE:
        await user_table.after_update(conn, app, object_id, password)
    out: dict[str, Any] = {"objectId": object_id, "updatedAt": stamp}
    out.update({n: result[n] for n in plan.increments})
    return out


async def update(app: App, principal: Principal, table: str, object_id: str, data: Any) -> dict[str, Any]:
    """Replace the given fields whole and apply operators; returns updatedAt (+ incremented values)."""
    access.require_caller(app, principal)
    await app.catalog.table(table)
    async with app.db.write() as conn:
        row = await update_in(conn, app, principal, table, object_id, data)
    return visible_part(app, principal, table, row)


# -- delete -------------------------------------------------------------------------------------------------


async def delete_in(conn: AsyncConnection, app: App, principal: Principal, table: str, object_id: Any) -> None:
    tdef = app.catalog.get(table)
    if not is_key(object_id):
        raise _not_found(table, object_id)
    where = _scoped(app, principal, "destroy", tdef, object_id)
    result = await conn.execute(sa.delete(tdef.table).where(where))
    if result.rowcount == 0:
        raise _not_found(table, object_id)
    for jt in tdef.join_tables.values():
        await conn.execute(sa.delete(jt).where(jt.c.owningId == object_id))
    if table == USER_TABLE:
        await user_table.after_delete(conn, app, object_id)
    for other, f in app.catalog.referrers(table) + [(table, f) for f in tdef.user_fields()
                                                   if f.type == "Relation" and f.target == table]:
        if f.type == "Relation":
            jt = app.catalog.get(other).join_tables[f.name]
            await conn.execute(sa.delete(jt).where(jt.c.relatedId == object_id))


async def delete(app: App, principal: Principal, table: str, object_id: str) -> None:
    access.require_caller(app, principal)
    await app.catalog.table(table)
    async with app.db.write() as conn:
        await delete_in(conn, app, principal, table, object_id)


# -- batch --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Op:
    """One write of a batch; ``principal`` (e.g. from a per-item session token) replaces the batch's caller
    for this write only."""

    method: Literal["create", "update", "delete"]
    table: str
    object_id: str | None = None
    data: Any = None
    principal: Principal | None = None


@dataclass(slots=True)
class OpResult:
    ok: dict[str, Any] | None = None
    error: HivebaseError | None = None


async def _run(conn: AsyncConnection, app: App, principal: Principal, op: Op) -> dict[str, Any]:
    principal = op.principal or principal
    if op.method == "create":
        return visible_part(app, principal, op.table, await create_in(conn, app, principal, op.table, op.data))
    if op.method == "update":
        row = await update_in(conn, app, principal, op.table, op.object_id, op.data)
        return visible_part(app, principal, op.table, row)
    await delete_in(conn, app, principal, op.table, op.object_id)
    return {}


async def batch(app: App, principal: Principal, ops: Sequence[Op], *, atomic: bool = True) -> list[OpResult]:
    """Run up to 50 writes in one transaction. Atomic: the first error undoes everything and is raised
    (with ``details["index"]``). Not atomic: each failed op is undone alone and reported in its slot."""
    access.require_caller(app, principal)
    if len(ops) > MAX_BATCH:
        raise LimitExceeded(f"a batch holds at most {MAX_BATCH} operations, got {len(ops)}", reason="batch_size")
    unknown: dict[int, HivebaseError] = {}
    for i, op in enumerate(ops):  # tables are looked up before the write lock is taken
        try:
            await app.catalog.table(op.table)
        except HivebaseError as exc:
            if atomic:
                exc.details["index"] = i
                raise
            unknown[i] = exc
    results: list[OpResult] = []
    async with app.db.write() as conn:
        for i, op in enumerate(ops):
            if i in unknown:  # not atomic: an unknown table fails only its own op
                results.append(OpResult(error=unknown[i]))
                continue
            if atomic:
                try:
                    results.append(OpResult(ok=await _run(conn, app, principal, op)))
                except HivebaseError as exc:
                    exc.details["index"] = i
                    raise
                continue
            try:
                async with conn.begin_nested():
                    results.append(OpResult(ok=await _run(conn, app, principal, op)))
            except HivebaseError as exc:
                results.append(OpResult(error=exc))
    return results
